// The frontend's contract: an OpenAPI 3.1 document generated from the zod schemas the handlers validate and
// answer with (validation.ts, wire.ts), so it cannot promise what the code does not do. Served at
// GET /api/v1/openapi.json, rendered at /api/docs, written to docs/openapi.json (the typed client in
// packages/client is generated from it), linted by `npm run check`, and every response the tests receive is
// validated against it.
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { idempotencyKeySchema, listQuerySchema, preferSchema, reqIdSchema, transferRequestSchema } from './validation.ts';
import {
  errorSchema, transferOutcomeSchema, transferPageSchema, transferPendingSchema, transferRefusalSchema, transferViewSchema,
} from './wire.ts';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/api/docs';
export const EVENTS_PATH = '/api/v1/transfer/{req_id}/events';
/** The extension naming the schema of each SSE `data:` line (OpenAPI 3.1 has no item schema for streams). */
export const SSE_DATA_EXTENSION = 'x-event-data';

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

const retryAfter = z.object({
  'Retry-After': z.string().regex(/^[0-9]+$/).meta({ description: 'Seconds to wait before retrying.', example: '5' }),
});
const wwwAuthenticate = z.object({
  'WWW-Authenticate': z.string().optional().meta({ description: 'With AUTH_MODE=jwt: `Bearer`.', example: 'Bearer' }),
});

/** The error responses of one operation, in its error shape (POST: TransferRefusal; reads: Error). */
function errors(body: z.ZodType, statuses: number[]): Record<number, ResponseConfig> {
  const all: Record<number, ResponseConfig> = {
    400: { description: 'Invalid request: the message names the field.', content: json(body) },
    401: { description: 'No or invalid credentials.', headers: wwwAuthenticate, content: json(body) },
    403: { description: 'The body\'s `user_id` is not the authenticated user.', content: json(body) },
    404: { description: 'No such transfer, or it belongs to another user (indistinguishable on purpose).', content: json(body) },
    409: { description: 'The Idempotency-Key was already used by this user with a different request.', content: json(body) },
    413: { description: 'The body is larger than the configured BODY_LIMIT.', content: json(body) },
    415: { description: 'The body\'s encoding or charset cannot be read.', content: json(body) },
    429: { description: 'An abuse limit: retry after `Retry-After` seconds (nothing was written).', headers: retryAfter, content: json(body) },
    500: { description: 'An internal error (details are logged with the req_id, never sent).', content: json(body) },
    503: {
      description: 'Storage or the token verifier is unavailable: safe to retry (a POST best with the same Idempotency-Key).',
      content: json(body),
    },
  };
  return Object.fromEntries(statuses.map((s) => [s, all[s]!]));
}

