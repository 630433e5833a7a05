// The wanbraid dashboard. One snapshot (/api/snapshot: status, 10 minutes of samples, events),
// then live updates over server-sent events (/api/events): `sample` every second, `status`
// every two, `event` as the daemon publishes them. No polling; the DOM is built with
// textContent only (nothing the daemon sends is parsed as HTML).
import uPlot from '/vendor/uplot.js';
import { COLORS, WINDOW_S, column, describeEvent, fmtClock, fmtMs, fmtPct, fmtRate, fmtShare, inWindow, marks, stack } from '/model.js';

const S = {
  ready: false,
  pending: [],
  samples: [],
  events: [],
  seq: 0,
  status: null,
  lastPlan: null,
  links: [],
  cards: new Map(),
  charts: { in: null, out: null },
};

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Link cards

function sparkline(target, color) {
  const width = Math.max(60, target.clientWidth || 120);
  return new uPlot(
    {
      width,
      height: 28,
      pxAlign: false,
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: color, width: 1.5, fill: `${color}33`, spanGaps: false, points: { show: false } }],
    },
    [[], []],
    target,
  );
}

function makeCard(name, index) {
  const color = COLORS[index % COLORS.length];
  const badge = el('span', { class: 'badge' }, 'probing');
  const reason = el('p', { class: 'reason' });
  const v = {};
  const sparks = {};
  const rows = [];
  for (const [key, label] of [
    ['rttMs', 'RTT'],
    ['lossPct', 'loss'],
    ['jitterMs', 'jitter'],
  ]) {
    v[key] = el('span', { class: 'v' }, '–');
    const box = el('div', { class: 'spark' });
    sparks[key] = { box, plot: null };
    rows.push(el('span', { class: 'k' }, label), v[key], box);
  }
  const facts = {};
  const dl = el('dl', { class: 'facts' });
  for (const [key, label] of [
    ['weight', 'weight'],
    ['flows', 'new flows'],
    ['bytes', 'bytes'],
    ['in', 'in'],
    ['out', 'out'],
  ]) {
    facts[key] = el('dd', { 'data-fact': key }, '–');
    dl.append(el('dt', {}, label), facts[key]);
  }
  const iface = el('span', { class: 'iface' });
  const root = el(
    'article',
    { class: `card swatch-${index % COLORS.length}`, 'data-link': name, 'data-state': 'probing' },
    el('header', {}, el('h3', {}, name, ' ', iface), badge),
    reason,
    el('div', { class: 'metrics' }, ...rows),
    dl,
  );
  return { root, badge, reason, iface, v, sparks, facts, color, state: 'probing' };
}

function setCardState(card, state, reason, since) {
  card.state = state;
  if (card.root.dataset.state !== state) card.root.dataset.state = state;
  setText(card.badge, state);
  if (reason !== undefined) setText(card.reason, since ? `${reason} · since ${fmtClock(since)}` : reason);
}

function setLinks(names) {
  if (names.length === S.links.length && names.every((n, i) => n === S.links[i])) return;
  S.links = names;
  const box = $('links');
  box.replaceChildren();
  S.cards.clear();
  names.forEach((n, i) => {
    const c = makeCard(n, i);
    S.cards.set(n, c);
    box.append(c.root);
  });
  // Sparklines need their boxes laid out to know their width.
  for (const c of S.cards.values()) for (const s of Object.values(c.sparks)) s.plot = sparkline(s.box, c.color);
  buildCharts();
}

