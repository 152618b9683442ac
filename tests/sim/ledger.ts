// The reference ledgers in memory: the production rules (apps/ledgers/src/rules.ts) decide every answer and
// write; this file keeps the rows and runs the steps the Cassandra ledger store runs (claim the req_id, read,
// write conditionally, retry on a lost race), each step a separate simulated statement so requests on the same
// req_id or account interleave between them. Requests reach the service over a network with latency and the
// faults the real services inject (latency, 503 before applying, apply-then-reset, refusals); a service can
// crash mid-request and restart with its rows intact.
import { StoreUnavailableError } from '@it/cassandra';
import type { LedgerAdapter } from '@it/adapters';
import { failed, pending, success, type Account, type Movement, type Outcome } from '@it/domain';
import {
  finishClaimAnswer, finishStep, movementClaimAnswer, movementReplay, planMovement, REASONS, success as answered,
  type AccountState, type ClaimRow, type FinishAction, type LedgerAnswer, type LedgerWrite, type MovementKind, type OpRow,
  type Verdict,
} from '../../apps/ledgers/src/rules.ts';
import type { Knobs } from './knobs.ts';
import type { Oracle } from './oracle.ts';
import { Proc, type World } from './world.ts';

export interface LedgerOp extends OpRow {
  userId: bigint;
  assetId: number;
}

export type LedgerRequest =
  | { op: 'withdraw' | 'deposit'; movement: Movement }
  | { op: 'commit' | 'rollback'; reqId: string };

/** What the caller receives: an HTTP reply, or a connection error. */
export type Attempt =
  | { kind: 'reply'; status: number; body: { status: string; reason?: string; state?: string } }
  | { kind: 'error'; code: 'ECONNREFUSED' | 'ECONNRESET' | 'TIMEOUT' };

export const accountKey = (userId: bigint, assetId: number) => `${userId}:${assetId}`;

/** The ledger's durable rows: the `ops` claims and the account partitions (balances and operation rows). */
export class LedgerBook {
  readonly claims = new Map<string, ClaimRow>();
  readonly ops = new Map<string, LedgerOp>();
  readonly accounts = new Map<string, AccountState>();

  constructor(readonly ledger: Account) {}

  account(userId: bigint, assetId: number): AccountState {
    const a = this.accounts.get(accountKey(userId, assetId));
    return a ? { ...a } : { available: 0n, frozen: 0n, debited: 0n, version: null };
  }
}

/** A ledger service: one process over its book. */
export class LedgerService {
  readonly proc: Proc;

  constructor(
    private readonly world: World,
    private readonly knobs: Knobs,
    readonly book: LedgerBook,
    private readonly oracle: Oracle,
    /** Planted bug `forget-tombstone`: a rollback of a req_id never seen answers success and records nothing. */
    private readonly forgetTombstone = false,
  ) {
    this.proc = new Proc(book.ledger);
  }

  private get ledger(): Account {
    return this.book.ledger;
  }

  /** One Cassandra statement's worth of time inside the service. */
  private statement(): Promise<void> {
    return this.world.sleep(this.proc, this.knobs.ledgerLatency());
  }

  /** The route with its fault injection (apps/ledgers/src/routes.ts). `reset` destroys the connection. */
  async handle(req: LedgerRequest): Promise<Attempt | 'reset'> {
    const r = this.world.rng;
    const error = r.chance(this.knobs.ledgerError);
    const refuse = 'movement' in req ? r.chance(this.knobs.refuse) : false;
    const drop = r.chance(this.knobs.drop);
    const reqId = 'movement' in req ? req.movement.reqId : req.reqId;
    await this.statement();
    if (error) {
      this.world.count('ledger 503 before applying');
      return { kind: 'reply', status: 503, body: { status: 'error' } };
    }
    let a: LedgerAnswer;
    try {
      a =
        'movement' in req
          ? await this.movement(req.op, req.movement, refuse ? REASONS.injected : null)
          : await this.finish(req.op, req.reqId);
    } catch (err) {
      this.world.log(() => `  ${this.ledger}: ${(err as Error).message} → 500`);
      return { kind: 'reply', status: 500, body: { status: 'error' } };
    }
    if (req.op === 'rollback' && a.status === 'success') this.oracle.onRollbackAnswered(this.ledger, reqId);
    this.world.log(() => `  ${this.ledger} ${req.op} ${reqId} → ${JSON.stringify(a)}${drop ? ' (reply dropped: reset)' : ''}`);
    if (drop) {
      this.world.count('ledger applied then reset');
      return 'reset';
    }
    if (a.status === 'failed') this.world.count(`ledger refused: ${a.reason}`);
    if (a.status === 'success' && (a.state === 'tombstone' || a.state === 'voided')) this.world.count(`rollback ${a.state}`);
    switch (a.status) {
      case 'success':
        return { kind: 'reply', status: 200, body: { status: 'success', state: a.state } };
      case 'failed':
        return { kind: 'reply', status: a.reason === REASONS.conflict ? 409 : 422, body: { status: 'failed', reason: a.reason } };
      case 'not_found':
        return { kind: 'reply', status: 404, body: { status: 'not_found' } };
      case 'in_flight':
        return { kind: 'reply', status: 503, body: { status: 'pending', reason: 'withdraw_in_flight' } };
    }
  }

