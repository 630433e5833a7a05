/**
 * Sends the failover nudges (kernel/tcp-nudge.ts) and makes sure each one took effect: every
 * nudged flow is checked at the times of {@link NUDGE_SCHEDULE} and nudged again, with the other
 * half of the sequence space, until its reset is seen or the schedule ends.
 *
 * How a reset is seen: the client's answer makes a new conntrack entry (pinned to a live link),
 * and when the server's reset passes, the kernel deletes that entry at once (an entry whose only
 * reply is a reset is not kept), so the entry itself cannot show it. The kernel's destroy events
 * can: while flows are followed, a ctnetlink socket listens to NFNLGRP_CONNTRACK_DESTROY, and a
 * destroyed entry with a nudged flow's original tuple and a mark other than the dead link's
 * (the flush's own deletions carry the dead link's mark) confirms that flow. At a check, an
 * unconfirmed flow whose entry is live is `unanswered` (the client spoke, no reset came back);
 * one with no entry is `silent`. A lost event costs one more nudge, which a reset client answers
 * with a reset of its own that the ruleset drops as conntrack-invalid.
 *
 * Concurrency: `nudge` returns after the first send; the checks run on timers of their own, one
 * round per schedule step for all the flows of one failover, never overlapping (a round that
 * takes long delays the next). Bounded: at most {@link MAX_TRACKED} flows are followed at once
 * (more are nudged once and counted `untracked`); at most `NUDGE_SCHEDULE.length` extra packets
 * per flow. `close` cancels every pending check. Times in milliseconds.
 */
import { randomInt } from 'node:crypto';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { NUDGE_SCHEDULE, flowKey, nudgeSegment, nudgeSeq, nudgeVerdict, type CtFlow, type NudgeVerdict } from './tcp-nudge.js';

/** Sends whole IP packets with a mark (the native addon's sendRawIp); returns how many were sent. */
export type RawIpSender = (family: 4 | 6, mark: number, packets: [packet: Buffer, dst: string][]) => number;

/** Flows followed at once, across failovers; beyond this a flow gets its first nudge only. */
export const MAX_TRACKED = 16384;

/** Running totals, for status and metrics. */
export interface NudgeCounters {
  /** Nudge packets sent (first and repeated). */
  sent: number;
  /** Flows whose reset was seen in conntrack. */
  confirmed: number;
  /** Repeated nudges sent (a flow showed no reset at a check). */
  retried: number;
  /** Flows still without a reset when the schedule ended. */
  unconfirmed: number;
  /** Flows nudged once without being followed (over {@link MAX_TRACKED}). */
  untracked: number;
  /** Flows being followed now. */
  following: number;
}

export interface NudgerOptions {
  log: Logger;
  send: RawIpSender;
  /** The conntrack entry with this original tuple, if any. */
  getFlow: (flow: CtFlow) => Promise<CtFlow | undefined>;
  /** Follow conntrack's destroyed entries until close (kernel/conntrack.ts watchDestroyed); without it resets are seen only as live entries that closed. */
  watchDestroyed?: (onDestroyed: (flow: CtFlow) => void) => { close(): void };
  /** Check times after the first nudge (default {@link NUDGE_SCHEDULE}). */
  schedule?: readonly number[];
  /** A random 32-bit number (tests make it fixed). */
  random?: () => number;
  /** Flows followed at once (default {@link MAX_TRACKED}). */
  maxTracked?: number;
  /** How long the destroy-event watcher stays open after it was last needed (default {@link WATCH_LINGER_MS}). */
  lingerMs?: number;
}

/**
 * The destroy-event watcher stays open this long after the last failover's flows are settled, so a
 * burst of failovers opens one socket, not one each; and its close (which can stall the event
 * loop for milliseconds on a busy kernel: measured p90 5 ms under load) happens away from the
 * failover it served. While open it receives every destroyed entry made since it opened: a
 * bounded cost, for seconds.
 */
export const WATCH_LINGER_MS = 10_000;

interface Followed {
  flow: CtFlow;
  /** The dead link's mark (value and mask): destroyed entries with it are the flush's, not a reset. */
  dead: { mark: number; mask: number };
  base: number;
  attempts: number;
  /** A destroyed entry of this flow, made after the flush, was seen. */
  resetSeen: boolean;
  /** What each check saw, in order (for the log when it ends unconfirmed). */
  seen: NudgeVerdict[];
}

