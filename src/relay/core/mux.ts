/**
 * The relay engine for one entry–exit session: many flows striped over many paths, the same code
 * at both ends (the entry opens flows, the exit accepts them). It owns the protocol state machine
 * (docs/relay-protocol.md): per flow a {@link SendStream} and a {@link ReceiveStream} per
 * direction, per path a {@link PathMeter}; it decides what goes on which path and when.
 *
 * It does no I/O of its own: paths and flows are {@link PathPort}s and {@link FlowPort}s, time
 * is a {@link Clock}, so unit tests run it on a simulated network with a virtual clock.
 *
 * Invariants: a chunk is held until the far end acknowledges it; chunks of a failed path are
 * resent on the others and duplicates are dropped by offset; a flow never has more than the
 * peer's window unacknowledged, and the session never holds more than `sessionBuffer`
 * unacknowledged bytes per direction: beyond that the sources are paused. Acknowledgements are
 * coalesced per event-loop turn ({@link Clock.defer}).
 *
 * Bounds against the peer (it holds the key, but may still be hostile): what we buffer for it is
 * charged at payload plus {@link CHUNK_COST} per chunk, at most its window per flow and at most
 * `sessionBuffer` for all flows of the session (we send within the same charges); a flow that
 * overruns either is reset (`protocol`). The peer may open at most `maxFlows` flows at a time
 * (beyond: RST `limit`, no state kept), and at most {@link MAX_TOMBSTONES} closed flows are
 * remembered. Warnings the peer can trigger are rate-limited ({@link LimitedLog}).
 *
 * Concurrency: single-threaded; every entry point may be called from any I/O callback. Calls into
 * ports never call back synchronously (socket events are asynchronous in Node).
 */
import type { Logger } from '../../log.js';
import { CONTROL_RECORD_TARGET, DATA_HEADER_LEN, RECORD_HEADER_LEN, Reason, TAG_LEN, reasonName } from '../protocol/constants.js';
import { RelayProtocolError, frameSize, isEliciting, isTestRequest, type Frame, type OpenRequest } from '../protocol/frames.js';
import type { Clock } from './clock.js';
import type { FlowPort, PathPort } from './ports.js';
import { ReceiveStream } from './receive-stream.js';
import { pickControlPath, pickDataPath, type PathView } from './scheduler.js';
import { SendStream, type TxItem } from './send-stream.js';
import { FlowTable, MAX_TOMBSTONES, TOMBSTONE_MS, type FlowState, type Phase, type Tombstone } from './flow-table.js';
import { RelayPath, type MuxPathStatus, type PathCounters } from './relay-path.js';
import { CHUNK_COST, chunkCharge } from './receive-stream.js';
import { LimitedLog } from '../../util/log-limit.js';

export { CHUNK_COST, MAX_TOMBSTONES };
export type { MuxPathStatus, PathCounters };

export interface MuxTuning {
  /** Payload bytes per DATA frame. */
  chunkSize: number;
  /** Smallest in-flight cap per path (bytes). */
  pathQueue: number;
  /** Per-flow receive window = reorder buffer (bytes); advertised to the peer. */
  reorderBuffer: number;
  /** A path whose eliciting records go unacknowledged this long is dead (ms). */
  pathTimeout: number;
  /** Unacknowledged bytes all flows of the session may hold per direction. */
  sessionBuffer: number;
  /** Entry: an OPEN unanswered this long resets the flow (ms). */
  openTimeout?: number;
  /** Exit: flows the peer may have open at once; an OPEN beyond is answered RST(limit). Default unlimited. */
  maxFlows?: number;
  /** Exit: path connections the session may have at once ({@link Mux.acceptsPath}). Default unlimited. */
  maxPaths?: number;
  /** Pace data on each path (pacer.ts). Default on; off only to show, in tests, what pacing fixes. */
  pacing?: boolean;
}

