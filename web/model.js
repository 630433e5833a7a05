// Pure helpers of the dashboard page (no DOM): formatting, the 10-minute window, the stacking of
// the throughput chart and the words of the timeline. Unit-tested under node (test/unit/web).

/** Seconds of history the page shows. */
export const WINDOW_S = 600;

/** Colours of links by position; style.css has the same list as .swatch-N. */
export const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f'];

/** Bits per second in words. */
export function fmtRate(bps) {
  if (bps === null || bps === undefined || !Number.isFinite(bps)) return '–';
  if (bps < 1000) return `${Math.round(bps)} bit/s`;
  const units = ['kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmtMs(ms) {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '–' : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

export function fmtPct(p) {
  return p === null || p === undefined || !Number.isFinite(p) ? '–' : `${p < 10 ? p.toFixed(1) : Math.round(p)} %`;
}

/** A share 0..1 as a percentage. */
export function fmtShare(s) {
  return s === null || s === undefined || !Number.isFinite(s) ? '–' : `${(s * 100).toFixed(1)} %`;
}

/** HH:MM:SS of an epoch-ms or ISO time, in the browser's zone. */
export function fmtClock(t) {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour12: false });
}

/** Samples (oldest first, `t` epoch ms) no older than the window before `nowMs`. */
export function inWindow(samples, nowMs) {
  const from = nowMs - WINDOW_S * 1000;
  let i = 0;
  while (i < samples.length && samples[i].t < from) i++;
  return i === 0 ? samples : samples.slice(i);
}

/** Column of one link's figure (`key` of its point) across samples, null where absent. */
export function column(samples, link, key) {
  return samples.map((s) => {
    const p = s.links[link];
    const v = p ? p[key] : null;
    return v === undefined ? null : v;
  });
}

/**
 * Cumulative columns for a stacked chart: out[i][j] = sum of cols[0..i][j], in Mbit/s. A gap
 * (null) counts as 0 in the sum, and the top stays null where every link is null.
 */
export function stack(cols) {
  const out = [];
  let acc = null;
  for (const col of cols) {
    const next = col.map((v, j) => {
      const below = acc ? acc[j] : null;
      if (v === null && below === null) return null;
      return (below ?? 0) + (v ?? 0) / 1e6;
    });
    out.push(next);
    acc = next;
  }
  return out;
}

const str = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

/** A daemon event in words: { kind, text, bad }. */
export function describeEvent(e) {
  switch (e.event) {
    case 'link':
      return { kind: 'link', text: `${e.link}: ${e.prev ?? '–'} → ${e.state}${e.reason ? ` (${e.reason})` : ''}`, bad: e.state === 'offline' };
    case 'plan':
      return {
        kind: 'plan',
        text: `${e.ok ? 'applied' : 'FAILED'} in ${e.durationMs} ms (${e.why})${Array.isArray(e.failures) && e.failures.length > 0 ? `: ${e.failures.join('; ')}` : ''}`,
        bad: !e.ok,
      };
    case 'reload':
      return { kind: 'reload', text: e.ok ? `configuration reloaded${Array.isArray(e.warnings) ? `, with warnings: ${e.warnings.join('; ')}` : ''}` : `reload refused: ${(e.issues ?? []).join('; ')}`, bad: !e.ok };
    case 'error':
      return { kind: 'error', text: `${str(e.source)}: ${str(e.message)}`, bad: true };
    case 'set':
      return { kind: 'set', text: `${e.set}: ${e.op} ${(e.elements ?? []).join(' ')} (${e.size} elements)`, bad: false };
    default: {
      const { event, time, seq, ...rest } = e;
      void time;
      void seq;
      return { kind: String(event), text: JSON.stringify(rest), bad: false };
    }
  }
}

/** The chart's marks in the window: { t (seconds), kind: 'online' | 'offline' | 'other' | 'plan', label }. */
export function marks(events, fromS) {
  const out = [];
  for (const e of events) {
    const t = Date.parse(e.time) / 1000;
    if (!(t >= fromS)) continue;
    // A link's first state (probing, at start or when added) is not a change worth a mark.
    if (e.event === 'link' && e.state === 'probing') continue;
    if (e.event === 'link') out.push({ t, kind: e.state === 'online' ? 'online' : e.state === 'offline' ? 'offline' : 'other', label: String(e.link) });
    else if (e.event === 'plan') out.push({ t, kind: 'plan', label: '' });
  }
  return out;
}
