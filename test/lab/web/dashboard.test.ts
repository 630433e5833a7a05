/**
 * The dashboard in a real browser (Debian's headless chromium over the DevTools pipe) against the
 * real daemon in the multi-WAN lab, with iperf3 traffic through the router. Chromium runs inside
 * the router namespace and reaches the daemon's listener there: nothing touches a host interface.
 *
 *   client ── lan0 [router: wanbraid run, web 127.0.0.1:8787 | 198.18.100.1:8787; chromium]
 *                  wan1..3 ── isp1..3 ── inet (track IPs, iperf3)
 *
 * 1. Loopback, no token (the default): the page shows three online links with live figures; a
 *    blackhole in isp1 turns wan1's card offline within 2 s of the daemon's own event (the wait's
 *    limit, measured from the event's timestamp; the delay is logged); the page loads without a
 *    Content-Security-Policy violation or a script error; a screenshot is written (to the temp
 *    directory; `WANBRAID_SCREENSHOT=docs/img/dashboard.png` refreshes the README's, so a test run
 *    never changes the tree).
 * 2. On the LAN address with a token: without it every request is 401; a request that is not GET
 *    or HEAD is 405 and changes nothing (beside a GET with the token that works: the control);
 *    a browser opened at /?token=… is sent on with the cookie and shows the links.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { Lab } from '../../../src/lab/lab.js';
import { DaemonProcess, statusOf, stopAndClean } from '../harness/daemon.js';
import { becomes, defaultGroup, stateLine } from '../harness/router-view.js';
import { Browser, chromiumInstalled } from '../harness/browser.js';
import { requirePrereq } from '../../helpers/prereq.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const SCREENSHOT = process.env.WANBRAID_SCREENSHOT ?? join(tmpdir(), `wanbraid-dashboard-${process.pid}.png`);
const chromium = requirePrereq({ name: 'chromium', available: chromiumInstalled(), install: 'apt-get install chromium (scripts/install.sh installs it)' });

let lab: Lab;
before(async () => {
  lab = await Lab.up({ links: 3 });
});
after(async () => {
  await lab?.down();
});

const cardStates = `[...document.querySelectorAll('.card')].map((c) => c.dataset.link + ':' + c.dataset.state).join(' ')`;

/** Resolves with `p`, or rejects once the epoch-ms `deadline` has passed. */
function by<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not by the deadline (${new Date(deadline).toISOString()})`)), Math.max(0, deadline - Date.now()));
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Traffic through the router for the charts: a download and an upload against two of the inet
 * iperf3 servers (`ports`: [down, up]), as new flows the balancer spreads over the usable links.
 */
function traffic(ports: [number, number]): void {
  const server = lab.addr.inet.server4;
  lab.spawn('client', ['iperf3', '-c', server, '-p', String(ports[0]), '-R', '-P', '8', '-b', '2M', '-t', '300']);
  lab.spawn('client', ['iperf3', '-c', server, '-p', String(ports[1]), '-P', '4', '-b', '1M', '-t', '300']);
}

/** Samples the page holds (data-samples on the chart, one a second). */
const samples = `Number(document.getElementById('chart-in').dataset.samples ?? 0)`;

chromium.test("the page shows three online links; a blackhole on wan1 turns its card offline within 2 s of the daemon's event", async (t) => {
  let d: DaemonProcess | undefined;
  let b: Browser | undefined;
  try {
    d = await DaemonProcess.start(lab.ns('router'), `${EXAMPLE}\nweb:\n  listen: 127.0.0.1:8787\n`);
    await d.waitForLog((l) => l.msg === 'dashboard listening' && l.listen === '127.0.0.1:8787', 5000);
    for (const l of ['wan1', 'wan2', 'wan3']) await d.waitForLog(stateLine(l, 'online'), 15_000);
    // Balancing over all three before the traffic starts, so its flows spread 5:3:2.
    await becomes(() => defaultGroup(lab), { wan1: 5, wan2: 3, wan3: 2 });
    traffic([5201, 5202]);

    b = await Browser.launch((argv, opts) => lab.spawn('router', argv, opts));
    await b.goto('http://127.0.0.1:8787/');
    await b.waitFor(`${cardStates} === 'wan1:online wan2:online wan3:online'`, 15_000);
    // Live figures: every card has an RTT, and the flows show as throughput in Mbit/s on some link.
    await b.waitFor(`[...document.querySelectorAll('.card .metrics .v')].filter((v, i) => i % 3 === 0 && / ms$/.test(v.textContent)).length === 3`, 15_000);
    await b.waitFor(`[...document.querySelectorAll('.card [data-fact=in]')].some((v) => /Mbit\\/s$/.test(v.textContent))`, 20_000);
    const live = await b.evaluate<string>(`document.getElementById('conn').dataset.conn`);
    assert.equal(live, 'live');
    // Some history before the fault, for the screenshot's chart (the page counts its samples).
    await b.waitFor(`${samples} >= 20`, 40_000);

    // Waiting in the page from before the fault: the moment the card turns is the page's own clock.
    const offline = b.waitFor(
      `document.querySelector('.card[data-link="wan1"]')?.dataset.state === 'offline' && document.querySelector('.card[data-link="wan1"] .reason').textContent`,
      60_000,
    );
    const mark = d.logs.length;
    await lab.fault('wan1', { kind: 'blackhole' });
    const ev = await d.waitForLog(stateLine('wan1', 'offline'), 15_000, mark);
    const eventAt = Date.parse(String(ev.time));
    const seen = await by(offline, eventAt + 2000, "wan1's card offline within 2 s of the daemon's event");
    const delayMs = seen.at - eventAt;
    t.diagnostic(`wan1's card turned offline ${delayMs} ms after the daemon's event`);
    console.log(`dashboard: wan1's card offline ${delayMs} ms after the daemon's event`);
    assert.match(String(seen.value), /probe rounds failed/, 'the card gives the reason in words');
    assert.equal(await b.evaluate<string>(cardStates), 'wan1:offline wan2:online wan3:online');
    await b.waitFor(`[...document.querySelectorAll('#timeline li[data-kind=link]')].some((li) => li.textContent.includes('wan1: online → offline'))`, 5000);
    await b.waitFor(`[...document.querySelectorAll('#timeline li[data-kind=plan]')].some((li) => /applied in [\\d.]+ ms \\(link wan1\\)/.test(li.textContent))`, 10_000);
    await b.waitFor(`/^\\d+(\\.\\d+)? ms$/.test(document.querySelector('#plan dd:nth-of-type(3)')?.textContent ?? '')`, 5000);

    // The screenshot shows the failover: new flows over wan2 and wan3 (the old ones on wan1 were
    // nudged and reset), a few seconds of them on the chart.
    traffic([5203, 5204]);
    const n = await b.evaluate<number>(samples);
    await b.waitFor(`${samples} >= ${n + 12}`, 30_000);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await b.screenshot(SCREENSHOT);
    t.diagnostic(`screenshot: ${SCREENSHOT}`);

    const problems = b.console.filter((l) => l.level === 'error' || /Content.Security.Policy|Refused to/i.test(l.text));
    assert.deepEqual(problems, [], 'no script error and no CSP violation');
  } finally {
    await b?.close();
    await lab.fault('wan1', { kind: 'clear' }).catch(() => undefined);
    await stopAndClean(d);
  }
});

/** GET/other methods from the client namespace, through lan0: [status, headers, body]. */
async function fetchFromClient(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { redirect: 'manual', ...${JSON.stringify(init)} }).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() })))`;
  const r = await lab.exec('client', [process.execPath, '-e', script]);
  return JSON.parse(r.stdout) as { status: number; headers: Record<string, string>; body: string };
}

