/**
 * `wanbraid speedtest`, the entry's side: measures each of an entry's paths alone (download, then
 * upload) and then all of them striped, against the entry's own exit, whose test stream
 * (docs/relay-protocol.md §5, TEST) generates or counts the bytes.
 *
 * Each phase runs in a session of its own, opened for it and closed after it, with only the
 * phase's paths: the entry's running session (its users' flows) is not touched, and a path
 * measured alone carries nothing else of ours. The exit forgets such a test-only session as soon
 * as its last path goes. The phases run one after the other; the schedule, the rate arithmetic and
 * the result are pure (speedtest-plan.ts).
 *
 * Download is counted where the bytes arrive (delivered to our test port), upload where the exit
 * acknowledged them; both skip the phase's start ({@link warmupMs}). A phase that cannot run (its
 * link is offline, the exit refuses the stream, it stalls) reports why and the others still run.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Endpoint } from '../config/values.js';
import type { RelayTuningConfig } from '../config/schema.js';
import type { Clock } from './core/clock.js';
import { Mux, type FlowEnd } from './core/mux.js';
import { Reason, reasonName } from './protocol/constants.js';
import type { ClientKey } from './net/handshake.js';
import { PathDialer, type PathSpecLike } from './path-dialer.js';
import type { LinkMap } from './links.js';
import { TestStreamPort } from './test-stream.js';
import { muxTuning } from './entry.js';
import { measure, phaseLabel, schedule, share, warmupMs, type DirectionResult, type Phase, type Progress, type Sample, type SpeedTestResult } from './speedtest-plan.js';

export interface SpeedTestContext {
  entryName: string;
  exit: Endpoint;
  key: ClientKey;
  tuning: RelayTuningConfig;
  /** The entry's paths, with their names. */
  paths: readonly { name: string; spec: PathSpecLike }[];
  links: () => LinkMap;
  clock: Clock;
  log: Logger;
}

/** How long a phase's paths may take to come up (ms). */
const UP_TIMEOUT_MS = 10_000;
/** How long past its asked duration a phase may run before it is abandoned (ms). */
const STALL_SLACK_MS = 15_000;
/** How often the bytes are sampled (ms). */
const SAMPLE_MS = 100;

/**
 * Run every phase in turn. `signal` aborts (the entry stops): the phase running ends at once and
 * the rest are reported as not run.
 */
