// Request validation for the public API (SPEC §4). Every message starts with the name of the field it is
// about, so a client can tell what to fix. Nothing reaches the store before passing through here. The schemas
// are declared with their real shapes (enums, bounds, patterns): openapi.ts generates the published contract
// from these same objects, so the document cannot say something the validation does not do.
import { z } from 'zod';
import { ACCOUNTS, MAX_AMOUNT, MAX_ASSET_ID, MAX_USER_ID, parsePositiveInt64 } from '@it/domain';
import { sha256 } from '@it/runtime';
import type { NewTransfer } from '@it/store';

/**
 * A transfer as a client asked for it. The wire says `from`/`to` (the seed's contract); everything past this
 * file says `source`/`target`, as the store and the GET view do: parseTransferBody is the one translation.
 */
export type TransferRequest = Pick<NewTransfer, 'source' | 'target' | 'userId' | 'assetId' | 'amount'>;

const absent = (v: unknown) => v === undefined || v === null;

function account(field: 'from' | 'to', description: string) {
  return z
    .enum(ACCOUNTS, { error: (iss) => (absent(iss.input) ? `${field} is required` : `${field} must be "funding" or "trading"`) })
    .meta({ description });
}

const ASSET_ID_RULE = `asset_id must be an integer in 1..${MAX_ASSET_ID}`;
const assetId = z
  .int({ error: (iss) => (absent(iss.input) ? 'asset_id is required' : ASSET_ID_RULE) })
  .min(1, { error: ASSET_ID_RULE })
  .max(MAX_ASSET_ID, { error: ASSET_ID_RULE })
  .meta({ description: 'The asset, as the exchange numbers them (a signed 32-bit id).', example: 1 });

/**
 * A positive 64-bit integer on the wire: a JSON integer up to 2^53−1, a decimal string up to `max`, or a JSON
 * integer beyond 2^53−1 that the lossless body parser read exactly (a bigint). Whatever check fails, the
 * message is @it/domain's for that input, so both spellings are refused in the same words.
 */
function positiveInt64(field: string, max: bigint, description: string, example: string) {
  const error = (iss: { input?: unknown }) => {
    const r = parsePositiveInt64(iss.input, field, max);
    return typeof r === 'string' ? r : `${field} is invalid`;
  };
  const digits = max.toString().length;
  return z
    .union(
      [
        z.int({ error }).min(1, { error }).max(Number.MAX_SAFE_INTEGER, { error }),
        z
          .string({ error })
          .regex(/^[1-9][0-9]*$/, { error, abort: true })
          .max(digits, { error, abort: true })
          .refine((s) => BigInt(s) <= max, { error }),
        z
          .bigint({ error })
          .min(1n, { error })
          .max(max, { error })
          // Documented as what it is on the wire; zod-to-openapi would otherwise describe a bigint as a string.
          .meta({
            type: 'integer',
            minimum: Number.MAX_SAFE_INTEGER + 1,
            description: `A JSON integer beyond 2^53−1 (up to ${max}) is read exactly, but many JSON libraries round such numbers: send a decimal string instead.`,
          }),
      ],
      { error },
    )
    .transform((v) => BigInt(v))
    .meta({ description: `${description} A JSON integer (1..2^53−1) or a decimal string (1..${max}).`, example });
}

/** The body of POST /api/v1/transfer. Unknown extra fields are ignored (stripped), so a frontend may annotate. */
export const transferRequestSchema = z
  .object({
    from: account('from', 'The account the funds leave.'),
    to: account('to', 'The account the funds arrive in; must differ from `from`.'),
    user_id: positiveInt64('user_id', MAX_USER_ID, 'The user whose funds move: with AUTH_MODE=jwt, the token subject.', '1001'),
    asset_id: assetId,
    amount: positiveInt64('amount', MAX_AMOUNT, 'Minor units of the asset.', '2500'),
  })
  .superRefine((b, ctx) => {
    if (b.from === b.to) ctx.addIssue('to must differ from from (funding → trading or trading → funding)');
  })
  .meta({
    id: 'TransferRequest',
    description: 'A transfer of `amount` of one asset between the user\'s two accounts.',
    example: { from: 'funding', to: 'trading', user_id: '1001', asset_id: 1, amount: '2500' },
  });

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** One message per field (its first problem), in field order, then the body-wide ones. */
function describe(error: z.ZodError): string {
  const seen = new Set<PropertyKey>();
  const messages: string[] = [];
  for (const issue of error.issues) {
    const field = issue.path[0];
    if (field !== undefined) {
      if (seen.has(field)) continue;
      seen.add(field);
    }
    messages.push(issue.message);
  }
  return messages.join('; ');
}

