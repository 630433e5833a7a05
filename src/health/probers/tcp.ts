/**
 * TCP prober: connect from the link's source address to target:port (default 443).
 *
 * Contract: the probe succeeds when the handshake completes, and also when the target refuses
 * (ECONNREFUSED): a reset proves a full round trip through the link, which is what a health
 * probe asks. (Caveat: a middlebox that rejects with a reset or an ICMP port-unreachable looks
 * the same; probe a port that is open when that matters.) Host and network unreachable, and
 * silence until the deadline, are failures. A connected probe socket is closed with a reset, so
 * no TIME_WAIT state piles up at 2 probes per second per target. No socket is reused: each probe
 * is one handshake.
 */
import { connect, type Socket } from 'node:net';
import { Attempt, errorText, failed } from './attempt.js';
import { chooseSource } from './source.js';
import type { ProbeResult, ProbeSource, Prober } from './types.js';

export const TCP_DEFAULT_PORT = 443;

export class TcpProber implements Prober {
  private readonly sockets = new Set<Socket>();
  private readonly attempts = new Set<Attempt>();
  private closed = false;
  private readonly port: number;

  constructor(
    private readonly source: ProbeSource,
    options: { port?: number | undefined } = {},
  ) {
    this.port = options.port ?? TCP_DEFAULT_PORT;
  }

  probe(target: string, timeoutMs: number): Promise<ProbeResult> {
    if (this.closed) return failed('prober closed');
    const choice = chooseSource(target, this.source);
    if ('error' in choice) return failed(choice.error);
    const socket = connect({ host: target, port: this.port, localAddress: choice.address, family: choice.family });
    this.sockets.add(socket);
    const attempt: Attempt = new Attempt(timeoutMs, () => {
      this.attempts.delete(attempt);
      this.sockets.delete(socket);
      // resetAndDestroy() on a socket still connecting would wait for the connect: destroy it now.
      if (socket.connecting) socket.destroy();
      else if (!socket.destroyed) socket.resetAndDestroy();
    });
    this.attempts.add(attempt);
    socket.once('connect', () => attempt.succeed());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') attempt.succeed();
      else attempt.fail(errorText(err));
    });
    return attempt.promise;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of [...this.attempts]) a.fail('prober closed');
  }
}
