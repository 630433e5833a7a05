/**
 * Lab driver: the child half of the harness. Run inside a namespace as
 *
 *   ip netns exec NS node dist/test/lab/harness/driver.js /abs/path/to/ops-module.js
 *
 * It imports the ops module (which exports `ops`, a record of named operations, and optionally
 * `close()`), prints `{"ready":true}`, then reads requests as JSON lines on stdin and answers each
 * on stdout, in completion order (requests run concurrently):
 *
 *   → {"id":1,"op":"route.add","args":{...}}
 *   ← {"id":1,"ok":true,"result":...}        or  {"id":1,"ok":false,"error":{"name","message","code",...}}
 *
 * An operation may also stream data with `ctx.emit(stream, data)`, sent as
 * `{"stream":"event","data":...}` (e.g. rtnetlink events). The error carries every own enumerable
 * property of the thrown error (`code`, `errno`, `extack`, `op` for a KernelError). When stdin
 * closes, `close()` runs and the process exits. Nothing here knows about any particular area:
 * see README.md in this directory.
 */
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface OpContext {
  /** Send `data` on a named stream to the parent (JSON-serialisable). */
  emit(stream: string, data: unknown): void;
}

/** One named operation: arguments in, JSON-serialisable result out. */
export type Op = (args: never, ctx: OpContext) => unknown;

export interface OpsModule {
  ops: Record<string, Op>;
  close?: () => void | Promise<void>;
}

interface Request {
  id: number;
  op: string;
  args?: unknown;
}

function send(msg: unknown): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

/** An error as plain data: name, message, stack and its own properties. */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (k !== 'cause' && (typeof v !== 'object' || v === null)) out[k] = v;
  return out;
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write('usage: driver.js OPS_MODULE\n');
    process.exit(2);
  }
  const mod = (await import(pathToFileURL(path).href)) as OpsModule;
  const ctx: OpContext = { emit: (stream, data) => send({ stream, data }) };
  const running = new Set<Promise<void>>();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const req = JSON.parse(line) as Request;
    const op = mod.ops[req.op];
    const p = (async () => {
      try {
        if (!op) throw new Error(`unknown op "${req.op}"; known: ${Object.keys(mod.ops).join(', ')}`);
        const result = await (op as (a: unknown, c: OpContext) => unknown)(req.args, ctx);
        send({ id: req.id, ok: true, result: result ?? null });
      } catch (err) {
        send({ id: req.id, ok: false, error: serializeError(err) });
      }
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
  });
  rl.on('close', () => {
    void Promise.allSettled([...running])
      .then(() => mod.close?.())
      .finally(() => process.exit(0));
  });
  send({ ready: true });
}

void main();