export class Nudger {
  private readonly log: Logger;
  private readonly schedule: readonly number[];
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Followed flows by original tuple, for the destroy events. */
  private readonly byKey = new Map<string, Followed>();
  private watcher: { close(): void } | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Failovers between {@link prepare} and their nudge. */
  private preparing = 0;
  /** Entries destroyed since the watcher opened, by original tuple → mark (bounded). */
  private readonly recent = new Map<string, number | undefined>();
  private readonly totals: NudgeCounters = { sent: 0, confirmed: 0, retried: 0, unconfirmed: 0, untracked: 0, following: 0 };

  constructor(private readonly opts: NudgerOptions) {
    this.log = opts.log;
    this.schedule = opts.schedule ?? NUDGE_SCHEDULE;
    this.random = opts.random ?? (() => randomInt(2 ** 32));
  }

  counters(): NudgeCounters {
    return { ...this.totals };
  }

  /**
   * Nudge `flows` (already chosen by flowsToNudge) of `link`, whose entries carried `dead` (mark
   * and mask), sending with `mark`; returns how many were sent now.
   */
  nudge(link: string, flows: readonly CtFlow[], mark: number, dead: { mark: number; mask: number } = { mark: 0, mask: 0 }): number {
    if (this.closed || flows.length === 0) return 0;
    const room = Math.max(0, (this.opts.maxTracked ?? MAX_TRACKED) - this.byKey.size);
    const all: Followed[] = flows.map((flow) => ({ flow, dead, base: this.random(), attempts: 0, resetSeen: false, seen: [] }));
    // A client that spoke by itself since the flush (a retransmission) may have drawn its reset
    // already: seen among the destroyed entries since prepare, it needs no nudge.
    const followed = all.filter((f) => !this.resetIn(this.recent.get(flowKey(f.flow)), f, this.recent.has(flowKey(f.flow))));
    this.totals.confirmed += all.length - followed.length;
    const tracked = followed.slice(0, room).filter((f) => !this.byKey.has(flowKey(f.flow)));
    if (tracked.length > 0) {
      // Listen before sending: the reset can come back within microseconds in a lab.
      this.watch(link);
      for (const f of tracked) this.byKey.set(flowKey(f.flow), f);
    }
    const sent = this.send(link, followed, mark);
    this.totals.untracked += followed.length - tracked.length;
    if (tracked.length > 0) {
      this.totals.following = this.byKey.size;
      this.check(link, tracked, mark, 0, Date.now());
    }
    return sent;
  }

  /**
   * Start listening for destroyed entries before a failover's flush, so a reset drawn between the
   * flush and the nudge is seen (the kernel gives destroy events only to entries made while
   * someone listens); call the returned function once the failover's nudges are sent.
   */
  prepare(link: string): () => void {
    if (this.closed) return () => undefined;
    // "Destroyed since prepare": a watcher kept open from an earlier failover forgets what it saw.
    if (this.preparing === 0 && this.byKey.size === 0) this.recent.clear();
    this.preparing++;
    this.watch(link);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparing--;
      this.release([]);
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.byKey.clear();
    this.unwatch();
    this.totals.following = 0;
  }

