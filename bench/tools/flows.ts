/**
 * Many concurrent TCP flows, for the relay benchmark's memory case (run inside a namespace):
 *
 *   flows.js serve PORT BYTES        each connection: send BYTES of a deterministic pattern, read and
 *                                    hash what comes, answer nothing more; prints {"listening":PORT}
 *   flows.js run HOST PORT N BYTES UPLOAD   open N connections at once; each uploads UPLOAD bytes then
 *                                    half-closes and reads to the end; checks length and sha256 of
 *                                    every download; prints {"ok","flows","bytes","seconds","bad"}
 */
import net from 'node:net';
import { createCipheriv, createHash } from 'node:crypto';

function pattern(len: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16)).update(Buffer.alloc(len));
}

async function serve(port: number, bytes: number): Promise<void> {
  const data = pattern(bytes);
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    s.resume();
    s.on('end', () => s.end());
    s.write(data);
  });
  await new Promise<void>((r) => srv.listen({ host: '0.0.0.0', port }, r));
  process.stdout.write(JSON.stringify({ listening: port }) + '\n');
}

async function run(host: string, port: number, n: number, bytes: number, upload: number): Promise<void> {
  const want = createHash('sha256').update(pattern(bytes)).digest('hex');
  const up = Buffer.alloc(upload, 1);
  const t0 = performance.now();
  const one = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port, allowHalfOpen: true });
      const h = createHash('sha256');
      let got = 0;
      s.on('data', (b: Buffer) => {
        h.update(b);
        got += b.length;
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(got === bytes && h.digest('hex') === want));
      s.once('connect', () => s.end(up));
    });
  const results = await Promise.all(Array.from({ length: n }, one));
  const seconds = (performance.now() - t0) / 1000;
  const bad = results.filter((r) => !r).length;
  process.stdout.write(JSON.stringify({ ok: bad === 0, flows: n, bytes: n * bytes, seconds, bad }) + '\n');
  process.exit(0);
}

const [mode, ...a] = process.argv.slice(2);
if (mode === 'serve') void serve(Number(a[0]), Number(a[1]));
else if (mode === 'run') void run(a[0]!, Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4]));
else {
  process.stderr.write('usage: flows.js serve PORT BYTES | run HOST PORT N BYTES UPLOAD\n');
  process.exit(2);
}
