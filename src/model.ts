/**
 * Types shared across subsystems: what a link is at runtime, its health state and the typed
 * reason for each change. Health produces {@link LinkView}s, the planner consumes them, status
 * shows them. Pure data, no behaviour.
 */
import type { Family } from './config/values.js';

export type { Family };

export const LINK_STATES = ['probing', 'online', 'degraded', 'offline', 'disabled'] as const;
/**
 * - probing: not yet decided (start, carrier back); not used for new flows.
 * - online: usable at its weight.
 * - degraded: answering, but over a quality limit; used per its `degraded.action`.
 * - offline: not usable (probes fail, no carrier, no address).
 * - disabled: taken out by an operator or a schedule.
 */
export type LinkState = (typeof LINK_STATES)[number];

/** Why a link changed state: logged with the measured value and the threshold it crossed. */
export type StateReason =
  | { kind: 'initial' }
  /** `error`: the last probe failure seen in the failing rounds (e.g. "timeout", "EHOSTUNREACH"). */
  | { kind: 'probes-failed'; rounds: number; threshold: number; error?: string }
  | { kind: 'probes-ok'; rounds: number; threshold: number }
  /**
   * The passive signal (health/passive.ts): packets kept leaving and nothing came in for
   * `silenceMs` (over `thresholdMs`), and every probe of the burst that suspicion started was lost.
   */
  | { kind: 'traffic-silent'; silenceMs: number; thresholdMs: number; lost: number; sent: number }
  | { kind: 'quality'; metric: 'loss' | 'rtt' | 'jitter'; value: number; threshold: number }
  | { kind: 'quality-recovered'; metric: 'loss' | 'rtt' | 'jitter'; value: number; threshold: number }
  | { kind: 'carrier-lost' }
  | { kind: 'carrier-up' }
  | { kind: 'admin-down' }
  /** The interface appeared or was set up again (carrier present). */
  | { kind: 'interface-up' }
  | { kind: 'interface-missing' }
  | { kind: 'no-address' }
  /** An address but no next hop: no gateway configured or learned, and not point-to-point. */
  | { kind: 'no-gateway' }
  | { kind: 'address-changed' }
  | { kind: 'no-probes' }
  /** A reload changed how the link is judged (probes or quality limits added or removed). */
  | { kind: 'reconfigured' }
  | { kind: 'manual'; action: 'down' | 'up' | 'auto' }
  | { kind: 'schedule'; schedule: string; action: 'down' | 'up' | 'end' };

/** Per family: the link's own source address and its next hop, as the kernel has them now. */
export interface FamilyAddressing {
  /** Primary global address on the interface (the probes' and the masquerade's source). */
  address: string;
  /** Prefix length of that address. */
  prefixLen: number;
  /** Next hop: configured, or learned from the main table; undefined when routing via the device (point-to-point) or unknown. */
  gateway: string | undefined;
  /**
   * Where the next hop comes from: `config` (links[].gateway), `route` (learned from the link's own
   * default route in the main table: DHCP, RA, PPP), `lease` (reported by the client of a dial
   * session: the DHCP router option), `device` (no gateway: a point-to-point link or a default
   * route straight onto the device), `none` (unknown: this family cannot be used yet).
   */
  gatewaySource: 'config' | 'route' | 'lease' | 'device' | 'none';
}

/** What the kernel says about a link's interface: collected from rtnetlink, updated on events. */
export interface LinkObservation {
  ifindex: number | undefined;
  /** IFF_UP set by the administrator. */
  adminUp: boolean;
  /** IFF_LOWER_UP: carrier present. */
  carrier: boolean;
  /** IFF_POINTOPOINT (PPP, tun): routes go via the device, no gateway needed. */
  pointToPoint: boolean;
  ipv4: FamilyAddressing | undefined;
  ipv6: FamilyAddressing | undefined;
}

/** One link as health sees it, handed to the planner and to status. */
export interface LinkView {
  name: string;
  interface: string;
  state: LinkState;
  /** Epoch milliseconds of the last state change. */
  since: number;
  reason: StateReason;
  /** Weight used for balancing now: the configured one, or the degraded one. 0 = not balanced onto. */
  weight: number;
  observation: LinkObservation;
}

/** Usable for new flows. */
export function isUsable(v: Pick<LinkView, 'state' | 'weight'>): boolean {
  return (v.state === 'online' || v.state === 'degraded') && v.weight > 0;
}

export function describeReason(r: StateReason): string {
  switch (r.kind) {
    case 'initial':
      return 'initial state';
    case 'probes-failed':
      return `${r.rounds} probe rounds failed (down after ${r.threshold})${r.error ? `: ${r.error}` : ''}`;
    case 'probes-ok':
      return `${r.rounds} probe rounds answered (up after ${r.threshold})`;
    case 'traffic-silent':
      return `traffic silent for ${r.silenceMs} ms (threshold ${r.thresholdMs} ms), ${r.lost}/${r.sent} burst probes lost`;
    case 'quality':
      return `${r.metric} ${fmt(r.value, r.metric)} over ${fmt(r.threshold, r.metric)}`;
    case 'quality-recovered':
      return `${r.metric} ${fmt(r.value, r.metric)} back under ${fmt(r.threshold, r.metric)}`;
    case 'carrier-lost':
      return 'carrier lost';
    case 'carrier-up':
      return 'carrier back';
    case 'admin-down':
      return 'interface set down';
    case 'interface-up':
      return 'interface up';
    case 'interface-missing':
      return 'interface does not exist';
    case 'no-address':
      return 'no usable address';
    case 'no-gateway':
      return 'no gateway configured or learned';
    case 'address-changed':
      return 'address or gateway changed';
    case 'no-probes':
      return 'no probes configured: following carrier';
    case 'reconfigured':
      return 'configuration reloaded';
    case 'manual':
      return `operator: ${r.action}`;
    case 'schedule':
      return `schedule ${r.schedule}: ${r.action}`;
  }
}

function fmt(v: number, metric: 'loss' | 'rtt' | 'jitter'): string {
  return metric === 'loss' ? `${v.toFixed(1)}%` : `${v.toFixed(1)}ms`;
}
