// The saga's source of truth: one Cassandra row per transfer, changed only by compare-and-set (LWT).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  conditionalWrite, CorruptRowError, createCassandraClient, serialConsistency, StoreUnavailableError, storeError,
  type CassandraClient, type CassandraSettings, type ResultSet, type Row, type Uuid,
} from '@it/cassandra';
import { isAccount, isUuid, MAX_AMOUNT, MAX_ASSET_ID, MAX_USER_ID, type Account, type Movement } from '@it/domain';
import { isState, isTerminal, type State } from '@it/fsm';
import { InvalidCursorError, InvalidTransferError } from './errors.ts';
import {
  creationEntry, decodeOperatorRetry, decodeRetryRun, entryOf, foldRetry, historyOf, retryRunValue, type HistoryEntry, type OperatorRetry,
  type RetryRun, type TransitionNote,
} from './history.ts';
import {
  belongsTo, bucketStartMs, DEFAULT_INDEX_LAYOUT, indexEntryOf, LEGACY_INDEX_LAYOUT, partitionOf, shardOf, validateIndexLayout,
  type IndexBucket, type IndexLayout,
} from './index-layout.ts';

/** An index entry whose transfer row is still missing this long after its bucket ended belongs to a failed create. */
const ORPHAN_AFTER_MS = 5 * 60_000;

/** A transfer is a movement (what each service sees) from one account to the other. */
export interface NewTransfer extends Movement {
  source: Account;
  target: Account;
  /** First time the sweeper may pick the transfer up if no worker has moved it. */
  nextAttemptAt: Date;
  createdAt?: Date;
}

export interface TransferRecord extends Omit<NewTransfer, 'nextAttemptAt' | 'createdAt'> {
  state: State;
  version: number;
  transitionId: string;
  error: string | null;
  /**
   * Unknown outcomes in a row in the current state (0 after any progress): `retry_count` on the wire, the
   * seed's name. The column keeps its name `attempt`, as Cassandra cannot rename a regular column.
   */
  attempt: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** Unknown outcomes (and anomalies) met in the current state since it was entered; null when none. */
  retryRun: RetryRun | null;
  /** The last operator retry-now, if any (the ops API). */
  operatorRetry: OperatorRetry | null;
}

export interface CompareAndSet {
  /** The record as last read: its state and version are the condition. */
  from: TransferRecord;
  to: State;
  error: string | null;
  attempt: number;
  /** Ignored (cleared) when `to` is terminal. */
  nextAttemptAt: Date | null;
  /** What caused the write, for the history written with it (event, call, the service's answer). */
  note?: TransitionNote;
  /**
   * A state the row passes through on its way to `to` in this same write, and what caused that first change
   * (then `note` is what caused the second): the history gets both entries, the version moves by two.
   */
  via?: { state: State; note: TransitionNote };
}

export type CasResult =
  | { applied: true; record: TransferRecord }
  | { applied: false; current: TransferRecord | undefined };

export interface ScanStats {
  epochs: number;
  pages: number;
  /** Rows Cassandra returned to the scan: epoch list, index entries and transfer rows. */
  rowsRead: number;
  active: number;
  /** Rows with a state this code does not know: reported, never processed, never cleaned. */
  corrupt: string[];
  cleaned: number;
  epochsDropped: number;
  /** Index partitions (minutes) that could not be read this time: reported, skipped, retried next sweep. */
  failedEpochs: string[];
}

/** A reconciliation run's summary, as stored in `reconciliation_runs`. */
export interface ReconciliationRun {
  runId: string;
  finishedAt: Date;
  since: Date;
  until: Date;
  checked: number;
  active: number;
  mismatches: number;
  unverified: number;
  actor: string;
}

export interface TransferStoreOptions {
  serialConsistency: number;
  /** Who writes, recorded in the history: a worker's or API's host/pid by default. */
  actor?: string;
  /** Where active-index entries go (index-layout.ts); default DEFAULT_INDEX_LAYOUT. */
  indexLayout?: IndexLayout;
  clock?: () => Date;
}

/** A registry row: its layout as recorded, or the legacy one-partition-per-minute layout when none is. */
function toBucket(row: Row): IndexBucket {
  const key = row.get('epoch') as bigint;
  const bucketMs = row.get('bucket_ms') as number | null;
  const shards = row.get('shards') as number | null;
  if (bucketMs === null || shards === null) return { key, layout: LEGACY_INDEX_LAYOUT, legacy: true };
  return { key, layout: { bucketMs, shards }, legacy: false };
}

/** A failure of the caller's visit, carried through the scan's per-partition error handling untouched. */
class VisitError extends Error {}

async function visitRecord(visit: (record: TransferRecord) => Promise<void> | void, record: TransferRecord): Promise<void> {
  try {
    await visit(record);
  } catch (err) {
    throw new VisitError('visit failed', { cause: err });
  }
}