export async function runSpeedTest(ctx: SpeedTestContext, seconds: number, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<SpeedTestResult> {
  const names = ctx.paths.map((p) => p.name);
  const phases = schedule(names, seconds);
  const results: DirectionResult[] = [];
  const totalMs = phases.reduce((a, p) => a + p.ms, 0);
  let doneMs = 0;
  ctx.log.info({ paths: names, seconds, phases: phases.length }, 'speed test started');
  for (let i = 0; i < phases.length; i++) {
    let phase = phases[i]!;
    if (phase.kind === 'striped') {
      // Striped over the paths that worked alone (both directions); none or one: nothing to stripe.
      const ok = names.filter((_, k) => results[2 * k]?.bps !== undefined && results[2 * k + 1]?.bps !== undefined);
      phase = { ...phase, paths: ok };
    }
    const report = (bps: number | undefined, frac: number) =>
      onProgress?.({ phase: i, phases: phases.length, label: phaseLabel(phase), done: Math.min(1, (doneMs + frac * phase.ms) / totalMs), ...(bps !== undefined ? { bps } : {}) });
    report(undefined, 0);
    const r = signal?.aborted
      ? { bytes: 0, error: 'not run: the relay entry stopped' }
      : phase.paths.length < (phase.kind === 'striped' ? 2 : 1)
        ? { bytes: 0, error: 'fewer than two paths worked alone' }
        : await runPhase(ctx, phase, report, signal);
    results.push(r);
    doneMs += phase.ms;
    ctx.log.info({ phase: phaseLabel(phase), mbps: r.bps !== undefined ? Math.round(r.bps / 1e4) / 100 : undefined, bytes: r.bytes, err: r.error }, 'speed test phase');
  }
  const out: SpeedTestResult = {
    entry: ctx.entryName,
    time: new Date().toISOString(),
    seconds,
    paths: ctx.paths.map((p, k) => ({ path: p.name, ...(p.spec.link ? { link: p.spec.link } : {}), down: results[2 * k]!, up: results[2 * k + 1]! })),
  };
  if (names.length > 1) {
    const down = results[2 * names.length]!;
    const up = results[2 * names.length + 1]!;
    const used = names.filter((_, k) => results[2 * k]?.bps !== undefined && results[2 * k + 1]?.bps !== undefined);
    const alone = (d: 'down' | 'up') => out.paths.filter((p) => used.includes(p.path)).map((p) => p[d].bps);
    const sd = share(down.bps, alone('down'));
    const su = share(up.bps, alone('up'));
    out.striped = { paths: used, down: sd !== undefined ? { ...down, share: sd } : down, up: su !== undefined ? { ...up, share: su } : up };
  }
  ctx.log.info({ entry: ctx.entryName }, 'speed test finished');
  return out;
}

/** Why the exit reset a test stream, in words. */
function refusal(reason: number): string {
  if (reason === Reason.NOT_ALLOWED) return 'the exit does not serve speed tests (relay.exit.speedtest is off there)';
  if (reason === Reason.LIMIT) return 'the exit refused the test stream: it is serving as many speed tests as it allows, or the stream ran past its time';
  return `the test stream was reset (${reasonName(reason)})`;
}

function runPhase(ctx: SpeedTestContext, phase: Phase, report: (bps: number | undefined, frac: number) => void, signal: AbortSignal | undefined): Promise<DirectionResult> {
  const { clock } = ctx;
  const log = ctx.log.child({ speedtest: phaseLabel(phase) });
  let flow = -1;
  let onEnd: ((end: FlowEnd) => void) | undefined;
  let onOpened: (() => void) | undefined;
  const dialers: PathDialer[] = [];
  const mux = new Mux('entry', muxTuning(ctx.tuning), clock, log, {
    onPathDown: (id, reason) => dialers.find((d) => d.muxId === id)?.pathDown(reason),
    onOpened: (id) => {
      if (id === flow) onOpened?.();
    },
    onFlowEnd: (id, end) => {
      if (id === flow) onEnd?.(end);
    },
  });
  const dctx = {
    entryName: ctx.entryName,
    exit: ctx.exit,
    key: ctx.key,
    session: randomBytes(16),
    window: ctx.tuning.reorderBuffer,
    retryMin: ctx.tuning.retryMin,
    retryMax: ctx.tuning.retryMax,
    handshakeTimeout: Math.max(2 * ctx.tuning.pathTimeout, 1000),
    mux,
    clock,
    log,
    random: Math.random,
    onWelcome: () => undefined,
  };
  phase.paths.forEach((name, slot) => {
    const spec = ctx.paths.find((p) => p.name === name)!.spec;
    dialers.push(new PathDialer(spec, slot, name, dctx));
  });
  const cleanup: (() => void)[] = [];
  const finish = () => {
    for (const c of cleanup) c();
    for (const d of dialers) d.stop('speed test phase done');
    mux.close();
  };
  return new Promise<DirectionResult>((resolve) => {
    let settled = false;
    const settle = (r: DirectionResult) => {
      if (settled) return;
      settled = true;
      finish();
      resolve(r);
    };
    const onAbort = () => settle({ bytes: 0, error: 'the relay entry stopped' });
    signal?.addEventListener('abort', onAbort);
    cleanup.push(() => signal?.removeEventListener('abort', onAbort));
    // 1. The phase's paths come up.
    const links = ctx.links();
    for (const d of dialers) d.evaluate(links);
    const upBy = clock.now() + UP_TIMEOUT_MS;
    const stopWait = clock.every(50, () => {
      if (dialers.every((d) => d.state === 'up')) {
        stopWait();
        start();
        return;
      }
      const unused = dialers.find((d) => d.state === 'unused');
      if (unused || clock.now() >= upBy) {
        stopWait();
        const d = unused ?? dialers.find((x) => x.state !== 'up')!;
        settle({ bytes: 0, error: `path ${d.name} did not come up${d.reason ? `: ${d.reason}` : ''}` });
      }
    });
    cleanup.push(stopWait);

    // 2. One test flow; its bytes sampled until it completes.
    function start(): void {
      const port = new TestStreamPort(clock, phase.direction === 'up' ? { ms: phase.ms, maxBytes: Number.MAX_SAFE_INTEGER } : undefined);
      const samples: Sample[] = [];
      const bytes = () => (phase.direction === 'down' ? port.received : (mux.flowProgress(flow)?.acked ?? samples[samples.length - 1]?.bytes ?? 0));
      let openedAt: number | undefined;
      const sample = () => {
        samples.push({ t: clock.now(), bytes: bytes() });
        const m = measure(samples, warmupMs(phase.ms));
        report(m?.bps, openedAt === undefined ? 0 : Math.min(1, (clock.now() - openedAt) / phase.ms));
      };
      onOpened = () => {
        openedAt = clock.now();
        samples.push({ t: openedAt, bytes: 0 });
        port.start();
      };
      onEnd = (end) => {
        port.close();
        if (end.how === 'reset') {
          settle({ bytes: bytes(), error: end.by === 'peer' ? refusal(end.reason) : `the test stream failed (${reasonName(end.reason)})` });
          return;
        }
        // Complete: everything was delivered (down) or acknowledged (up).
        samples.push({ t: clock.now(), bytes: phase.direction === 'down' ? port.received : port.sent });
        const m = measure(samples, warmupMs(phase.ms));
        const total = samples[samples.length - 1]!.bytes;
        settle(m ? { bps: m.bps, meanBps: m.meanBps, bytes: total } : { bytes: total, error: 'too few bytes to measure a rate' });
      };
      flow = mux.openFlow(port, { test: phase.direction, ms: phase.ms });
      port.bind(mux, flow);
      cleanup.push(clock.every(SAMPLE_MS, () => openedAt !== undefined && sample()));
      cleanup.push(
        clock.after(phase.ms + STALL_SLACK_MS, () => {
          settle({ bytes: bytes(), error: `the test stream did not finish within ${Math.round((phase.ms + STALL_SLACK_MS) / 1000)} s` });
        }),
      );
    }
  });
}
