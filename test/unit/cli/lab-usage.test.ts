/** `wanbraid lab` usage errors: exit 2 with a clear message, and nothing on the system changes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
  return { code, out, err };
}

test('bad lab arguments exit 2 naming the problem, before anything is created', async () => {
  const dir = join(tmpdir(), `wb-lab-usage-${process.pid}`);
  process.env.WANBRAID_LAB_DIR = dir;
  try {
    const cases: [string[], RegExp][] = [
      [['lab'], /missing subcommand/],
      [['lab', 'sideways'], /unknown subcommand "sideways"/],
      [['lab', 'up', '--links', '0'], /--links must be a whole number from 1 to 16, got "0"/],
      [['lab', 'up', '--links', 'three'], /--links must be a whole number/],
      [['lab', 'up', '--rates', '40mbit,fast'], /--rates\[1\]: "fast" is not a rate/],
      [['lab', 'up', '--links', '2', '--rates', '1mbit,1mbit,1mbit'], /3 rates given for 2 links/],
      [['lab', 'up', '--paths', '2'], /--paths needs --relay/],
      [['lab', 'up', '--relay', '--links', '2'], /takes --paths/],
      [['lab', 'up', '--bogus'], /Unknown option '--bogus'/],
      [['lab', 'fault'], /missing LINK/],
      [['lab', 'fault', 'wan1', 'flap'], /unknown fault "flap"/],
      [['lab', 'fault', 'wan1', 'loss', '200'], /not a percentage from 0 to 100/],
      [['lab', 'exec'], /missing NODE/],
      [['lab', 'exec', 'router', '--'], /missing COMMAND/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(argv);
      assert.equal(r.code, 2, `${argv.join(' ')} exits 2 (got ${r.code}: ${r.err})`);
      assert.match(r.err, re, argv.join(' '));
    }
    assert.ok(!existsSync(dir), 'no state directory was made');
  } finally {
    delete process.env.WANBRAID_LAB_DIR;
  }
});

test('--help after -- belongs to the command being run, not to wanbraid', async () => {
  const r = await run(['lab', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /wanbraid lab fault LINK/);
  process.env.WANBRAID_LAB_DIR = join(tmpdir(), `wb-lab-usage-none-${process.pid}`);
  try {
    const e = await run(['lab', 'exec', 'router', '--', 'curl', '--help']);
    assert.equal(e.code, 1, 'it tries to run the command (and there is no lab)');
    assert.match(e.err, /no lab is up/);
  } finally {
    delete process.env.WANBRAID_LAB_DIR;
  }
});
