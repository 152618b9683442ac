// Request validation for the public API (SPEC §4). Every message starts with the name of the field it is
// about, so a client can tell what to fix. Nothing reaches the store before passing through here.
import { z } from 'zod';
import { isAccount, MAX_AMOUNT, MAX_ASSET_ID, MAX_USER_ID, positiveInt64 } from '@it/domain';
import { sha256 } from '@it/runtime';
import type { NewTransfer } from '@it/store';

/**
 * A transfer as a client asked for it. The wire says `from`/`to` (the seed's contract); everything past this
 * file says `source`/`target`, as the store and the GET view do: parseTransferBody is the one translation.
 */
export type TransferRequest = Pick<NewTransfer, 'source' | 'target' | 'userId' | 'assetId' | 'amount'>;

function account(field: 'from' | 'to') {
  return z.unknown().transform((v, ctx) => {
    if (v === undefined || v === null) ctx.addIssue(`${field} is required`);
    else if (!isAccount(v)) ctx.addIssue(`${field} must be "funding" or "trading"`);
    else return v;
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
    user_id: positiveInt64('user_id', MAX_USER_ID),
    asset_id: assetId,
    amount: positiveInt64('amount', MAX_AMOUNT),
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
  return { ok: true, value: { source: b.from, target: b.to, userId: b.user_id, assetId: b.asset_id, amount: b.amount } };
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
  const canonical = [t.source, t.target, t.userId.toString(), String(t.assetId), t.amount.toString()].join('|');
  return sha256(canonical).toString('hex');
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