export function validateNewTransfer(t: NewTransfer): void {
  if (t.amount <= 0n || t.amount > MAX_AMOUNT) throw new InvalidTransferError('amount must be in 1..2^63-1');
  if (t.userId <= 0n || t.userId > MAX_USER_ID) throw new InvalidTransferError('user_id must be in 1..2^63-1');
  if (!Number.isInteger(t.assetId) || t.assetId < 1 || t.assetId > MAX_ASSET_ID) {
    throw new InvalidTransferError(`asset_id must be an integer in 1..${MAX_ASSET_ID}`);
  }
  if (!isAccount(t.source) || !isAccount(t.target) || t.source === t.target) {
    throw new InvalidTransferError('source and target must be funding and trading, in either order');
  }
}

function toRecord(row: Row): TransferRecord {
  const reqId = String(row.get('req_id'));
  const state: unknown = row.get('state');
  if (!isState(state)) throw new CorruptRowError(`transfer ${reqId} has unknown state ${JSON.stringify(state)}`);
  const source: unknown = row.get('source');
  const target: unknown = row.get('target');
  if (!isAccount(source) || !isAccount(target)) {
    throw new CorruptRowError(`transfer ${reqId} has unknown accounts ${String(source)} → ${String(target)}`);
  }
  // Columns every transfer is written with: a null one is a row this code cannot act on, never a default.
  const required = {
    userId: row.get('user_id') as unknown,
    assetId: row.get('asset_id') as unknown,
    amount: row.get('amount') as unknown,
    version: row.get('version') as unknown,
    createdAt: row.get('created_at') as unknown,
  };
  const missing = Object.entries(required).filter(([, v]) => v === null || v === undefined).map(([k]) => k);
  if (missing.length) throw new CorruptRowError(`transfer ${reqId} has no ${missing.join(', ')}`);
  const transitionId = row.get('transition_id') as Uuid | null;
  const createdAt = required.createdAt as Date;
  return {
    reqId,
    userId: required.userId as bigint,
    assetId: required.assetId as number,
    amount: required.amount as bigint,
    source,
    target,
    state,
    version: required.version as number,
    transitionId: transitionId ? transitionId.toString() : '',
    error: (row.get('error') as string | null) ?? null,
    attempt: (row.get('attempt') as number | null) ?? 0,
    nextAttemptAt: (row.get('next_attempt_at') as Date | null) ?? null,
    createdAt,
    updatedAt: (row.get('updated_at') as Date | null) ?? createdAt,
    retryRun: decodeRetryRun(row.get('retry_run')),
    operatorRetry: decodeOperatorRetry(row.get('operator_retry')),
  };
}

/** A client on `settings.keyspace` and the store over it; the caller shuts the client down. */
export function openTransferStore(settings: CassandraSettings, opts: Omit<TransferStoreOptions, 'serialConsistency'> = {}) {
  const client = createCassandraClient(settings);
  return { client, store: new TransferStore(client, { serialConsistency: serialConsistency(settings), ...opts }) };
}

const INSERT_COLUMNS =
  'req_id, user_id, asset_id, amount, source, target, state, version, transition_id, error, attempt, next_attempt_at, created_at, updated_at, history';
const COLUMNS =
  'req_id, user_id, asset_id, amount, source, target, state, version, transition_id, error, attempt, next_attempt_at, created_at, updated_at, retry_run, operator_retry';

/** Transfers created in one hour are spread over this many `transfers_by_hour` partitions (by req_id). */
export const HOUR_SHARDS = 16;
const HOUR_MS = 3_600_000;

/** The `transfers_by_hour` partition of a transfer: its hour's start and its shard. */
export function hourPartitionOf(reqId: string, createdAt: Date): { hour: bigint; shard: number } {
  return { hour: BigInt(Math.floor(createdAt.getTime() / HOUR_MS) * HOUR_MS), shard: shardOf(reqId, HOUR_SHARDS) };
}

/** Position in the active-index walk of `listActive`, opaque to callers. */
interface ActiveCursor {
  bucket: bigint;
  shard: number;
  after: string | null;
}

function encodeCursor(c: ActiveCursor): string {
  return Buffer.from(JSON.stringify({ b: c.bucket.toString(), s: c.shard, r: c.after })).toString('base64url');
}

function decodeCursor(value: string): ActiveCursor {
  try {
    const v = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { b?: unknown; s?: unknown; r?: unknown };
    if (typeof v.b !== 'string' || !/^\d+$/.test(v.b) || !Number.isInteger(v.s) || (v.r !== null && (typeof v.r !== 'string' || !isUuid(v.r)))) {
      throw new Error('shape');
    }
    return { bucket: BigInt(v.b), shard: v.s as number, after: v.r };
  } catch {
    throw new InvalidCursorError('cursor is not a value this API returned');
  }
}

