/**
 * Test tool run inside lab namespaces (Node cannot enter one): the target and the client of
 * helpers.ts as a process. Prints JSON lines on stdout.
 *
 *   transfer.js target PORT REPLY          serve: {"listening":PORT}, then {"bytes","sha"} per connection
 *   transfer.js client HOST PORT UPLOAD SEED EXPECT    one transfer: ClientResult JSON, then exit
 */
import { Target, client } from './helpers.js';

async function main(argv: string[]): Promise<void> {
  const [mode, ...a] = argv;
  if (mode === 'target') {
    const t = new Target(Number(a[1]));
    const port = await t.listen('::', Number(a[0])); // dual-stack: IPv4 and IPv6 clients
    const push = t.results.push.bind(t.results);
    t.results.push = (...items) => {
      for (const r of items) process.stdout.write(JSON.stringify(r) + '\n');
      return push(...items);
    };
    process.stdout.write(JSON.stringify({ listening: port }) + '\n');
    return;
  }
  if (mode === 'client') {
    const r = await client(Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4]), a[0]);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }
  process.stderr.write('usage: transfer.js target PORT REPLY | client HOST PORT UPLOAD SEED EXPECT\n');
  process.exit(2);
}

void main(process.argv.slice(2));
