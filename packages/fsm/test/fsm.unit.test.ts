import { describe, expect, it } from 'vitest';
import {
  EVENTS, STATES, TERMINAL_STATES, actionFor, isState, isTerminal, transition,
  type Event, type State,
} from '../src/index.ts';

// The whole transition table, written out by hand: every (state, event) pair, illegal ones included.
// `null` = illegal. A change to the FSM must change this table.
const EXPECTED: Record<State, Record<Event, State | null>> = {
  init:           { begin: 'source_pending', success:   null,          failed:  null,           pending: null },
  source_pending: { begin: null,             success:   'source_done', failed:  'failed',       pending: 'source_pending' },
  source_done:    { begin: 'target_pending', success:   null,          failed:  null,           pending: null },
  target_pending: { begin: null,             success:   'finalizing',  failed:  'compensating', pending: 'target_pending' },
  finalizing:     { begin: null,             success:   'committed',   failed:  'finalizing',   pending: 'finalizing' },
  compensating:   { begin: null,             success:   'rolled_back', failed:  'compensating', pending: 'compensating' },
  committed:      { begin: null,             success:   null,          failed:  null,           pending: null },
  rolled_back:    { begin: null,             success:   null,          failed:  null,           pending: null },
  failed:         { begin: null,             success:   null,          failed:  null,           pending: null },
};

describe('transition', () => {
  const pairs = STATES.flatMap((s) => EVENTS.map((e) => [s, e] as const));
  it('covers all 36 (state, event) pairs', () => {
    expect(pairs).toHaveLength(36);
  });

  it.each(pairs)('%s + %s', (state, event) => {
    const expected = EXPECTED[state][event];
    const result = transition(state, event);
    if (expected === null) {
      expect(result).toEqual({ ok: false, reason: `event '${event}' is not allowed in state '${state}'` });
    } else {
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.to).toBe(expected);
    }
  });

  it('never leaves a terminal state', () => {
    for (const s of TERMINAL_STATES) for (const e of EVENTS) expect(transition(s, e).ok).toBe(false);
  });

  it('an unknown outcome never moves money backwards nor forwards', () => {
    for (const s of STATES) {
      const r = transition(s, 'pending');
      if (r.ok) expect(r.to).toBe(s);
    }
  });

  it('compensation starts only from a definite target refusal', () => {
    for (const s of STATES) for (const e of EVENTS) {
      const r = transition(s, e);
      if (r.ok && r.to === 'compensating' && s !== 'compensating') {
        expect([s, e]).toEqual(['target_pending', 'failed']);
      }
    }
  });

  it('committed is reached only from finalizing (source commit succeeded), rolled_back only from compensating', () => {
    for (const s of STATES) for (const e of EVENTS) {
      const r = transition(s, e);
      if (r.ok && r.to === 'committed') expect([s, e]).toEqual(['finalizing', 'success']);
      if (r.ok && r.to === 'rolled_back') expect([s, e]).toEqual(['compensating', 'success']);
      if (r.ok && r.to === 'failed') expect([s, e]).toEqual(['source_pending', 'failed']);
    }
  });

  it('flags a refused commit or rollback as an anomaly instead of moving on', () => {
    expect(transition('finalizing', 'failed')).toMatchObject({ ok: true, to: 'finalizing', anomaly: expect.any(String) });
    expect(transition('compensating', 'failed')).toMatchObject({ ok: true, to: 'compensating', anomaly: expect.any(String) });
    expect(transition('target_pending', 'failed')).not.toHaveProperty('anomaly');
  });
});

describe('actionFor', () => {
  it.each([
    ['init', { kind: 'begin' }],
    ['source_pending', { kind: 'call', leg: 'source', op: 'withdraw' }],
    ['source_done', { kind: 'begin' }],
    ['target_pending', { kind: 'call', leg: 'target', op: 'deposit' }],
    ['finalizing', { kind: 'call', leg: 'source', op: 'commit' }],
    ['compensating', { kind: 'call', leg: 'source', op: 'rollback' }],
    ['committed', { kind: 'none' }],
    ['rolled_back', { kind: 'none' }],
    ['failed', { kind: 'none' }],
  ] as const)('%s → %j', (state, action) => {
    expect(actionFor(state)).toEqual(action);
  });

  it('every call state is entered only through a persisted intent or its own retry', () => {
    // Intent before action: a state whose action is a call is reached only by `begin` (intent written
    // before the call), by the previous call's definite answer, or by staying put.
    for (const s of STATES) for (const e of EVENTS) {
      const r = transition(s, e);
      if (!r.ok) continue;
      const a = actionFor(r.to);
      if (a.kind === 'call' && r.to !== s) expect(['begin', 'success', 'failed']).toContain(e);
    }
  });
});

describe('state guards', () => {
  it('recognises exactly the nine states', () => {
    for (const s of STATES) expect(isState(s)).toBe(true);
    for (const v of ['', 'INIT', 'pending', 'done', null, 3, undefined]) expect(isState(v)).toBe(false);
  });
  it('knows the terminal states', () => {
    expect(STATES.filter(isTerminal)).toEqual(['committed', 'rolled_back', 'failed']);
  });
});
