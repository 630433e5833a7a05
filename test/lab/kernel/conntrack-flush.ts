/** Child for conntrack.test.ts, run inside the namespace: `node conntrack-flush.js VALUE MASK`; prints the elapsed milliseconds. */
import { Conntrack } from '../../../src/kernel/conntrack.js';

const ct = new Conntrack();
const t0 = performance.now();
ct.flushMark(Number(process.argv[2]), Number(process.argv[3])).then(
  () => {
    process.stdout.write(JSON.stringify({ ok: true, ms: performance.now() - t0 }) + '\n');
    ct.close();
  },
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err), code: (err as { code?: string }).code }) + '\n');
    ct.close();
  },
);
