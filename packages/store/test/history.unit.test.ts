// The consistency check between a transfer's row and its history (the ops API and the tests use it).
import { describe, expect, it } from 'vitest';
import { historyProblems, type HistoryEntry } from '../src/index.ts';

describe('historyProblems', () => {
  const at = new Date(0);
  const entry = (version: number, from: string | null, to: string, retries = 0): HistoryEntry => ({
    version, at, from, to, event: version === 1 ? 'create' : 'success', call: null, answer: null, attempt: 0, actor: 'x',
    retries, firstRetryAt: null, lastRetryAt: null, lastRetry: null,
  });
  const chain = [entry(1, null, 'init'), entry(2, 'init', 'source_pending'), entry(4, 'source_pending', 'source_done', 1)];

  it('accepts a chain whose versions are all accounted for', () => {
    expect(historyProblems({ state: 'source_done', version: 4, retryRun: null }, chain)).toEqual([]);
    const run = { times: 2, firstAt: at, lastAt: at, lastAnswer: null, lastActor: 'x' };
    expect(historyProblems({ state: 'source_done', version: 6, retryRun: run }, chain)).toEqual([]);
  });

  it('names a missing change, an invented one, a broken chain and a row the history does not end in', () => {
    expect(historyProblems({ state: 'source_done', version: 5, retryRun: null }, chain)).toEqual(['row version 5 ≠ last entry v4 + 0 open retries']);
    expect(historyProblems({ state: 'target_pending', version: 4, retryRun: null }, chain)).toEqual(['history ends in source_done, the row is target_pending']);
    expect(historyProblems({ state: 'source_done', version: 4, retryRun: null }, [chain[0]!, chain[2]!])).toEqual([
      'v4 starts in source_pending, v1 ended in init',
      'v4 follows v1 with 1 retries: versions missing or invented',
    ]);
    expect(historyProblems({ state: 'init', version: 1, retryRun: null }, [])).toEqual(['no creation entry']);
  });
});
