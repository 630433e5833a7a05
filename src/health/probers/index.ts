/**
 * Link probers: `createProber(config, source)` for a link's `probe:` section and its source
 * addresses. Each probe leaves with the link's own address of the target's family; the daemon's
 * `from <address> lookup <link table>` rules route it through that link whatever the main table
 * says. See types.ts for the contract every prober keeps.
 *
 * | method | how                                                      | shared state             |
 * |--------|----------------------------------------------------------|--------------------------|
 * | icmp   | raw echo socket (native addon), id + seq + token matched | one socket per family    |
 * | tcp    | connect; a refusal also counts (see tcp.ts)              | none                     |
 * | dns    | UDP query "`query` NS", any well-formed response          | one socket per family    |
 * | http(s)| GET `path`, status in `expectStatus`                     | keep-alive agent         |
 */
import { DnsProber } from './dns.js';
import { HttpProber } from './http.js';
import { IcmpProber } from './icmp.js';
import { TcpProber } from './tcp.js';
import type { ProberConfig, ProbeSource, Prober } from './types.js';

export type { ProbeResult, ProbeSource, Prober, ProberConfig } from './types.js';

/** A prober for `config.method`; throws WB_CONFIG_INVALID for a DNS query that is not a valid name. */
export function createProber(config: ProberConfig, source: ProbeSource): Prober {
  const src = { ipv4: source.ipv4, ipv6: source.ipv6 };
  switch (config.method) {
    case 'icmp':
      return new IcmpProber(src);
    case 'tcp':
      return new TcpProber(src, { port: config.port });
    case 'dns':
      return new DnsProber(src, { port: config.port, query: config.query });
    case 'http':
    case 'https':
      return new HttpProber(src, {
        tls: config.method === 'https',
        port: config.port,
        path: config.path,
        host: config.host,
        expectStatus: config.expectStatus,
        verifyCertificate: config.verifyCertificate,
      });
  }
}
