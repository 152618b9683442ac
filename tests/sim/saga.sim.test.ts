// The deterministic simulation on every `npm test`: a bounded search over fresh scenarios must break no
// invariant on the production saga, and each planted bug must be found, shrunk and replayed from its token.
// SIM_BUDGET_MS sets the clean search's budget (default 30 s); `npm run sim -- --minutes 30` searches long.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runScenario } from './run.ts';
import { BUG_NAMES, decode, encode, FAULT_KEYS, fromSeed, type Bug } from './scenario.ts';
import { describeCoverage, describeStats, search } from './search.ts';

const BUDGET_MS = Number(process.env.SIM_BUDGET_MS ?? 30_000);
/** A planted bug must be found within this (each is found in well under a second on this machine). */
const BUG_BUDGET_MS = 8_000;

/** The invariant each planted bug must break. */
const BROKEN: Record<Bug, RegExp> = {
  'compensate-on-unknown': /compensated after the target had applied|money created/,
  'commit-early': /committed before the source's commit/,
  'blind-cas-retry': /no transition of the FSM/,
  'forget-tombstone': /after the ledger had answered its rollback with success/,
  'no-sweeper': /at the liveness deadline/,
};

/** Every kind of adversity a clean search must have met, or it proved little. */
const MUST_COVER = [
  'process stopped at an await', 'pause past the lock and lease', 'graceful stop',
  'cas applied unknown', 'cas not applied unknown', 'cas in flight', 'paxos round completed later', 'paxos round lost',
  'cas lost to a rival', 'store read failed',
  'ledger 503 before applying', 'ledger applied then reset', 'late network message', 'ledger refused: injected_refusal',
  'ledger refused: insufficient_funds', 'rollback tombstone', 'rollback voided',
  'job lost', 'queue flushed', 'delayed job promoted late', 'stalled job redelivered (holder crashed)',
  'stalled job redelivered (holder paused, still running it)', 'sweeper re-enqueued a transfer',
  'redis command failed', 'sweeper retried a failed job',
  'transfer committed', 'transfer rolled_back', 'transfer failed',
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('deterministic simulation of the saga', () => {
  it('names a whole scenario by a token, or by a bare seed', () => {
    const s = fromSeed(1234);
    expect(decode(encode(s))).toEqual(s);
    expect(decode('1234')).toEqual(s);
    const planted = { ...s, bug: 'blind-cas-retry' as const };
    expect(decode(encode(planted))).toEqual(planted);
    expect(encode(decode('9:t3u1w2x1:c1p0a3r0e0d2f0l0q1s0'))).toBe('9:t3u1w2x1:c1p0a3r0e0d2f0l0q1s0');
    expect(FAULT_KEYS).toHaveLength(10);
    expect(() => decode('9:t0u1w2x1:c1p0a3r0e0d2f0l0q1s0')).toThrow('transfers must be in 1..200');
    expect(() => decode('9:t3u1w2x1:c1:bogus')).toThrow();
  });

  it('replays a run exactly from its token, without the real clock or Math.random', async () => {
    const scenario = decode('7:t30u2w3x2:c3p3a3r3e3d3f3l3q3s3');
    const first: string[] = [];
    const second: string[] = [];
    const a = await runScenario(scenario, { trace: (line) => first.push(line) });
    const b = await runScenario(scenario, { trace: (line) => second.push(line) });
    expect(a.violations).toEqual([]);
    expect(first.length).toBeGreaterThan(1_000);
    expect(second).toEqual(first);
    expect(b.events).toBe(a.events);

    // Any read of the real clock or of Math.random from the product's code or the simulator's (the test runner's
    // own reads, between events, are not the world's).
    const leaks: string[] = [];
    const leak = (what: string) => {
      const stack = new Error(what).stack ?? '';
      if (/\/(apps|packages|tests\/sim)\//.test(stack.split('\n').slice(2).join('\n'))) leaks.push(stack);
    };
    const realNow = Date.now.bind(Date);
    const realRandom = Math.random.bind(Math);
    vi.spyOn(Date, 'now').mockImplementation(() => (leak('Date.now'), realNow()));
    vi.spyOn(Math, 'random').mockImplementation(() => (leak('Math.random'), realRandom()));
    const c = await runScenario(scenario);
    vi.restoreAllMocks();
    expect(leaks).toEqual([]);
    expect(c.events).toBe(a.events);
    expect(c.outcomes).toEqual(a.outcomes);
  });

  it(`breaks no invariant on the production saga in a ${BUDGET_MS / 1000} s search`, async () => {
    const r = await search({ budgetMs: BUDGET_MS, shrinkMs: 15_000 });
    console.log(`[sim] search seed ${r.seed}: ${describeStats(r.stats)}`);
    const f = r.failure;
    expect(f, f && `${f.violations.join('\n')}\nreplay: npm run sim -- --seed ${f.token}`).toBeUndefined();
    expect(r.stats.scenarios).toBeGreaterThan(50);
    const missed = MUST_COVER.filter((kind) => !r.stats.coverage.get(kind));
    expect(missed, describeCoverage(r.stats)).toEqual([]);
  }, BUDGET_MS + 60_000);

  describe.each(BUG_NAMES)('planted bug %s', (bug) => {
    it('is found, shrunk and replayed from its token', async () => {
      const r = await search({ bug, budgetMs: BUG_BUDGET_MS, shrinkMs: 2_000 });
      const f = r.failure;
      expect(f, `not found in ${describeStats(r.stats)} (search seed ${r.seed})`).toBeDefined();
      console.log(`[sim] ${bug}: found after ${describeStats(f!.foundAfter)}; shrunk to ${f!.token}`);
      expect(f!.violations.join('\n')).toMatch(BROKEN[bug]);
      const replay = await runScenario(decode(f!.token));
      expect(replay.violations).toEqual(f!.violations);
    }, BUG_BUDGET_MS + 30_000);
  });
});
