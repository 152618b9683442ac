// The bench's clients: POST /api/v1/transfer as the exchange frontend does (bearer token, Idempotency-Key,
// synchronous answer), over keep-alive connections. Closed loop: a fixed number of clients, each posting
// again as soon as it has its answer. Open loop: arrivals at a fixed mean rate (Poisson), whatever the answers.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { isTerminal, type State } from '@it/fsm';

export interface BenchUser {
  id: string;
  token: string;
}

export interface Answer {
  status: number;
  /** The body's `status`: committed, rolled_back, failed or pending. */
  outcome: string;
  reqId: string;
  /** From the request's (scheduled) start to the end of the answer. */
  ms: number;
}

export interface LoadResult {
  answers: Answer[];
  /** First request to last answer. */
  seconds: number;
}

/** Transfer `i` alternates directions, and goes to a user no concurrent transfer has (users ≫ clients). */
export function transferFor(i: number, users: readonly BenchUser[]) {
  const user = users[i % users.length]!;
  const forward = (i + Math.floor(i / users.length)) % 2 === 0;
  return { user, from: forward ? 'funding' : 'trading', to: forward ? 'trading' : 'funding' } as const;
}

export class TransferLoad {
  private readonly pool: Pool;

  constructor(apiUrl: string, connections: number) {
    this.pool = new Pool(apiUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async post(i: number, users: readonly BenchUser[], startedAt = performance.now()): Promise<Answer> {
    const { user, from, to } = transferFor(i, users);
    const res = await this.pool.request({
      method: 'POST',
      path: '/api/v1/transfer',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${user.token}`,
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ from, to, user_id: user.id, asset_id: 1, amount: '1' }),
    });
    const body = (await res.body.json()) as { status?: string; req_id?: string };
    return { status: res.statusCode, outcome: body.status ?? '?', reqId: body.req_id ?? '', ms: performance.now() - startedAt };
  }

  /** `clients` loops posting transfers `first`, `first + 1`, … until `count` have been posted. */
  async closedLoop(users: readonly BenchUser[], opts: { clients: number; count: number; first?: number }): Promise<LoadResult> {
    const first = opts.first ?? 0;
    let next = 0;
    const answers: Answer[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        for (let i = next++; i < opts.count; i = next++) answers.push(await this.post(first + i, users));
      }),
    );
    return { answers, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * Posts at `rate` per second on average (exponential gaps from a seeded generator) for `seconds`, never
   * waiting for answers; each latency counts from the request's scheduled time, so a stalled sender shows.
   */
  async openLoop(users: readonly BenchUser[], opts: { rate: number; seconds: number; first?: number; seed?: number }): Promise<LoadResult & { sent: number }> {
    const random = mulberry32(opts.seed ?? 1);
    const first = opts.first ?? 0;
    const inFlight: Promise<void>[] = [];
    const answers: Answer[] = [];
    const t0 = performance.now();
    const end = t0 + opts.seconds * 1000;
    let due = t0;
    let i = 0;
    for (;;) {
      due += (-Math.log(1 - random()) / opts.rate) * 1000;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      inFlight.push(this.post(first + i++, users, due).then((a) => void answers.push(a)));
    }
    await Promise.all(inFlight);
    return { answers, seconds: (performance.now() - t0) / 1000, sent: i };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Answers other than 200/202 (429, 5xx…): the run is not a valid measurement if there are any. */
export function unexpected(answers: readonly Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) if (a.status !== 200 && a.status !== 202) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
}

export function outcomes(answers: readonly Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[a.outcome] = (out[a.outcome] ?? 0) + 1;
  return out;
}

/**
 * Waits until every transfer answered `pending` is terminal, reading rows with `read`; returns how many
 * reads that took (the bench subtracts them from the product's counted reads).
 */
export async function untilTerminal(
  answers: readonly Answer[],
  read: (reqId: string) => Promise<{ state: State } | undefined>,
  timeoutMs = 120_000,
): Promise<{ reads: number; states: Record<string, number> }> {
  const states: Record<string, number> = {};
  let open = answers.filter((a) => a.outcome === 'pending').map((a) => a.reqId);
  for (const a of answers) if (a.outcome !== 'pending') states[a.outcome] = (states[a.outcome] ?? 0) + 1;
  let reads = 0;
  const deadline = Date.now() + timeoutMs;
  while (open.length) {
    if (Date.now() > deadline) throw new Error(`${open.length} transfers still not terminal after ${timeoutMs} ms`);
    // A read that fails (a loaded node's timeout) is asked again at the next pass.
    const rows = await Promise.all(open.map((id) => read(id).catch(() => undefined)));
    reads += open.length;
    const still: string[] = [];
    rows.forEach((row, k) => {
      if (row && isTerminal(row.state)) states[row.state] = (states[row.state] ?? 0) + 1;
      else still.push(open[k]!);
    });
    open = still;
    if (open.length) await sleep(50);
  }
  return { reads, states };
}

/** A small seeded generator: the same arrival times on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