function registry(): OpenAPIRegistry {
  const r = new OpenAPIRegistry();
  r.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'AUTH_MODE=jwt: a JWT whose `sub` is the user id. (Behind a gateway, AUTH_MODE=header: the gateway authenticates and sets the user header; the frontend sends what the gateway expects.)',
  });
  const reqIdParam = z.object({ req_id: reqIdSchema });

  r.registerPath({
    method: 'post',
    path: '/api/v1/transfer',
    operationId: 'createTransfer',
    summary: 'Move funds between the user\'s Funding and Trading accounts',
    description:
      'Creates the transfer durably, then waits briefly (SYNC_WAIT_MS) for its outcome: 200 when it finished, 202 `pending` when it still runs (follow it with GET or the events stream). Once a transfer exists the answer always carries its req_id.',
    tags: ['transfers'],
    request: {
      headers: z.object({ 'Idempotency-Key': idempotencyKeySchema.optional(), Prefer: preferSchema.optional() }),
      body: { required: true, content: json(transferRequestSchema) },
    },
    responses: {
      200: { description: 'The transfer finished within the wait window.', content: json(transferOutcomeSchema) },
      202: {
        description: 'Accepted and durable, still running (or its outcome is not known yet), or answered at once for `Prefer: respond-async`.',
        headers: z.object({
          'Preference-Applied': z.literal('respond-async').optional().meta({ description: 'Present when `Prefer: respond-async` was honoured.' }),
        }),
        content: json(transferPendingSchema),
      },
      ...errors(transferRefusalSchema, [400, 401, 403, 409, 413, 415, 429, 500, 503]),
    },
  });

  r.registerPath({
    method: 'get',
    path: '/api/v1/transfer/{req_id}',
    operationId: 'getTransfer',
    summary: 'One transfer of the caller',
    tags: ['transfers'],
    request: { params: reqIdParam },
    responses: {
      200: { description: 'The transfer as stored now.', content: json(transferViewSchema) },
      ...errors(errorSchema, [400, 401, 404, 500, 503]),
    },
  });

  r.registerPath({
    method: 'get',
    path: EVENTS_PATH,
    operationId: 'streamTransferEvents',
    summary: 'Live status of one transfer (Server-Sent Events)',
    description: [
      'A `text/event-stream`: the transfer\'s current state at once, then one event per state change; the server closes the stream after a final state (`committed`, `rolled_back`, `failed`).',
      'Each event is `event: state`, `id: <version>` (increasing per transfer) and one `data:` line holding the transfer as GET returns it (schema `Transfer`, named by `x-event-data`).',
      'Comment lines (`: heartbeat`) keep idle connections open. Works on any API replica: state changes travel through Redis.',
      'Authenticated like GET, with `Authorization: Bearer`: browsers read the stream with `fetch` (the typed client\'s `watchTransfer`), since `EventSource` cannot send headers and a token in the URL would leak into logs and history.',
      'Open streams are bounded per user (429) and per process (503), both with `Retry-After`.',
    ].join('\n\n'),
    tags: ['transfers'],
    request: {
      params: reqIdParam,
      headers: z.object({
        'Last-Event-ID': z.string().regex(/^[0-9]+$/).optional().meta({
          description: 'Sent by a reconnecting client: the current state is then sent only if it is newer than this event id.',
        }),
      }),
    },
    responses: {
      200: {
        description: 'The event stream.',
        content: {
          'text/event-stream': {
            schema: { type: 'string', description: 'Server-Sent Events; see the operation\'s description.' },
            example: 'event: state\nid: 3\ndata: {"req_id":"0b45e5e0-8f17-4c58-b5f5-c9982981e7a3","state":"committed",…}\n\n',
          },
        },
      },
      ...errors(errorSchema, [400, 401, 404, 429, 500, 503]),
    },
    [SSE_DATA_EXTENSION]: { $ref: '#/components/schemas/Transfer' },
  });

  r.registerPath({
    method: 'get',
    path: '/api/v1/transfers',
    operationId: 'listTransfers',
    summary: 'The caller\'s transfers, newest first',
    tags: ['transfers'],
    request: { query: listQuerySchema },
    responses: {
      200: { description: 'One page; it may be short, or empty with a null `next_cursor` at the end.', content: json(transferPageSchema) },
      ...errors(errorSchema, [400, 401, 500, 503]),
    },
  });

  return r;
}

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** The document, generated afresh (pure: no I/O). */
export function openApiDocument(): OpenApiDocument {
  return new OpenApiGeneratorV31(registry().definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Internal Transfer API',
      version: '1.0.0',
      description: [
        'Moves a user\'s funds between their Funding and Trading accounts exactly once.',
        'Amounts are positive integers in the asset\'s minor units; responses send them (and user ids) as decimal strings so no JSON parser rounds them.',
        'Every response carries `Cache-Control: no-store`. CORS is answered for the origins in CORS_ORIGINS only.',
      ].join('\n\n'),
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/', description: 'The API\'s public listener' }],
    security: [{ bearerAuth: [] }],
    tags: [{ name: 'transfers', description: 'Create transfers and follow them.' }],
  });
}