/** What the engine holds on the peer's behalf (for limits tests and diagnostics). */
export interface MuxHeld {
  /** Charge of all reorder buffers (payload + {@link CHUNK_COST} per chunk, bytes); at most `sessionBuffer`. */
  reorderCharge: number;
  /** Charge of the chunks we sent and the peer has not acknowledged (bytes); at most `sessionBuffer` plus one chunk. */
  sentCharge: number;
  /** Closed flows remembered (at most {@link MAX_TOMBSTONES}). */
  tombstones: number;
}

export type FlowEnd = { how: 'done' } | { how: 'reset'; reason: number; by: 'local' | 'peer' };

export interface MuxEvents {
  /** Exit: the entry asks to open flow `id` to `target` (or the test stream); answer with acceptFlow or refuseFlow. */
  onOpen?(id: number, target: OpenRequest): void;
  /** Entry: the exit connected flow `id` to its target. */
  onOpened?(id: number): void;
  /** A flow is gone. */
  onFlowEnd?(id: number, end: FlowEnd): void;
  /** A path is gone (the port is already closed). */
  onPathDown?(pathId: number, reason: string): void;
}

export interface MuxStatus {
  paths: MuxPathStatus[];
  flows: number;
  /** Flows waiting for the exit to connect them. */
  opening: number;
  /** Payload bytes in all reorder buffers (waiting for a missing chunk or for the application). */
  reorderBytes: number;
  /** Limit of one flow's reorder buffer (bytes). */
  reorderLimit: number;
  /** Bytes sent or queued, not yet acknowledged, all flows. */
  unackedBytes: number;
  /** Chunks resent after a path failed, all paths, since start. */
  resentChunks: number;
  /** Chunks received twice (a resend of something that had arrived) and dropped, since start. */
  duplicateChunks: number;
}

interface Pending {
  frame: Frame;
  sentOn?: (pathId: number) => void;
}

const RECORD_OVERHEAD = RECORD_HEADER_LEN + TAG_LEN;
/** A flow's source is paused beyond this many times what its paths hold in flight together ({@link Mux.holdLimit}). */
const HOLD_CAP_FACTOR = 2;
const HOLD_MIN_CHUNKS = 8;
/** At most one warning per interval for what the peer can trigger repeatedly (ms); then a summary line. */
const WARN_INTERVAL_MS = 10_000;

export class Mux {
  private readonly paths = new Map<number, RelayPath>();
  private readonly flows = new FlowTable();
  /** Flows that may have something to send, in round-robin order. */
  private readonly ready = new Set<FlowState>();
  private readonly ackDue = new Set<FlowState>();
  private readonly paused = new Set<FlowState>();
  private pending: Pending[] = [];
  private nextPathId = 1;
  private heldBytes = 0;
  /** Charge of every flow's reorder buffer (bytes). */
  private rxCharge = 0;
  /** Charge of every flow's sent, unacknowledged chunks (bytes). */
  private txCharge = 0;
  /** Flows with a new chunk to send that wait for the session's charge to fall. */
  private readonly budgetWait = new Set<FlowState>();
  /** Flows whose stale DATA/FIN we already answered since the last flush (a burst of them gets one answer). */
  private readonly staleAnswered = new Set<number>();
  private readonly violationLog: LimitedLog;
  private readonly limitLog: LimitedLog;
  private resentTotal = 0;
  private duplicates = 0;
  private flushQueued = false;
  /** Cancels the pending pump for a paced path, if one is set. */
  private paceTimer: (() => void) | undefined;
  private pumping = false;
  private pumpAgain = false;
  private closed = false;
  private readonly stopTick: () => void;
  /** The peer's per-flow window (bytes); our own until the peer says. */
  peerWindow: number;

  constructor(
    readonly role: 'entry' | 'exit',
    private readonly tuning: MuxTuning,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly events: MuxEvents = {},
  ) {
    this.peerWindow = tuning.reorderBuffer;
    this.violationLog = new LimitedLog(clock, WARN_INTERVAL_MS, (suppressed, intervalMs) =>
      this.log.warn({ suppressed, intervalMs }, 'relay flow protocol violations: more flows reset, not logged one by one'),
    );
    this.limitLog = new LimitedLog(clock, WARN_INTERVAL_MS, (suppressed, intervalMs) =>
      this.log.warn({ suppressed, intervalMs, maxFlows: this.tuning.maxFlows }, 'relay flow limit: more opens refused, not logged one by one'),
    );
    this.stopTick = clock.every(Math.max(20, Math.floor(tuning.pathTimeout / 5)), () => this.tick());
  }

