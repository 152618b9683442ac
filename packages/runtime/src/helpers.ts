// Small helpers every process uses, written once.
import { createHash } from 'node:crypto';

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
