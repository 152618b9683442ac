// A transfer's history as the row carries it (schema/transfer/003): one entry per change of state, keyed
// by the version that change produced, and the run of retries in the current state, folded into the entry
// of the change that ends it. Pure: the store writes these values in the transition's own LWT.
import type { Event, State } from '@it/fsm';

/** What caused a write, as the coordinator knows it. */
export interface TransitionNote {
  /** The saga event: `begin`, or the outcome of the call. Null when a caller gave no reason (tests, tools). */
  event: Event | null;
  /** The call whose outcome this is, as `<service>.<operation>` (e.g. `funding.withdraw`); null for begin. */
  call: string | null;
  /** What the service said beyond the outcome's kind: a refusal's reason, an unknown outcome's detail. */
  answer: string | null;
}

/** Unknown outcomes (and anomalies) met in one state, in a row. */
export interface RetryRun {
  times: number;
  firstAt: Date;
  lastAt: Date;
  lastAnswer: string | null;
  lastActor: string;
}

export interface OperatorRetry {
  times: number;
  lastAt: Date;
  operator: string;
}

export interface HistoryEntry {
  /** The row's version after this change (1 for the creation). */
  version: number;
  at: Date;
  /** Null for the creation. States are kept as stored: a history may name a state a newer version added. */
  from: string | null;
  to: string;
  event: 'create' | Event | null;
  call: string | null;
  answer: string | null;
  attempt: number;
  actor: string;
  /** The run of retries this change ended: how many, first and last time, the last answer. */
  retries: number;
  firstRetryAt: Date | null;
  lastRetryAt: Date | null;
  lastRetry: string | null;
}

/** The `transition` UDT as the driver encodes it (field names as in the schema). */
interface TransitionRow {
  at: Date;
  from_state: string | null;
  to_state: string;
  event: string | null;
  call: string | null;
  answer: string | null;
  attempt: number;
  actor: string;
  retries: number;
  first_retry_at: Date | null;
  last_retry_at: Date | null;
  last_retry: string | null;
}

export function creationEntry(at: Date, actor: string): TransitionRow {
  return {
    at, from_state: null, to_state: 'init', event: 'create', call: null, answer: null, attempt: 0, actor,
    retries: 0, first_retry_at: null, last_retry_at: null, last_retry: null,
  };
}

/** The entry of a change of state from `from` to `next`, with the run of retries `from` carried. */
export function entryOf(
  from: { state: State; retryRun: RetryRun | null },
  next: { state: State; attempt: number; updatedAt: Date },
  note: TransitionNote,
  actor: string,
): TransitionRow {
  const run = from.retryRun;
  return {
    at: next.updatedAt,
    from_state: from.state,
    to_state: next.state,
    event: note.event,
    call: note.call,
    answer: note.answer,
    attempt: next.attempt,
    actor,
    retries: run?.times ?? 0,
    first_retry_at: run?.firstAt ?? null,
    last_retry_at: run?.lastAt ?? null,
    last_retry: run?.lastAnswer ?? null,
  };
}

/** The run after one more retry at `at`. */
export function foldRetry(run: RetryRun | null, at: Date, answer: string | null, actor: string): RetryRun {
  return { times: (run?.times ?? 0) + 1, firstAt: run?.firstAt ?? at, lastAt: at, lastAnswer: answer, lastActor: actor };
}

/** The driver's value for the `retry_run` column. */
export function retryRunValue(run: RetryRun | null) {
  return run && { times: run.times, first_at: run.firstAt, last_at: run.lastAt, last_answer: run.lastAnswer, last_actor: run.lastActor };
}

type Udt = Record<string, unknown> | null | undefined;

export function decodeRetryRun(value: unknown): RetryRun | null {
  const v = value as Udt;
  if (!v) return null;
  return {
    times: (v.times as number | null) ?? 0,
    firstAt: v.first_at as Date,
    lastAt: v.last_at as Date,
    lastAnswer: (v.last_answer as string | null) ?? null,
    lastActor: (v.last_actor as string | null) ?? '',
  };
}

export function decodeOperatorRetry(value: unknown): OperatorRetry | null {
  const v = value as Udt;
  if (!v) return null;
  return { times: (v.times as number | null) ?? 0, lastAt: v.last_at as Date, operator: (v.operator as string | null) ?? '' };
}

/** The `history` map as read (keys arrive as strings), oldest first. */
export function historyOf(value: unknown): HistoryEntry[] {
  const map = (value ?? {}) as Record<string, TransitionRow>;
  return Object.entries(map)
    .map(([version, e]) => ({
      version: Number(version),
      at: e.at,
      from: e.from_state,
      to: e.to_state,
      event: e.event as HistoryEntry['event'],
      call: e.call,
      answer: e.answer,
      attempt: e.attempt,
      actor: e.actor,
      retries: e.retries,
      firstRetryAt: e.first_retry_at,
      lastRetryAt: e.last_retry_at,
      lastRetry: e.last_retry,
    }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Where a history and its row disagree (empty when they agree): entries chain from creation (each starts
 * where the previous ended), the last one ends in the row's state, and every version the row went through
 * is an entry or a retry folded into one (or into the open run), so no change is missing or invented.
 */
export function historyProblems(
  row: { state: string; version: number; retryRun: RetryRun | null },
  history: readonly HistoryEntry[],
): string[] {
  const problems: string[] = [];
  const first = history[0];
  if (!first || first.version !== 1 || first.event !== 'create' || first.to !== 'init') problems.push('no creation entry');
  for (let i = 1; i < history.length; i++) {
    const prev = history[i - 1]!;
    const e = history[i]!;
    if (e.from !== prev.to) problems.push(`v${e.version} starts in ${e.from ?? 'nothing'}, v${prev.version} ended in ${prev.to}`);
    if (e.version !== prev.version + e.retries + 1) {
      problems.push(`v${e.version} follows v${prev.version} with ${e.retries} retries: versions missing or invented`);
    }
  }
  const last = history.at(-1);
  if (last && last.to !== row.state) problems.push(`history ends in ${last.to}, the row is ${row.state}`);
  if (last && row.version !== last.version + (row.retryRun?.times ?? 0)) {
    problems.push(`row version ${row.version} ≠ last entry v${last.version} + ${row.retryRun?.times ?? 0} open retries`);
  }
  return problems;
}
