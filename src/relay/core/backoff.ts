/**
 * Reconnect backoff for a dead path: retryMin, doubling per failed attempt, at most retryMax, with
 * ±10 % jitter so that many paths do not retry in step. Pure (the random number is passed in).
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  const jittered = base * (0.9 + 0.2 * random);
  return Math.round(Math.min(maxMs, Math.max(minMs, jittered)));
}
