/**
 * One dial session's state machine. Pure: the supervisor (./supervisor.ts) feeds it what happened
 * and carries out what it returns; times are epoch milliseconds passed in.
 *
 * ```
 *            dial                 lease
 *   failed ────────► dialling ─────────────► up
 *     ▲                 │ ▲                  │ lost (carrier, lease expired or refused:
 *     │ ended           │ └──── lease ─── down ◄┘  the client keeps trying on its own)
 *     └─────────────────┴───────────────────┘ ended (client exited, interface gone)
 * ```
 * - `dialling`: a client runs and has no address yet.
 * - `up`: the session has an address (and, for DHCP, the router the lease names).
 * - `down`: it had one and lost it; its client is still running and tries to get it back. A
 *   session not dialled yet is `down` too (attempts 0).
 * - `failed`: the attempt ended (the client exited, the macvlan went away); a redial is due at
 *   `nextDialAt`, after the session's own backoff (./schedule.ts).
 * Every event that ends or loses a session records its cause in words (`lastError`).
 */
import { Backoff } from './schedule.js';

export const SESSION_STATES = ['dialling', 'up', 'down', 'failed'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** What the client reported when the session got its address. */
export interface Lease {
  /** IPv4 address of the session. */
  address: string;
  prefixLen: number;
  /** Next hop: the DHCP router option, or undefined on a point-to-point (PPP) session. */
  router: string | undefined;
}

export type SessionEvent =
  | { kind: 'dial' }
  | { kind: 'lease'; lease: Lease }
  | { kind: 'lost'; error: string }
  | { kind: 'ended'; error: string };

export interface SessionSnapshot {
  state: SessionState;
  /** Epoch milliseconds of the last state change. */
  since: number;
  lease: Lease | undefined;
  /** Epoch milliseconds since which the session is up (undefined unless up). */
  upSince: number | undefined;
  /** Dials so far (the first one included). */
  attempts: number;
  /** The last failure in words, e.g. "authentication failed", "no offer from a DHCP server". */
  lastError: string | undefined;
  /** When a failed session is dialled again (epoch milliseconds). */
  nextDialAt: number | undefined;
}

export class Session {
  private snap: SessionSnapshot;
  private readonly backoff: Backoff;

  constructor(redial: { min: number; max: number }, now: number, stableMs?: number) {
    this.backoff = new Backoff(redial.min, redial.max, stableMs);
    // Not dialled yet: down, with nothing to report.
    this.snap = { state: 'down', since: now, lease: undefined, upSince: undefined, attempts: 0, lastError: undefined, nextDialAt: undefined };
  }

  get snapshot(): SessionSnapshot {
    return this.snap;
  }

  /** Apply one event at `now`; returns whether the state, lease or error changed. */
  apply(e: SessionEvent, now: number): boolean {
    const s = this.snap;
    const next = ((): SessionSnapshot | undefined => {
      switch (e.kind) {
        case 'dial':
          return { ...s, state: 'dialling', since: now, lease: undefined, upSince: undefined, attempts: s.attempts + 1, nextDialAt: undefined };
        case 'lease':
          if (s.state === 'failed') return undefined; // a late report from a client already ended
          if (s.state === 'up' && sameLease(s.lease, e.lease)) return undefined; // a renewal
          this.backoff.up(now);
          return { ...s, state: 'up', since: s.state === 'up' ? s.since : now, lease: e.lease, upSince: s.state === 'up' ? s.upSince : now, nextDialAt: undefined };
        case 'lost':
          if (s.state !== 'up') return s.lastError === e.error ? undefined : { ...s, lastError: e.error };
          return { ...s, state: 'down', since: now, lease: undefined, upSince: undefined, lastError: e.error };
        case 'ended':
          if (s.state === 'failed') return undefined;
          return { ...s, state: 'failed', since: now, lease: undefined, upSince: undefined, lastError: e.error, nextDialAt: now + this.backoff.fail(now) };
      }
    })();
    if (!next) return false;
    this.snap = next;
    return true;
  }

  /** Failures in a row (the backoff's count). */
  get consecutiveFailures(): number {
    return this.backoff.consecutiveFailures;
  }
}

function sameLease(a: Lease | undefined, b: Lease): boolean {
  return a !== undefined && a.address === b.address && a.prefixLen === b.prefixLen && a.router === b.router;
}
