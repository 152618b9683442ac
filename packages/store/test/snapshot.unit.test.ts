// The row as the API created it, carried in the first job's data (JSON): what goes in comes back out, and
// anything else is no snapshot at all (the step then reads the row).
import { describe, expect, it } from 'vitest';
import { createdSnapshot, recordFromSnapshot, type TransferRecord } from '../src/index.ts';

const REQ_ID = '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f';
const created: TransferRecord = {
  reqId: REQ_ID, userId: 2n ** 62n, assetId: 7, amount: 2n ** 63n - 1n, source: 'trading', target: 'funding', state: 'init',
  version: 1, transitionId: '0b45e5e0-8f17-4c58-b5f5-c9982981e7a3', error: null, attempt: 0,
  nextAttemptAt: new Date('2026-01-02T03:04:15.000Z'), createdAt: new Date('2026-01-02T03:04:05.123Z'),
  updatedAt: new Date('2026-01-02T03:04:05.123Z'), retryRun: null, operatorRetry: null,
};

describe('created-row snapshot', () => {
  it('round-trips through JSON exactly, 64-bit amounts included', () => {
    const snapshot = createdSnapshot(created);
    expect(recordFromSnapshot(REQ_ID, JSON.parse(JSON.stringify(snapshot)))).toEqual(created);
  });

  it('only of rows in init: any other state is read, not carried', () => {
    expect(createdSnapshot({ ...created, state: 'source_pending' })).toBeUndefined();
  });

  it.each([
    ['nothing', undefined],
    ['a string', 'row'],
    ['a negative amount', { ...createdSnapshot(created), amount: '-5' }],
    ['an amount past 2^63-1', { ...createdSnapshot(created), amount: '99999999999999999999' }],
    ['an unknown account', { ...createdSnapshot(created), source: 'savings' }],
    ['no transition id', { ...createdSnapshot(created), transitionId: undefined }],
    ['a fractional version', { ...createdSnapshot(created), version: 1.5 }],
  ])('%s is no snapshot', (_name, value) => {
    expect(recordFromSnapshot(REQ_ID, value)).toBeUndefined();
  });
});
