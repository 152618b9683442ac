// Safe by default (issue 11, items 1–2): development defaults only for NODE_ENV development/test on loopback;
// anywhere else every secret is required and the refusal names each missing or unsafe setting.
import { describe, expect, it } from 'vitest';
import {
  DEV_JWT_SECRET, DEV_LEDGER_ADMIN_TOKEN, DEV_LEDGER_SERVICE_TOKEN, DEV_OPS_PASSWORD, loadApiConfig, loadBaseConfig,
  loadLedgerConfig, loadWorkerConfig,
} from '../src/index.ts';

const production = {
  CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3',
  JWT_SECRET: 'a-production-secret-0123456789abcdef0123',
  JWT_ISSUER: 'https://auth.exchange.example',
  JWT_AUDIENCE: 'internal-transfer',
  OPS_PASSWORD: 'a-production-ops-password',
};

/** The lines of a refusal, without its heading. */
function refusal(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected a refusal');
}

describe('NODE_ENV unset is production', () => {
  it('the API refuses, naming every missing or unsafe setting', () => {
    expect(refusal(() => loadApiConfig({}))).toEqual([
      'JWT_SECRET or JWT_JWKS_URL is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'JWT_ISSUER is required in production',
      'JWT_AUDIENCE is required in production',
      'OPS_PASSWORD is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'CASSANDRA_REPLICATION must use NetworkTopologyStrategy in production',
    ]);
  });

  it('the well-known development values are refused too', () => {
    expect(refusal(() => loadApiConfig({ ...production, JWT_SECRET: DEV_JWT_SECRET, OPS_PASSWORD: DEV_OPS_PASSWORD }))).toEqual([
      'JWT_SECRET or JWT_JWKS_URL is the development default (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'OPS_PASSWORD is the development default (development defaults apply only with NODE_ENV=development or test on a loopback address)',
    ]);
  });

  it('a complete production configuration starts; so does NODE_ENV=production', () => {
    expect(loadApiConfig(production).JWT_SECRET).toBe(production.JWT_SECRET);
    expect(loadApiConfig({ ...production, NODE_ENV: 'production' }).OPS_PASSWORD).toBe(production.OPS_PASSWORD);
  });

  it('JWKS only over https, AUTH_MODE=none never', () => {
    const jwks = { ...production, JWT_SECRET: undefined, JWT_JWKS_URL: 'http://auth.example/jwks.json' };
    expect(refusal(() => loadApiConfig(jwks))).toEqual(['JWT_JWKS_URL must be https in production']);
    expect(loadApiConfig({ ...jwks, JWT_JWKS_URL: 'https://auth.example/jwks.json' }).JWT_SECRET).toBeUndefined();
    expect(refusal(() => loadApiConfig({ ...production, AUTH_MODE: 'none' }))[0]).toMatch(/^AUTH_MODE=none is for local development only/);
  });

  it('the worker needs a credential per service, over https', () => {
    const base = { CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3' };
    expect(refusal(() => loadWorkerConfig(base))).toEqual([
      'FUNDING_TOKEN is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'TRADING_TOKEN is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'FUNDING_URL must be https in production',
      'TRADING_URL must be https in production',
    ]);
    const ok = {
      ...base, FUNDING_TOKEN: 'funding-token-0123456789', TRADING_TOKEN: 'trading-token-0123456789',
      FUNDING_URL: 'https://funding.internal', TRADING_URL: 'https://trading.internal',
    };
    expect(loadWorkerConfig(ok).FUNDING_TOKEN).toBe('funding-token-0123456789');
  });

  it('the reference ledgers need both tokens', () => {
    expect(refusal(() => loadLedgerConfig({ CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3' }))).toEqual([
      'LEDGER_ADMIN_TOKEN is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'LEDGER_SERVICE_TOKEN is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
    ]);
  });

  it('even the migrator refuses a development replication', () => {
    expect(refusal(() => loadBaseConfig({}))).toEqual([
      'CASSANDRA_REPLICATION must use NetworkTopologyStrategy in production',
    ]);
  });
});

describe('development defaults', () => {
  it.each(['development', 'test'])('NODE_ENV=%s on loopback: every secret has its default', (NODE_ENV) => {
    const api = loadApiConfig({ NODE_ENV });
    expect([api.JWT_SECRET, api.OPS_PASSWORD]).toEqual([DEV_JWT_SECRET, DEV_OPS_PASSWORD]);
    const worker = loadWorkerConfig({ NODE_ENV });
    expect([worker.FUNDING_TOKEN, worker.TRADING_TOKEN]).toEqual([DEV_LEDGER_SERVICE_TOKEN, DEV_LEDGER_SERVICE_TOKEN]);
    const ledgers = loadLedgerConfig({ NODE_ENV });
    expect([ledgers.LEDGER_ADMIN_TOKEN, ledgers.LEDGER_SERVICE_TOKEN]).toEqual([DEV_LEDGER_ADMIN_TOKEN, DEV_LEDGER_SERVICE_TOKEN]);
    expect(loadApiConfig({ NODE_ENV, AUTH_MODE: 'none' }).AUTH_MODE).toBe('none');
  });

  it('never on a non-loopback bind address, even in development', () => {
    expect(refusal(() => loadApiConfig({ NODE_ENV: 'development', API_HOST: '0.0.0.0', AUTH_MODE: 'none' }))).toEqual([
      'AUTH_MODE=none is for local development only (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'OPS_PASSWORD is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
    ]);
    expect(refusal(() => loadLedgerConfig({ NODE_ENV: 'test', LEDGER_HOST: '10.0.0.5' }))).toHaveLength(2);
    expect(refusal(() => loadWorkerConfig({ NODE_ENV: 'test', METRICS_HOST: '0.0.0.0' }))).toHaveLength(2);
  });

  it('header mode always needs the gateway\'s proof, even in development', () => {
    expect(refusal(() => loadApiConfig({ NODE_ENV: 'development', AUTH_MODE: 'header' }))).toEqual([
      'AUTH_MODE=header needs AUTH_GATEWAY_SECRET (at least 32 characters), the proof a request came through the gateway',
    ]);
    expect(loadApiConfig({ NODE_ENV: 'development', AUTH_MODE: 'header', AUTH_GATEWAY_SECRET: 'x'.repeat(32) }).AUTH_MODE).toBe('header');
  });

  it('a misspelled NODE_ENV is refused, never taken for development', () => {
    expect(() => loadApiConfig({ NODE_ENV: 'dev' })).toThrow(/NODE_ENV/);
  });
});

describe('the API\'s ledger access for reconciliation (ops API)', () => {
  const urls = { FUNDING_URL: 'https://funding.internal', TRADING_URL: 'https://trading.internal' };
  const tokens = { FUNDING_TOKEN: 'a-funding-token-0123456789', TRADING_TOKEN: 'a-trading-token-0123456789' };

  it('is off without the ledgers\' URLs in production, and no setting is required for it', () => {
    expect(loadApiConfig(production).RECONCILE_LEDGERS).toBeUndefined();
  });

  it('with both URLs needs both tokens (not the development one) and https', () => {
    expect(loadApiConfig({ ...production, ...urls, ...tokens }).RECONCILE_LEDGERS).toEqual({
      fundingUrl: urls.FUNDING_URL, tradingUrl: urls.TRADING_URL, fundingToken: tokens.FUNDING_TOKEN, tradingToken: tokens.TRADING_TOKEN,
    });
    expect(refusal(() => loadApiConfig({ ...production, ...urls, FUNDING_TOKEN: DEV_LEDGER_SERVICE_TOKEN }))).toEqual([
      'FUNDING_TOKEN is the development default (development defaults apply only with NODE_ENV=development or test on a loopback address)',
      'TRADING_TOKEN is required (development defaults apply only with NODE_ENV=development or test on a loopback address)',
    ]);
    expect(refusal(() => loadApiConfig({ ...production, ...tokens, FUNDING_URL: 'http://funding.internal', TRADING_URL: urls.TRADING_URL }))).toEqual([
      'FUNDING_URL must be https in production',
    ]);
    expect(refusal(() => loadApiConfig({ ...production, FUNDING_URL: urls.FUNDING_URL }))).toEqual([
      'FUNDING_URL and TRADING_URL go together (reconciliation from the ops API reads both)',
    ]);
  });

  it('defaults to the local reference ledgers on a developer\'s machine', () => {
    expect(loadApiConfig({ NODE_ENV: 'development' }).RECONCILE_LEDGERS).toEqual({
      fundingUrl: 'http://127.0.0.1:8081', tradingUrl: 'http://127.0.0.1:8082',
      fundingToken: DEV_LEDGER_SERVICE_TOKEN, tradingToken: DEV_LEDGER_SERVICE_TOKEN,
    });
  });
});
