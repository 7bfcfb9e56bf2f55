import { basename } from 'node:path';

/**
 * One progress line per avatar on a terminal (redrawn in place), or a line at each
 * quarter when the output is a file or pipe.
 */
export class ProgressBars {
  private readonly reported = new Map<string, number>();

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(id: string, done: number, total: number): void {
    const share = total > 0 ? Math.min(1, done / total) : 0;
    if (this.out.isTTY) {
      const width = 24;
      const filled = Math.round(share * width);
      this.out.write(`\r${id.padEnd(16).slice(0, 16)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} frames`);
      return;
    }
    const quarter = Math.floor(share * 4);
    if ((this.reported.get(id) ?? -1) < quarter && quarter < 4) {
      this.reported.set(id, quarter);
      this.out.write(`${id}: ${done}/${total} frames\n`);
    }
  }

  finish(id: string, summary: string): void {
    this.out.write(`${this.out.isTTY ? '\r\x1b[K' : ''}${id}: ${summary}\n`);
  }

  fail(input: string, message: string): void {
    const named = message.includes(basename(input)) ? message : `${input}: ${message}`;
    this.out.write(`${this.out.isTTY ? '\r\x1b[K' : ''}failed: ${named}\n`);
  }
}
