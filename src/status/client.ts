/**
 * Client side of the control socket, for the CLI and tests: one request → one reply, or a
 * subscription that yields event objects. Errors say which socket and what went wrong.
 */
import { connect, type Socket } from 'node:net';
import { WanbraidError } from '../errors.js';
import { LineSplitter, type Request } from './protocol.js';

export const DEFAULT_SOCKET = '/run/wanbraid/wanbraid.sock';

export type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string } };

function open(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      reject(new WanbraidError('WB_SOCKET_CONNECT', `${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is the daemon running? try -s SOCKET)' : err.code === 'EACCES' ? ' (permission denied: run as root or a member of the socket group)' : '';
      reject(new WanbraidError('WB_SOCKET_CONNECT', `${path}: cannot connect: ${err.code ?? err.message}${hint}`, { cause: err }));
    });
  });
}

/** Send one request and wait for its reply. */
export async function request(path: string, req: Request | Record<string, unknown>, timeoutMs = 10_000): Promise<Reply> {
  const s = await open(path, timeoutMs);
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const splitter = new LineSplitter(64 * 1024 * 1024);
      const t = setTimeout(() => reject(new WanbraidError('WB_TIMEOUT', `${path}: no reply within ${timeoutMs} ms`)), timeoutMs);
      s.on('data', (chunk: Buffer) => {
        for (const line of splitter.push(chunk)) {
          if (line === null) continue;
          clearTimeout(t);
          try {
            resolve(JSON.parse(line) as Reply);
          } catch {
            reject(new WanbraidError('WB_SOCKET_PROTOCOL', `${path}: the daemon sent a line that is not JSON`));
          }
          return;
        }
      });
      s.once('close', () => {
        clearTimeout(t);
        reject(new WanbraidError('WB_SOCKET_PROTOCOL', `${path}: connection closed before a reply`));
      });
      s.write(JSON.stringify(req) + '\n');
    });
  } finally {
    s.destroy();
  }
}

/** Subscribe and yield events until the connection closes or `signal` aborts. */
export async function* subscribe(path: string, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
  const s = await open(path, 10_000);
  const queue: Record<string, unknown>[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const splitter = new LineSplitter(64 * 1024 * 1024);
  s.on('data', (chunk: Buffer) => {
    for (const line of splitter.push(chunk)) {
      if (line === null) continue;
      try {
        queue.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* skip a line that is not JSON */
      }
    }
    wake?.();
  });
  s.on('close', () => {
    done = true;
    wake?.();
  });
  s.on('error', () => undefined);
  signal?.addEventListener('abort', () => s.destroy());
  s.write(JSON.stringify({ cmd: 'subscribe' }) + '\n');
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (done) return;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    s.destroy();
  }
}
