// A small client for the reference ledgers' admin and balance endpoints: funding accounts in tests and
// scripts, reading balances, switching fault injection.
import type { FaultSettings } from './faults.ts';

export interface LedgerAdminClient {
  credit(userId: bigint, assetId: number, amount: bigint, reqId?: string): Promise<void>;
  balance(userId: bigint, assetId: number): Promise<{ available: bigint; frozen: bigint }>;
  setFaults(settings: Partial<FaultSettings>): Promise<void>;
  stats(): Promise<{ lwt: number; reads: number; serialReads: number; casRetries: number }>;
}

export function ledgerAdminClient(baseUrl: string, adminToken: string): LedgerAdminClient {
  const base = baseUrl.replace(/\/+$/, '');
  const auth = { authorization: `Bearer ${adminToken}` };
  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(base + path, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }
  return {
    async credit(userId, assetId, amount, reqId) {
      await call('POST', '/v1/admin/credit', {
        ...(reqId ? { req_id: reqId } : {}),
        user_id: userId.toString(),
        asset_id: assetId,
        amount: amount.toString(),
      });
    },
    async balance(userId, assetId) {
      const b = (await call('GET', `/v1/balances/${userId}/${assetId}`)) as { available: string; frozen: string };
      return { available: BigInt(b.available), frozen: BigInt(b.frozen) };
    },
    async setFaults(s) {
      await call('PUT', '/v1/admin/faults', {
        latency_ms: s.latencyMs ?? 0,
        latency_jitter_ms: s.latencyJitterMs ?? 0,
        error_rate: s.errorRate ?? 0,
        drop_response_rate: s.dropResponseRate ?? 0,
        refuse_rate: s.refuseRate ?? 0,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
      });
    },
    async stats() {
      return (await call('GET', '/v1/admin/stats')) as Awaited<ReturnType<LedgerAdminClient['stats']>>;
    },
  };
}
