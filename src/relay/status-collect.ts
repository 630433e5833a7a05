/** Turning engine status (core/mux.ts) into the status types of status.ts. Pure. */
import type { MuxPathStatus, MuxStatus } from './core/mux.js';
import type { PathState, RelayPathStatus, RelaySessionCounters } from './status.js';

export function pathStatus(name: string, state: PathState, reason: string | undefined, local: string | undefined, remote: string, mp: MuxPathStatus | undefined, forMs: number): RelayPathStatus {
  const out: RelayPathStatus = {
    name,
    state,
    remote,
    txBps: mp ? mp.txRate * 8 : 0,
    rxBps: mp ? mp.rxRate * 8 : 0,
    txBytes: mp?.txBytes ?? 0,
    rxBytes: mp?.rxBytes ?? 0,
    resentChunks: mp?.resentChunks ?? 0,
    inflight: mp?.inflight ?? 0,
    cap: mp?.cap ?? 0,
    deliveryBps: mp ? mp.deliveryRate * 8 : 0,
    forMs: Math.max(0, Math.round(forMs)),
  };
  if (reason !== undefined) out.reason = reason;
  if (local !== undefined) out.local = local;
  if (mp?.srttMs !== undefined) out.rttMs = Math.round(mp.srttMs * 100) / 100;
  if (mp?.minRttMs !== undefined) out.minRttMs = Math.round(mp.minRttMs * 100) / 100;
  return out;
}

export function muxCounters(m: MuxStatus): RelaySessionCounters {
  return {
    flows: m.flows,
    opening: m.opening,
    reorderBytes: m.reorderBytes,
    reorderLimit: m.reorderLimit,
    unackedBytes: m.unackedBytes,
    resentChunks: m.resentChunks,
    duplicateChunks: m.duplicateChunks,
  };
}
