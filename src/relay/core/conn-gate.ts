/**
 * Admission of unauthenticated connections at the exit: at most `total` connections may be in the
 * handshake at once, and at most `perSource` from one source. Until a connection authenticates,
 * the exit holds its socket, its buffers (up to one record, 64 KiB) and a timer for it, so the
 * number has to be bounded, not just the time (issue 9 §5); a connection beyond either cap is
 * closed at once, before anything is read from it.
 *
 * A source is an IPv4 address or an IPv6 /64 (one host usually owns a whole /64, so counting
 * single IPv6 addresses would bound nothing); an IPv4-mapped IPv6 address counts as its IPv4
 * address. Pure: the caller admits, and releases exactly once when the handshake ends either way.
 */
import { ipToBytes } from '../protocol/addr.js';

export type GateRefusal = 'total' | 'source';

/** The source a connection from `addr` is counted under. */
export function sourceKey(addr: string | undefined): string {
  if (!addr) return '?';
  const b = ipToBytes(addr);
  if (!b) return addr;
  if (b.length === 4) return addr;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return `${b.subarray(0, 8).toString('hex').replace(/(.{4})(?!$)/g, '$1:')}::/64`;
}

export class ConnectionGate {
  private readonly bySource = new Map<string, number>();
  private count = 0;

  constructor(
    readonly total: number,
    readonly perSource: number,
  ) {}

  /** Connections admitted and not yet released. */
  get active(): number {
    return this.count;
  }

  /** Admit a connection from `source` (a {@link sourceKey}); undefined when admitted, else why not. */
  admit(source: string): GateRefusal | undefined {
    if (this.count >= this.total) return 'total';
    const n = this.bySource.get(source) ?? 0;
    if (n >= this.perSource) return 'source';
    this.bySource.set(source, n + 1);
    this.count++;
    return undefined;
  }

  /** The handshake of a connection admitted from `source` ended (authenticated or not). */
  release(source: string): void {
    const n = this.bySource.get(source);
    if (n === undefined) return;
    if (n <= 1) this.bySource.delete(source);
    else this.bySource.set(source, n - 1);
    this.count--;
  }
}
