// A transfer's state changes as Redis pub/sub messages: the workers publish each transition they wrote,
// the API's event streams (GET /api/v1/transfer/{req_id}/events) listen on whichever replica holds the
// stream. Like the queue, an accelerator: a lost message only delays a stream until its next resync from
// Cassandra, and `version` (the row's compare-and-set counter) orders messages that arrive out of order.

export interface TransitionMessage {
  reqId: string;
  state: string;
  version: number;
  error: string | null;
  /** The row's `attempt` (retry_count on the wire). */
  attempt: number;
  updatedAt: Date;
}

/** One channel per transfer: a replica only receives the transfers it has streams open for. */
export function transitionChannel(prefix: string, reqId: string): string {
  return `${prefix}:transitions:${reqId}`;
}

export function encodeTransition(m: TransitionMessage): string {
  return JSON.stringify({
    req_id: m.reqId, state: m.state, version: m.version, error: m.error, attempt: m.attempt, updated_at: m.updatedAt.toISOString(),
  });
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The message, or undefined for anything that is not one (Redis is shared: never trust a channel's text). */
export function decodeTransition(text: string): TransitionMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const updatedAt = typeof o.updated_at === 'string' ? new Date(o.updated_at) : undefined;
  if (
    typeof o.req_id !== 'string' || typeof o.state !== 'string' || !isCount(o.version) || !isCount(o.attempt) ||
    !(o.error === null || typeof o.error === 'string') || !updatedAt || Number.isNaN(updatedAt.getTime())
  ) {
    return undefined;
  }
  return { reqId: o.req_id, state: o.state, version: o.version, error: o.error, attempt: o.attempt, updatedAt };
}
