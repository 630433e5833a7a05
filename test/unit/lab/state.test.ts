import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimState, readState, writeState, removeState, stateFile, validateRecord, labStateDir } from '../../../src/lab/state.js';
import type { LabRecord } from '../../../src/lab/testbed.js';

function record(dir: string, patch: Partial<LabRecord> = {}): LabRecord {
  return {
    version: 1,
    kind: 'wan',
    runId: 'abc123',
    createdAt: '2025-01-01T00:00:00.000Z',
    dir: join(dir, 'wanbraid-lab-abc123'),
    count: 1,
    rates: [{ down: null, up: null }],
    namespaces: { client: 'wanbraid-abc123-client', router: 'wanbraid-abc123-router', isp1: 'wanbraid-abc123-isp1', inet: 'wanbraid-abc123-inet' },
    services: [{ name: 'services', node: 'inet', pid: 4242, log: '/x' }],
    ...patch,
  };
}

function withDir(f: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-state-'));
    try {
      await f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('the state directory comes from WANBRAID_LAB_DIR, else /run/wanbraid-lab', () => {
  assert.equal(labStateDir({ WANBRAID_LAB_DIR: '/tmp/x' }), '/tmp/x');
  assert.equal(labStateDir({}), '/run/wanbraid-lab');
});

test('claim, write, read, remove', withDir(async (dir) => {
  assert.deepEqual(readState(dir), { status: 'none' });
  await claimState(dir, () => false);
  assert.deepEqual(readState(dir), { status: 'starting', pid: process.pid });
  writeState(dir, record(dir));
  const c = readState(dir);
  assert.equal(c.status, 'up');
  assert.equal(c.status === 'up' && c.record.runId, 'abc123');
  removeState(dir);
  assert.ok(!existsSync(stateFile(dir)));
}));

test('a second claim fails while the first lab is up, and replaces a stale one', withDir(async (dir) => {
  await claimState(dir, () => false);
  await assert.rejects(claimState(dir, () => false), /a lab is being brought up by process/);
  writeState(dir, record(dir));
  await assert.rejects(claimState(dir, () => false), /a lab is already up \(run abc123, wan, since .*\): run `wanbraid lab down` first/);
  mkdirSync(join(dir, 'wanbraid-lab-abc123'));
  mkdirSync(join(dir, 'wanbraid-lab-0f0f0f'));
  mkdirSync(join(dir, 'unrelated'));
  await claimState(dir, (c) => c.status === 'up');
  assert.deepEqual(readState(dir), { status: 'starting', pid: process.pid });
  assert.deepEqual(readdirSync(dir).sort(), ['lab.json', 'unrelated'], 'left-over lab directories are removed, nothing else');
}));

test('a damaged or foreign record is refused before anything acts on it', withDir((dir) => {
  const file = stateFile(dir);
  assert.throws(() => validateRecord(record(dir, { dir: '/' }), file, dir), /not a lab record \(dir\)/);
  assert.throws(() => validateRecord(record(dir, { dir: join(dir, 'wanbraid-lab-ffffff') }), file, dir), /\(dir\)/);
  assert.throws(() => validateRecord(record(dir, { namespaces: { router: 'somebody-else' } }), file, dir), /namespace somebody-else/);
  assert.throws(() => validateRecord(record(dir, { runId: '../../x' }), file, dir), /runId/);
  assert.throws(() => validateRecord(record(dir, { services: [{ name: 's', node: 'inet', pid: 1, log: '' }] }), file, dir), /services/);
  assert.throws(() => validateRecord(record(dir, { services: [{ name: 's', node: 'elsewhere', pid: 99, log: '' }] }), file, dir), /services/);
  assert.throws(() => validateRecord(record(dir, { profiles: ['lte', null] }), file, dir), /\(profiles\)/, 'one per link');
  assert.throws(() => validateRecord(record(dir, { profiles: 'lte' as unknown as string[] }), file, dir), /\(profiles\)/);
  assert.equal(validateRecord(record(dir, { profiles: ['lte'] }), file, dir).profiles?.[0], 'lte');
  assert.equal(validateRecord(record(dir), file, dir).runId, 'abc123', 'a record without profiles (an older lab) is fine');
  writeFileSync(file, '{not json');
  assert.throws(() => readState(dir), /not JSON/);
}));
