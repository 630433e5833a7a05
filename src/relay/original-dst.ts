/**
 * The original-destination lookup for transparent entries, from the project's native addon
 * (`getOriginalDst(fd, family)`: SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST; see docs/architecture.md
 * for why an N-API addon). The addon loads on the first redirected connection, so hosts without
 * transparent entries never need it; when it is missing each lookup throws WB_NATIVE, and the
 * entry resets that connection and says why.
 */
import { getOriginalDst } from '../native/index.js';
import type { OriginalDstLookup } from './links.js';

export const nativeOriginalDst: OriginalDstLookup = (fd, family) => {
  const d = getOriginalDst(fd, family);
  return { host: d.address, port: d.port };
};
