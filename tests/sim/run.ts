// One simulated run: builds the world a scenario describes (ledgers with opening balances, the store, the
// queue, workers running the production saga, the API creating transfers, a contract client giving up on
// withdraws), lets faults hit it until `faultsEndMs`, and runs until everything is finished and still, or the
// liveness deadline passes. Invariants are checked at every write and at the end.
import type { Account } from '@it/domain';
import { enqueueTransfer } from '@it/queue';
import { createdSnapshot, type NewTransfer } from '@it/store';
import { Knobs } from './knobs.ts';
import { accountKey, LedgerBook, LedgerService, Network } from './ledger.ts';
import { Oracle } from './oracle.ts';
import { SimQueue, SimQueueClient } from './queue.ts';
import { Rng } from './rng.ts';
import { encode, type Bug, type Scenario } from './scenario.ts';
import { TransferDb } from './store.ts';
import { SimWorker, type WorldParts } from './worker.ts';
import { Proc, World } from './world.ts';

/** Once faults stop, every transfer must be terminal within this much simulated time. */
export const LIVENESS_MS = 5 * 60_000;
/** How long the API lets a new transfer wait for a worker before the sweeper may take it (apps/api). */
const SWEEPER_GRACE_MS = 30_000;
const ASSET = 1;

export interface RunResult {
  token: string;
  violations: string[];
  transfers: number;
  outcomes: Record<string, number>;
  /** How often each kind of adversity happened in the run. */
  coverage: Map<string, number>;
  events: number;
  simulatedMs: number;
  wallMs: number;
}

function plantsFor(bug: Bug | undefined) {
  return {
    pendingDepositIsRefusal: bug === 'compensate-on-unknown',
    commitWithoutWaiting: bug === 'commit-early',
    blindCasRetry: bug === 'blind-cas-retry',
    forgetTombstone: bug === 'forget-tombstone',
    noSweeper: bug === 'no-sweeper',
  };
}

