// Request validation for the public API (SPEC §4). Every message starts with the name of the field it is
// about, so a client can tell what to fix. Nothing reaches the store before passing through here.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ACCOUNTS, MAX_AMOUNT, MAX_ASSET_ID, MAX_USER_ID, type Account } from '@it/store';

const DECIMAL = /^[1-9][0-9]*$/;
/** Enough digits for 2^63−1; longer strings are refused before BigInt() sees them. */
const MAX_DIGITS = 19;

export interface TransferRequest {
  from: Account;
  to: Account;
  userId: bigint;
  assetId: number;
  amount: bigint;
}

/**
 * A positive integer up to `max`, as a JSON integer or a decimal string. A JSON number beyond 2^53−1 is
 * refused: JSON.parse has already rounded it, so the value the client meant is lost.
 */
export function parsePositiveInt64(value: unknown, field: string, max: bigint = MAX_AMOUNT): bigint | string {
  if (value === undefined || value === null) return `${field} is required`;
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

function int64(field: string, max: bigint) {
  return z.unknown().transform((v, ctx) => {
    const r = parsePositiveInt64(v, field, max);
    if (typeof r === 'string') {
      ctx.addIssue(r);
      return z.NEVER;
    }
    return r;
  });
}

function account(field: 'from' | 'to') {
  return z.unknown().transform((v, ctx) => {
    if (v === undefined || v === null) ctx.addIssue(`${field} is required`);
    else if (typeof v !== 'string' || !(ACCOUNTS as readonly string[]).includes(v)) {
      ctx.addIssue(`${field} must be "funding" or "trading"`);
    } else return v as Account;
    return z.NEVER;
  });
}

const assetId = z.unknown().transform((v, ctx) => {
  if (v === undefined || v === null) ctx.addIssue('asset_id is required');
  else if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_ASSET_ID) {
    ctx.addIssue(`asset_id must be an integer in 1..${MAX_ASSET_ID}`);
  } else return v;
  return z.NEVER;
});

// Unknown extra fields are ignored (stripped), so a frontend may send annotations without breaking.
const transferBody = z
  .object({
    from: account('from'),
    to: account('to'),
    user_id: int64('user_id', MAX_USER_ID),
    asset_id: assetId,
    amount: int64('amount', MAX_AMOUNT),
  })
  .superRefine((b, ctx) => {
    if (b.from === b.to) ctx.addIssue('to must differ from from (funding → trading or trading → funding)');
  });

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function describe(error: z.ZodError): string {
  return error.issues.map((i) => i.message).join('; ');
}

export function parseTransferBody(body: unknown): Parsed<TransferRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object (Content-Type: application/json)' };
  }
  const r = transferBody.safeParse(body);
  if (!r.success) return { ok: false, message: describe(r.error) };
  const b = r.data;
  return { ok: true, value: { from: b.from, to: b.to, userId: b.user_id, assetId: b.asset_id, amount: b.amount } };
}

/** A user id from a token subject, a gateway header or a query parameter: a decimal string only. */
export function parseUserId(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !DECIMAL.test(value) || value.length > MAX_DIGITS) return undefined;
  const n = BigInt(value);
  return n <= MAX_USER_ID ? n : undefined;
}

// RFC-style printable ASCII (space allowed inside); Node has already trimmed the header value.
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

export function parseIdempotencyKey(value: string | undefined): Parsed<string | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (!IDEMPOTENCY_KEY.test(value)) {
    return { ok: false, message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' };
  }
  return { ok: true, value };
}

/** Same transfer ⇔ same hash, whatever the JSON spelling (amount 300 or "300", key order, extra fields). */
export function requestHash(t: TransferRequest): string {
  const canonical = [t.from, t.to, t.userId.toString(), String(t.assetId), t.amount.toString()].join('|');
  return createHash('sha256').update(canonical).digest('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export function parseListQuery(query: Record<string, unknown>): Parsed<{ limit: number; cursor: string | undefined }> {
  let limit = DEFAULT_LIMIT;
  if (query.limit !== undefined) {
    const l = query.limit;
    if (typeof l !== 'string' || !/^[1-9][0-9]{0,2}$/.test(l) || Number(l) > MAX_LIMIT) {
      return { ok: false, message: `limit must be an integer in 1..${MAX_LIMIT}` };
    }
    limit = Number(l);
  }
  let cursor: string | undefined;
  if (query.cursor !== undefined && query.cursor !== '') {
    const decoded = decodeCursor(query.cursor);
    if (decoded === undefined) return { ok: false, message: 'cursor is not a value this API returned' };
    cursor = decoded;
  }
  return { ok: true, value: { limit, cursor } };
}

// The cursor is the driver's paging state (hex), re-encoded so clients treat it as opaque.
export function encodeCursor(pageState: string | null): string | null {
  return pageState ? Buffer.from(pageState, 'hex').toString('base64url') : null;
}

function decodeCursor(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,1024}$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64url');
  // Round-trip check: refuses strings Buffer decoded leniently.
  if (bytes.length === 0 || bytes.toString('base64url') !== value) return undefined;
  return bytes.toString('hex');
}
