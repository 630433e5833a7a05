/**
 * Finding the original-destination lookup for transparent entries. Node has no SO_ORIGINAL_DST;
 * the project's native addon (src/native/) provides `getOriginalDst(fd, family)`. Until it is
 * present this resolves to undefined, and a transparent entry resets the connections it cannot
 * place (logged once).
 */
import type { Logger } from '../log.js';
import type { OriginalDstLookup } from './links.js';

export async function loadOriginalDst(_logger: Logger): Promise<OriginalDstLookup | undefined> {
  return undefined;
}