export function parseTransferBody(body: unknown): Parsed<TransferRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object (Content-Type: application/json)' };
  }
  const r = transferRequestSchema.safeParse(body);
  if (!r.success) return { ok: false, message: describe(r.error) };
  const b = r.data;
  return { ok: true, value: { source: b.from, target: b.to, userId: b.user_id, assetId: b.asset_id, amount: b.amount } };
}

const IDEMPOTENCY_KEY_RULE = 'Idempotency-Key must be 1 to 255 printable ASCII characters';
// RFC-style printable ASCII (space allowed inside); Node has already trimmed the header value.
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, { error: IDEMPOTENCY_KEY_RULE })
  .meta({
    description:
      'Optional, recommended: the same key from the same user returns the same transfer (and its current status) instead of creating another; the same key with a different body is answered 409.',
    example: 'order-17-rebalance',
  });

export function parseIdempotencyKey(value: string | undefined): Parsed<string | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  return idempotencyKeySchema.safeParse(value).success ? { ok: true, value } : { ok: false, message: IDEMPOTENCY_KEY_RULE };
}

export const preferSchema = z
  .string()
  .meta({
    description:
      'RFC 7240. `respond-async`: answer 202 `pending` at once instead of waiting for the outcome, for a client that follows the events stream (answered with `Preference-Applied: respond-async`). Other preferences are ignored.',
    example: 'respond-async',
  });

/** Whether a `Prefer` header (RFC 7240: comma-separated preferences, each `token[=value][; params]`) asks for respond-async. */
export function prefersAsync(value: string | undefined): boolean {
  return (value ?? '').split(',').some((p) => p.split(';')[0]!.split('=')[0]!.trim().toLowerCase() === 'respond-async');
}

/** A transfer's id in a path: a UUID in any letter case (Cassandra stores it as one value). */
export const reqIdSchema = z.guid().meta({ description: 'The transfer\'s id, as POST returned it.', example: '0b45e5e0-8f17-4c58-b5f5-c9982981e7a3' });

/** The req_id in its stored (lower-case) spelling, or undefined when it is not a UUID. */
export function parseReqId(value: unknown): string | undefined {
  const r = reqIdSchema.safeParse(value);
  return r.success ? r.data.toLowerCase() : undefined;
}

/** Same transfer ⇔ same hash, whatever the JSON spelling (amount 300 or "300", key order, extra fields). */
export function requestHash(t: TransferRequest): string {
  const canonical = [t.source, t.target, t.userId.toString(), String(t.assetId), t.amount.toString()].join('|');
  return sha256(canonical).toString('hex');
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;
const LIMIT_RULE = `limit must be an integer in 1..${MAX_LIMIT}`;
const CURSOR_RULE = 'cursor is not a value this API returned';

// The cursor is the driver's paging state (hex), re-encoded so clients treat it as opaque.
export function encodeCursor(pageState: string | null): string | null {
  return pageState ? Buffer.from(pageState, 'hex').toString('base64url') : null;
}

/** The driver's paging state behind a cursor; undefined for a string this API cannot have returned. */
function decodeCursor(value: string): string | undefined {
  const bytes = Buffer.from(value, 'base64url');
  // Round-trip check: refuses strings Buffer decoded leniently.
  if (bytes.length === 0 || bytes.toString('base64url') !== value) return undefined;
  return bytes.toString('hex');
}

/** The query of GET /api/v1/transfers. Query values are strings (or arrays when repeated, which are refused). */
export const listQuerySchema = z.object({
  limit: z
    .string({ error: LIMIT_RULE })
    .regex(/^[1-9][0-9]{0,2}$/, { error: LIMIT_RULE, abort: true })
    .refine((s) => Number(s) <= MAX_LIMIT, { error: LIMIT_RULE })
    .transform(Number)
    .optional()
    // A query value is text: documented as the integer it spells.
    .meta({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Transfers per page.' }),
  cursor: z
    .string({ error: CURSOR_RULE })
    .regex(/^[A-Za-z0-9_-]{0,1024}$/, { error: CURSOR_RULE, abort: true })
    .transform((s, ctx) => {
      if (s === '') return undefined;
      const decoded = decodeCursor(s);
      if (decoded === undefined) ctx.addIssue(CURSOR_RULE);
      return decoded;
    })
    .optional()
    .meta({ description: 'The `next_cursor` of the previous page; absent or empty for the first page.' }),
});

export function parseListQuery(query: Record<string, unknown>): Parsed<{ limit: number; cursor: string | undefined }> {
  const r = listQuerySchema.safeParse({ limit: query.limit, cursor: query.cursor });
  if (!r.success) return { ok: false, message: describe(r.error) };
  return { ok: true, value: { limit: r.data.limit ?? DEFAULT_LIMIT, cursor: r.data.cursor } };
}
