// Request validation. Every message names the field, and nothing a client sends reaches the store unchecked.
import { z } from 'zod';
import { MAX_ASSET_ID, MAX_USER_ID, isUuid, positiveInt64 } from '@it/domain';

export const reqIdSchema = z
  .string({ error: 'req_id must be a UUID string' })
  .refine(isUuid, { error: 'req_id must be a UUID' })
  // Cassandra stores uuids, so two spellings of one id are one operation: normalize before comparing.
  .transform((s) => s.toLowerCase());

/**
 * A positive int64 field by @it/domain's rule, except that a missing one is told what to send rather than
 * only that it is required.
 */
function positiveInt64Field(field: string, max?: bigint) {
  const missing = `${field} must be a positive integer (JSON integer or decimal string)`;
  return (
    z
      .unknown()
      // `: boolean`, not an inferred type guard, so the pipe's input stays `unknown`.
      .refine((v): boolean => v !== undefined && v !== null, { error: missing })
      .pipe(positiveInt64(field, max))
  );
}

export const userIdSchema = positiveInt64Field('user_id', MAX_USER_ID);
export const amountSchema = positiveInt64Field('amount');

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
