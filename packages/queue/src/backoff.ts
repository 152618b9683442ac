// The retry policy of unknown outcomes: pure, so it is unit- and mutation-tested on its own.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with full jitter, capped: attempt 1 waits up to base, attempt n up to base·2^(n-1).
 * `random` is injectable so the policy is testable.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  // Half fixed, half jittered: spreads retries without ever retrying immediately.
  return Math.round(exp / 2 + random() * (exp / 2));
}