  private watch(link: string): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.watcher || !this.opts.watchDestroyed) return;
    try {
      this.watcher = this.opts.watchDestroyed((e) => {
        const key = flowKey(e);
        const f = this.byKey.get(key);
        if (f && this.resetIn(e.mark, f, true)) f.resetSeen = true;
        if (this.recent.size < MAX_TRACKED) this.recent.set(key, e.mark);
      });
    } catch (err) {
      this.log.warn({ op: 'nudge', link, err: errorMessage(err) }, 'cannot follow conntrack\'s destroy events: a reset is seen only by its flow\'s entry');
    }
  }

  /** A destroyed entry (seen, with `mark`) of `f`'s tuple is a reset: it is not the flush's own deletion (the dead link's mark). */
  private resetIn(mark: number | undefined, f: Followed, seen: boolean): boolean {
    return seen && (mark === undefined || (mark & f.dead.mask) !== (f.dead.mark & f.dead.mask));
  }

  private unwatch(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    this.recent.clear();
  }

  /** Stop following `flows`; the watcher closes {@link WATCH_LINGER_MS} after the last one. */
  private release(flows: readonly Followed[]): void {
    for (const f of flows) if (this.byKey.get(flowKey(f.flow)) === f) this.byKey.delete(flowKey(f.flow));
    this.totals.following = this.byKey.size;
    if (this.byKey.size > 0 || this.preparing > 0 || !this.watcher || this.lingerTimer) return;
    const linger = this.opts.lingerMs ?? WATCH_LINGER_MS;
    if (linger <= 0) return this.unwatch();
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.byKey.size === 0 && this.preparing === 0) this.unwatch();
    }, linger);
    this.lingerTimer.unref();
  }

  /** Send the next attempt of each flow; returns how many packets went. */
  private send(link: string, flows: Followed[], mark: number): number {
    let sent = 0;
    for (const family of [4, 6] as const) {
      const these = flows.filter((f) => f.flow.family === family);
      if (these.length === 0) continue;
      const packets = these.map((f): [Buffer, string] => [nudgeSegment(f.flow, nudgeSeq(f.base, f.attempts), this.random()), f.flow.src]);
      for (const f of these) f.attempts++;
      try {
        sent += this.opts.send(family, mark, packets);
      } catch (err) {
        this.log.warn({ op: 'nudge', link, family, err: errorMessage(err) }, 'cannot nudge the dead link\'s clients: they reset at their next retransmission');
      }
    }
    this.totals.sent += sent;
    return sent;
  }

  /** Schedule check `step` (0-based) of `flows`, nudged first at `t0` (epoch ms). */
  private check(link: string, flows: Followed[], mark: number, step: number, t0: number): void {
    if (this.closed) return;
    const at = this.schedule[step]!;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.round(link, flows, mark, step, t0);
    }, Math.max(0, t0 + at - Date.now()));
    timer.unref();
    this.timers.add(timer);
  }

  private async round(link: string, flows: Followed[], mark: number, step: number, t0: number): Promise<void> {
    const verdicts = await Promise.all(
      flows.map((f) =>
        f.resetSeen
          ? Promise.resolve<NudgeVerdict>('reset')
          : this.opts.getFlow(f.flow).then(
              // Read after the await: the destroy event may have come meanwhile.
              (e) => (f.resetSeen ? 'reset' : nudgeVerdict(e)),
              (err: unknown): NudgeVerdict => {
                this.log.debug({ op: 'nudge', link, err: errorMessage(err) }, 'cannot read a nudged flow\'s conntrack entry');
                return f.resetSeen ? 'reset' : 'silent';
              },
            ),
      ),
    );
    if (this.closed) return;
    const open: Followed[] = [];
    const done: Followed[] = [];
    flows.forEach((f, i) => {
      f.seen.push(verdicts[i]!);
      if (verdicts[i] === 'reset') {
        this.totals.confirmed++;
        done.push(f);
      } else open.push(f);
    });
    const last = step + 1 >= this.schedule.length;
    if (open.length > 0 && !last) {
      this.totals.retried += open.length;
      this.log.info(
        { op: 'nudge', link, attempt: open[0]!.attempts + 1, flows: open.length, silent: open.filter((f) => f.seen.at(-1) === 'silent').length, unanswered: open.filter((f) => f.seen.at(-1) === 'unanswered').length },
        'nudging again: no reset seen yet',
      );
      this.send(link, open, mark);
    }
    this.release(last ? flows : done);
    if (last) {
      if (open.length > 0) {
        this.totals.unconfirmed += open.length;
        this.log.warn(
          { op: 'nudge', link, flows: open.length, ms: Date.now() - t0, sample: open.slice(0, 4).map((f) => ({ client: `${f.flow.src}:${f.flow.sport}`, server: `${f.flow.dst}:${f.flow.dport}`, seen: f.seen })) },
          'no reset seen for nudged connections: they reset at their next retransmission',
        );
      }
      return;
    }
    if (open.length > 0) this.check(link, open, mark, step + 1, t0);
  }
}
