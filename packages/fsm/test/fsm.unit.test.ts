import { describe, expect, it } from 'vitest';
import {
  EVENTS, STATES, actionFor, isState, isTerminal, transition, writeFor, writeTargets,
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

// A refused commit or rollback stays put and is flagged, with these exact messages (they reach operators).
const ANOMALIES: Partial<Record<State, string>> = {
  finalizing: 'source refused to commit a withdraw it had accepted',
  compensating: 'source refused to roll back a withdraw it had accepted',
};

const PAIRS = STATES.flatMap((s) => EVENTS.map((e) => [s, e] as const));

/** Every legal (state, event) pair whose transition satisfies `test`, as `state + event → to`. */
function legal(test: (from: State, event: Event, to: State) => boolean): string[] {
  return PAIRS.flatMap(([s, e]) => {
    const r = transition(s, e);
    return r.ok && test(s, e, r.to) ? [`${s} + ${e} → ${r.to}`] : [];
  });
}

describe('transition', () => {
  it('covers all 36 (state, event) pairs', () => {
    expect(PAIRS).toHaveLength(36);
  });

  it.each(PAIRS)('%s + %s', (state, event) => {
    const expected = EXPECTED[state][event];
    const anomaly = event === 'failed' ? ANOMALIES[state] : undefined;
    expect(transition(state, event)).toEqual(
      expected === null
        ? { ok: false, reason: `event '${event}' is not allowed in state '${state}'` }
        : { ok: true, to: expected, ...(anomaly === undefined ? {} : { anomaly }) },
    );
  });

  it('never leaves a terminal state', () => {
    expect(legal((from) => isTerminal(from))).toEqual([]);
  });

  it('an unknown outcome never moves money backwards nor forwards', () => {
    // Legal exactly in the four states with a call in flight, and always back to the same state.
    expect(legal((_from, e) => e === 'pending')).toEqual([
      'source_pending + pending → source_pending',
      'target_pending + pending → target_pending',
      'finalizing + pending → finalizing',
      'compensating + pending → compensating',
    ]);
  });

  it('compensation starts only from a definite target refusal', () => {
    expect(legal((from, _e, to) => to === 'compensating' && from !== 'compensating')).toEqual([
      'target_pending + failed → compensating',
    ]);
  });

  it('committed is reached only from finalizing (source commit succeeded), rolled_back only from compensating', () => {
    expect(legal((_from, _e, to) => isTerminal(to))).toEqual([
      'source_pending + failed → failed',
      'finalizing + success → committed',
      'compensating + success → rolled_back',
    ]);
  });

  it('flags a refused commit or rollback as an anomaly instead of moving on, and nothing else', () => {
    const flagged = PAIRS.flatMap(([s, e]) => {
      const r = transition(s, e);
      return r.ok && r.anomaly !== undefined ? [[s, e, r.to, r.anomaly]] : [];
    });
    expect(flagged).toEqual([
      ['finalizing', 'failed', 'finalizing', 'source refused to commit a withdraw it had accepted'],
      ['compensating', 'failed', 'compensating', 'source refused to roll back a withdraw it had accepted'],
    ]);
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

  it('every call state is entered only through a persisted intent or the previous call\'s definite answer', () => {
    // Intent before action: a state whose action is a call is entered (from another state) only by `begin`
    // (intent written before the call) or by the previous call's definite answer, never by `pending`.
    expect(legal((from, _e, to) => actionFor(to).kind === 'call' && to !== from)).toEqual([
      'init + begin → source_pending',
      'source_done + begin → target_pending',
      'target_pending + success → finalizing',
      'target_pending + failed → compensating',
    ]);
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

describe('writeFor: what one compare-and-set records', () => {
  it('folds the begin of the next call into the outcome that makes it due: only source_pending + success', () => {
    const merged = PAIRS.flatMap(([s, e]) => {
      const w = writeFor(s, e);
      return w.ok && w.via ? [`${s} + ${e} → ${w.via} → ${w.to}`] : [];
    });
    expect(merged).toEqual(['source_pending + success → source_done → target_pending']);
  });

  it('is the transition itself everywhere else, illegal pairs and anomalies included', () => {
    for (const [s, e] of PAIRS) {
      if (s === 'source_pending' && e === 'success') continue;
      expect(writeFor(s, e)).toEqual(transition(s, e));
    }
  });

  it('never writes past a call: the state a merged write ends in names the call to make next', () => {
    for (const [s, e] of PAIRS) {
      const w = writeFor(s, e);
      if (w.ok && w.via) {
        expect(actionFor(w.via)).toEqual({ kind: 'begin' });
        expect(actionFor(w.to).kind).toBe('call');
      }
    }
  });

  it('writeTargets: the states one applied write may reach', () => {
    expect([...writeTargets('source_pending')].sort()).toEqual(['failed', 'source_done', 'source_pending', 'target_pending']);
    expect([...writeTargets('init')]).toEqual(['source_pending']);
    expect([...writeTargets('committed')]).toEqual([]);
  });
});
