/**
 * Lab helper, run inside the "target" namespace: the services the probers probe, on every address
 * of the namespace (dual-stack listeners).
 *   TCP 80   HTTP:  GET /status/NNN answers NNN, anything else 200 "ok"
 *   TCP 443  HTTPS: the same, with the certificate and key given as argv[2], argv[3]
 *   UDP 53   DNS:   (on 198.19.0.1 and 2001:db8:ffff::1) echoes each query back as a response (QR and RA set, RCODE 0, no answers) —
 *                   written independently of the prober's codec, so it checks it rather than mirrors it
 * Prints "ready" on stdout once everything listens; runs until killed.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) {
  console.error('usage: probe-servers CERT KEY');
  process.exit(2);
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
  res.statusCode = m ? Number(m[1]) : 200;
  res.end('ok\n');
}

const http = createHttpServer(handler).listen({ host: '::', port: 80, ipv6Only: false });
const https = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler).listen({ host: '::', port: 443, ipv6Only: false });
// One DNS socket per service address: a reply must leave from the address the query went to,
// which an unbound socket would not do on a multi-homed host (and the ISP's NAT would drop it).
const dnsSockets = ['198.19.0.1', '2001:db8:ffff::1'].map((address) => {
  const dns = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
  dns.on('message', (msg, rinfo) => {
    if (msg.length < 12 || (msg[2]! & 0x80) !== 0) return;
    const reply = Buffer.from(msg);
    reply[2] = (msg[2]! | 0x80) & 0xfb; // QR; clear AA
    reply[3] = 0x80; // RA, RCODE 0 (NOERROR)
    dns.send(reply, rinfo.port, rinfo.address);
  });
  dns.bind({ address, port: 53 });
  return dns;
});

await Promise.all([once(http, 'listening'), once(https, 'listening'), ...dnsSockets.map((d) => once(d, 'listening'))]);
console.log('ready');