chromium.test('on a LAN address the dashboard needs its token (401 without), is read-only (405), and a browser logs in with ?token=', async () => {
  const token = 'f3a9c2e1b7d84a6e9c0b5d2f1a8e7c64';
  const tokenFile = join(lab.dir, 'web.token');
  writeFileSync(tokenFile, `# the dashboard's token\n${token}\n`);
  chmodSync(tokenFile, 0o600);
  const listen = `${lab.addr.lan.router4}:8787`;
  const base = `http://${listen}`;
  let d: DaemonProcess | undefined;
  let b: Browser | undefined;
  try {
    d = await DaemonProcess.start(lab.ns('router'), `${EXAMPLE}\nweb:\n  listen: ${listen}\n  tokenFile: ${tokenFile}\n`);
    for (const l of ['wan1', 'wan2', 'wan3']) await d.waitForLog(stateLine(l, 'online'), 15_000);
    const auth = { authorization: `Bearer ${token}` };

    // Without the token (or with a wrong one) nothing is served.
    for (const path of ['/', '/app.js', '/api/snapshot', '/api/events']) {
      const r = await fetchFromClient(base + path);
      assert.equal(r.status, 401, `${path} without a token`);
      assert.doesNotMatch(r.body, /wan1/);
    }
    assert.equal((await fetchFromClient(`${base}/api/snapshot`, { headers: { authorization: `Bearer ${token.replace(/.$/, '0')}` } })).status, 401, 'a wrong token');
    assert.equal((await fetchFromClient(`${base}/?token=nottherighttoken`)).status, 401, 'a wrong token in the query');

    // The control: with the token a GET works.
    const before = await fetchFromClient(`${base}/api/snapshot`, { headers: auth });
    assert.equal(before.status, 200);
    assert.match(before.headers['content-security-policy'] ?? '', /default-src 'self'/);
    const snap = JSON.parse(before.body) as { status: { links: { name: string; state: string }[] } };
    assert.deepEqual(snap.status.links.map((l) => `${l.name}:${l.state}`), ['wan1:online', 'wan2:online', 'wan3:online']);

    // Anything but GET/HEAD is 405, with or without the token, and changes nothing.
    const stBefore = statusOf(await d.request({ cmd: 'status' }));
    const mark = d.logs.length;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/', '/api/snapshot', '/api/events']) {
        const r = await fetchFromClient(base + path, { method, headers: auth, ...(method === 'DELETE' ? {} : { body: '{"cmd":"link","link":"wan1","action":"down"}' }) });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.allow, 'GET, HEAD');
      }
    }
    assert.equal((await fetchFromClient(`${base}/api/snapshot`, { method: 'POST' })).status, 405, 'without the token too');
    const stAfter = statusOf(await d.request({ cmd: 'status' }));
    assert.deepEqual(
      stAfter.links.map((l) => [l.name, l.state, l.weight, l.since]),
      stBefore.links.map((l) => [l.name, l.state, l.weight, l.since]),
    );
    assert.equal(stAfter.config.loadedAt, stBefore.config.loadedAt, 'no reload');
    assert.deepEqual(
      d.logs.slice(mark).filter((l) => /override|reload|plan applied|set /.test(String(l.msg))),
      [],
      'no override, reload, plan or set change logged',
    );

    // A browser: /?token=… → 303 to / with the cookie, then the page and its stream ride on it.
    const login = await fetchFromClient(`${base}/?token=${token}`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/');
    assert.match(login.headers['set-cookie'] ?? '', /^wanbraid_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    b = await Browser.launch((argv, opts) => lab.spawn('router', argv, opts));
    await b.goto(`${base}/?token=${token}`);
    assert.equal(await b.evaluate<string>('location.pathname + location.search'), '/', 'the token left the address bar');
    await b.waitFor(`${cardStates} === 'wan1:online wan2:online wan3:online'`, 15_000);
    await b.waitFor(`document.getElementById('conn').dataset.conn === 'live'`, 10_000);
  } finally {
    await b?.close();
    await stopAndClean(d);
  }
});
