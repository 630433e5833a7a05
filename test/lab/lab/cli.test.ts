/**
 * `wanbraid lab` end to end through bin/wanbraid, with its own state directory:
 *
 *  client ── router ┬ wan1 ── isp1 ┬── inet
 *                   └ wan2 ── isp2 ┘
 *
 * up → status → exec → fault → status → down, and the system is as before; a delay from `up`
 * and from `fault`, shown by status and taken away by clear.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listNetns } from '../../../src/lab/netns.js';
import { rootLinks } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../../bin/wanbraid', import.meta.url));

function wanbraid(dir: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, WANBRAID_LAB_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    // 'close', not 'exit': the lab's services must not hold our pipes open after `lab up` ends.
    child.once('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('lab up, status, exec, fault and down through the CLI', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-lab-cli-'));
  const linksBefore = await rootLinks();
  let runId = '';
  try {
    const badDelay = await wanbraid(dir, ['lab', 'up', '--links', '2', '--delay', '5ms,3ms±4ms']);
    assert.equal(badDelay.code, 2);
    assert.match(badDelay.err, /lab up: --delay entry 2: jitter 4 ms is more than the delay 3 ms/);
    assert.deepEqual(readdirSync(dir), [], 'a bad option changes nothing');
    const up = await wanbraid(dir, ['lab', 'up', '--links', '2', '--rates', '40mbit,8mbit/2mbit', '--delay=-,10ms/20ms', '--json']);
    assert.equal(up.code, 0, up.err);
    assert.match(up.err, /lab up: creating 5 namespaces/, 'progress on stderr');
    const rec = JSON.parse(up.out) as { runId: string; namespaces: Record<string, string>; addr: { links: { gateway4: string }[] } };
    runId = rec.runId;
    assert.equal(rec.addr.links[1]!.gateway4, '198.18.2.254');
    const names = await listNetns();
    for (const ns of Object.values(rec.namespaces)) assert.ok(names.includes(ns), `${ns} exists after lab up returned`);

    const again = await wanbraid(dir, ['lab', 'up']);
    assert.equal(again.code, 1);
    assert.match(again.err, new RegExp(`a lab is already up \\(run ${runId}, wan,.*wanbraid lab down`));

    const st = await wanbraid(dir, ['lab', 'status', '--json']);
    assert.equal(st.code, 0, st.err);
    const status = JSON.parse(st.out) as { healthy: boolean; links: { link: string; rate: string; lowerUp: boolean; delay: { up: { delay_us: number }; down: { delay_us: number } } | null }[]; services: { running: boolean }[] };
    assert.equal(status.healthy, true);
    assert.deepEqual(status.links.map((l) => [l.link, l.rate, l.lowerUp]), [['wan1', '40mbit', true], ['wan2', '8mbit/2mbit', true]]);
    assert.equal(status.links[0]!.delay, null);
    assert.deepEqual([status.links[1]!.delay?.down.delay_us, status.links[1]!.delay?.up.delay_us], [10_000, 20_000]);
    assert.equal(status.services.length, 5);

    const ex = await wanbraid(dir, ['lab', 'exec', 'router', '--', 'ip', '-br', 'link', 'show', 'dev', 'wan2']);
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /^wan2@\S+\s+UP/);
    const curl = await wanbraid(dir, ['lab', 'exec', 'isp1', '--', 'curl', '-s', 'http://198.19.0.10/']);
    assert.equal(curl.out, 'wanbraid lab\n', 'the services answer');
    assert.equal((await wanbraid(dir, ['lab', 'exec', 'inet', '--', 'sh', '-c', 'exit 3'])).code, 3, 'exit status passes through');
    const noNode = await wanbraid(dir, ['lab', 'exec', 'mars', '--', 'true']);
    assert.equal(noNode.code, 2);
    assert.match(noNode.err, /no node "mars" in this lab \(nodes: client, router, isp1, isp2, inet\)/);

    const f = await wanbraid(dir, ['lab', 'fault', 'wan2', 'carrier-down']);
    assert.equal(f.code, 0, f.err);
    assert.equal(f.out, 'wan2: carrier-down → carrier-down, delay 10ms/20ms\n');
    assert.equal((await wanbraid(dir, ['lab', 'fault', '1', 'loss', '5'])).code, 0);
    const fd = await wanbraid(dir, ['lab', 'fault', 'wan1', 'delay', '80ms+-20ms']);
    assert.equal(fd.code, 0, fd.err);
    assert.equal(fd.out, 'wan1: delay 80ms±20ms → loss 5%, delay 80ms±20ms\n');
    const badFault = await wanbraid(dir, ['lab', 'fault', 'wan1', 'delay', '80ms±90ms']);
    assert.equal(badFault.code, 2);
    assert.match(badFault.err, /lab fault: delay: jitter 90 ms is more than the delay 80 ms/);
    const human = await wanbraid(dir, ['lab', 'status']);
    assert.match(human.out, /^link\s+via\s+profile\s+rate\s+delay\s+carrier\s+faults$/m);
    assert.match(human.out, /^wan1\s+isp1\s+-\s+40mbit\s+80ms±20ms\s+up\s+loss 5%$/m);
    assert.match(human.out, /^wan2\s+isp2\s+-\s+8mbit\/2mbit\s+10ms\/20ms\s+NO-CARRIER\s+carrier-down$/m);
    const badLink = await wanbraid(dir, ['lab', 'fault', 'wan7', 'clear']);
    assert.equal(badLink.code, 2);
    assert.match(badLink.err, /no link "wan7"/);
    assert.equal((await wanbraid(dir, ['lab', 'fault', 'wan2', 'clear'])).code, 0);
    assert.match((await wanbraid(dir, ['lab', 'status'])).out, /^wan2\s+isp2\s+-\s+8mbit\/2mbit\s+none\s+up\s+none$/m, 'clear takes the delay away too');

    const down = await wanbraid(dir, ['lab', 'down']);
    assert.equal(down.code, 0, down.err);
    assert.equal(down.out, `lab ${runId} down\n`);
    assert.deepEqual((await listNetns()).filter((n) => n.includes(runId)), []);
    assert.deepEqual(await rootLinks(), linksBefore);
    assert.deepEqual(readdirSync(dir), [], 'state file and lab directory are gone');

    const down2 = await wanbraid(dir, ['lab', 'down']);
    assert.equal(down2.code, 1);
    assert.match(down2.err, /no lab is up/);
    const st2 = await wanbraid(dir, ['lab', 'status']);
    assert.equal(st2.code, 1);
    assert.equal(st2.out, 'no lab is up\n');
  } finally {
    if (existsSync(join(dir, 'lab.json'))) await wanbraid(dir, ['lab', 'down']);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the relay lab through the CLI, with a profile on one path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-lab-cli-'));
  try {
    const badProfile = await wanbraid(dir, ['lab', 'up', '--relay', '--profiles', 'cable']);
    assert.equal(badProfile.code, 2);
    assert.match(badProfile.err, /--profiles entry 1: unknown profile "cable" \(profiles: fibre, dsl, lte, geo-satellite\)/);
    const up = await wanbraid(dir, ['lab', 'up', '--relay', '--rates', '40mbit,8mbit', '--profiles=-,geo-satellite']);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /relay, 2 paths \(40mbit, geo-satellite 8mbit delay 300ms±10ms\)/, 'the explicit rate replaces the profile\'s');
    const ping = await wanbraid(dir, ['lab', 'exec', 'entry', '--', 'ping', '-c1', '-W2', '198.18.12.2']);
    assert.equal(ping.code, 0, ping.out);
    const rtt = Number(/time=([\d.]+) ms/.exec(ping.out)?.[1]);
    assert.ok(rtt >= 290 && rtt <= 312, `a ping to hop2 itself crosses the up delay only: ${rtt} ms`);
    assert.equal((await wanbraid(dir, ['lab', 'fault', 'hop2', 'blackhole'])).code, 0);
    assert.notEqual((await wanbraid(dir, ['lab', 'exec', 'entry', '--', 'ping', '-c1', '-W0.3', '198.18.12.2'])).code, 0);
    assert.match((await wanbraid(dir, ['lab', 'status'])).out, /^path2\s+hop2\s+geo-satellite\s+8mbit\s+300ms±10ms\s+up\s+blackhole$/m);
    assert.equal((await wanbraid(dir, ['lab', 'down'])).code, 0);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    if (existsSync(join(dir, 'lab.json'))) await wanbraid(dir, ['lab', 'down']);
    rmSync(dir, { recursive: true, force: true });
  }
});
