// The transitions channel's messages: what a worker encodes is what the API decodes, and anything else a
// shared Redis may carry on the channel is refused rather than trusted.
import { describe, expect, it } from 'vitest';
import { decodeTransition, encodeTransition, transitionChannel, type TransitionMessage } from '../src/index.ts';

const message: TransitionMessage = {
  reqId: '0b45e5e0-8f17-4c58-b5f5-c9982981e7a3', state: 'target_pending', version: 3, error: null, attempt: 2,
  updatedAt: new Date('2026-01-02T03:04:05.678Z'),
};

describe('transition messages', () => {
  it('round-trip, with the wire names', () => {
    const text = encodeTransition(message);
    expect(JSON.parse(text)).toEqual({
      req_id: message.reqId, state: 'target_pending', version: 3, error: null, attempt: 2, updated_at: '2026-01-02T03:04:05.678Z',
    });
    expect(decodeTransition(text)).toEqual(message);
    expect(decodeTransition(encodeTransition({ ...message, error: 'pending: timeout' }))?.error).toBe('pending: timeout');
  });

  it('one channel per transfer, under the queue prefix', () => {
    expect(transitionChannel('{transfer}', message.reqId)).toBe(`{transfer}:transitions:${message.reqId}`);
  });

  const valid = JSON.parse(encodeTransition(message)) as Record<string, unknown>;
  it.each<[string, string]>([
    ['not JSON', '{'],
    ['not an object', '"x"'],
    ['null', 'null'],
    ['no req_id', JSON.stringify({ ...valid, req_id: undefined })],
    ['a numeric state', JSON.stringify({ ...valid, state: 3 })],
    ['a negative version', JSON.stringify({ ...valid, version: -1 })],
    ['a fractional attempt', JSON.stringify({ ...valid, attempt: 1.5 })],
    ['an error that is not text', JSON.stringify({ ...valid, error: 5 })],
    ['an unreadable time', JSON.stringify({ ...valid, updated_at: 'yesterday' })],
  ])('refuses %s', (_name, text) => {
    expect(decodeTransition(text)).toBeUndefined();
  });
});