function renderCards() {
  const win = S.samples;
  const xs = win.map((s) => s.t / 1000);
  const last = win[win.length - 1];
  const byName = new Map((S.status?.links ?? []).map((l) => [l.name, l]));
  for (const [name, c] of S.cards) {
    const p = last?.links[name];
    const st = byName.get(name);
    if (p) setCardState(c, p.state, p.reason, st && st.state === p.state ? st.since : undefined);
    else if (st) setCardState(c, st.state, st.reason, st.since);
    if (st) setText(c.iface, st.interface);
    for (const key of ['rttMs', 'lossPct', 'jitterMs']) {
      const val = p ? p[key] : st?.[key];
      setText(c.v[key], key === 'lossPct' ? fmtPct(val) : fmtMs(val));
      c.sparks[key].plot?.setData([xs, column(win, name, key)]);
    }
    const weight = p?.weight ?? st?.weight;
    setText(c.facts.weight, weight === undefined ? '–' : `${weight}${st && st.configuredWeight !== weight ? ` (configured ${st.configuredWeight})` : ''}`);
    const b = st?.balance;
    setText(c.facts.flows, b ? `${fmtShare(b.newFlowShare)} (${b.newFlows})` : '–');
    setText(c.facts.bytes, b ? fmtShare(b.byteShare) : '–');
    setText(c.facts.in, fmtRate(p?.inBps));
    setText(c.facts.out, fmtRate(p?.outBps));
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput charts (stacked), with link changes and plan applications marked

const MARK_COLORS = { offline: '#f85149', online: '#3fb950', other: '#d29922', plan: '#8b95a7' };

function drawMarks(u) {
  const from = u.scales.x.min;
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  // Labels of marks that fall together (links coming up at start) are stacked, not overprinted.
  const rows = new Map();
  for (const m of marks(S.events, from)) {
    const x = Math.round(u.valToPos(m.t, 'x', true));
    const bucket = Math.round(x / (40 * devicePixelRatio));
    const row = rows.get(bucket) ?? 0;
    if (m.label) rows.set(bucket, row + 1);
    ctx.strokeStyle = MARK_COLORS[m.kind];
    ctx.lineWidth = m.kind === 'plan' ? 1 : 2;
    ctx.setLineDash(m.kind === 'plan' ? [4, 4] : []);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    if (m.label) {
      ctx.fillStyle = MARK_COLORS[m.kind];
      ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
      ctx.fillText(m.label, x + 4, top + (12 + 12 * row) * devicePixelRatio);
    }
  }
  ctx.restore();
}

function chartOptions(target, key) {
  const n = S.links.length;
  const series = [{}];
  // Drawn top of the stack first, so each lower band paints over the one above it.
  for (let k = n - 1; k >= 0; k--) {
    const color = COLORS[k % COLORS.length];
    const name = S.links[k];
    series.push({
      label: name,
      stroke: color,
      width: 1,
      fill: `${color}b0`,
      points: { show: false },
      value: (_u, _v, _si, idx) => (idx === null || idx === undefined ? '–' : fmtRate(S.samples[idx]?.links[name]?.[key] ?? null)),
    });
  }
  return {
    width: Math.max(200, target.clientWidth || 400),
    height: 220,
    scales: {
      // The last 10 minutes, or less while the daemon has not run that long.
      x: { time: true, range: () => xRange() },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { stroke: '#8b95a7', grid: { stroke: '#2a3240' }, ticks: { stroke: '#2a3240' } },
      { stroke: '#8b95a7', grid: { stroke: '#2a3240' }, ticks: { stroke: '#2a3240' }, values: (_u, vals) => vals.map((v) => `${v} Mb/s`), size: 70 },
    ],
    series,
    hooks: { draw: [drawMarks] },
  };
}

function xRange() {
  const last = (S.samples.at(-1)?.t ?? Date.now()) / 1000;
  const first = (S.samples[0]?.t ?? Date.now()) / 1000;
  return [Math.max(first, last - WINDOW_S), Math.max(last, first + 10)];
}

function chartData(key) {
  const xs = S.samples.map((s) => s.t / 1000);
  const stacked = stack(S.links.map((l) => column(S.samples, l, key)));
  return [xs, ...stacked.reverse()];
}

function buildCharts() {
  for (const key of ['in', 'out']) {
    S.charts[key]?.destroy();
    const target = $(`chart-${key}`);
    target.replaceChildren();
    const k = key === 'in' ? 'inBps' : 'outBps';
    S.charts[key] = new uPlot(chartOptions(target, k), chartData(k), target);
  }
}

function renderCharts() {
  // How much history the page holds (tests wait on it rather than on a clock).
  $('chart-in').dataset.samples = String(S.samples.length);
  S.charts.in?.setData(chartData('inBps'));
  S.charts.out?.setData(chartData('outBps'));
}

window.addEventListener('resize', () => {
  for (const key of ['in', 'out']) S.charts[key]?.setSize({ width: Math.max(200, $(`chart-${key}`).clientWidth), height: 220 });
  for (const c of S.cards.values()) for (const s of Object.values(c.sparks)) s.plot?.setSize({ width: Math.max(60, s.box.clientWidth), height: 28 });
});

// ---------------------------------------------------------------------------------------------
// Plan, relay, timeline, header

function renderPlan() {
  const box = $('plan');
  const p = S.lastPlan;
  const ps = S.status?.plan;
  const dl = el('dl', { class: 'facts' });
  const row = (k, v) => dl.append(el('dt', {}, k), el('dd', {}, v));
  if (ps) row('state', `${ps.state} since ${fmtClock(ps.since)}${ps.failuresTotal ? ` · ${ps.failuresTotal} failures since start` : ''}`);
  if (p) {
    row('applied', `${fmtClock(p.time)} (${p.why})${p.ok ? '' : ' with failures'}`);
    row('total', `${p.durationMs} ms`);
    const t = p.timings ?? {};
    for (const [k, label] of [
      ['planMs', 'planning'],
      ['sysctlMs', 'sysctls'],
      ['routingMs', 'routing'],
      ['nftMs', 'nftables'],
      ['conntrackMs', 'conntrack'],
    ])
      if (typeof t[k] === 'number') row(label, `${t[k]} ms`);
    row('changes', `nft ${p.nft}, ${p.routingChanges} routing${p.conntrackFlushed?.length ? `, conntrack flushed for ${p.conntrackFlushed.join(', ')}` : ''}${p.nudged ? `, ${p.nudged} flows nudged` : ''}`);
    if (p.failures?.length) row('failures', p.failures.join('; '));
  } else if (S.status?.balancer?.lastApply) {
    const a = S.status.balancer.lastApply;
    row('applied', `${fmtClock(a.at)}${a.ok ? '' : ' with failures'}`);
    row('total', `${a.durationMs} ms`);
  } else dl.append(el('dt', {}, 'plan'), el('dd', {}, 'none applied yet (no links configured?)'));
  box.replaceChildren(dl);
}

function pathTable(caption, paths) {
  const head = el('tr', {}, ...['path', 'state', 'rate', 'tx', 'rx', 'RTT', 'in flight'].map((h, i) => el('th', { class: i >= 2 ? 'num' : undefined }, h)));
  const body = paths.map((p) =>
    el(
      'tr',
      { 'data-path': p.name },
      el('td', {}, p.name),
      el('td', { class: `st-${p.state}`, title: p.reason }, p.state),
      el('td', { class: 'num' }, fmtRate(p.deliveryBps)),
      el('td', { class: 'num' }, fmtRate(p.txBps)),
      el('td', { class: 'num' }, fmtRate(p.rxBps)),
      el('td', { class: 'num' }, fmtMs(p.rttMs)),
      el('td', { class: 'num' }, `${Math.round(p.inflight / 1024)} / ${Math.round(p.cap / 1024)} KiB`),
    ),
  );
  return el('table', {}, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, ...body));
}

function renderRelay() {
  const box = $('relay');
  const r = S.status?.relay;
  if (!r) {
    box.replaceChildren(el('p', { class: 'note' }, 'not configured on this host'));
    return;
  }
  const parts = [];
  for (const e of r.entries ?? []) parts.push(pathTable(`entry ${e.name}: ${e.listen} → ${e.exit} (${e.target}), ${e.accepted} connections`, e.paths ?? []));
  if (r.exit) {
    parts.push(el('p', {}, `exit on ${r.exit.listen}: ${r.exit.sessions.length} sessions, ${r.exit.rejected} handshakes rejected, ${r.exit.refused} opens refused`));
    for (const s of r.exit.sessions) parts.push(pathTable(`session ${s.session} from ${s.entry}`, s.paths ?? []));
  }
  for (const f of r.forwards ?? []) parts.push(el('p', {}, `forward ${f.name}: ${f.listen} → ${f.to}, ${f.connections} connections, ${f.bytes} bytes`));
  if (parts.length === 0) parts.push(el('p', { class: 'note' }, 'no entries, exit or forwards'));
  box.replaceChildren(...parts);
}

function eventItem(e) {
  const d = describeEvent(e);
  return el('li', { 'data-kind': d.kind, 'data-bad': d.bad ? '' : undefined }, el('span', { class: 't' }, fmtClock(e.time)), el('span', { class: 'kind' }, d.kind), el('span', { class: 'what' }, d.text));
}

function renderTimeline() {
  $('timeline').replaceChildren(...S.events.slice(-200).reverse().map(eventItem));
}

function renderMeta() {
  const st = S.status;
  if (!st) return;
  setText($('meta'), `v${st.version} · pid ${st.pid} · up since ${new Date(st.startedAt).toLocaleString()} · config ${st.config.file} loaded ${fmtClock(st.config.loadedAt)}`);
}

function renderAll() {
  renderMeta();
  renderCards();
  renderCharts();
  renderPlan();
  renderRelay();
  renderTimeline();
}

// ---------------------------------------------------------------------------------------------
// Live updates

function onSample(s) {
  const last = S.samples.at(-1);
  if (last && s.t <= last.t) return;
  S.samples.push(s);
  S.samples = inWindow(S.samples, s.t);
  const names = Object.keys(s.links);
  if (names.length !== S.links.length || names.some((n) => !S.cards.has(n))) setLinks(names);
  renderCards();
  renderCharts();
}

function onStatus(st) {
  S.status = st;
  setLinks(st.links.map((l) => l.name));
  renderMeta();
  renderCards();
  renderPlan();
  renderRelay();
}

function onEvent(e) {
  if (e.seq <= S.seq) return;
  S.seq = e.seq;
  S.events.push(e);
  if (S.events.length > 400) S.events = S.events.slice(-200);
  if (e.event === 'link') {
    const c = S.cards.get(e.link);
    if (c) setCardState(c, e.state, e.reason, e.since);
  }
  if (e.event === 'plan') {
    S.lastPlan = e;
    renderPlan();
  }
  const list = $('timeline');
  list.prepend(eventItem(e));
  // A page left open for days keeps the newest 200 lines, like the server.
  while (list.children.length > 200) list.lastElementChild.remove();
  renderCharts();
}

const HANDLERS = { sample: onSample, status: onStatus, event: onEvent };

function receive(type, data) {
  if (!S.ready) S.pending.push({ type, data });
  else HANDLERS[type](data);
}

async function loadSnapshot() {
  S.ready = false;
  const r = await fetch('/api/snapshot', { cache: 'no-store' });
  if (!r.ok) throw new Error(`snapshot: ${r.status}`);
  const snap = await r.json();
  S.samples = inWindow(snap.samples, snap.samples.at(-1)?.t ?? snap.now);
  S.events = snap.events;
  S.seq = snap.events.at(-1)?.seq ?? 0;
  S.status = snap.status;
  S.lastPlan = snap.lastPlan ?? null;
  setLinks(snap.status.links.map((l) => l.name));
  renderAll();
  S.ready = true;
  const pending = S.pending;
  S.pending = [];
  for (const m of pending) HANDLERS[m.type](m.data);
}

function setConn(state, text) {
  const c = $('conn');
  c.dataset.conn = state;
  setText(c, text);
}

function connect() {
  const es = new EventSource('/api/events');
  for (const type of Object.keys(HANDLERS)) es.addEventListener(type, (m) => receive(type, JSON.parse(m.data)));
  es.addEventListener('open', () => {
    setConn('live', 'live');
    // First connection or a reconnection: (re)load what was missed.
    loadSnapshot().catch((err) => setConn('reconnecting', `snapshot failed: ${err.message}`));
  });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) {
      // Refused (401, 503, daemon gone): the browser will not retry by itself.
      setConn('reconnecting', 'disconnected, retrying…');
      setTimeout(connect, 5000);
    } else setConn('reconnecting', 'reconnecting…');
  });
}

connect();