export async function runScenario(s: Scenario, opts: { trace?: (line: string) => void } = {}): Promise<RunResult> {
  const t0 = performance.now();
  const rng = new Rng(s.seed);
  const world = new World(rng);
  world.trace = opts.trace ?? null;
  const knobs = new Knobs(world, s);
  const oracle = new Oracle(world);
  const books = { funding: new LedgerBook('funding'), trading: new LedgerBook('trading') };
  oracle.books = books;
  const plants = plantsFor(s.bug);
  const ledgers = {
    funding: new LedgerService(world, knobs, books.funding, oracle, plants.forgetTombstone),
    trading: new LedgerService(world, knobs, books.trading, oracle, plants.forgetTombstone),
  };
  const queue = new SimQueue(world, knobs, plants.noSweeper);
  const parts: WorldParts = {
    world, knobs, db: new TransferDb(world, knobs, oracle), queue, net: new Network(world, knobs), ledgers, plants, oracle,
  };
  world.log(() => `scenario ${encode(s)}`);

  // Opening balances (the ledgers' admin credit), on few users so transfers contend for the same accounts.
  const users: bigint[] = [];
  for (let u = 1; u <= s.users; u++) {
    const userId = BigInt(1000 + u);
    users.push(userId);
    let total = 0n;
    for (const book of Object.values(books)) {
      const available = BigInt(rng.int(0, 2_000));
      book.accounts.set(accountKey(userId, ASSET), { available, frozen: 0n, debited: 0n, version: 1n });
      total += available;
    }
    oracle.setOpening(userId, ASSET, total);
    world.log(() => `user ${userId}: funding ${books.funding.account(userId, ASSET).available}, trading ${books.trading.account(userId, ASSET).available}`);
  }

  // Processes that crash and restart. A restarted worker builds its coordinator, clients and adapters anew.
  const restart = new Map<Proc, () => void>();
  const workers = new Map<Proc, SimWorker>();
  for (let i = 1; i <= s.workers; i++) {
    const w = new SimWorker(parts, `worker-${i}`, s.concurrency);
    queue.addConsumer(w);
    restart.set(w.proc, () => w.boot());
    workers.set(w.proc, w);
  }
  for (const l of Object.values(ledgers)) restart.set(l.proc, () => undefined);
  const stopThenStart = (proc: Proc, boot: () => void) => {
    world.crash(proc);
    world.at(knobs.restartMs(), () => {
      boot();
      world.restart(proc);
      queue.pump();
    });
  };
  world.interrupt = (proc) => {
    const boot = restart.get(proc);
    if (!boot) return;
    const worker = workers.get(proc);
    if (rng.chance(knobs.crash(worker !== undefined))) {
      // A third of the workers' stops are graceful (SIGTERM on a rollout): jobs in hand are released first.
      if (worker && rng.chance(0.3)) {
        world.count('graceful stop');
        worker.drain(() => stopThenStart(proc, boot));
      } else {
        stopThenStart(proc, boot);
      }
    } else if (rng.chance(knobs.pause)) {
      const ms = knobs.pauseMs(worker !== undefined);
      world.pause(proc, ms);
      world.at(ms, () => queue.pump());
    }
  };
  queue.startTimers();

  // The API: writes the init row, then enqueues; a crash in between loses the job (the sweeper finds it).
  const api = new Proc('api');
  const apiQueue = new SimQueueClient(world, queue, api);
  let created = 0;
  for (let i = 1; i <= s.transfers; i++) {
    const [source, target]: [Account, Account] = rng.chance(0.5) ? ['funding', 'trading'] : ['trading', 'funding'];
    const t: Omit<NewTransfer, 'nextAttemptAt'> = {
      reqId: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
      userId: rng.pick(users),
      assetId: ASSET,
      amount: BigInt(rng.int(1, 800)),
      source,
      target,
    };
    world.at(rng.int(0, knobs.loadMs), () => {
      const record = parts.db.create({ ...t, nextAttemptAt: new Date(world.epochMs() + SWEEPER_GRACE_MS) }, world.date());
      created++;
      world.log(() => `api: created ${t.reqId}: ${t.amount} ${source} → ${target} for user ${t.userId}`);
      if (rng.chance(knobs.crashLevel / 10)) {
        world.log(() => `api: CRASH before enqueueing ${t.reqId}`);
        return;
      }
      // With the row as created, as the API enqueues it: the job's first run starts from it.
      enqueueTransfer(apiQueue, t.reqId, createdSnapshot(record)).catch(() => world.log(() => `api: could not enqueue ${t.reqId}: left to the sweeper`));
    });
  }

  // A contract client that gives up on its withdraws and rolls them back, while the withdraw may still be
  // on its way (docs/adapter-contract.md, rule 4). It retries the rollback until a definite success.
  const strays = [0, 2, 5, 10][s.faults.s]!;
  const client = new Proc('stray-client');
  for (let i = 1; i <= strays; i++) {
    const reqId = `57a7e000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
    const ledger: Account = rng.chance(0.5) ? 'funding' : 'trading';
    const movement = { reqId, userId: rng.pick(users), assetId: ASSET, amount: BigInt(rng.int(1, 300)) };
    oracle.addStray(reqId, { ledger, userId: movement.userId, assetId: ASSET, amount: movement.amount });
    const rollback = () =>
      parts.net.send(client, ledgers[ledger], { op: 'rollback', reqId }, (a) => {
        if (!(a.kind === 'reply' && a.status === 200)) world.at(500, rollback);
      });
    world.at(rng.int(0, knobs.loadMs), () => {
      world.log(() => `stray-client: withdraw ${reqId} of ${movement.amount} on ${ledger}, then gives up`);
      parts.net.send(client, ledgers[ledger], { op: 'withdraw', movement }, () => undefined, rng.int(0, 8_000));
      world.at(rng.int(300, 3_000), rollback);
    });
  }

  const deadline = knobs.faultsEndMs + LIVENESS_MS;
  const still = () =>
    created === s.transfers &&
    oracle.active === 0 &&
    world.inFlight === 0 &&
    world.deliveries === 0 &&
    oracle.unresolvedStrays === 0;
  await world.run(() => oracle.failed || world.now > deadline || still(), () => undefined);
  if (!oracle.failed) oracle.checkQuiescent(world.now > deadline);

  const outcomes: Record<string, number> = {};
  for (const r of oracle.rows.values()) {
    outcomes[r.state] = (outcomes[r.state] ?? 0) + 1;
    world.count(`transfer ${r.state}`);
  }
  return {
    token: encode(s),
    violations: oracle.violations,
    transfers: s.transfers,
    outcomes,
    coverage: world.coverage,
    events: world.events,
    simulatedMs: world.now,
    wallMs: performance.now() - t0,
  };
}
