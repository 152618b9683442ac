// The values every part of the product agrees on, defined once: the two accounts, the bounds of ids and
// amounts, a movement of money, and the outcome of a call to a Funding or Trading service. Pure: no I/O.
import { z } from 'zod';

export const ACCOUNTS = ['funding', 'trading'] as const;
/** One of the user's two accounts, and the service that keeps it. */
export type Account = (typeof ACCOUNTS)[number];

export function isAccount(value: unknown): value is Account {
  return typeof value === 'string' && (ACCOUNTS as readonly string[]).includes(value);
}

/** Amounts are minor units in a signed 64-bit column: 1..2^63-1. */
export const MAX_AMOUNT = 2n ** 63n - 1n;
export const MAX_USER_ID = 2n ** 63n - 1n;
/** Asset ids are a signed 32-bit column: 1..2^31-1. */
export const MAX_ASSET_ID = 2 ** 31 - 1;

/** One leg of a transfer as a service sees it: take or give `amount` of an asset, idempotent by `reqId`. */
export interface Movement {
  reqId: string;
  userId: bigint;
  assetId: number;
  /** Minor units, 1..MAX_AMOUNT. */
  amount: bigint;
}

/**
 * What a call to a service proved. The saga's events are these kinds (plus `begin`), so an outcome is fed to
 * the FSM as it is.
 */
export type Outcome =
  | { kind: 'success' }
  /** A definite business refusal: the service applied nothing and never will for this req_id. */
  | { kind: 'failed'; reason: string }
  /** The unknown outcome: timeout, reset, 5xx, malformed reply. The call may have applied; ask again later. */
  | { kind: 'pending'; detail: string; cause?: PendingCause };
export type OutcomeKind = Outcome['kind'];

/**
 * Why an outcome is unknown, for operators (metrics): `timeout` (no reply within the deadline),
 * `connection_error` (refused, reset, DNS…), `server_error` (HTTP 5xx), `bad_reply` (a reply that is not the
 * contract's), `in_flight` (the service says it is still working on it), `adapter_error` (the adapter threw),
 * `unspecified` (an adapter that gives no cause). Never a reason to guess: every cause is retried the same way.
 */
export const PENDING_CAUSES = ['timeout', 'connection_error', 'server_error', 'bad_reply', 'in_flight', 'adapter_error', 'unspecified'] as const;
export type PendingCause = (typeof PENDING_CAUSES)[number];

export const success = (): Outcome => ({ kind: 'success' });
export const failed = (reason: string): Outcome => ({ kind: 'failed', reason });
export const pending = (detail: string, cause?: PendingCause): Outcome =>
  cause === undefined ? { kind: 'pending', detail } : { kind: 'pending', detail, cause };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A transfer's req_id: a UUID in any letter case (Cassandra stores it as one value). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

const DECIMAL = /^[1-9][0-9]*$/;
/** Enough digits for 2^63−1; longer strings are refused before BigInt() sees them. */
const MAX_DIGITS = 19;

/**
 * A positive integer up to `max`, as a JSON integer (number, or bigint when a lossless parser read one beyond
 * 2^53−1) or a decimal string; returns the value or a message that starts with `field`. A JS number beyond
 * 2^53−1 is refused: whoever made it (JSON.parse) has already rounded it, so the value meant is lost.
 */
export function parsePositiveInt64(value: unknown, field: string, max: bigint = MAX_AMOUNT): bigint | string {
  if (value === undefined || value === null) return `${field} is required`;
  // A JSON integer beyond 2^53-1, read exactly by a lossless body parser.
  if (typeof value === 'bigint') {
    if (value <= 0n) return `${field} must be a positive integer`;
    return value > max ? `${field} must be at most ${max}` : value;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) return `${field} must be a positive integer`;
    if (!Number.isSafeInteger(value)) {
      return `${field} is larger than 2^53-1 as a JSON number and has lost precision; send it as a decimal string`;
    }
    const n = BigInt(value);
    return n > max ? `${field} must be at most ${max}` : n;
  }
  if (typeof value === 'string') {
    if (!DECIMAL.test(value)) {
      return `${field} must be a positive integer (a decimal string of digits, no sign, fraction or leading zeros)`;
    }
    if (value.length > MAX_DIGITS || BigInt(value) > max) return `${field} must be at most ${max}`;
    return BigInt(value);
  }
  return `${field} must be a positive integer (JSON integer or decimal string)`;
}

/** A user id from a token subject, a gateway header, a query or a path: a decimal string only. */
export function parseUserId(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !DECIMAL.test(value) || value.length > MAX_DIGITS) return undefined;
  const n = BigInt(value);
  return n <= MAX_USER_ID ? n : undefined;
}

/** zod schema of `parsePositiveInt64`: the boundary type of amounts and user ids in request bodies. */
export function positiveInt64(field: string, max: bigint = MAX_AMOUNT) {
  return z.unknown().transform((v, ctx) => {
    const r = parsePositiveInt64(v, field, max);
    if (typeof r === 'string') {
      ctx.addIssue(r);
      return z.NEVER;
    }
    return r;
  });
}
