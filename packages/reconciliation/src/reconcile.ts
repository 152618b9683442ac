// Reconciliation: every finished transfer created in a window, against the ledgers' own records, read a page
// at a time (memory stays one page whatever the window) through the adapter contract's query. Reports each
// mismatch as it is found; the summary says how many were checked, still running, or could not be verified.
import { randomUUID } from 'node:crypto';
import { createHttpAdapter, type LedgerReader } from '@it/adapters';
import { CorruptRowError } from '@it/cassandra';
import type { Account } from '@it/domain';
import { isTerminal, type TerminalState } from '@it/fsm';
import type { TransferRecord, TransferStore } from '@it/store';
import { checkLeg, MISMATCH_KINDS, type Mismatch, type MismatchKind } from './rules.ts';

/** A reader of each ledger, keyed by the account it keeps. */
export type LedgerReaders = Record<Account, LedgerReader>;

/** Readers of the two services over the HTTP contract, with the worker's credentials (FUNDING_TOKEN, TRADING_TOKEN). */
export function httpLedgerReaders(s: {
  fundingUrl: string;
  tradingUrl: string;
  fundingToken: string;
  tradingToken: string;
  timeoutMs: number;
}): LedgerReaders {
  const reader = (name: Account, baseUrl: string, token: string) =>
    createHttpAdapter({ name, baseUrl, timeoutMs: s.timeoutMs, headers: { authorization: `Bearer ${token}` } });
  return { funding: reader('funding', s.fundingUrl, s.fundingToken), trading: reader('trading', s.tradingUrl, s.tradingToken) };
}

export interface ReconcileOptions {
  since: Date;
  until: Date;
  store: Pick<TransferStore, 'forEachCreated'>;
  ledgers: LedgerReaders;
  /** Called with each mismatch as soon as it is found (print it, collect a bounded number of them). */
  onMismatch: (m: Mismatch) => void;
  /** Called for each transfer a ledger did not answer for. */
  onUnverified?: (reqId: string, detail: string) => void;
  /** Transfers checked at once (two ledger queries each). Default 16. */
  concurrency?: number;
  pageSize?: number;
  clock?: () => Date;
}

export interface ReconcileSummary {
  runId: string;
  since: Date;
  until: Date;
  startedAt: Date;
  finishedAt: Date;
  /** Finished transfers compared with both ledgers (mismatched or not). */
  checked: number;
  /** Transfers of the window still running: not compared (their legs may legitimately be half done). */
  active: number;
  /** Index entries without a row: creates that never completed, which no ledger ever saw. */
  missingRows: number;
  /** Mismatches found (a transfer can have one per leg). */
  mismatches: number;
  byKind: Record<MismatchKind, number>;
  /** Transfers a ledger did not answer for: neither clean nor mismatched. */
  unverified: number;
  pages: number;
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function inPool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function reconcile(opts: ReconcileOptions): Promise<ReconcileSummary> {
  const clock = opts.clock ?? (() => new Date());
  if (!(opts.since.getTime() < opts.until.getTime())) throw new RangeError('since must be before until');
  const byKind = Object.fromEntries(MISMATCH_KINDS.map((k) => [k, 0])) as Record<MismatchKind, number>;
  const summary: ReconcileSummary = {
    runId: randomUUID(), since: opts.since, until: opts.until, startedAt: clock(), finishedAt: clock(),
    checked: 0, active: 0, missingRows: 0, mismatches: 0, byKind, unverified: 0, pages: 0,
  };
  const report = (m: Mismatch) => {
    summary.mismatches++;
    byKind[m.kind]++;
    opts.onMismatch(m);
  };

  const check = async (t: TransferRecord & { state: TerminalState }) => {
    const [source, target] = await Promise.all([
      opts.ledgers[t.source].lookup(t.reqId),
      opts.ledgers[t.target].lookup(t.reqId),
    ]);
    const legs = [
      checkLeg(t, 'source', opts.ledgers[t.source].name, source),
      checkLeg(t, 'target', opts.ledgers[t.target].name, target),
    ];
    const unverified = legs.flatMap((l) => (l.kind === 'unverified' ? [l.detail] : []));
    for (const l of legs) if (l.kind === 'mismatch') report(l.mismatch);
    if (unverified.length && !legs.some((l) => l.kind === 'mismatch')) {
      summary.unverified++;
      opts.onUnverified?.(t.reqId, unverified.join('; '));
    } else {
      summary.checked++;
    }
  };

  const read = await opts.store.forEachCreated(
    opts.since,
    opts.until,
    async (page) => {
      const finished: (TransferRecord & { state: TerminalState })[] = [];
      for (const { reqId, record } of page) {
        if (record === undefined) summary.missingRows++;
        else if (record instanceof CorruptRowError) {
          report({ reqId, state: null, kind: 'corrupt_row', ledger: null, detail: record.message });
        } else if (isTerminal(record.state)) finished.push(record as TransferRecord & { state: TerminalState });
        else summary.active++;
      }
      await inPool(finished, opts.concurrency ?? 16, check);
    },
    opts.pageSize ? { pageSize: opts.pageSize } : {},
  );
  summary.pages = read.pages;
  summary.finishedAt = clock();
  return summary;
}

/** The stored form of a run (the API exports the latest as metrics). */
export function runOf(summary: ReconcileSummary, actor: string) {
  return {
    runId: summary.runId,
    finishedAt: summary.finishedAt,
    since: summary.since,
    until: summary.until,
    checked: summary.checked,
    active: summary.active,
    mismatches: summary.mismatches,
    unverified: summary.unverified,
    actor,
  };
}

/** One line per mismatch, for people: `req_id state kind ledger: detail`. */
export function formatMismatch(m: Mismatch): string {
  return `MISMATCH ${m.reqId} ${m.state ?? '-'} ${m.kind}: ${m.detail}`;
}

/** The summary for people, a line per figure; mismatch kinds that occurred are listed with their counts. */
export function formatSummary(s: ReconcileSummary): string {
  const kinds = Object.entries(s.byKind).filter(([, n]) => n > 0).map(([k, n]) => `  ${k}: ${n}`);
  return [
    `reconciliation ${s.runId}: transfers created in [${s.since.toISOString()}, ${s.until.toISOString()})`,
    `  checked (finished, both ledgers answered): ${s.checked}`,
    `  still running (not compared): ${s.active}`,
    `  unverified (a ledger did not answer): ${s.unverified}`,
    `  creates that never completed (no row): ${s.missingRows}`,
    `  mismatches: ${s.mismatches}`,
    ...kinds,
    `  took ${((s.finishedAt.getTime() - s.startedAt.getTime()) / 1000).toFixed(1)} s over ${s.pages} pages`,
  ].join('\n');
}

/** `2026-11-01T00:00:00Z`, or a duration before `now`: `90m`, `24h`, `7d`. */
export function parseInstant(value: string, now: Date): Date | undefined {
  const rel = /^(\d+)(s|m|h|d)$/.exec(value);
  if (rel) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