export class TransferStore {
  private readonly clock: () => Date;
  private readonly actor: string;
  private readonly layout: IndexLayout;
  private registeredBucket: bigint | undefined;

  constructor(
    private readonly client: CassandraClient,
    private readonly opts: TransferStoreOptions,
  ) {
    this.clock = opts.clock ?? (() => new Date());
    this.actor = opts.actor ?? `${hostname()}/${process.pid}`;
    this.layout = opts.indexLayout ?? DEFAULT_INDEX_LAYOUT;
    validateIndexLayout(this.layout);
  }

  async get(reqId: string, opts: { serial?: boolean } = {}): Promise<TransferRecord | undefined> {
    let rs: ResultSet;
    try {
      rs = await this.client.execute(`SELECT ${COLUMNS} FROM transfers WHERE req_id = ?`, [reqId], {
        prepare: true,
        isIdempotent: true,
        ...(opts.serial ? { consistency: this.opts.serialConsistency } : {}),
      });
    } catch (err) {
      throw storeError(err, 'read transfer');
    }
    const row = rs.first();
    return row ? toRecord(row) : undefined;
  }

  /** A row, or the CorruptRowError this version met reading it (listings report it instead of failing). */
  private async readOrCorrupt(reqId: string): Promise<TransferRecord | CorruptRowError | undefined> {
    try {
      return await this.get(reqId);
    } catch (err) {
      if (err instanceof CorruptRowError) return err;
      throw err;
    }
  }

  /** The row and its history (oldest first), or undefined when there is no such transfer. */
  async getWithHistory(reqId: string): Promise<{ record: TransferRecord; history: HistoryEntry[] } | undefined> {
    let rs: ResultSet;
    try {
      rs = await this.client.execute(`SELECT ${COLUMNS}, history FROM transfers WHERE req_id = ?`, [reqId], {
        prepare: true,
        isIdempotent: true,
      });
    } catch (err) {
      throw storeError(err, 'read transfer history');
    }
    const row = rs.first();
    return row ? { record: toRecord(row), history: historyOf(row.get('history')) } : undefined;
  }