  // ------------------------------------------------------------------------------------------
  // Paths

  /** A path finished its handshake; returns its id for the calls below. */
  addPath(port: PathPort, info: { slot: number; name: string; peerWindow?: number }): number {
    if (this.closed) {
      port.close('relay stopped');
      return -1;
    }
    for (const p of this.paths.values()) if (p.slot === info.slot) this.failPath(p, 'replaced by a new connection');
    const id = this.nextPathId++;
    const p = new RelayPath(id, info.slot, info.name, port, this.clock.now(), this.tuning.pathQueue, this.tuning.pacing !== false);
    if (info.peerWindow !== undefined && info.peerWindow > 0) this.peerWindow = info.peerWindow;
    this.paths.set(id, p);
    this.log.info({ path: p.name, slot: p.slot }, 'relay path up');
    this.scheduleFlush();
    this.pump();
    return id;
  }

  /** Whether a new connection for path `slot` fits `maxPaths` (one that replaces a live slot always does). */
  acceptsPath(slot: number): boolean {
    const max = this.tuning.maxPaths;
    if (max === undefined || this.paths.size < max) return true;
    for (const p of this.paths.values()) if (p.slot === slot) return true;
    return false;
  }

  /** The transport lost path `id` (error, close, authentication failure). */
  pathClosed(id: number, reason: string): void {
    const p = this.paths.get(id);
    if (p) this.failPath(p, reason);
  }

  /** The frames of one record received on path `id`, which took `wireBytes` on the wire. */
  pathRecord(id: number, frames: readonly Frame[], wireBytes: number): void {
    const p = this.paths.get(id);
    if (!p) return;
    p.received(wireBytes, this.clock.now());
    try {
      for (const f of frames) {
        if (!this.paths.has(id)) return;
        if (isEliciting(f) && !p.ackOwed) {
          p.ackOwed = true;
          this.scheduleFlush();
        }
        this.onFrame(p, f);
      }
    } catch (err) {
      if (!(err instanceof RelayProtocolError)) throw err;
      this.log.warn({ path: p.name, err: err.message }, 'relay protocol violation, dropping path');
      this.failPath(p, `protocol violation: ${err.message}`);
    }
  }

  /** Close path `id` on purpose (reload removed it): tell the peer, resend its chunks elsewhere. */
  removePath(id: number, reason: string): void {
    const p = this.paths.get(id);
    if (!p) return;
    try {
      p.port.sendFrames([{ type: 'GOAWAY', reason: Reason.SHUTDOWN }]);
    } catch {
      /* the connection may already be broken */
    }
    this.failPath(p, reason);
  }

  get pathCount(): number {
    return this.paths.size;
  }

  // ------------------------------------------------------------------------------------------
  // Flows

  /** Entry: a new user connection to relay to `target` (or a test stream); returns the flow id. */
  openFlow(port: FlowPort, target: OpenRequest): number {
    const id = this.flows.allocId();
    const f = this.newFlow(id, 'opening', port, target);
    this.queueCtl(openFrame(id, target), (pid) => (f.ctlPath = pid));
    return id;
  }

  /**
   * Progress of flow `id`: bytes of its stream the peer acknowledged (`acked`) and bytes of the
   * peer's stream delivered to our side (`delivered`), FIN excluded; undefined once the flow is gone.
   */
  flowProgress(id: number): { acked: number; delivered: number } | undefined {
    const f = this.flows.get(id);
    if (!f) return undefined;
    const fin = (n: number, end: boolean) => (end ? n - 1 : n);
    return { acked: fin(f.tx.acked, f.tx.done), delivered: fin(f.rx.delivered, f.rx.finished) };
  }

