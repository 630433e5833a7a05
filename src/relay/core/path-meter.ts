/**
 * What one side knows about one path in its sending direction, from the far end's PATH_ACKs
 * (cumulative bytes received on the connection): bytes in flight, round-trip time, delivery rate,
 * the in-flight cap the scheduler enforces, and whether the path is dead. Pure; time is passed in
 * (milliseconds), sizes are bytes, rates bytes per second.
 *
 * In-flight cap: max(floor, max delivery rate × (2 × min RTT + queue budget + reverse
 * queueing)), at most {@link CAP_MAX}; the queue budget is {@link QUEUE_BUDGET_MS}, or the longest
 * recent wait between acknowledgements when that is longer (at most {@link ACK_GAP_MAX_MS}). Bytes a path holds beyond its bandwidth-delay product only wait in a queue
 * (ours, the kernel's send buffer, a router's), which is what makes chunks on a slow path arrive
 * late and fill the reorder buffer; the cap keeps every path full but its queue short. The queue
 * budget absorbs the far end's acknowledgement jitter (its event loop handles reads in batches):
 * without it a path whose RTT varies more than its minimum would be held below its capacity. The
 * rate sample per acknowledged record follows BBR's delivery-rate estimate (delivered bytes over
 * the longer of the send and ack intervals), so the cap grows by a constant factor per round trip
 * until the path, or the far end, is full.
 *
 * Reverse queueing: when the far end also sends on this path, its PATH_ACKs wait behind its own
 * data, so our round trip holds a queue that is not ours. PATH_ACK carries the far end's clock at
 * the newest record it acknowledges; (its clock − our send time) minus the smallest such value
 * seen is our forward queueing delay (one-way delay variation, like LEDBAT; the clock offset
 * cancels). RTT − min RTT − forward queueing is the reverse queueing, which is added (smoothed)
 * to the cap's time budget. Our own queue stays bounded by min RTT + budget whatever the far end
 * does, so two directions compensating for each other cannot inflate each other without bound.
 *
 * Death: a record that elicits a PATH_ACK (anything but ACK and PATH_ACK) starts a clock; each
 * acknowledgement that makes progress restarts it; when it runs past the timeout with eliciting
 * bytes still unacknowledged the path is dead. Pings keep an idle path measured.
 */
import { RelayProtocolError } from '../protocol/frames.js';
import { WindowedFilter } from './windowed.js';

/** Largest in-flight cap (bytes), whatever the estimates say. */
export const CAP_MAX = 16 * 1024 * 1024;
const CAP_GAIN = 2;
/** Smallest queueing time a path may hold on top of twice its bandwidth-delay product (ms); see queueBudget. */
export const QUEUE_BUDGET_MS = 10;
/** Largest reverse queueing delay the cap compensates for (ms). */
const REVERSE_MAX_MS = 250;
const OWD_WINDOW_MS = 10_000;
const ACK_GAP_WINDOW_MS = 2_000;
/** Largest queue budget the acknowledgement gaps can raise it to (ms). */
export const ACK_GAP_MAX_MS = 40;
const MIN_RTT_WINDOW_MS = 10_000;
const MAX_RATE_WINDOW_MS = 2_000;

interface Mark {
  /** Connection byte count after this record. */
  end: number;
  /** Send time. */
  t: number;
  /** Bytes acknowledged when it was sent, and when that was. */
  delivered: number;
  deliveredTime: number;
  /** Send time of the newest record acknowledged when it was sent. */
  firstSent: number;
}

export class PathMeter {
  /** Bytes written to the connection. */
  sent = 0;
  /** Bytes the far end has received. */
  acked = 0;
  /** Smoothed RTT (ms), undefined before the first sample. */
  srtt: number | undefined;
  /** Smoothed queueing delay on the way back (ms): the far end's data ahead of its acknowledgements. */
  reverseDelay = 0;
  /** Latest forward queueing delay (ms). */
  forwardQueue = 0;
  private readonly owdMinF = new WindowedFilter('min', OWD_WINDOW_MS, 10);
  /** Longest wait between acknowledgements that made progress while bytes were outstanding (ms). */
  private readonly ackGapF = new WindowedFilter('max', ACK_GAP_WINDOW_MS, 8);
  private outstandingSinceAck = false;
  private readonly marks: Mark[] = [];
  private markHead = 0;
  private deliveredTime: number;
  private firstSent: number;
  private elicitingEnd = 0;
  private waitingSince: number | undefined;
  private readonly minRttF = new WindowedFilter('min', MIN_RTT_WINDOW_MS, 10);
  private readonly maxRateF = new WindowedFilter('max', MAX_RATE_WINDOW_MS, 8);
  /** Time of the last record sent that elicits an acknowledgement (ms). */
  lastElicitingSent = -Infinity;

