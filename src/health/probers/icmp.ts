/**
 * ICMP echo prober: one raw socket per family, bound to the link's source address and shared by
 * all of that link's targets (the addon's IcmpSocket; no process per probe).
 *
 * Contract: each socket has a random 16-bit identifier and an 8-byte random token as payload; a
 * reply counts only if identifier, sequence number, token and sender (the probed target) all
 * match, so other processes' pings, stale replies and replies from elsewhere are ignored.
 * Sequence numbers are per socket and skip those still outstanding, so up to 65536 probes may be
 * in flight per family. A socket is opened on the first probe of its family; if opening fails
 * (no CAP_NET_RAW, the address is not there yet) that probe fails with the reason and the next
 * one tries again. A read error fails that socket's outstanding probes and closes it, so the next
 * probe reopens it. A send error (ENETUNREACH when the link's table has no route) fails the
 * probe at once.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { IcmpSocket } from '../../native/icmp-socket.js';
import type { Family } from '../../config/values.js';
import { Attempt, errorText, failed } from './attempt.js';
import { buildEchoRequest, parseEchoReply } from './icmp-packet.js';
import { canonicalAddress, chooseSource } from './source.js';
import type { ProbeResult, ProbeSource, Prober } from './types.js';

const TOKEN_BYTES = 8;

interface Outstanding {
  /** Canonical text of the probed address: the reply must come from it. */
  target: string;
  attempt: Attempt;
}

/** One family's socket and the probes waiting on it. */
class EchoChannel {
  readonly socket: IcmpSocket;
  readonly id = randomInt(0, 0x10000);
  readonly token = randomBytes(TOKEN_BYTES);
  private nextSeq = randomInt(0, 0x10000);
  readonly outstanding = new Map<number, Outstanding>();

  constructor(
    readonly family: Family,
    source: string,
    onBroken: (channel: EchoChannel) => void,
  ) {
    this.socket = new IcmpSocket(family, source, {
      onDatagram: (datagram, from) => this.onDatagram(datagram, from),
      onError: (err) => {
        this.failAll(errorText(err));
        onBroken(this);
      },
    });
  }

  /** A sequence number not in flight, or undefined when all 65536 are. */
  private allocateSeq(): number | undefined {
    for (let i = 0; i < 0x10000; i++) {
      const seq = this.nextSeq;
      this.nextSeq = (this.nextSeq + 1) & 0xffff;
      if (!this.outstanding.has(seq)) return seq;
    }
    return undefined;
  }

  send(target: string, timeoutMs: number): Promise<ProbeResult> {
    const seq = this.allocateSeq();
    if (seq === undefined) return failed('too many icmp probes in flight');
    const attempt = new Attempt(timeoutMs, () => this.outstanding.delete(seq));
    this.outstanding.set(seq, { target: canonicalAddress(target), attempt });
    try {
      this.socket.send(buildEchoRequest(this.family, { id: this.id, seq, payload: this.token }), target);
    } catch (err) {
      attempt.fail(errorText(err));
    }
    return attempt.promise;
  }

  private onDatagram(datagram: Buffer, from: string): void {
    const reply = parseEchoReply(this.family, datagram);
    if (!reply || reply.id !== this.id || !reply.payload.equals(this.token)) return;
    const waiting = this.outstanding.get(reply.seq);
    if (!waiting || waiting.target !== from) return;
    waiting.attempt.succeed();
  }

  failAll(error: string): void {
    for (const o of [...this.outstanding.values()]) o.attempt.fail(error);
  }

  close(error: string): void {
    this.failAll(error);
    this.socket.close();
  }
}

export class IcmpProber implements Prober {
  private readonly channels = new Map<Family, EchoChannel>();
  private closed = false;

  constructor(private readonly source: ProbeSource) {}

  probe(target: string, timeoutMs: number): Promise<ProbeResult> {
    if (this.closed) return failed('prober closed');
    const choice = chooseSource(target, this.source);
    if ('error' in choice) return failed(choice.error);
    let channel = this.channels.get(choice.family);
    if (!channel) {
      try {
        channel = new EchoChannel(choice.family, choice.address, (broken) => {
          broken.socket.close();
          if (this.channels.get(broken.family) === broken) this.channels.delete(broken.family);
        });
      } catch (err) {
        const code = errorText(err);
        const text = err instanceof Error ? err.message : code;
        return failed(code === 'EPERM' || code === 'EACCES' ? `${text} (icmp probes need CAP_NET_RAW)` : text);
      }
      this.channels.set(choice.family, channel);
    }
    return channel.send(target, timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.channels.values()) c.close('prober closed');
    this.channels.clear();
  }
}
