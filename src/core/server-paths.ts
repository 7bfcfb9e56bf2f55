import { homedir, tmpdir } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders whose paths say something about the server and nothing to a client. */
function serverRoots(extra: readonly string[]): string[] {
  const packageRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
  return [...extra, process.cwd(), packageRoot, tmpdir(), homedir()].filter((p) => p.length > 1).sort((a, b) => b.length - a.length);
}

/** A file URL (`file:///srv/x.jpg`). */
const FILE_URL = /file:\/\/[^\s"'`<>,;)]+/g;
/** A Windows path (`C:\\data\\x.jpg`, `C:/data/x.jpg`). */
const DRIVE_PATH = /(?<![\w])[A-Za-z]:[\\/][^\s"'`<>,;)]+/g;
/**
 * Any other absolute path of two or more parts. API routes stay: ours (`/api/...`) and any
 * after an HTTP method (`Cannot POST /v1/audio/speech`, as another server reports them), as
 * do URLs.
 */
const ABSOLUTE_PATH = /(?<![\w.:/])(?<!\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) )\/(?!api\/)(?:[^\s/"'`<>,;)]+\/)+[^\s/"'`<>,;)]*/g;

/**
 * Replaces absolute server paths in a message meant for a client by their last component
 * (`/srv/avatar-data/uploads/acme/.audio-1` becomes `.audio-1`), so errors keep their
 * meaning without telling the client how the server's disk is laid out. URLs and API
 * routes are left alone.
 */
export function withoutServerPaths(message: string, roots: readonly string[] = []): string {
  let out = message;
  for (const root of serverRoots(roots)) {
    const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![\\w.:/])${escaped}(?:/[^\\s"'\`,;)]*)?`, 'g'), (path) => basename(path) || '.');
  }
  return out
    .replace(FILE_URL, (path) => basename(path) || '.')
    .replace(DRIVE_PATH, (path) => basename(path.replace(/\\/g, '/')) || '.')
    .replace(ABSOLUTE_PATH, (path) => basename(path) || '.');
}