  /**
   * Writes a new transfer in state `init`, or returns the existing one with that req_id. The active-index
   * entry and the user's listing entry are written first, so no crash can leave a transfer the sweeper
   * cannot find.
   */
  async create(t: NewTransfer): Promise<{ created: boolean; record: TransferRecord }> {
    validateNewTransfer(t);
    const createdAt = t.createdAt ?? this.clock();
    const entry = indexEntryOf(t.reqId, createdAt, this.layout);
    const hour = hourPartitionOf(t.reqId, createdAt);
    const transitionId = randomUUID();
    try {
      await Promise.all([
        this.client.execute(
          'INSERT INTO transfers_by_hour (hour, shard, created_at, req_id) VALUES (?, ?, ?, ?)',
          [hour.hour, hour.shard, createdAt, t.reqId],
          { prepare: true, isIdempotent: true },
        ),
        this.client.execute('INSERT INTO active_transfers (epoch, req_id) VALUES (?, ?)', [entry.partition, t.reqId], {
          prepare: true,
          isIdempotent: true,
        }),
        this.client.execute(
          'INSERT INTO transfers_by_user (user_id, created_at, req_id) VALUES (?, ?, ?)',
          [t.userId, createdAt, t.reqId],
          { prepare: true, isIdempotent: true },
        ),
      ]);
      // After the entry: a sweeper dropping this bucket meanwhile looks again and sees it (dropBucket).
      await this.registerBucket(entry.bucket);
    } catch (err) {
      throw storeError(err, 'index new transfer');
    }
    const record: TransferRecord = {
      ...t,
      state: 'init',
      version: 1,
      transitionId,
      error: null,
      attempt: 0,
      createdAt,
      updatedAt: createdAt,
      retryRun: null,
      operatorRetry: null,
    };
    const write = await conditionalWrite(
      () =>
        this.client.execute(
          `INSERT INTO transfers (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
          [
            t.reqId, t.userId, t.assetId, t.amount, t.source, t.target, 'init', 1, transitionId, null, 0,
            t.nextAttemptAt, createdAt, createdAt, { 1: creationEntry(createdAt, this.actor) },
          ],
          { prepare: true, isIdempotent: false },
        ),
      () => this.get(t.reqId, { serial: true }),
      `create of transfer ${t.reqId}`,
    );
    if (write.settled && write.value) {
      return write.value.transitionId === transitionId
        ? { created: true, record }
        : { created: false, record: write.value };
    }
    if (!write.settled && write.applied) return { created: true, record };
    const current = await this.get(t.reqId, { serial: true });
    if (!current) throw new StoreUnavailableError(`transfer ${t.reqId} neither created nor found`);
    return { created: false, record: current };
  }

  /**
   * Moves a transfer from `from.state`/`from.version` to `to`. A lost race returns the winner's row.
   * A timeout with unknown outcome is settled by a SERIAL read of the transition marker, never retried blind.
   */
  async compareAndSet(req: CompareAndSet): Promise<CasResult> {
    const { from } = req;
    const now = this.clock();
    const terminal = isTerminal(req.to);
    const note = req.note ?? { event: null, call: null, answer: null };
    // The history is written by this same statement: a self-transition (an unknown outcome, an anomaly)
    // extends the run of retries; a change of state appends its entry (two, by way of `via`), folding the run
    // into the first, and ends the run.
    const { via } = req;
    const folded = !via && req.to === from.state;
    const next: TransferRecord = {
      ...from,
      state: req.to,
      version: from.version + (via ? 2 : 1),
      transitionId: randomUUID(),
      error: req.error,
      attempt: req.attempt,
      nextAttemptAt: terminal ? null : req.nextAttemptAt,
      updatedAt: now,
      retryRun: folded ? foldRetry(from.retryRun, now, note.answer, this.actor) : null,
    };
    const set = 'state = ?, version = ?, transition_id = ?, error = ?, attempt = ?, next_attempt_at = ?, updated_at = ?, retry_run = ?';
    const values = [next.state, next.version, next.transitionId, next.error, next.attempt, next.nextAttemptAt, now, retryRunValue(next.retryRun)];
    const entries = via
      ? {
          [from.version + 1]: entryOf(from, { state: via.state, attempt: 0, updatedAt: now }, via.note, this.actor),
          [next.version]: entryOf({ state: via.state, retryRun: null }, next, note, this.actor),
        }
      : { [next.version]: entryOf(from, next, note, this.actor) };
    const [query, params] = folded
      ? [`UPDATE transfers SET ${set} WHERE req_id = ? IF state = ? AND version = ?`, [...values, from.reqId, from.state, from.version]]
      : [
          `UPDATE transfers SET ${set}, history = history + ? WHERE req_id = ? IF state = ? AND version = ?`,
          [...values, entries, from.reqId, from.state, from.version],
        ];
    const write = await conditionalWrite(
      () => this.client.execute(query, params, { prepare: true, isIdempotent: false }),
      () => this.get(from.reqId, { serial: true }),
      `write to transfer ${from.reqId}`,
    );
    // Settled: our transition marker in the row means our write won.
    const applied = write.settled ? write.value?.transitionId === next.transitionId : write.applied;
    if (!applied) {
      return { applied: false, current: write.settled ? write.value : await this.get(from.reqId, { serial: true }) };
    }
    if (terminal) await this.unindex(next);
    return { applied: true, record: next };
  }

  /**
   * An operator's retry-now: makes an active transfer due at `dueAt` and records who asked, by a
   * compare-and-set on the state and version read (a step landing meanwhile is re-read and the request
   * applied to the new row). Changes no saga column: state, version, attempt and history stay as they are.
   */
  async requestRetry(
    reqId: string,
    operator: string,
    dueAt: Date,
  ): Promise<{ kind: 'due'; record: TransferRecord } | { kind: 'terminal'; record: TransferRecord } | { kind: 'missing' }> {
    for (let round = 0; ; round++) {
      const current = await this.get(reqId, { serial: round > 0 });
      if (!current) return { kind: 'missing' };
      if (isTerminal(current.state)) return { kind: 'terminal', record: current };
      const now = this.clock();
      const mark: OperatorRetry = { times: (current.operatorRetry?.times ?? 0) + 1, lastAt: now, operator };
      const write = await conditionalWrite(
        () =>
          this.client.execute(
            'UPDATE transfers SET next_attempt_at = ?, operator_retry = ? WHERE req_id = ? IF state = ? AND version = ?',
            [dueAt, { times: mark.times, last_at: mark.lastAt, operator }, reqId, current.state, current.version],
            { prepare: true, isIdempotent: false },
          ),
        () => this.get(reqId, { serial: true }),
        `retry of transfer ${reqId}`,
      );
      const applied = write.settled
        ? write.value?.operatorRetry?.lastAt.getTime() === now.getTime() && write.value.operatorRetry.operator === operator
        : write.applied;
      if (applied) return { kind: 'due', record: { ...current, nextAttemptAt: dueAt, operatorRetry: mark } };
      // The saga moved meanwhile: a few rounds always suffice, as every step waits for an adapter call.
      if (round >= 4) throw new StoreUnavailableError(`retry of transfer ${reqId} kept losing to the saga`);
    }
  }

  /** The bucket counts as current while the sweeper cannot drop it: this one and the one before. */
  private isRecent(bucket: IndexBucket): boolean {
    return bucketStartMs(bucket) + 2 * bucket.layout.bucketMs > this.clock().getTime();
  }

  private async registerBucket(bucket: IndexBucket): Promise<void> {
    // Cached only while recent: an older bucket (a replay's original time) is written every time, since
    // the sweeper may have dropped it.
    if (bucket.key === this.registeredBucket && this.isRecent(bucket)) return;
    await this.writeBucket(bucket);
    if (this.isRecent(bucket)) this.registeredBucket = bucket.key;
  }

  private async writeBucket(bucket: IndexBucket): Promise<void> {
    const legacy = bucket.legacy;
    await this.client.execute(
      'INSERT INTO active_epochs (shard, epoch, bucket_ms, shards) VALUES (0, ?, ?, ?)',
      [bucket.key, legacy ? null : bucket.layout.bucketMs, legacy ? null : bucket.layout.shards],
      { prepare: true, isIdempotent: true },
    );
  }

  /** Best effort: a failure (or a layout changed since) leaves an entry the sweeper removes after checking the row. */
  private async unindex(record: TransferRecord): Promise<void> {
    try {
      await this.deleteEntry(indexEntryOf(record.reqId, record.createdAt, this.layout).partition, record.reqId);
    } catch {
      // lazily cleaned by scanActive
    }
  }

  private async deleteEntry(partition: bigint, reqId: string): Promise<void> {
    await this.client.execute('DELETE FROM active_transfers WHERE epoch = ? AND req_id = ?', [partition, reqId], {
      prepare: true,
      isIdempotent: true,
    });
  }

  /**
   * Visits every non-terminal transfer through the active index, cleaning entries of finished or never-created
   * transfers and forgetting buckets that hold no live entry. Cost follows the active set, not history. A
   * partition that cannot be read (a timeout, too many tombstones) is reported in `failedEpochs` and skipped:
   * it never stops the sweep of the others, and its bucket is kept for the next sweep.
   */
  async scanActive(
    visit: (record: TransferRecord) => Promise<void> | void,
    opts: { pageSize?: number } = {},
  ): Promise<ScanStats> {
    const pageSize = opts.pageSize ?? 500;
    const now = this.clock().getTime();
    const stats: ScanStats = {
      epochs: 0, pages: 0, rowsRead: 0, active: 0, corrupt: [], cleaned: 0, epochsDropped: 0, failedEpochs: [],
    };
    let registry: ResultSet;
    try {
      registry = await this.client.execute('SELECT epoch, bucket_ms, shards FROM active_epochs WHERE shard = 0', [], {
        prepare: true,
        isIdempotent: true,
      });
    } catch (err) {
      throw storeError(err, 'scan active transfers');
    }
    stats.rowsRead += registry.rowLength;
    for (const row of registry.rows) {
      const bucket = toBucket(row);
      stats.epochs++;
      let live = 0;
      let failed = false;
      for (let shard = 0; shard < bucket.layout.shards; shard++) {
        const partition = partitionOf(bucket, shard);
        try {
          let pageState: string | undefined;
          do {
            const page = await this.scanPage(bucket, partition, now, pageSize, pageState, stats);
            pageState = page.pageState;
            live += page.live;
            // Visits run outside the partition's own reads: a failing visit (the queue) is the caller's to see.
            for (const record of page.toVisit) await visitRecord(visit, record);
          } while (pageState);
        } catch (err) {
          if (err instanceof VisitError) throw err.cause;
          failed = true;
          stats.failedEpochs.push(`${bucket.key}/${shard}`);
        }
      }
      const over = bucketStartMs(bucket) + 2 * bucket.layout.bucketMs <= now;
      try {
        if (!failed && live === 0 && over && (await this.dropBucket(bucket))) stats.epochsDropped++;
      } catch {
        stats.failedEpochs.push(`${bucket.key}`);
      }
    }
    return stats;
  }

  /** One page of a partition's entries: cleans the obsolete ones and returns the live records to visit. */
  private async scanPage(
    bucket: IndexBucket,
    partition: bigint,
    now: number,
    pageSize: number,
    pageState: string | undefined,
    stats: ScanStats,
  ) {
    const page = await this.client.execute('SELECT req_id FROM active_transfers WHERE epoch = ?', [partition], {
      prepare: true, isIdempotent: true, fetchSize: pageSize, ...(pageState ? { pageState } : {}),
    });
    stats.pages++;
    stats.rowsRead += page.rowLength;
    const reqIds = page.rows.map((r) => String(r.get('req_id')));
    const orphanAge = bucketStartMs(bucket) + bucket.layout.bucketMs + ORPHAN_AFTER_MS <= now;
    // One corrupt row must not stop the sweep for every other transfer.
    const readOrCorrupt = (reqId: string, serial: boolean) =>
      this.get(reqId, { serial }).catch((err: unknown) => {
        if (err instanceof CorruptRowError) return err;
        throw err;
      });
    const records = await Promise.all(reqIds.map((reqId) => readOrCorrupt(reqId, false)));
    let live = 0;
    const toVisit: TransferRecord[] = [];
    for (const [i, reqId] of reqIds.entries()) {
      let record = records[i];
      if (record === undefined && orphanAge) {
        // Before forgetting a create that seems never to have written its row: a SERIAL read completes a
        // create accepted but not yet visible, which would otherwise sit in `init` with no entry forever.
        record = await readOrCorrupt(reqId, true);
      }
      if (record instanceof CorruptRowError) {
        stats.rowsRead++;
        stats.corrupt.push(reqId);
        live++;
        continue;
      }
      if (record) stats.rowsRead++;
      // Drop entries of finished transfers, of creates that never wrote their row, and strays a retried
      // create left elsewhere (the row's own bucket and shard hold its real entry).
      const obsolete = record ? isTerminal(record.state) || !belongsTo(bucket, partition, reqId, record.createdAt) : orphanAge;
      if (obsolete) {
        await this.deleteEntry(partition, reqId);
        stats.cleaned++;
        continue;
      }
      live++;
      if (record) {
        stats.active++;
        toVisit.push(record);
      }
    }
    return { live, toVisit, pageState: page.pageState ?? undefined };
  }

  /**
   * Forgets a bucket that held no live entry, then looks again: a create in that bucket (an idempotent replay
   * keeps its original time) writes its entry before registering the bucket, so an entry that landed while
   * the bucket was being dropped is seen here and the bucket registered again. True when it stays dropped.
   */
  private async dropBucket(bucket: IndexBucket): Promise<boolean> {
    const options = { prepare: true, isIdempotent: true };
    await this.client.execute('DELETE FROM active_epochs WHERE shard = 0 AND epoch = ?', [bucket.key], options);
    for (let shard = 0; shard < bucket.layout.shards; shard++) {
      const again = await this.client.execute(
        'SELECT req_id FROM active_transfers WHERE epoch = ? LIMIT 1',
        [partitionOf(bucket, shard)],
        options,
      );
      if (again.rowLength > 0) {
        await this.writeBucket(bucket);
        return false;
      }
    }
    return true;
  }

  /**
   * Active transfers, oldest bucket first, read from the active index (never from the table): up to `limit`
   * that pass `filter`, looking at no more than `maxScan` index entries per call. `nextCursor` continues
   * where this call stopped (null when the index is exhausted). Read-only: entries of finished transfers
   * are skipped here and cleaned by the sweeper.
   */
  async listActive(opts: {
    limit: number;
    cursor?: string;
    maxScan?: number;
    filter?: (record: TransferRecord) => boolean;
  }): Promise<{ items: TransferRecord[]; corrupt: string[]; scanned: number; nextCursor: string | null }> {
    const maxScan = opts.maxScan ?? 10_000;
    const from = opts.cursor !== undefined ? decodeCursor(opts.cursor) : undefined;
    const items: TransferRecord[] = [];
    const corrupt: string[] = [];
    let scanned = 0;
    const read = async (query: string, params: unknown[]) => {
      try {
        return await this.client.execute(query, params, { prepare: true, isIdempotent: true });
      } catch (err) {
        throw storeError(err, 'list active transfers');
      }
    };
    const registry = await read('SELECT epoch, bucket_ms, shards FROM active_epochs WHERE shard = 0', []);
    for (const row of registry.rows) {
      const bucket = toBucket(row);
      if (from && bucket.key < from.bucket) continue;
      const firstShard = from && bucket.key === from.bucket ? from.shard : 0;
      for (let shard = firstShard; shard < bucket.layout.shards; shard++) {
        let after = from && bucket.key === from.bucket && shard === from.shard ? from.after : null;
        for (;;) {
          const room = Math.min(200, maxScan - scanned);
          if (room <= 0) return { items, corrupt, scanned, nextCursor: encodeCursor({ bucket: bucket.key, shard, after }) };
          const page = after
            ? await read('SELECT req_id FROM active_transfers WHERE epoch = ? AND req_id > ? LIMIT ?', [partitionOf(bucket, shard), after, room])
            : await read('SELECT req_id FROM active_transfers WHERE epoch = ? LIMIT ?', [partitionOf(bucket, shard), room]);
          const reqIds = page.rows.map((r) => String(r.get('req_id')));
          const records = await Promise.all(
            reqIds.map((reqId) => this.readOrCorrupt(reqId)),
          );
          for (const [i, reqId] of reqIds.entries()) {
            scanned++;
            after = reqId;
            const record = records[i];
            if (record instanceof CorruptRowError) corrupt.push(reqId);
            else if (record && !isTerminal(record.state) && belongsTo(bucket, partitionOf(bucket, shard), reqId, record.createdAt)) {
              if (!opts.filter || opts.filter(record)) items.push(record);
              if (items.length >= opts.limit) {
                return { items, corrupt, scanned, nextCursor: encodeCursor({ bucket: bucket.key, shard, after }) };
              }
            }
          }
          if (reqIds.length < room) break;
        }
      }
    }
    return { items, corrupt, scanned, nextCursor: null };
  }

  /**
   * Every transfer created in [since, until), an hour partition at a time, in pages of `pageSize` rows:
   * `visit` gets each page's rows (undefined where the row is missing: a create that never completed), and
   * the next page is read only after it returns, so memory stays bounded by one page whatever the window.
   */
  async forEachCreated(
    since: Date,
    until: Date,
    visit: (page: { reqId: string; record: TransferRecord | CorruptRowError | undefined }[]) => Promise<void>,
    opts: { pageSize?: number } = {},
  ): Promise<{ pages: number; rows: number }> {
    const pageSize = opts.pageSize ?? 500;
    let pages = 0;
    let rows = 0;
    const first = Math.floor(since.getTime() / HOUR_MS) * HOUR_MS;
    for (let hour = first; hour < until.getTime(); hour += HOUR_MS) {
      for (let shard = 0; shard < HOUR_SHARDS; shard++) {
        let pageState: string | undefined;
        do {
          let page: ResultSet;
          try {
            page = await this.client.execute(
              'SELECT req_id FROM transfers_by_hour WHERE hour = ? AND shard = ? AND created_at >= ? AND created_at < ?',
              [BigInt(hour), shard, since, until],
              { prepare: true, isIdempotent: true, fetchSize: pageSize, ...(pageState ? { pageState } : {}) },
            );
          } catch (err) {
            throw storeError(err, 'read transfers by hour');
          }
          pages++;
          rows += page.rowLength;
          pageState = page.pageState ?? undefined;
          const reqIds = page.rows.map((r) => String(r.get('req_id')));
          const records = await Promise.all(
            reqIds.map((reqId) => this.readOrCorrupt(reqId)),
          );
          if (reqIds.length) await visit(reqIds.map((reqId, i) => ({ reqId, record: records[i] })));
        } while (pageState);
      }
    }
    return { pages, rows };
  }

  /** Stores a reconciliation run's summary (the API exports the latest as metrics). */
  async recordReconciliation(run: ReconciliationRun): Promise<void> {
    try {
      await this.client.execute(
        `INSERT INTO reconciliation_runs (scope, finished_at, run_id, since, until, checked, active, mismatches, unverified, actor)
         VALUES ('all', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [run.finishedAt, run.runId, run.since, run.until, BigInt(run.checked), BigInt(run.active), BigInt(run.mismatches), BigInt(run.unverified), run.actor],
        { prepare: true, isIdempotent: true },
      );
    } catch (err) {
      throw storeError(err, 'record reconciliation');
    }
  }

  /** The latest reconciliation run, if any was recorded in the last 90 days. */
  async lastReconciliation(): Promise<ReconciliationRun | undefined> {
    let rs: ResultSet;
    try {
      rs = await this.client.execute(
        "SELECT finished_at, run_id, since, until, checked, active, mismatches, unverified, actor FROM reconciliation_runs WHERE scope = 'all' LIMIT 1",
        [],
        { prepare: true, isIdempotent: true },
      );
    } catch (err) {
      throw storeError(err, 'read reconciliation');
    }
    const row = rs.first();
    if (!row) return undefined;
    const n = (name: string) => Number(row.get(name) as bigint | null ?? 0n);
    return {
      finishedAt: row.get('finished_at') as Date,
      runId: String(row.get('run_id')),
      since: row.get('since') as Date,
      until: row.get('until') as Date,
      checked: n('checked'),
      active: n('active'),
      mismatches: n('mismatches'),
      unverified: n('unverified'),
      actor: (row.get('actor') as string | null) ?? '',
    };
  }

  /** A user's transfers, newest first; `cursor` is the opaque value the previous page returned. */
  async listByUser(
    userId: bigint,
    limit: number,
    cursor?: string,
  ): Promise<{ items: TransferRecord[]; nextCursor: string | null }> {
    try {
      const rs = await this.client.execute('SELECT req_id FROM transfers_by_user WHERE user_id = ?', [userId], {
        prepare: true,
        isIdempotent: true,
        fetchSize: limit,
        ...(cursor ? { pageState: cursor } : {}),
      });
      const records = await Promise.all(rs.rows.map((r) => this.get(String(r.get('req_id')))));
      return {
        items: records.filter((r): r is TransferRecord => r !== undefined),
        nextCursor: rs.pageState ?? null,
      };
    } catch (err) {
      // A forged or stale cursor becomes InvalidPagingStateError: the client's fault, not unavailability.
      throw storeError(err, 'list transfers', { paged: cursor !== undefined });
    }
  }

  /**
   * Claims (user, Idempotency-Key) for a new request. Returns the earlier claim when there is one, so the
   * caller can replay it (same body) or refuse it (different body).
   */
  async claimIdempotencyKey(claim: {
    userId: bigint;
    key: string;
    reqId: string;
    requestHash: string;
    createdAt: Date;
    ttlSeconds: number;
  }): Promise<{ claimed: true } | { claimed: false; reqId: string; requestHash: string; createdAt: Date }> {
    const read = async (serial: boolean) => {
      const rs = await this.client.execute(
        'SELECT req_id, request_hash, created_at FROM idempotency_keys WHERE user_id = ? AND idem_key = ?',
        [claim.userId, claim.key],
        { prepare: true, isIdempotent: true, ...(serial ? { consistency: this.opts.serialConsistency } : {}) },
      );
      return rs.first();
    };
    const write = await conditionalWrite(
      () =>
        this.client.execute(
          `INSERT INTO idempotency_keys (user_id, idem_key, req_id, request_hash, created_at) VALUES (?, ?, ?, ?, ?)
           IF NOT EXISTS USING TTL ?`,
          [claim.userId, claim.key, claim.reqId, claim.requestHash, claim.createdAt, claim.ttlSeconds],
          { prepare: true, isIdempotent: false },
        ),
      () => read(true),
      'idempotency claim',
    );
    if (!write.settled && write.applied) return { claimed: true };
    let row: Row | null;
    try {
      row = write.settled ? write.value : await read(true);
    } catch (err) {
      throw storeError(err, 'read idempotency key');
    }
    if (!row) throw new StoreUnavailableError('idempotency key neither claimed nor found');
    const reqId = String(row.get('req_id'));
    if (reqId === claim.reqId) return { claimed: true };
    return {
      claimed: false,
      reqId,
      requestHash: row.get('request_hash') as string,
      createdAt: row.get('created_at') as Date,
    };
  }
}

/**
 * A row just created (state `init`, as `create` returned it), JSON-safe for a job's data: the first step can
 * start from it instead of reading the row. Only `init` rows: their first action is the begin compare-and-set,
 * never a call, so a snapshot that is stale by then (the row moved meanwhile) costs one lost write, nothing else.
 */
export function createdSnapshot(record: TransferRecord): Record<string, string | number> | undefined {
  if (record.state !== 'init' || record.retryRun || record.operatorRetry) return undefined;
  return {
    userId: record.userId.toString(),
    assetId: record.assetId,
    amount: record.amount.toString(),
    source: record.source,
    target: record.target,
    version: record.version,
    transitionId: record.transitionId,
    attempt: record.attempt,
    createdAt: record.createdAt.getTime(),
    ...(record.error !== null ? { error: record.error } : {}),
    ...(record.nextAttemptAt ? { nextAttemptAt: record.nextAttemptAt.getTime() } : {}),
  };
}

/** The record a `createdSnapshot` describes, or undefined when the value is not one (then the step reads the row). */
export function recordFromSnapshot(reqId: string, value: unknown): TransferRecord | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const int = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) ? x : undefined);
  const big = (x: unknown) => (typeof x === 'string' && /^[1-9][0-9]{0,18}$/.test(x) ? BigInt(x) : undefined);
  const userId = big(v.userId);
  const amount = big(v.amount);
  const assetId = int(v.assetId);
  const version = int(v.version);
  const attempt = int(v.attempt);
  const createdMs = int(v.createdAt);
  const nextMs = v.nextAttemptAt === undefined ? null : int(v.nextAttemptAt);
  const error = v.error === undefined ? null : typeof v.error === 'string' ? v.error : undefined;
  if (
    userId === undefined || amount === undefined || assetId === undefined || version === undefined || attempt === undefined ||
    createdMs === undefined || nextMs === undefined || error === undefined || typeof v.transitionId !== 'string' ||
    !isAccount(v.source) || !isAccount(v.target)
  ) {
    return undefined;
  }
  const createdAt = new Date(createdMs);
  return {
    reqId, userId, assetId, amount, source: v.source, target: v.target, state: 'init', version, transitionId: v.transitionId,
    error, attempt, nextAttemptAt: nextMs === null ? null : new Date(nextMs), createdAt, updatedAt: createdAt, retryRun: null, operatorRetry: null,
  };
}
