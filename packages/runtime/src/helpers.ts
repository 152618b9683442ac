// Small helpers every process uses, written once.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@it/observability';

/** An error's message for a log line, whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `p`, or a rejection once `ms` have passed. The original promise may still settle later; its rejection is
 * swallowed so it never goes unhandled.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * A check of a presented secret against `expected`, in constant time: both are compared as SHA-256 digests,
 * so neither the time nor the length says anything. A missing value is compared as empty (configured
 * secrets never are).
 */
export function secretChecker(expected: string): (presented: string | undefined) => boolean {
  const digest = sha256(expected);
  return (presented) => timingSafeEqual(sha256(presented ?? ''), digest);
}

/** A warning logged at most once per `everyMs`: one line per failure burst, whatever the rate of errors. */
export function throttledWarn(logger: Logger, everyMs = 30_000): (err: unknown, message: string) => void {
  let last = 0;
  return (err, message) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    logger.warn({ err: errorMessage(err) }, message);
  };
}