  /** Exit: the target of flow `id` is connected. */
  acceptFlow(id: number, port: FlowPort): void {
    const f = this.flows.get(id);
    if (!f || f.phase !== 'connecting') {
      port.reset();
      return;
    }
    f.port = port;
    f.phase = 'open';
    this.queueCtl({ type: 'OPENED', flow: id }, (pid) => (f.ctlPath = pid));
    this.deliver(f);
    if (f.tx.held > 0) this.ready.add(f);
    this.pump();
  }

  /** Exit: flow `id` cannot be opened. */
  refuseFlow(id: number, reason: number): void {
    const f = this.flows.get(id);
    if (f) this.resetFlow(f, reason, 'local');
  }

  /** Bytes read from the application of flow `id`. */
  flowData(id: number, data: Buffer): void {
    const f = this.flows.get(id);
    if (!f || f.tx.finQueued) return;
    const cs = this.tuning.chunkSize;
    for (let p = 0; p < data.length; p += cs) f.tx.push(data.subarray(p, Math.min(p + cs, data.length)));
    this.heldBytes += data.length;
    if (f.tx.held >= this.holdLimit() || this.heldBytes >= this.tuning.sessionBuffer) {
      if (!f.readPaused) {
        f.readPaused = true;
        f.port?.pause();
      }
      this.paused.add(f);
    }
    if (f.phase === 'open') {
      this.ready.add(f);
      this.pump();
    }
  }

  /** The application of flow `id` half-closed (sent its FIN). */
  flowEnd(id: number): void {
    const f = this.flows.get(id);
    if (!f || f.tx.finQueued) return;
    f.tx.pushFin();
    this.heldBytes += 1;
    if (f.phase === 'open') {
      this.ready.add(f);
      this.pump();
    }
  }

  /** The application of flow `id` can take more bytes. */
  flowDrain(id: number): void {
    const f = this.flows.get(id);
    if (!f) return;
    f.sinkBlocked = false;
    this.deliver(f);
  }

  /** The application's connection of flow `id` failed or was reset. */
  flowError(id: number, reason: number = Reason.RESET): void {
    const f = this.flows.get(id);
    if (f) this.resetFlow(f, reason, 'local');
  }

  /** Reset every flow (the exit lost its state, or the relay stops). */
  resetAll(reason: number, tellPeer: boolean): void {
    for (const f of [...this.flows.values()]) this.resetFlow(f, reason, tellPeer ? 'local' : 'peer');
  }

  get flowCount(): number {
    return this.flows.size;
  }