  /** One conditional write (a batch with the balance when there is one): applies whole or not at all. */
  private write(reqId: string, userId: bigint, assetId: number, w: LedgerWrite): boolean {
    const book = this.book;
    const before = book.ops.get(reqId);
    if (w.type === 'insert' && before) return false;
    if (w.type === 'update' && !before) return false;
    if (w.balance) {
      const current = book.accounts.get(accountKey(userId, assetId))?.version ?? null;
      if (current !== w.balance.ifVersion) return false;
    }
    const after: LedgerOp =
      w.type === 'insert'
        ? { kind: w.kind, amount: w.amount, state: w.state, reason: w.reason, userId, assetId }
        : { ...before!, state: w.state };
    book.ops.set(reqId, after);
    if (w.balance) {
      const { available, frozen, debited, version } = w.balance;
      book.accounts.set(accountKey(userId, assetId), { available, frozen, debited, version });
    }
    this.oracle.onLedgerWrite(this.ledger, reqId, before, after);
    return true;
  }

  private async backOff(attempt: number, what: string): Promise<void> {
    if (attempt >= 32) throw new StoreUnavailableError(`${what}: account too contended`);
    await this.world.sleep(this.proc, this.world.rng.float() * Math.min(2 * attempt, 20));
  }

  /** LedgerStore.movement: claim, then the operation's row and balance in one conditional batch. */
  private async movement(kind: MovementKind, m: Movement, refuse: string | null): Promise<LedgerAnswer> {
    const book = this.book;
    const mine: ClaimRow = { kind, userId: m.userId, assetId: m.assetId, amount: m.amount, reason: refuse };
    await this.statement();
    const held = book.claims.get(m.reqId);
    if (!held) book.claims.set(m.reqId, mine);
    const fresh = !held;
    const early = movementClaimAnswer(kind, m, held ?? mine);
    if (early) return early;
    const what = `${this.ledger} ${kind} ${m.reqId}`;
    await this.statement();
    if (!fresh) {
      const op = book.ops.get(m.reqId);
      if (op) return resolve(movementReplay(kind, op), what);
    }
    let account = book.account(m.userId, m.assetId);
    for (let attempt = 1; ; attempt++) {
      const step = planMovement(this.ledger, kind, m.amount, account);
      await this.statement();
      if (this.write(m.reqId, m.userId, m.assetId, step.write)) return step.applied;
      await this.backOff(attempt, what);
      await this.statement();
      const op = book.ops.get(m.reqId);
      if (op) return resolve(movementReplay(kind, op), what);
      account = book.account(m.userId, m.assetId);
    }
  }

  /** LedgerStore.finish: commit or rollback; a rollback of a req_id never seen claims it with a tombstone. */
  private async finish(action: FinishAction, reqId: string): Promise<LedgerAnswer> {
    const book = this.book;
    await this.statement();
    let claim = book.claims.get(reqId);
    if (!claim) {
      if (action === 'commit') return { status: 'not_found' };
      if (this.forgetTombstone) return answered('tombstone');
      await this.statement();
      const holder = book.claims.get(reqId);
      if (!holder) {
        book.claims.set(reqId, { kind: 'tombstone', userId: null, assetId: null, amount: null, reason: null });
        return answered('tombstone');
      }
      claim = holder;
    }
    const early = finishClaimAnswer(action, claim);
    if (early) return early;
    const userId = claim.userId!;
    const assetId = claim.assetId!;
    const what = `${this.ledger} ${action} ${reqId}`;
    await this.statement();
    let op = book.ops.get(reqId);
    let account: AccountState | undefined = book.account(userId, assetId);
    for (let attempt = 1; ; attempt++) {
      const step = finishStep(action, claim.amount!, op, account);
      if (step.type !== 'write') return resolve(step, what);
      await this.statement();
      if (this.write(reqId, userId, assetId, step.write)) return step.applied;
      await this.backOff(attempt, what);
      await this.statement();
      op = book.ops.get(reqId);
      account = book.account(userId, assetId);
    }
  }
}

function resolve(verdict: Verdict, what: string): LedgerAnswer {
  if (verdict.type === 'corrupt') throw new Error(`${what}: ${verdict.problem}`);
  return verdict.answer;
}

/** The network between processes: a request's trip, the service's handling, the reply's trip back. */
export class Network {
  constructor(
    private readonly world: World,
    private readonly knobs: Knobs,
  ) {}