  constructor(
    /** Smallest cap (bytes): the configured pathQueue. */
    private readonly floor: number,
    now: number,
  ) {
    this.deliveredTime = now;
    this.firstSent = now;
  }

  get inflight(): number {
    return this.sent - this.acked;
  }

  onSend(bytes: number, eliciting: boolean, now: number): void {
    this.sent += bytes;
    if (!eliciting) return;
    if (this.waitingSince === undefined) this.waitingSince = now;
    this.elicitingEnd = this.sent;
    this.lastElicitingSent = now;
    this.marks.push({ end: this.sent, t: now, delivered: this.acked, deliveredTime: this.deliveredTime, firstSent: this.firstSent });
  }

  /** A PATH_ACK arrived (`peerTime`: the far end's clock, ms mod 2^32); returns whether it acknowledged anything new. */
  onAck(received: number, now: number, peerTime?: number): boolean {
    if (received > this.sent) throw new RelayProtocolError(`PATH_ACK for ${received} bytes, only ${this.sent} sent`);
    if (received <= this.acked) return false;
    this.acked = received;
    let m: Mark | undefined;
    while (this.markHead < this.marks.length && this.marks[this.markHead]!.end <= received) m = this.marks[this.markHead++];
    if (this.markHead > 64 && this.markHead * 2 > this.marks.length) {
      this.marks.splice(0, this.markHead);
      this.markHead = 0;
    }
    if (m) {
      const rtt = now - m.t;
      this.rttSample(rtt, now);
      const interval = Math.max(now - m.deliveredTime, m.t - m.firstSent);
      if (interval > 0) this.maxRateF.add(now, ((received - m.delivered) * 1000) / interval);
      this.firstSent = m.t;
      if (peerTime !== undefined) {
        // Signed 32-bit difference: the clocks' offset is unknown but constant.
        const owd = (peerTime - Math.floor(m.t)) | 0;
        this.owdMinF.add(now, owd);
        this.forwardQueue = Math.max(0, owd - this.owdMinF.get(now)!);
        const reverse = Math.min(REVERSE_MAX_MS, Math.max(0, rtt - this.minRtt(now)! - this.forwardQueue));
        this.reverseDelay += (reverse - this.reverseDelay) / 8;
      }
    }
    // A gap between two acknowledgements with bytes outstanding all along (not the wait for the
    // first one after the path had nothing out, which is a round trip, not a batch).
    if (this.outstandingSinceAck) this.ackGapF.add(now, now - this.deliveredTime);
    this.deliveredTime = now;
    this.waitingSince = this.acked >= this.elicitingEnd ? undefined : now;
    this.outstandingSinceAck = this.acked < this.elicitingEnd;
    return true;
  }

  private rttSample(rtt: number, now: number): void {
    const r = Math.max(rtt, 0.01);
    this.srtt = this.srtt === undefined ? r : this.srtt + (r - this.srtt) / 8;
    this.minRttF.add(now, r);
  }

  minRtt(now: number): number | undefined {
    return this.minRttF.get(now);
  }

  /** Max delivery rate over the last 2 s (bytes/s), 0 before any sample. */
  maxRate(now: number): number {
    return this.maxRateF.get(now) ?? 0;
  }

  cap(now: number): number {
    const rtt = this.minRtt(now);
    if (rtt === undefined) return this.floor;
    const allowance = (this.maxRate(now) * (CAP_GAIN * rtt + this.queueBudget(now) + this.reverseDelay)) / 1000;
    return Math.min(CAP_MAX, Math.max(this.floor, allowance));
  }

  /**
   * Queueing time the cap allows on top of the round trip (ms): {@link QUEUE_BUDGET_MS}, or the
   * longest recent wait between acknowledgements if longer (at most {@link ACK_GAP_MAX_MS}). The
   * far end acknowledges once per event-loop turn: when its loop is busy the acknowledgements come
   * in batches, and a cap that covers only the round trip leaves the path idle between batches
   * (BBR's ack-aggregation allowance, measured the same way: from the acknowledgements themselves).
   */
  queueBudget(now: number): number {
    return Math.max(QUEUE_BUDGET_MS, Math.min(ACK_GAP_MAX_MS, this.ackGapF.get(now) ?? 0));
  }

  /** Whether a record of `bytes` may be sent now. An empty path always takes one. */
  hasRoom(bytes: number, now: number): boolean {
    return this.inflight === 0 || this.inflight + bytes <= this.cap(now);
  }

  /** Milliseconds the oldest unanswered eliciting bytes have waited without any progress, or 0. */
  unansweredFor(now: number): number {
    return this.waitingSince === undefined ? 0 : now - this.waitingSince;
  }
}
