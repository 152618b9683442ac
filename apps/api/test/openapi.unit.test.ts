// The document says what the validation does: the published request schema accepts exactly the bodies the
// API's parser accepts, but for two rules JSON Schema cannot state simply (from ≠ to, a decimal string's
// maximum), which the descriptions state; its enums and bounds are the domain's.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ACCOUNTS, MAX_ASSET_ID } from '@it/domain';
import { STATES } from '@it/fsm';
import { openApiDocument } from '../src/openapi.ts';
import { parseTransferBody } from '../src/validation.ts';

const document = openApiDocument();
const schemas = document.components!.schemas! as Record<string, Record<string, unknown>>;
const ajv = new Ajv2020({ strict: false });
ajv.addSchema(document, 'doc');
const requestSchema = ajv.getSchema('doc#/components/schemas/TransferRequest')!;

const ok = { from: 'funding', to: 'trading', user_id: '5', asset_id: 3, amount: '100' };

describe('TransferRequest in the document agrees with parseTransferBody', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a valid body', {}],
    ['amounts as JSON integers', { amount: 100, user_id: 5 }],
    ['the largest safe JSON integer', { amount: Number.MAX_SAFE_INTEGER }],
    ['the largest decimal string', { amount: '9223372036854775807' }],
    ['annotations', { note: 'rebalance' }],
    ['from missing', { from: undefined }],
    ['from unknown', { from: 'spot' }],
    ['to missing', { to: undefined }],
    ['user_id zero', { user_id: '0' }],
    ['user_id negative', { user_id: -5 }],
    ['amount zero', { amount: 0 }],
    ['amount fractional', { amount: 1.5 }],
    ['amount with leading zeros', { amount: '007' }],
    ['amount 20 digits', { amount: '10000000000000000000' }],
    ['amount a boolean', { amount: true }],
    ['amount null', { amount: null }],
    ['asset_id 0', { asset_id: 0 }],
    ['asset_id at its bound', { asset_id: MAX_ASSET_ID }],
    ['asset_id past its bound', { asset_id: MAX_ASSET_ID + 1 }],
    ['asset_id a string', { asset_id: '3' }],
  ])('%s', (_name, patch) => {
    const body = JSON.parse(JSON.stringify({ ...ok, ...patch })) as Record<string, unknown>;
    expect(requestSchema(body)).toBe(parseTransferBody(body).ok);
  });
});

describe('where the schema is looser than the parser, its description says so', () => {
  const properties = schemas.TransferRequest!.properties as Record<string, { description: string }>;
  it.each<[string, Record<string, unknown>, string, string]>([
    ['from == to', { to: 'funding' }, 'to', 'must differ from `from`'],
    ['a decimal string above 2^63-1', { amount: '9223372036854775808' }, 'amount', 'a decimal string (1..9223372036854775807)'],
  ])('%s', (_name, patch, field, words) => {
    const body = { ...ok, ...patch };
    expect(requestSchema(body)).toBe(true);
    expect(parseTransferBody(body).ok).toBe(false);
    expect(properties[field]!.description).toContain(words);
  });
});

describe('enums and bounds come from the domain', () => {
  it('accounts, states, asset ids', () => {
    const request = schemas.TransferRequest!.properties as Record<string, Record<string, unknown>>;
    expect(request.from!.enum).toEqual([...ACCOUNTS]);
    expect(request.asset_id).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_ASSET_ID });
    expect(schemas.TransferRequest!.required).toEqual(['from', 'to', 'user_id', 'asset_id', 'amount']);
    const view = schemas.Transfer!.properties as Record<string, Record<string, unknown>>;
    expect(view.state!.enum).toEqual([...STATES]);
  });

  it('every operation documents its errors in its own shape', () => {
    const post = document.paths!['/api/v1/transfer']!.post!.responses as Record<string, { content: Record<string, { schema: { $ref: string } }> }>;
    for (const status of ['400', '401', '403', '409', '413', '415', '429', '500', '503']) {
      expect(post[status]!.content['application/json']!.schema.$ref, status).toBe('#/components/schemas/TransferRefusal');
    }
  });
});
