/**
 * Lab helper, run inside a namespace (the router, or the LAN client): drives probers and sockets
 * for probers.test.ts over newline-delimited JSON. Each request line is `{id, op, ...}` and gets
 * one reply line `{id, ...}`; unsolicited lines are `{event, ...}`.
 *   probe          {config, source, target, timeoutMs} → {result, elapsedMs}   (probers cached per config+source)
 *   closeProbers   {} → {}                                close every prober
 *   resources      {ignore} → {resources}                 active resources other than `ignore`, once none
 *                                                         are left (up to 3 s)
 *   listenOrigDst  {port} → {}                            dual-stack listener; per connection an
 *                                                         event {event:'origdst', remote, original?, error?}
 *   connect        {host, port} → {data}                  connect, read until the peer closes
 */
import { createInterface } from 'node:readline';
import { createServer, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createProber, type Prober, type ProberConfig, type ProbeSource } from '../../../src/health/probers/index.js';
import { originalDestination } from '../../../src/native/original-dst.js';
import { errorCode, errorMessage } from '../../../src/errors.js';

type Request = { id: number; op: string; [k: string]: unknown };

const probers = new Map<string, Prober>();

function write(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function handle(req: Request): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'probe': {
      const config = req.config as ProberConfig;
      const source = req.source as ProbeSource;
      const key = JSON.stringify([config, source]);
      let prober = probers.get(key);
      if (!prober) probers.set(key, (prober = createProber(config, source)));
      const t0 = performance.now();
      const result = await prober.probe(req.target as string, req.timeoutMs as number);
      return { result, elapsedMs: performance.now() - t0 };
    }
    case 'closeProbers':
      for (const p of probers.values()) p.close();
      probers.clear();
      return {};
    case 'resources': {
      // Closes finish asynchronously (a destroyed socket emits 'close' from an immediate; a
      // prober's last timers fire late on a loaded machine): poll until only the kinds in
      // `ignore` are left, for up to 3 s, and report what is active then.
      const ignore = new Set((req.ignore as string[] | undefined) ?? []);
      const left = () => process.getActiveResourcesInfo().filter((r) => !ignore.has(r));
      for (let i = 0; i < 30 && left().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      return { resources: left() };
    }
    case 'listenOrigDst': {
      const server = createServer((socket) => {
        const remote = socket.remoteAddress;
        try {
          write({ event: 'origdst', remote, original: originalDestination(socket) });
        } catch (err) {
          write({ event: 'origdst', remote, error: { code: errorCode(err), errno: (err as { errno?: unknown }).errno, message: errorMessage(err) } });
        }
        socket.end('bye\n');
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '::', port: req.port as number, ipv6Only: false }, () => resolve());
      });
      return {};
    }
    case 'connect': {
      const data = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = connect({ host: req.host as string, port: req.port as number });
        s.setTimeout(5000, () => s.destroy(new Error('connect: no answer in 5 s')));
        s.on('data', (b: Buffer) => chunks.push(b));
        s.on('error', reject);
        s.on('close', () => resolve(Buffer.concat(chunks).toString()));
      });
      return { data };
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as Request;
  handle(req).then(
    (reply) => write({ id: req.id, ...reply }),
    (err: unknown) => write({ id: req.id, error: errorMessage(err) }),
  );
});
rl.on('close', () => {
  for (const p of probers.values()) p.close();
  process.exit(0);
});
write({ event: 'ready' });
