// JSON shapes of the public API (SPEC §4), declared once as zod schemas: the handlers' types are inferred
// from them and openapi.ts publishes them, so a response cannot drift from its documentation unnoticed. Money
// and user ids cross JSON as decimal strings.
import type { Response } from 'express';
import { z } from 'zod';
import { ACCOUNTS } from '@it/domain';
import { isTerminal, STATES, TERMINAL_STATES } from '@it/fsm';
import type { TransferRecord } from '@it/store';

const reqId = z.guid().meta({ description: 'The transfer\'s id (a UUID).', example: '0b45e5e0-8f17-4c58-b5f5-c9982981e7a3' });
const decimal = (description: string, example: string) => z.string().regex(/^[1-9][0-9]*$/).meta({ description, example });

/** POST answered with a finished transfer (200). */
export const transferOutcomeSchema = z
  .object({
    req_id: reqId,
    status: z.enum(TERMINAL_STATES).meta({
      description: '`committed`: both legs final. `rolled_back`: the source was debited and given back (net zero). `failed`: nothing moved.',
    }),
    message: z.string().nullable().meta({ description: 'The refusal\'s reason for `failed` and `rolled_back`; null when committed.' }),
  })
  .meta({ id: 'TransferOutcome', description: 'The transfer finished within the sync-wait window.' });

/** POST answered while the transfer still runs (202): follow it with GET or the events stream. */
export const transferPendingSchema = z
  .object({
    req_id: reqId,
    status: z.literal('pending'),
    message: z.null(),
  })
  .meta({ id: 'TransferPending', description: 'Accepted and durable, not finished yet (or its outcome is not known yet).' });

/** Every refusal of POST keeps the transfer-result shape, with no req_id. */
export const transferRefusalSchema = z
  .object({
    req_id: z.literal('').meta({ description: 'Empty: no transfer was created.' }),
    status: z.literal('failed'),
    message: z.string().meta({ description: 'What was wrong; a validation message starts with the field\'s name.' }),
  })
  .meta({ id: 'TransferRefusal', description: 'The request was refused; nothing was created.' });

/** Errors of the read endpoints. */
export const errorSchema = z
  .object({ error: z.string().meta({ example: 'Transfer not found' }) })
  .meta({ id: 'Error' });

/** A transfer as GET and the events stream show it. */
export const transferViewSchema = z
  .object({
    req_id: reqId,
    state: z.enum(STATES).meta({
      description:
        'The saga\'s state. `init`, `source_pending`, `source_done`, `target_pending`, `finalizing` and `compensating` are in progress; `committed`, `rolled_back` and `failed` are final.',
    }),
    source: z.enum(ACCOUNTS),
    target: z.enum(ACCOUNTS),
    user_id: decimal('The owner, as a decimal string.', '1001'),
    asset_id: z.int().min(1),
    amount: decimal('Minor units, as a decimal string.', '2500'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    error: z.string().nullable().meta({ description: 'A refusal\'s reason, or the last unknown outcome while retrying.' }),
    retry_count: z.int().min(0).meta({ description: 'Unknown outcomes in a row in the current state.' }),
  })
  .meta({ id: 'Transfer' });

export const transferPageSchema = z
  .object({
    items: z.array(transferViewSchema),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
  })
  .meta({ id: 'TransferPage' });

export type TransferResult = z.infer<typeof transferOutcomeSchema> | z.infer<typeof transferPendingSchema>;
export type PublicStatus = TransferResult['status'];
export type TransferView = z.infer<typeof transferViewSchema>;

/** Every internal non-terminal state (init, source_pending, …, compensating) is `pending` to clients. */
export function resultOf(record: TransferRecord): TransferResult {
  if (isTerminal(record.state)) return { req_id: record.reqId, status: record.state, message: record.error };
  return pendingResult(record.reqId);
}

export function pendingResult(reqId: string): TransferResult {
  return { req_id: reqId, status: 'pending', message: null };
}

export function sendResult(res: Response, result: TransferResult): void {
  res.status(result.status === 'pending' ? 202 : 200).json(result);
}

/** Errors on POST keep the transfer-result shape, with no req_id. */
export function sendPostError(res: Response, httpStatus: number, message: string): void {
  res.status(httpStatus).json({ req_id: '', status: 'failed', message } satisfies z.infer<typeof transferRefusalSchema>);
}

export function sendGetError(res: Response, httpStatus: number, error: string): void {
  res.status(httpStatus).json({ error } satisfies z.infer<typeof errorSchema>);
}

export function transferView(r: TransferRecord): TransferView {
  return {
    req_id: r.reqId,
    state: r.state,
    source: r.source,
    target: r.target,
    user_id: r.userId.toString(),
    asset_id: r.assetId,
    amount: r.amount.toString(),
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    error: r.error,
    retry_count: r.attempt,
  };
}
