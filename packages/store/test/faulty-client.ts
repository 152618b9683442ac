// A cassandra-driver client wrapper for the failures one healthy node cannot produce on demand: the next
// statement matching a queued fault loses its reply after it applied, is lost before it is sent, or is
// refused as Unavailable. Everything else passes through to the real Cassandra.
import { errors, types, type CassandraClient, type ResultSet } from '@it/cassandra';

export type Fault =
  /** Sent and applied; the client times out waiting for the reply. */
  | 'reply lost'
  /** Never sent; to the caller it is as unknown as a lost reply (a reset socket cannot tell which). */
  | 'request lost'
  /** Unavailable: refused before proposing on Paxos v2, but on v1 the commit phase can fail after acceptance. */
  | 'unavailable'
  /** No host took the request (the driver says it was never written): certainly not applied. */
  | 'not sent'
  /** Sent and applied; the reply has no boolean `[applied]` (the driver's wasApplied() would say true). */
  | 'reply without [applied]';

export interface StatementOptions {
  consistency?: number;
}

type Match = (query: string, options: StatementOptions) => boolean;

export class FaultyClient {
  private readonly pending: { match: Match; fault: Fault; before?: () => Promise<unknown> }[] = [];
  /** Every statement the store sent or tried to send, in order. */
  readonly statements: { query: string; options: StatementOptions }[] = [];

  constructor(private readonly real: CassandraClient) {}

  /** `before` runs just ahead of the matched statement: a rival's write that lands first. */
  failNext(match: Match, fault: Fault, before?: () => Promise<unknown>): void {
    this.pending.push({ match, fault, ...(before ? { before } : {}) });
  }

  /** Every queued fault was met: the path a test names really ran. */
  get idle(): boolean {
    return this.pending.length === 0;
  }

  /** The view the store is given; it only calls execute(). */
  asClient(): CassandraClient {
    return this as unknown as CassandraClient;
  }

  async execute(query: string, params: unknown[], options: StatementOptions = {}): Promise<ResultSet> {
    this.statements.push({ query, options });
    const i = this.pending.findIndex((p) => p.match(query, options));
    if (i < 0) return this.real.execute(query, params, options);
    const { fault, before } = this.pending.splice(i, 1)[0]!;
    await before?.();
    if (fault === 'request lost') throw new Error('connection reset before the request was written (simulated)');
    if (fault === 'not sent') {
      const inner = Object.assign(new Error('no connection available (simulated)'), { requestNotWritten: true });
      throw new errors.NoHostAvailableError({ '127.0.0.1:9042': inner });
    }
    if (fault === 'unavailable') {
      // The driver's ResponseError carries the native protocol's code; Unavailable is 0x1000.
      throw Object.assign(new Error('not enough replicas (simulated)'), { code: types.responseErrorCodes.unavailableException });
    }
    const rs = await this.real.execute(query, params, options);
    if (fault === 'reply without [applied]') return { ...rs, rows: [], first: () => null } as unknown as ResultSet;
    // Like the driver's OperationTimedOutError: no code, so nothing says whether it applied.
    throw Object.assign(new Error('the write was sent, its reply never came (simulated)'), { name: 'OperationTimedOutError' });
  }
}
