/**
 * One path as the engine holds it: its port, what it received (which PATH_ACK reports), its
 * estimators — {@link PathMeter} (RTT, delivery rate, in-flight cap, death) and {@link Pacer}
 * (when it may take data next) — the {@link PathView} the scheduler reads, and counters for
 * status. It decides nothing: the engine (mux.ts) tells it what was sent and received, the
 * scheduler (scheduler.ts) reads its view. Pure apart from the port it carries; time is passed in.
 */
import { PathMeter } from './path-meter.js';
import { Pacer } from './pacer.js';
import type { PathPort } from './ports.js';
import type { PathView } from './scheduler.js';

/** Per-path counters (bytes on the wire, records and chunks). */
export interface PathCounters {
  txBytes: number;
  rxBytes: number;
  /** Chunks this path carried that had to be sent again elsewhere because it failed. */
  resentChunks: number;
  /** Chunks this path carried as retransmissions for a failed path. */
  retransmittedChunks: number;
}

export interface MuxPathStatus extends PathCounters {
  id: number;
  slot: number;
  name: string;
  /** Milliseconds on the engine's clock when it joined. */
  since: number;
  srttMs: number | undefined;
  minRttMs: number | undefined;
  inflight: number;
  cap: number;
  /** Max delivery rate the path measured (bytes/s), 0 before a sample. */
  deliveryRate: number;
  /** Bytes per second over the last second, each direction. */
  txRate: number;
  rxRate: number;
}

const RATE_INTERVAL_MS = 1000;

export class RelayPath {
  readonly meter: PathMeter;
  readonly pacer = new Pacer();
  readonly view: PathView;
  /** Bytes of records received on the connection (what PATH_ACK reports). */
  rxBytes = 0;
  /** When the newest record arrived (engine clock, ms): PATH_ACK's time. */
  rxTime: number;
  /** An eliciting record arrived since the last PATH_ACK we sent. */
  ackOwed = false;
  pingOwed = true;
  readonly counters: PathCounters = { txBytes: 0, rxBytes: 0, resentChunks: 0, retransmittedChunks: 0 };
  private readonly rate: { at: number; tx: number; rx: number; txRate: number; rxRate: number };

  constructor(
    readonly id: number,
    readonly slot: number,
    readonly name: string,
    readonly port: PathPort,
    /** Engine clock (ms) when it joined. */
    readonly since: number,
    /** Smallest in-flight cap (bytes): the configured pathQueue. */
    private readonly floor: number,
    private readonly pacing: boolean,
  ) {
    this.meter = new PathMeter(floor, since);
    this.view = { id, inflight: 0, cap: floor, srtt: undefined, rate: 0, paced: false };
    this.rxTime = since;
    this.rate = { at: since, tx: 0, rx: 0, txRate: 0, rxRate: 0 };
  }

  /** Bring the scheduler's view up to date. */
  refresh(now: number): void {
    const v = this.view;
    // What still sits in our own socket queue is in flight, whatever the peer's PATH_ACKs say.
    v.inflight = Math.max(this.meter.inflight, this.port.queued ?? 0);
    v.cap = this.meter.cap(now);
    v.srtt = this.meter.srtt;
    v.rate = this.meter.maxRate(now);
    v.paced = this.pacer.blocked(now);
  }

  /** A record of `wireBytes` arrived. */
  received(wireBytes: number, now: number): void {
    this.rxBytes += wireBytes;
    this.rxTime = now;
    this.counters.rxBytes += wireBytes;
  }

  /** A DATA or FIN record of `bytes` went out (it elicits an acknowledgement and is paced). */
  sentData(bytes: number, now: number): void {
    this.meter.onSend(bytes, true, now);
    if (this.pacing) {
      const minRtt = this.meter.minRtt(now);
      const rate = this.view.rate;
      // Until the path has measured a rate, nothing paces it; then never below its floor per min RTT.
      const floorRate = minRtt === undefined || rate === 0 ? Infinity : (this.floor * 1000) / Math.max(1, minRtt);
      this.pacer.sent(bytes, rate, floorRate, now);
    }
    this.counters.txBytes += bytes;
    this.refresh(now);
  }

  /** A record of control frames went out. */
  sentControl(bytes: number, eliciting: boolean, now: number): void {
    this.meter.onSend(bytes, eliciting, now);
    this.counters.txBytes += bytes;
  }

  /** Milliseconds until a path that waits only for its pacing may take data, or undefined if it waits for something else. */
  pacingWait(now: number): number | undefined {
    const v = this.view;
    if (!v.paced || (v.inflight !== 0 && v.inflight >= v.cap)) return undefined;
    return this.pacer.waitMs(now);
  }

  /** Refresh the per-second wire rates (at most once a second). */
  updateRate(now: number): void {
    const r = this.rate;
    const dt = now - r.at;
    if (dt < RATE_INTERVAL_MS) return;
    r.txRate = ((this.counters.txBytes - r.tx) * 1000) / dt;
    r.rxRate = ((this.counters.rxBytes - r.rx) * 1000) / dt;
    r.at = now;
    r.tx = this.counters.txBytes;
    r.rx = this.counters.rxBytes;
  }

  status(now: number): MuxPathStatus {
    this.updateRate(now);
    return {
      id: this.id,
      slot: this.slot,
      name: this.name,
      since: this.since,
      srttMs: this.meter.srtt,
      minRttMs: this.meter.minRtt(now),
      inflight: this.meter.inflight,
      cap: this.meter.cap(now),
      deliveryRate: this.meter.maxRate(now),
      txRate: this.rate.txRate,
      rxRate: this.rate.rxRate,
      ...this.counters,
    };
  }
}
