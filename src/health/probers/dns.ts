/**
 * DNS prober: a UDP query from the link's source address to a resolver (default port 53).
 *
 * Contract: one UDP socket per family, bound to the link's source address on a kernel-chosen
 * port and shared by all targets; it is opened on the first probe of its family and reopened
 * after an error. Each query has a fresh random 16-bit id not in flight on that socket. A
 * datagram counts only if it comes from the probed target and port and is a well-formed response
 * to that query (dns-codec.ts); anything else is ignored, so a late answer to a timed-out query
 * never satisfies a later one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Family } from '../../config/values.js';
import { Attempt, errorText, failed } from './attempt.js';
import { DNS_TYPE_NS, decodeHeader, encodeQuery, isResponseTo, nameLabels } from './dns-codec.js';
import { canonicalAddress, chooseSource } from './source.js';
import type { ProbeResult, ProbeSource, Prober } from './types.js';
import { WanbraidError } from '../../errors.js';

export const DNS_DEFAULT_PORT = 53;
export const DNS_DEFAULT_QUERY = '.';

interface Outstanding {
  target: string;
  attempt: Attempt;
}

class DnsChannel {
  readonly socket: Socket;
  /** Resolves when the socket is bound; rejects if binding fails. */
  readonly ready: Promise<void>;
  readonly outstanding = new Map<number, Outstanding>();

  constructor(
    family: Family,
    private readonly source: string,
    private readonly port: number,
    private readonly query: string,
    onBroken: (channel: DnsChannel) => void,
  ) {
    this.socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
    let bound = false;
    this.ready = new Promise<void>((resolve, reject) => {
      this.socket.once('listening', () => {
        bound = true;
        resolve();
      });
      this.socket.on('error', (err) => {
        reject(err);
        this.failAll(bound ? errorText(err) : `bind ${source}: ${errorText(err)}`);
        onBroken(this);
      });
    });
    // An unobserved rejection must not crash the daemon: every user of `ready` handles it.
    this.ready.catch(() => undefined);
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    this.socket.bind({ address: source, port: 0, exclusive: true });
  }

  private allocateId(): number | undefined {
    for (let i = 0; i < 64; i++) {
      const id = randomInt(0, 0x10000);
      if (!this.outstanding.has(id)) return id;
    }
    return undefined;
  }

  send(target: string, timeoutMs: number): Promise<ProbeResult> {
    const id = this.allocateId();
    if (id === undefined) return failed('too many dns probes in flight');
    const attempt = new Attempt(timeoutMs, () => this.outstanding.delete(id));
    this.outstanding.set(id, { target: canonicalAddress(target), attempt });
    const packet = encodeQuery(id, this.query, DNS_TYPE_NS);
    this.ready.then(
      () => {
        if (attempt.settled) return;
        this.socket.send(packet, this.port, target, (err) => {
          if (err) attempt.fail(errorText(err));
        });
      },
      (err: unknown) => attempt.fail(`bind ${this.source}: ${errorText(err)}`),
    );
    return attempt.promise;
  }

  private onMessage(msg: Buffer, from: string, fromPort: number): void {
    const header = decodeHeader(msg);
    if (!header) return;
    const waiting = this.outstanding.get(header.id);
    if (!waiting || waiting.target !== from || fromPort !== this.port) return;
    if (!isResponseTo(msg, { id: header.id, name: this.query, type: DNS_TYPE_NS })) return;
    waiting.attempt.succeed();
  }

  failAll(error: string): void {
    for (const o of [...this.outstanding.values()]) o.attempt.fail(error);
  }

  close(error: string): void {
    this.failAll(error);
    try {
      this.socket.close();
    } catch {
      /* already closed after an error */
    }
  }
}

export class DnsProber implements Prober {
  private readonly channels = new Map<Family, DnsChannel>();
  private closed = false;
  private readonly port: number;
  private readonly query: string;

  /** Throws WB_CONFIG_INVALID when `query` is not a valid DNS name. */
  constructor(
    private readonly source: ProbeSource,
    options: { port?: number | undefined; query?: string | undefined } = {},
  ) {
    this.port = options.port ?? DNS_DEFAULT_PORT;
    this.query = options.query ?? DNS_DEFAULT_QUERY;
    const labels = nameLabels(this.query);
    if (!Array.isArray(labels)) throw new WanbraidError('WB_CONFIG_INVALID', `probe.query: ${labels.problem}`);
  }

  probe(target: string, timeoutMs: number): Promise<ProbeResult> {
    if (this.closed) return failed('prober closed');
    const choice = chooseSource(target, this.source);
    if ('error' in choice) return failed(choice.error);
    let channel = this.channels.get(choice.family);
    if (!channel) {
      const family = choice.family;
      channel = new DnsChannel(family, choice.address, this.port, this.query, (broken) => {
        broken.close('socket error');
        if (this.channels.get(family) === broken) this.channels.delete(family);
      });
      this.channels.set(family, channel);
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
