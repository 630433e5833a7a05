/**
 * The lab's internet services answer on every inet address, over both families, and survive
 * garbage. Clients run in isp1, which routes straight to inet.
 *
 *   isp1 (198.18.65.1) ── inet: 198.19.0.1/.2/.10/.20 + 2001:db8:ffff::1/::2/::10/::20 on lo
 *                              HTTP 80, HTTPS 443, DNS 53/udp, echo 7, hold 9000, sink 9001,
 *                              iperf3 5201-5204
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Lab } from '../../../src/lab/lab.js';
import { patternSha256 } from '../../../src/lab/pattern.js';
import { encodeQuery, TYPE } from '../../../src/lab/dns.js';
import { parseListening } from '../../../src/lab/topology.js';
import { client } from './helpers.js';

let lab: Lab;
before(async () => {
  lab = await Lab.up({ links: 1 });
});
after(async () => {
  await lab?.down();
});

async function curl(url: string, extra: string[] = []): Promise<{ code: string; time: number }> {
  const r = await lab.exec('isp1', ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '--max-time', '5', ...extra, url]);
  const [code, time] = r.stdout.trim().split(' ');
  return { code: code!, time: Number(time) };
}

test('HTTP answers on every inet address over IPv4 and IPv6, with status and slow paths', async () => {
  for (const host of ['198.19.0.10', '198.19.0.1', '198.19.0.20', '[2001:db8:ffff::10]', '[2001:db8:ffff::2]']) {
    assert.equal((await curl(`http://${host}/`)).code, '200', host);
  }
  assert.equal((await curl('http://198.19.0.10/status/503')).code, '503');
  assert.equal((await curl('http://198.19.0.10/status/204')).code, '204');
  assert.equal((await curl('http://198.19.0.10/nowhere')).code, '404');
  const slow = await curl('http://198.19.0.10/slow/150');
  assert.equal(slow.code, '200');
  assert.ok(slow.time >= 0.15, `/slow/150 answered after ${slow.time} s`);
});

test('HTTP /ip shows the client address as inet sees it; /bytes/N sends the known pattern', async () => {
  const ip = await lab.exec('isp1', ['curl', '-sS', 'http://198.19.0.10/ip']);
  assert.equal(ip.stdout.trim(), lab.addr.links[0]!.ispUp4);
  const file = join(lab.dir, 'bytes.bin');
  const n = 3 * 1024 * 1024 + 5;
  await lab.exec('isp1', ['curl', '-sS', '-o', file, `http://[2001:db8:ffff::10]/bytes/${n}`]);
  assert.equal(createHash('sha256').update(await readFile(file)).digest('hex'), patternSha256(n));
});

test('HTTPS answers with a certificate for the inet addresses', async () => {
  const ca = ['--cacert', join(lab.dir, 'cert.pem')];
  assert.equal((await curl('https://198.19.0.10/', ca)).code, '200');
  assert.equal((await curl('https://[2001:db8:ffff::10]/status/500', ca)).code, '500');
  assert.equal((await curl('https://198.19.0.1/', ca)).code, '200', 'track IPs are in the certificate too');
});

test('DNS answers A, AAAA and NS over both families', async () => {
  const a = await client(lab, 'isp1', ['dns', '198.19.0.10', 'anything.example', 'A']);
  assert.equal(a.code, 0, JSON.stringify(a.result));
  assert.deepEqual((a.result.answers as { data: string }[]).map((x) => x.data), ['198.19.0.10']);
  const aaaa = await client(lab, 'isp1', ['dns', '2001:db8:ffff::1', 'x.test', 'AAAA']);
  assert.equal(aaaa.code, 0, JSON.stringify(aaaa.result));
  assert.deepEqual((aaaa.result.answers as { data: string }[]).map((x) => x.data), ['2001:db8:ffff:0:0:0:0:10']);
  const ns = await client(lab, 'isp1', ['dns', '198.19.0.2', 'lab', 'NS']);
  assert.deepEqual((ns.result.answers as { data: string }[]).map((x) => x.data), ['ns.lab.wanbraid']);
});

test('echo over TCP and UDP, both families', async () => {
  for (const [proto, host] of [['tcp', '198.19.0.10'], ['udp', '198.19.0.10'], ['tcp', '2001:db8:ffff::10'], ['udp', '2001:db8:ffff::10']] as const) {
    const r = await client(lab, 'isp1', ['echo', proto, host, '7', `hello ${proto}`]);
    assert.equal(r.code, 0, `${proto} ${host}: ${JSON.stringify(r.result)}`);
  }
});

test('hold keeps 300 connections open and echoing; sink returns byte count and sha256', async () => {
  const h = await client(lab, 'isp1', ['hold', '198.19.0.10', '9000', '300', '300', '--timeout', '10000']);
  assert.equal(h.code, 0, JSON.stringify(h.result));
  assert.deepEqual([h.result.opened, h.result.echoed, h.result.stillEchoing], [300, 300, 300]);
  const s = await client(lab, 'isp1', ['sink', '2001:db8:ffff::10', '9001', '2000000']);
  assert.equal(s.code, 0, JSON.stringify(s.result));
});

test('iperf3 listens on 5201-5204 and runs a transfer', async () => {
  const l = parseListening((await lab.exec('inet', ['ss', '-Hlntu'])).stdout);
  for (const p of lab.addr.ports.iperf3) assert.ok(l.tcp.has(p), `iperf3 on ${p}`);
  const r = await lab.exec('isp1', ['iperf3', '-c', '198.19.0.10', '-p', '5203', '-n', '1M', '-J']);
  const res = JSON.parse(r.stdout) as { end: { sum_sent: { bytes: number }; sum_received: { bytes: number } } };
  assert.ok(res.end.sum_sent.bytes >= 1024 * 1024, 'the client sent the whole MiB');
  // The server's own count of a sub-millisecond transfer can stop short of the total.
  assert.ok(res.end.sum_received.bytes > 0, 'and the server received it');
});

test('garbage on every service is answered or dropped; the services process keeps running', async () => {
  const svc = lab.services.find((s) => s.name === 'services')!;
  const junk = Buffer.from('\x16\x03\x01\x00\xff\x00garbage\r\n\r\n\x00\xff', 'latin1').toString('hex');
  const bad400 = await client(lab, 'isp1', ['raw', 'tcp', '198.19.0.10', '80', junk, '--timeout', '500']);
  assert.match(String(bad400.result.replyText), /^HTTP\/1\.1 400/);
  await client(lab, 'isp1', ['raw', 'tcp', '198.19.0.10', '443', Buffer.from('not tls at all\r\n').toString('hex'), '--timeout', '300']);
  await client(lab, 'isp1', ['raw', 'tcp', '198.19.0.10', '9001', junk, '--timeout', '300']);
  const formerr = encodeQuery(7, 'x', TYPE.A).subarray(0, 15).toString('hex');
  const dnsBad = await client(lab, 'isp1', ['raw', 'udp', '198.19.0.10', '53', formerr, '--timeout', '300']);
  assert.equal(String(dnsBad.result.replyHex).slice(0, 8), '00078501', 'FORMERR (with QR, AA, RD) and the query id');
  for (const hex of ['', '00', 'ffffffffffffffffffffffffffffffffffff', 'c00c'.repeat(40)]) {
    await client(lab, 'isp1', ['raw', 'udp', '198.19.0.10', '53', hex, '--timeout', '100']);
  }
  process.kill(svc.pid, 0); // still alive: throws if not
  assert.equal((await curl('http://198.19.0.10/')).code, '200');
  const a = await client(lab, 'isp1', ['dns', '198.19.0.10', 'after.garbage', 'A']);
  assert.equal(a.code, 0);
});