  /** Stop: reset every flow, say GOAWAY on every path, close them. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.resetAll(Reason.SHUTDOWN, true);
    this.flush();
    this.closed = true;
    this.stopTick();
    this.paceTimer?.();
    this.paceTimer = undefined;
    this.violationLog.close();
    this.limitLog.close();
    for (const p of [...this.paths.values()]) {
      try {
        p.port.sendFrames([{ type: 'GOAWAY', reason: Reason.SHUTDOWN }]);
      } catch {
        /* already broken */
      }
      this.paths.delete(p.id);
      p.port.close('relay stopped');
    }
  }

  held(): MuxHeld {
    return { reorderCharge: this.rxCharge, sentCharge: this.txCharge, tombstones: this.flows.tombstoneCount };
  }

  status(): MuxStatus {
    const now = this.clock.now();
    let reorder = 0;
    let opening = 0;
    for (const f of this.flows.values()) {
      reorder += f.rx.buffered;
      if (f.phase !== 'open') opening++;
    }
    return {
      paths: [...this.paths.values()].map((p) => p.status(now)),
      flows: this.flows.size,
      opening,
      reorderBytes: reorder,
      reorderLimit: this.tuning.reorderBuffer,
      unackedBytes: this.heldBytes,
      resentChunks: this.resentTotal,
      duplicateChunks: this.duplicates,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  private onFrame(p: RelayPath, f: Frame): void {
    switch (f.type) {
      case 'PING':
        return;
      case 'PATH_ACK':
        if (p.meter.onAck(f.received, this.clock.now(), f.time)) this.pump();
        return;
      case 'GOAWAY':
        this.failPath(p, `peer closed the path (${reasonName(f.reason)})`);
        return;
      case 'HELLO':
      case 'WELCOME':
        throw new RelayProtocolError(`${f.type} after the handshake`);
      case 'OPEN':
        if (this.role !== 'exit') throw new RelayProtocolError('OPEN sent to an entry');
        this.onOpenFrame(f.flow, f.target);
        return;
      case 'TEST':
        if (this.role !== 'exit') throw new RelayProtocolError('TEST sent to an entry');
        this.onOpenFrame(f.flow, f.request);
        return;
      case 'OPENED': {
        if (this.role !== 'entry') throw new RelayProtocolError('OPENED sent to an exit');
        const fl = this.flows.get(f.flow);
        if (fl && fl.phase === 'opening') {
          fl.phase = 'open';
          this.events.onOpened?.(fl.id);
          if (fl.tx.held > 0) this.ready.add(fl);
          this.pump();
        }
        return;
      }
      case 'DATA':
      case 'FIN': {
        const fl = this.flows.get(f.flow);
        if (!fl) return this.staleFrame(f.flow);
        const before = fl.rx.charge;
        const r = fl.rx.accept(f.offset, f.type === 'DATA' ? f.data : undefined, this.tuning.sessionBuffer - this.rxCharge);
        this.rxCharge += fl.rx.charge - before;
        if (r === 'new') this.deliver(fl);
        else if (r === 'dup') {
          this.duplicates++;
          this.ackDue.add(fl);
        }
        else {
          const detail = { flow: fl.id, path: p.name, offset: f.offset, result: r, charge: fl.rx.charge, sessionCharge: this.rxCharge };
          if (!this.violationLog.event(() => this.log.warn(detail, 'relay flow protocol violation, resetting flow'))) this.log.debug(detail, 'relay flow protocol violation, resetting flow');
          this.resetFlow(fl, Reason.PROTOCOL, 'local');
        }
        return;
      }
      case 'ACK': {
        const fl = this.flows.get(f.flow);
        if (!fl) return;
        let freed: number;
        const charged = fl.tx.sentCharge;
        try {
          freed = fl.tx.ack(f.offset);
        } catch (err) {
          const detail = { flow: fl.id, path: p.name, err: (err as Error).message };
          if (!this.violationLog.event(() => this.log.warn(detail, 'relay flow protocol violation, resetting flow'))) this.log.debug(detail, 'relay flow protocol violation, resetting flow');
          this.resetFlow(fl, Reason.PROTOCOL, 'local');
          return;
        }
        if (freed > 0) {
          this.txCharge -= charged - fl.tx.sentCharge;
          for (const w of this.budgetWait) this.ready.add(w);
          this.budgetWait.clear();
          this.heldBytes -= freed;
          this.resumeSources();
          if (fl.phase === 'open' && fl.tx.end > fl.tx.acked) this.ready.add(fl);
          this.pump();
        }
        this.maybeDone(fl);
        return;
      }
      case 'RST': {
        const fl = this.flows.get(f.flow);
        if (fl) this.resetFlow(fl, f.reason, 'peer');
        return;
      }
    }
  }

  private onOpenFrame(id: number, target: OpenRequest): void {
    const existing = this.flows.get(id);
    if (existing) {
      if (existing.phase === 'open') this.queueCtl({ type: 'OPENED', flow: id }, (pid) => (existing.ctlPath = pid));
      return;
    }
    const tomb = this.flows.tombstone(id);
    if (tomb) {
      this.queueCtl({ type: 'RST', flow: id, reason: tomb.reason ?? Reason.UNKNOWN_FLOW });
      return;
    }
    const max = this.tuning.maxFlows;
    if (max !== undefined && this.flows.size >= max) {
      const detail = { flow: id, flows: this.flows.size, maxFlows: max };
      if (!this.limitLog.event(() => this.log.warn(detail, 'relay flow limit reached, open refused'))) this.log.debug(detail, 'relay flow limit reached, open refused');
      this.queueCtl({ type: 'RST', flow: id, reason: Reason.LIMIT });
      return;
    }
    this.newFlow(id, 'connecting', undefined, target);
    this.events.onOpen?.(id, target);
  }

  /** DATA or FIN for a flow we do not have: re-acknowledge a finished one, reset anything else (once per flow per flush). */
  private staleFrame(id: number): void {
    if (this.staleAnswered.has(id)) return;
    this.staleAnswered.add(id);
    const tomb = this.flows.tombstone(id);
    if (tomb && tomb.reason === undefined) this.queueCtl({ type: 'ACK', flow: id, offset: tomb.rxEnd });
    else this.queueCtl({ type: 'RST', flow: id, reason: tomb?.reason ?? Reason.UNKNOWN_FLOW });
  }

  /** Hand in-order bytes to the application while it takes them. */
  private deliver(f: FlowState): void {
    if (!f.port || f.sinkBlocked) return;
    let moved = false;
    for (;;) {
      const charged = f.rx.charge;
      const it = f.rx.pull();
      if (!it) break;
      this.rxCharge -= charged - f.rx.charge;
      moved = true;
      if (it.data) {
        if (!f.port.write(it.data)) {
          f.sinkBlocked = true;
          break;
        }
      } else f.port.end();
    }
    if (moved) {
      this.ackDue.add(f);
      this.scheduleFlush();
      this.maybeDone(f);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  /** Give chunks to paths with room, flows in round-robin order. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pumpOnce();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(): void {
    if (this.ready.size === 0 || this.paths.size === 0) return;
    const now = this.clock.now();
    for (const p of this.paths.values()) p.refresh(now);
    while (this.ready.size > 0) {
      const f = this.ready.values().next().value as FlowState;
      const item = f.phase === 'open' ? f.tx.peek(this.peerWindow) : undefined;
      if (!item) {
        this.ready.delete(f);
        continue;
      }
      if (item.sends === 0 && this.txCharge > 0 && this.txCharge + chunkCharge(item.len) > this.tuning.sessionBuffer) {
        // The peer holds us to sessionBuffer for all flows together: wait for an acknowledgement.
        this.ready.delete(f);
        this.budgetWait.add(f);
        continue;
      }
      const wire = (item.data ? DATA_HEADER_LEN + item.len : 11) + RECORD_OVERHEAD;
      const pid = pickDataPath(this.views(), wire);
      if (pid === undefined) {
        this.wakeForPacing(now);
        return;
      }
      const p = this.paths.get(pid)!;
      this.sendItem(p, f, item, now);
      this.ready.delete(f);
      this.ready.add(f);
    }
  }

  private sendItem(p: RelayPath, f: FlowState, item: TxItem, now: number): void {
    const bytes = item.data ? p.port.sendData(f.id, item.off, item.data) : p.port.sendFrames([{ type: 'FIN', flow: f.id, offset: item.off }]);
    if (item.sends > 0) p.counters.retransmittedChunks++;
    const charged = f.tx.sentCharge;
    f.tx.sent(item, p.id);
    this.txCharge += f.tx.sentCharge - charged;
    p.sentData(bytes, now);
  }

  /** No path takes data now: if one waits only for its pacing, pump again when it may send. */
  private wakeForPacing(now: number): void {
    if (this.paceTimer) return;
    let wait = Infinity;
    for (const p of this.paths.values()) {
      const w = p.pacingWait(now);
      if (w !== undefined) wait = Math.min(wait, w);
    }
    if (wait === Infinity) return;
    this.paceTimer = this.clock.after(Math.max(1, Math.ceil(wait)), () => {
      this.paceTimer = undefined;
      this.pump();
    });
  }

  private *views(): Iterable<PathView> {
    for (const p of this.paths.values()) yield p.view;
  }

  private queueCtl(frame: Frame, sentOn?: (pathId: number) => void): void {
    this.pending.push(sentOn ? { frame, sentOn } : { frame });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    this.clock.defer(() => this.flush());
  }

  /** Send what is owed: flow ACKs and queued control frames on the best path, PATH_ACK and PING on each path. */
  private flush(): void {
    this.flushQueued = false;
    this.staleAnswered.clear();
    if (this.paths.size === 0) return;
    const now = this.clock.now();
    for (const p of this.paths.values()) p.refresh(now);
    const shared: Pending[] = this.pending;
    this.pending = [];
    for (const f of this.ackDue) shared.push({ frame: { type: 'ACK', flow: f.id, offset: f.rx.delivered } });
    this.ackDue.clear();
    const ctlId = shared.length > 0 ? pickControlPath(this.views()) : undefined;
    for (const p of [...this.paths.values()]) {
      const frames: Pending[] = p.id === ctlId ? shared : [];
      if (p.ackOwed) {
        p.ackOwed = false;
        frames.push({ frame: { type: 'PATH_ACK', received: p.rxBytes, time: Math.floor(p.rxTime) } });
      }
      if (p.pingOwed) {
        p.pingOwed = false;
        if (!frames.some((x) => isEliciting(x.frame))) frames.push({ frame: { type: 'PING' } });
      }
      if (frames.length > 0) this.sendControl(p, frames, now);
    }
  }

  private sendControl(p: RelayPath, items: readonly Pending[], now: number): void {
    let batch: Frame[] = [];
    let size = 0;
    const out = () => {
      if (batch.length === 0) return;
      p.sentControl(p.port.sendFrames(batch), batch.some(isEliciting), now);
      batch = [];
      size = 0;
    };
    for (const it of items) {
      const s = frameSize(it.frame);
      if (size + s > CONTROL_RECORD_TARGET) out();
      batch.push(it.frame);
      size += s;
      it.sentOn?.(p.id);
    }
    out();
  }

  // ------------------------------------------------------------------------------------------
  // Failure, completion, timers

  private failPath(p: RelayPath, reason: string): void {
    if (!this.paths.delete(p.id)) return;
    p.port.close(reason);
    this.log.warn({ path: p.name, slot: p.slot, reason, inflight: p.meter.inflight }, 'relay path down');
    for (const f of this.flows.values()) {
      const n = f.tx.pathFailed(p.id);
      if (n > 0) {
        p.counters.resentChunks += n;
        this.resentTotal += n;
        if (f.phase === 'open') this.ready.add(f);
      }
      if (f.ctlPath === p.id) {
        if (f.phase === 'opening' && f.target) this.queueCtl(openFrame(f.id, f.target), (pid) => (f.ctlPath = pid));
        else if (this.role === 'exit' && f.phase === 'open') this.queueCtl({ type: 'OPENED', flow: f.id }, (pid) => (f.ctlPath = pid));
      }
      // Our acknowledgements may have gone down with the path: say them again.
      this.ackDue.add(f);
    }
    for (const t of this.flows.tombstones()) {
      if (t.rstPath === p.id && t.reason !== undefined) {
        const tomb = t;
        this.queueCtl({ type: 'RST', flow: t.id, reason: t.reason }, (pid) => (tomb.rstPath = pid));
      }
    }
    this.events.onPathDown?.(p.id, reason);
    this.scheduleFlush();
    this.pump();
  }

  private newFlow(id: number, phase: Phase, port: FlowPort | undefined, target: OpenRequest | undefined): FlowState {
    const f: FlowState = {
      id,
      port,
      phase,
      target,
      tx: new SendStream(),
      rx: new ReceiveStream(this.tuning.reorderBuffer),
      readPaused: false,
      sinkBlocked: false,
      ctlPath: -1,
      openedAt: this.clock.now(),
    };
    this.flows.add(f);
    return f;
  }

  private maybeDone(f: FlowState): void {
    if (!f.tx.done || !f.rx.finished || !this.flows.has(f.id)) return;
    this.forget(f);
    this.bury({ id: f.id, reason: undefined, rxEnd: f.rx.delivered, rstPath: -1, expires: this.clock.now() + TOMBSTONE_MS });
    this.events.onFlowEnd?.(f.id, { how: 'done' });
  }

  private resetFlow(f: FlowState, reason: number, by: 'local' | 'peer'): void {
    if (!this.flows.has(f.id)) return;
    this.forget(f);
    this.ackDue.delete(f);
    f.port?.reset();
    const tomb: Tombstone = { id: f.id, reason, rxEnd: f.rx.delivered, rstPath: -1, expires: this.clock.now() + TOMBSTONE_MS };
    this.bury(tomb);
    if (by === 'local') this.queueCtl({ type: 'RST', flow: f.id, reason }, (pid) => (tomb.rstPath = pid));
    this.log.debug({ flow: f.id, reason: reasonName(reason), by }, 'relay flow reset');
    this.events.onFlowEnd?.(f.id, { how: 'reset', reason, by });
  }

  /** Drop a flow's state. Its owed ACK (if any) still goes out: the final one completes the peer's stream. */
  private forget(f: FlowState): void {
    this.flows.delete(f.id);
    this.ready.delete(f);
    this.paused.delete(f);
    this.budgetWait.delete(f);
    this.rxCharge -= f.rx.charge;
    this.txCharge -= f.tx.sentCharge;
    this.heldBytes -= f.tx.held;
    this.resumeSources();
    if (f.tx.sentCharge > 0 && this.budgetWait.size > 0) {
      // Its unacknowledged chunks no longer count against the session: the flows waiting may send.
      for (const w of this.budgetWait) this.ready.add(w);
      this.budgetWait.clear();
      this.pump();
    }
  }

  private bury(t: Tombstone): void {
    this.flows.bury(t);
  }

  /**
   * Bytes one flow may hold (read from its source, not yet acknowledged) before its source is
   * paused: what the paths can carry at once, twice over (the second time for the chunks that
   * arrived early and wait in the far end's reorder buffer, and for acknowledgements on their
   * way back), at most the peer's window. So a flow's memory follows its paths' rate x RTT, and
   * their RTT difference, instead of always filling the window.
   */
  private holdLimit(): number {
    let caps = 0;
    let rate = 0;
    let longest = 0;
    for (const p of this.paths.values()) {
      const v = p.view;
      caps += v.cap;
      if (v.rate <= 0) continue;
      rate += v.rate;
      longest = Math.max(longest, v.cap / v.rate);
    }
    // Chunks on the path that holds the longest time (its cap over its rate) arrive last; all the
    // paths together deliver rate x that time meanwhile, which the far end holds until then.
    const need = Math.max(caps, rate * longest);
    return Math.min(this.peerWindow, Math.max(HOLD_MIN_CHUNKS * this.tuning.chunkSize, HOLD_CAP_FACTOR * need));
  }

  private resumeSources(): void {
    if (this.paused.size === 0 || this.heldBytes >= this.tuning.sessionBuffer) return;
    const limit = this.holdLimit();
    for (const f of this.paused) {
      if (f.tx.held >= limit) continue;
      this.paused.delete(f);
      if (f.readPaused) {
        f.readPaused = false;
        f.port?.resume();
      }
      if (this.heldBytes >= this.tuning.sessionBuffer) break;
    }
  }

  private tick(): void {
    const now = this.clock.now();
    const timeout = this.tuning.pathTimeout;
    for (const p of [...this.paths.values()]) {
      const waited = p.meter.unansweredFor(now);
      if (waited > timeout) {
        this.failPath(p, `no acknowledgement for ${Math.round(waited)} ms (timeout ${timeout} ms)`);
        continue;
      }
      if (now - p.meter.lastElicitingSent >= timeout / 4) {
        p.pingOwed = true;
        this.scheduleFlush();
      }
      p.updateRate(now);
    }
    const openTimeout = this.tuning.openTimeout;
    if (this.role === 'entry' && openTimeout !== undefined) {
      for (const f of [...this.flows.values()]) {
        if (f.phase === 'opening' && now - f.openedAt > openTimeout) {
          this.log.warn({ flow: f.id, ms: Math.round(now - f.openedAt) }, 'relay flow open timed out');
          this.resetFlow(f, Reason.TIMEOUT, 'local');
        }
      }
    }
    this.flows.expire(now);
  }
}

/** The frame that opens flow `id`: OPEN for a target, TEST for the exit's test stream. */
function openFrame(id: number, target: OpenRequest): Frame {
  return isTestRequest(target) ? { type: 'TEST', flow: id, request: target } : { type: 'OPEN', flow: id, target };
}
