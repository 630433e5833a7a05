/**
 * The native addon's typed face: raw ICMP echo sockets and the original destination of a
 * redirected connection. Everything here loads the addon on first use and raises WB_NATIVE if
 * it is missing (see addon.ts).
 */
export { nativeAddon, ADDON_FILE, DEFAULT_ADDON_PATH, type NativeAddon } from './addon.js';
export { NativeCallError } from './errors.js';
export { IcmpSocket, type IcmpSocketHandlers } from './icmp-socket.js';
export { originalDestination, getOriginalDst, connectionFamily, type OriginalDestination } from './original-dst.js';
