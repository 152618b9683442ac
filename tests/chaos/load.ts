// The chaos run's clients: transfers in both directions for many users through the APIs, each with its own
// Idempotency-Key, retried like a real client on connection errors, 5xx and 429 (same key, next API), until
// an API answers. Every answer is recorded per key: the invariant checker compares them with the store.
import { randomUUID } from 'node:crypto';
import type { Account } from '@it/domain';
import { sleep } from '@it/runtime';
import { tokenFor } from '../support/product.ts';
import type { Random } from './random.ts';

export const ASSET_ID = 1;

export interface Intent {
  key: string;
  user: string;
  source: Account;
  target: Account;
  amount: bigint;
}

/** What the clients learnt about one Idempotency-Key. */
export interface KeyRecord {
  intent: Intent;
  /** Every req_id an API answered for this key (one, unless an unknown create answered with one never written). */
  reqIds: Set<string>;
  /** The latest status an API gave: a terminal one is final (the checker holds the store to it). */
  status: string;
  reqId: string;
}

export interface ClientStats {
  requests: number;
  byStatus: Map<number, number>;
  connectionErrors: number;
  retries: number;
  /** Answers a well-formed request must never get (400, 401, 403, 409…): each is also a violation. */
  unexpected: number;
}

export interface Answer {
  status: number;
  body: { req_id?: string; status?: string; message?: string | null; state?: string } | undefined;
}

const RETRY_MAX_MS = 2_000;
const TERMINAL = new Set(['committed', 'rolled_back', 'failed']);
/** A request that waited this long for an answer is abandoned and retried (the API may be wedged or dead). */
const REQUEST_TIMEOUT_MS = 15_000;

/** Tokens are valid for an hour: make a fresh one every ten minutes. */
class Tokens {
  private readonly cache = new Map<string, { token: string; at: number }>();
  get(user: string): string {
    const hit = this.cache.get(user);
    if (hit && Date.now() - hit.at < 600_000) return hit.token;
    const token = tokenFor(user);
    this.cache.set(user, { token, at: Date.now() });
    return token;
  }
}

export class LoadClient {
  readonly keys = new Map<string, KeyRecord>();
  readonly stats: ClientStats = { requests: 0, byStatus: new Map(), connectionErrors: 0, retries: 0, unexpected: 0 };
  private readonly tokens = new Tokens();
  private next = 0;

  constructor(
    private readonly apiUrls: string[],
    private readonly onUnexpected: (what: string) => void,
    private readonly onAnswer: (key: KeyRecord) => void,
  ) {}

  /** One request to the next API, retried (same request, next API) until an answer that is not a retry. */
  private async request(method: 'POST' | 'GET', path: string, user: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        await sleep(Math.min(RETRY_MAX_MS, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
      const url = `${this.apiUrls[this.next++ % this.apiUrls.length]}${path}`;
      this.stats.requests++;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: { authorization: `Bearer ${this.tokens.get(user)}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch {
        this.stats.connectionErrors++;
        continue;
      }
      this.stats.byStatus.set(res.status, (this.stats.byStatus.get(res.status) ?? 0) + 1);
      let parsed: Answer['body'];
      try {
        parsed = (await res.json()) as Answer['body'];
      } catch {
        // A body cut off by a dying API: retry like a connection error.
        this.stats.connectionErrors++;
        continue;
      }
      if (res.status >= 500 || res.status === 429) continue;
      return { status: res.status, body: parsed };
    }
  }

  /** Submits `intent` until an API accepted it (200 terminal, 202 pending), recording every answer. */
  async submit(intent: Intent): Promise<KeyRecord> {
    const record = this.keys.get(intent.key) ?? { intent, reqIds: new Set<string>(), status: 'unsent', reqId: '' };
    this.keys.set(intent.key, record);
    const body = {
      from: intent.source, to: intent.target, user_id: intent.user, asset_id: ASSET_ID, amount: intent.amount.toString(),
    };
    const answer = await this.request('POST', '/api/v1/transfer', intent.user, body, { 'idempotency-key': intent.key });
    if ((answer.status !== 200 && answer.status !== 202) || !answer.body?.req_id || !answer.body.status) {
      this.stats.unexpected++;
      this.onUnexpected(`POST for key ${intent.key} answered ${answer.status} ${JSON.stringify(answer.body)}`);
      return record;
    }
    record.reqIds.add(answer.body.req_id);
    record.reqId = answer.body.req_id;
    record.status = answer.body.status;
    this.onAnswer(record);
    return record;
  }

  /**
   * Polls the transfer (GET) until it is terminal, as a client waiting for its outcome does; a 404 (an unknown
   * create that was never written) is answered by submitting the same key again. Gives up after `timeoutMs`:
   * the drain then waits for it, and the checker's drain bound judges it.
   */
  async settle(record: KeyRecord, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let poll = 0; !TERMINAL.has(record.status) && Date.now() < deadline; poll++) {
      await sleep(Math.min(2_000, 250 * 2 ** Math.min(poll, 3)));
      const state = await this.state(record);
      if (state === 'missing') await this.submit(record.intent);
      else if (state && TERMINAL.has(state)) {
        record.status = state;
        this.onAnswer(record);
      }
    }
  }

  /** The transfer's state through the API: its wire state, `missing` for a 404, or undefined when unknown. */
  async state(record: KeyRecord): Promise<string | undefined> {
    const answer = await this.request('GET', `/api/v1/transfer/${record.reqId}`, record.intent.user);
    if (answer.status === 404) return 'missing';
    if (answer.status !== 200 || !answer.body?.state) {
      this.stats.unexpected++;
      this.onUnexpected(`GET ${record.reqId} answered ${answer.status} ${JSON.stringify(answer.body)}`);
      return undefined;
    }
    return answer.body.state;
  }
}

/** Transfers drawn from the run's seed: a user, a direction and an amount each. */
export function intents(random: Random, users: string[], maxAmount: bigint): () => Intent {
  return () => {
    const user = users[random.int(users.length)]!;
    const source: Account = random.float() < 0.5 ? 'funding' : 'trading';
    return {
      key: randomUUID(), user, source, target: source === 'funding' ? 'trading' : 'funding',
      amount: 1n + BigInt(random.int(Number(maxAmount))),
    };
  };
}
