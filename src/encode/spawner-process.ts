/**
 * The spawner process: starts the children of a server process on its behalf and hands it
 * their pipes. Forking this small process costs little, whereas forking the server would
 * stall its event loop (and every live session) until the child has run `exec`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { applyNiceness } from './process-launcher.js';
import type { SpawnerReply, SpawnerRequest } from './spawner-protocol.js';

function reply(message: SpawnerReply, pipe?: Socket): void {
  if (!process.connected) return;
  if (pipe) process.send!(message, pipe);
  else process.send!(message);
}

/**
 * Pipes start reading as soon as they are created; a byte read here before the pipe is
 * handed over would be lost, so reading stops first (the bytes wait in the kernel). Node
 * offers no public way to do this for a child's pipes.
 */
function stopReading(pipe: Socket): void {
  (pipe as unknown as { _handle?: { readStop?: () => number; reading?: boolean } })._handle?.readStop?.();
}

function launch(request: Extract<SpawnerRequest, { type: 'launch' }>): void {
  let child: ChildProcess;
  try {
    child = spawn(request.command, [...request.args], { stdio: request.stdio.map((d) => (d === 'ignore' ? 'ignore' : 'pipe')) });
  } catch (e) {
    reply({ type: 'failed', id: request.id, code: (e as NodeJS.ErrnoException).code ?? 'EINVAL', message: (e as Error).message });
    return;
  }
  const pipes = request.stdio.map((d, fd) => (d === 'ignore' ? undefined : (child.stdio[fd] as Socket | null) ?? undefined));
  for (const pipe of pipes) if (pipe) stopReading(pipe);
  child.once('error', (e: NodeJS.ErrnoException) => reply({ type: 'failed', id: request.id, code: e.code ?? 'EIO', message: e.message }));
  child.once('spawn', () => {
    child.removeAllListeners('error');
    child.on('error', () => undefined);
    if (request.niceness !== undefined) applyNiceness(child.pid!, request.niceness);
    for (const [fd, pipe] of pipes.entries()) if (pipe) reply({ type: 'pipe', id: request.id, fd }, pipe);
    reply({ type: 'launched', id: request.id, pid: child.pid! });
    child.once('exit', (code, signal) => reply({ type: 'exit', id: request.id, code, signal }));
  });
}

process.on('message', (message: SpawnerRequest) => {
  if (message.type === 'launch') launch(message);
});
// The server went away: its children keep their pipes to it and end with them.
process.on('disconnect', () => process.exit(0));
