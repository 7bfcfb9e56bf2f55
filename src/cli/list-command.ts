import { parseArgs } from 'node:util';
import { openRegistry } from './avatar-dirs.js';

/** `avatar list`: the avatars this machine has, broken ones with the reason. */
export async function runList(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { 'avatars-dir': { type: 'string' }, json: { type: 'boolean', default: false } } });
  const registry = await openRegistry(values['avatars-dir']);
  try {
    const avatars = registry.list();
    if (values.json) {
      process.stdout.write(JSON.stringify(avatars, null, 2) + '\n');
      return 0;
    }
    for (const a of avatars) {
      const size = a.width ? `${a.width}x${a.height}` : '-';
      const state = a.status === 'ready' ? (a.builtin ? 'built in' : 'ready') : `BROKEN: ${a.reason}`;
      process.stdout.write(`${a.id.padEnd(20)} ${a.renderer.padEnd(10)} ${size.padEnd(10)} ${state}\n`);
    }
    return 0;
  } finally {
    registry.close();
  }
}
