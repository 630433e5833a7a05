/**
 * `npm run bench:plots`: reads bench/results/*.json, renders the figures of figures.ts to SVG with
 * Vega-Lite and Vega (no browser, no canvas: Vega's SVG renderer in Node), and writes them to
 * docs/img/bench/NAME.svg, which docs/benchmarks.md embeds. The SVGs are generated, never edited
 * by hand: rerun this after a bench run. Figures the results cannot support are listed, not drawn.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { figures } from './figures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec as unknown as TopLevelSpec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.endsWith('\n') ? svg : svg + '\n';
  } finally {
    view.finalize();
  }
}

async function main(): Promise<void> {
  const dir = join(ROOT, 'bench', 'results');
  const results: Record<string, unknown> = {};
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) results[basename(f, '.json')] = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const out = join(ROOT, 'docs', 'img', 'bench');
  mkdirSync(out, { recursive: true });
  const { figures: figs, missing } = figures(results);
  for (const f of figs) {
    const file = join(out, `${f.name}.svg`);
    writeFileSync(file, await renderSvg(f.spec));
    process.stdout.write(`bench:plots: ${f.name}.svg: ${f.title}\n`);
  }
  for (const m of missing) process.stdout.write(`bench:plots: ${m.name}: not drawn: ${m.missing}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:plots: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
