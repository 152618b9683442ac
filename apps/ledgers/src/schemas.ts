// Request validation. Every message names the field, and nothing a client sends reaches the store unchecked.
import { z } from 'zod';
import { MAX_ASSET_ID } from './assets.ts';
import { MAX_AMOUNT } from './ledger-store.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const reqIdSchema = z
  .string({ error: 'req_id must be a UUID string' })
  .regex(UUID_RE, { error: 'req_id must be a UUID' })
  // Cassandra stores uuids, so two spellings of one id are one operation: normalize before comparing.
  .transform((s) => s.toLowerCase());

/** A positive int64 as a decimal string (canonical) or a JSON integer up to 2^53-1. */
function positiveInt64(field: string) {
  const message = `${field} must be a positive integer (decimal string) no greater than 2^63-1`;
  return z.unknown().transform((v, ctx) => {
    let s: string | undefined;
    if (typeof v === 'string') s = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) s = String(v);
    if (s === undefined || !/^[1-9][0-9]{0,18}$/.test(s) || BigInt(s) > MAX_AMOUNT) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return BigInt(s);
  });
}

export const userIdSchema = positiveInt64('user_id');
export const amountSchema = positiveInt64('amount');

export const assetIdSchema = z.unknown().transform((v, ctx) => {
  // Path parameters arrive as strings; bodies carry a JSON integer.
  const n = typeof v === 'string' && /^[1-9][0-9]{0,9}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_ASSET_ID) {
    ctx.addIssue({ code: 'custom', message: `asset_id must be an integer in 1..${MAX_ASSET_ID}` });
    return z.NEVER;
  }
  return n;
});

export const movementBody = z.object(
  { req_id: reqIdSchema, user_id: userIdSchema, asset_id: assetIdSchema, amount: amountSchema },
  { error: 'body must be a JSON object' },
);

export const reqIdBody = z.object({ req_id: reqIdSchema }, { error: 'body must be a JSON object' });

export const creditBody = z.object(
  { req_id: reqIdSchema.optional(), user_id: userIdSchema, asset_id: assetIdSchema, amount: amountSchema },
  { error: 'body must be a JSON object' },
);

export const balanceParams = z.object({ user_id: userIdSchema, asset_id: assetIdSchema });

/** `user_id: must be …`: the first problem, with the field it is about. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const field = i.path.map(String).join('.');
      // Our own messages already start with the field's name.
      return field && !i.message.startsWith(field) ? `${field}: ${i.message}` : i.message;
    })
    .join('; ');
}
