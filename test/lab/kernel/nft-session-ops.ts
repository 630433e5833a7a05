/**
 * Ops for nft-session.test.ts, run by the lab driver inside the namespace: an Nft adapter with a
 * kept libnftables context (as the daemon makes it), so the context's netlink socket belongs to
 * the lab namespace.
 */
import { Nft, NftError } from '../../../src/kernel/nft/nft.js';
import { NftSession } from '../../../src/kernel/nft/session.js';
import type { NftBatch } from '../../../src/kernel/nft/json.js';

let session: NftSession | undefined;
let nft: Nft | undefined;
const adapter = () => (nft ??= new Nft({ session: (session ??= NftSession.open()) }));

export const ops = {
  transport: () => adapter().transport,
  install: (a: { batch: NftBatch }) => adapter().apply(a.batch),
  update: (a: { batch: NftBatch }) => adapter().update(a.batch),
  /** An update expected to be refused: its NftError as data, or 'accepted'. */
  refused: async (a: { batch: NftBatch }) => {
    try {
      await adapter().update(a.batch);
      return 'accepted';
    } catch (err) {
      return err instanceof NftError ? { code: err.code, message: err.nftMessage, commands: err.commands } : { other: String(err) };
    }
  },
  mapElements: (a: { table: string; map: string }) => adapter().mapElements('inet', a.table, a.map),
  counters: async (a: { table: string }) => Object.fromEntries(await adapter().counters('inet', a.table)),
  tables: () => adapter().listTables(),
  runs: () => session?.count ?? 0,
  /** Several updates at once: they run one at a time, in call order. */
  burst: (a: { batches: NftBatch[] }) => Promise.all(a.batches.map((b) => adapter().update(b))),
  close: () => nft?.close(),
  closedRun: async () => {
    try {
      await adapter().listTables();
      return 'ran';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  },
};

export async function close(): Promise<void> {
  await nft?.close();
}
