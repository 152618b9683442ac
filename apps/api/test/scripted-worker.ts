// The real worker (startWorker: coordinator, step processor, transition publisher) in this process, on a test
// API's queue prefix, with in-memory ledgers scripted by amount: a refusal, a withdraw held until the test
// releases it, or success. For tests that need transfers to move for real without the reference ledgers.
import type { ApiConfig } from '@it/config';
import { loadWorkerConfig } from '@it/config';
import { failed, success, type Outcome } from '@it/domain';
import { createLogger } from '@it/observability';
import { startWorker, type Adapters, type RunningWorker } from '@it/worker';

/** The amount a ledger refuses to withdraw ("insufficient funds"). */
export const REFUSED_AMOUNT = 13n;

export class ScriptedLedgers {
  private readonly gates = new Map<bigint, { opened: Promise<void>; open: () => void }>();
  /** req_ids whose withdraw is waiting at a gate. */
  readonly waiting = new Set<string>();

  /** Withdraws of `amount` wait until the returned function is called. */
  hold(amount: bigint): () => void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gates.set(amount, { opened, open });
    return () => {
      this.gates.delete(amount);
      open();
    };
  }

  releaseAll(): void {
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
  }

  adapters(): Adapters {
    const ledger = (name: 'funding' | 'trading') => ({
      name,
      withdraw: async (m: { reqId: string; amount: bigint }): Promise<Outcome> => {
        const gate = this.gates.get(m.amount);
        if (gate) {
          this.waiting.add(m.reqId);
          await gate.opened;
          this.waiting.delete(m.reqId);
        }
        return m.amount === REFUSED_AMOUNT ? failed('insufficient funds') : success();
      },
      deposit: () => Promise.resolve(success()),
      commit: () => Promise.resolve(success()),
      rollback: () => Promise.resolve(success()),
      query: () => Promise.resolve(success()),
      close: () => Promise.resolve(),
    });
    return { funding: ledger('funding'), trading: ledger('trading') };
  }
}

/** A worker on `api`'s queue and keyspace, without the sweeper (tests create rows it must not pick up). */
export async function startScriptedWorker(api: ApiConfig, ledgers: ScriptedLedgers): Promise<RunningWorker> {
  const config = loadWorkerConfig({
    ...process.env,
    NODE_ENV: 'test',
    REDIS_URL: api.REDIS_URL,
    QUEUE_PREFIX: api.QUEUE_PREFIX,
    CASSANDRA_KEYSPACE: api.CASSANDRA_KEYSPACE,
    METRICS_PORT: '0',
    SWEEPER_ENABLED: 'false',
    BACKOFF_BASE_MS: '100',
    BACKOFF_MAX_MS: '500',
  });
  return startWorker(config, { adapters: ledgers.adapters(), logger: createLogger('scripted-worker', process.env.API_TEST_LOG_LEVEL ?? 'silent') });
}
