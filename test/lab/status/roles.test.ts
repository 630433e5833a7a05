/**
 * The control socket's two roles with real users (needs root for setpriv; no namespaces: only a
 * unix socket in a temporary directory). The CLI runs as uid 65534:
 *
 *   CLI (uid 65534, gid 65534, groups as given) ──unix socket (root:users 0660)──► StatusServer (root)
 *
 * - in status.group only: `status` and `set … list` work; `link … down`, `set … add` and
 *   `reload` are refused with a clear message and exit code 1, and never reach the handler;
 * - also in status.controlGroup: `link … down` works (positive control);
 * - in neither group: the kernel refuses the connection (the socket file's mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusServer } from '../../../src/status/server.js';
import { silentLogger } from '../../../src/log.js';

const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;
const NOBODY = 65534;
const READ_GID = 100; // users: status.group, the socket's group
const CONTROL_GID = 50; // staff: status.controlGroup

/** Run the CLI as uid 65534 with these groups (asynchronously: the server runs in this process). */
function cliAs(groups: number[], ...argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, groups.length > 0 ? `--groups=${groups.join(',')}` : '--clear-groups', process.execPath, BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

test('a read-only member can read but not change state; a control-group member can; others cannot connect', { skip: process.getuid?.() !== 0 && 'needs root (setpriv)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-roles-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'wanbraid.sock');
  const calls: string[] = [];
  const server = new StatusServer({
    path,
    group: String(READ_GID),
    controlGroup: String(CONTROL_GID),
    logger: silentLogger(),
    handler: (req) => {
      calls.push(req.cmd === 'set' ? `set ${req.op}` : req.cmd);
      if (req.cmd === 'status') return { status: { version: 'test', links: [] } };
      if (req.cmd === 'set') return { set: req.set, elements: ['198.19.0.0/24'] };
      if (req.cmd === 'link') return { link: req.link, state: 'disabled', reason: 'operator: down' };
      return {};
    },
  });
  await server.start();
  try {
    // Read-only: nobody, also in the socket's group.
    const st = await cliAs([READ_GID], 'status', '--json', '-s', path);
    assert.equal(st.code, 0, st.err);
    assert.equal((JSON.parse(st.out) as { version: string }).version, 'test');
    const list = await cliAs([READ_GID], 'set', 'cdn', 'list', '-s', path);
    assert.equal(list.code, 0, list.err);
    assert.equal(list.out, '198.19.0.0/24\n');
    const down = await cliAs([READ_GID], 'link', 'wan1', 'down', '-s', path);
    assert.equal(down.code, 1);
    assert.equal(
      down.err,
      `wanbraid link: permission denied: "link" changes the daemon's state; allowed for root and members of status.controlGroup "${CONTROL_GID}", this client is uid ${NOBODY} (read-only: status, events and set list work)\n`,
    );
    const add = await cliAs([READ_GID], 'set', 'cdn', 'add', '198.19.1.0/24', '-s', path);
    assert.equal(add.code, 1);
    assert.match(add.err, /permission denied: "set add" changes the daemon's state/);
    assert.deepEqual(calls, ['status', 'set list'], 'refused requests never reached the daemon');
    // Positive control: the same user, also in the control group.
    const allowed = await cliAs([READ_GID, CONTROL_GID], 'link', 'wan1', 'down', '-s', path);
    assert.equal(allowed.code, 0, allowed.err);
    assert.equal(allowed.out, 'wan1: disabled (operator: down)\n');
    assert.deepEqual(calls, ['status', 'set list', 'link']);
    // In neither group: the socket file's mode keeps it out.
    const outsider = await cliAs([], 'status', '-s', path);
    assert.equal(outsider.code, 1);
    assert.match(outsider.err, /cannot connect: EACCES \(permission denied: run as root or a member of the socket group\)/);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
