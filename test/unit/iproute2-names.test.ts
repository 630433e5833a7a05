/** The shipped iproute2 name files agree with the numbers the code uses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RTPROT_WANBRAID } from '../../src/kernel/rtnl/constants.js';
import { MAX_LINKS, defaultTable, linkTable } from '../../src/plan/ranges.js';
import { validateConfig } from '../../src/config/load.js';

const read = (p: string) =>
  readFileSync(new URL(`../../../etc/iproute2/${p}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/) as [string, string]);

test('rt_protos.d names protocol 87 "wanbraid"', () => {
  assert.deepEqual(read('rt_protos.d/wanbraid.conf'), [[String(RTPROT_WANBRAID), 'wanbraid']]);
});

test('rt_tables.d names the default table and one table per link position for the default tableBase', () => {
  const base = validateConfig({}).routing.tableBase;
  const rows = read('rt_tables.d/wanbraid.conf');
  assert.deepEqual(rows[0], [String(defaultTable(base)), 'wanbraid']);
  assert.equal(rows.length, 1 + MAX_LINKS);
  for (let i = 1; i <= MAX_LINKS; i++) assert.deepEqual(rows[i], [String(linkTable(base, i)), `wanbraid${i}`]);
});
