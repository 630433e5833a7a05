/**
 * `npm run bench [-- NAME... | --list | --quick]`: runs the benchmarks in dist/bench/*.bench.js
 * (all, or the named ones), one at a time, writing bench/results/<name>.json (with --quick:
 * <name>.quick.json) with the run's provenance (harness.ts RunInfo), and printing each
 * goal with its measured figure. Needs root (benchmarks build lab namespaces). Exit status 1 when
 * a benchmark fails to run; a missed goal is reported, not an error.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runInfo, writeResult, type Benchmark } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

async function discover(): Promise<Benchmark[]> {
  const files = readdirSync(here).filter((f) => f.endsWith('.bench.js')).sort();
  const out: Benchmark[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { benchmark?: Benchmark };
    if (mod.benchmark) out.push(mod.benchmark);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const all = await discover();
  if (argv.includes('--list')) {
    for (const b of all) console.log(`${b.name.padEnd(24)} ${b.description}`);
    return 0;
  }
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.map((u) => `"${u}"`).join(', ')} (see --list)`);
    return 2;
  }
  const chosen = names.length > 0 ? all.filter((b) => names.includes(b.name)) : all;
  let failed = 0;
  for (const b of chosen) {
    // Provenance is taken before the run, so a tree edited during it is not mistaken for the one measured.
    const run = runInfo({ quick, startedAt: new Date() });
    const t0 = performance.now();
    console.error(`== ${b.name}: ${b.description}`);
    console.error(`   ${b.name}: commit ${run.commit ?? 'unknown'}${run.dirty ? ' (dirty tree)' : ''}${quick ? ', --quick (written apart, not a figure to quote)' : ''}, node ${run.node}, kernel ${run.kernel}`);
    try {
      const out = await b.run({ quick, progress: (m) => console.error(`   ${b.name}: ${m}`) });
      const file = writeResult(b.name, out, run);
      for (const g of out.goals) console.log(`${g.met ? 'MET ' : 'MISS'} ${b.name}: ${g.what} = ${g.value} ${g.unit} (goal ${g.target})`);
      console.error(`   ${b.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${file}`);
    } catch (err) {
      failed++;
      console.error(`FAIL ${b.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