  /** Sends `req` from `client` to `service`; `reply` runs in the client (never, if the client crashed). */
  send(client: Proc, service: LedgerService, req: LedgerRequest, reply: (a: Attempt) => void, outbound?: number): void {
    const { world, knobs } = this;
    const sender = client.incarnation;
    world.inFlight++;
    world.at(outbound ?? knobs.netLatency(), () => {
      if (!service.proc.alive) {
        world.inFlight--;
        world.deliver(client, knobs.netLatency(), () => reply({ kind: 'error', code: 'ECONNREFUSED' }), sender);
        return;
      }
      // Ends the request: its answer, or a reset when the service dies with it in hand.
      const end = (a: Attempt) => {
        world.inFlight--;
        world.deliver(client, knobs.netLatency(), () => reply(a), sender);
      };
      const crashed = () => end({ kind: 'error', code: 'ECONNRESET' });
      service.proc.onCrash.add(crashed);
      void service.handle(req).then((a) => {
        service.proc.onCrash.delete(crashed);
        end(a === 'reset' ? { kind: 'error', code: 'ECONNRESET' } : a);
      });
    });
  }
}

/** Errors and codes the HTTP adapter retries at once (packages/adapters/src/http-adapter.ts). */
const RETRY_CODES = new Set([502, 503, 504]);
const RETRY_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET']);
const REFUSAL_CODES = new Set([409, 422]);
const RETRY_DELAY_MS = 25;

export interface AdapterPlants {
  /** Planted bug `compensate-on-unknown`: an unknown deposit outcome is reported as a refusal. */
  pendingDepositIsRefusal?: boolean;
  /** Planted bug `commit-early`: commit is sent and reported successful without waiting for the answer. */
  commitWithoutWaiting?: boolean;
}

/**
 * The HTTP adapter's behaviour over the simulated network: one deadline per call, one immediate retry after
 * a 5xx gateway answer or a connection error, and every answer it cannot prove mapped to `pending`.
 */
export class SimLedgerAdapter implements LedgerAdapter {
  readonly name: Account;

  constructor(
    private readonly world: World,
    private readonly net: Network,
    private readonly client: Proc,
    private readonly service: LedgerService,
    private readonly timeoutMs: number,
    private readonly plants: AdapterPlants = {},
  ) {
    this.name = service.book.ledger;
  }

  private call(req: LedgerRequest): Promise<Attempt> {
    const { world, client } = this;
    return new Promise((resolve) => {
      let done = false;
      const finish = (a: Attempt) => {
        if (done) return;
        done = true;
        resolve(a);
      };
      world.deliver(client, this.timeoutMs, () => finish({ kind: 'error', code: 'TIMEOUT' }));
      const attempt = (n: number) =>
        this.net.send(client, this.service, req, (a) => {
          if (done) return;
          const retry = a.kind === 'error' ? RETRY_ERRORS.has(a.code) : RETRY_CODES.has(a.status);
          if (n < 1 && retry) world.deliver(client, RETRY_DELAY_MS * (1 + world.rng.float()), () => !done && attempt(n + 1));
          else finish(a);
        });
      attempt(0);
    });
  }

  private async op(req: LedgerRequest): Promise<Outcome> {
    const a = await this.call(req);
    const outcome = outcomeOf(this.name, a);
    this.world.log(() => `  ${this.client.name} ⇐ ${this.name}.${req.op}: ${outcome.kind}${outcome.kind === 'pending' ? ` (${outcome.detail})` : outcome.kind === 'failed' ? ` (${outcome.reason})` : ''}`);
    return outcome;
  }

  withdraw(movement: Movement): Promise<Outcome> {
    return this.op({ op: 'withdraw', movement });
  }

  async deposit(movement: Movement): Promise<Outcome> {
    const outcome = await this.op({ op: 'deposit', movement });
    if (this.plants.pendingDepositIsRefusal && outcome.kind === 'pending') return failed(`deposit not confirmed: ${outcome.detail}`);
    return outcome;
  }

  commit(reqId: string): Promise<Outcome> {
    const sent = this.op({ op: 'commit', reqId });
    if (!this.plants.commitWithoutWaiting) return sent;
    void sent;
    return Promise.resolve(success());
  }

  rollback(reqId: string): Promise<Outcome> {
    return this.op({ op: 'rollback', reqId });
  }

  query(): Promise<Outcome> {
    return Promise.reject(new Error('the saga never queries'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function outcomeOf(name: string, a: Attempt): Outcome {
  if (a.kind === 'error') {
    return a.code === 'TIMEOUT' ? pending(`${name}: no reply in time`, 'timeout') : pending(`${name}: ${a.code}`, 'connection_error');
  }
  if (a.status === 200 && a.body.status === 'success') return success();
  if (REFUSAL_CODES.has(a.status) && a.body.status === 'failed' && a.body.reason) return failed(a.body.reason);
  return pending(`${name}: unexpected reply HTTP ${a.status}`, a.status >= 500 ? 'server_error' : 'bad_reply');
}
