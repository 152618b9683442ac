// Settings of the reference ledgers that @it/config does not carry (yet): parsed from the environment with
// the same strictness, next to loadLedgerConfig.
import { z } from 'zod';
import { ConfigError, isDevelopment, parseEnv, type LedgerConfig } from '@it/config';
import { errorMessage } from '@it/runtime';
import { DEFAULT_ASSETS, parseAssetSet, type AssetSet } from './assets.ts';

const extrasSchema = z.object({
  /** Asset ids the ledgers know, e.g. `1-1000` or `1-100,5000`. Others are refused with `unknown_asset`. */
  LEDGER_KNOWN_ASSETS: z.string().default(DEFAULT_ASSETS),
  /** Random extra latency in [0, n) ms on top of FAULT_LATENCY_MS. */
  FAULT_LATENCY_JITTER_MS: z.coerce.number().int().min(0).max(60_000).default(0),
});

export interface LedgerExtras {
  assets: AssetSet;
  latencyJitterMs: number;
}

export function loadLedgerExtras(env: NodeJS.ProcessEnv = process.env): LedgerExtras {
  const extras = parseEnv(extrasSchema, env);
  let assets: AssetSet;
  try {
    assets = parseAssetSet(extras.LEDGER_KNOWN_ASSETS);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  LEDGER_KNOWN_ASSETS: ${errorMessage(err)}`, { cause: err });
  }
  return { assets, latencyJitterMs: extras.FAULT_LATENCY_JITTER_MS };
}

/** Fault injection breaks a ledger on purpose: for a developer's machine and tests, never a real deployment. */
export function faultInjectionAllowed(nodeEnv: LedgerConfig['NODE_ENV']): boolean {
  return isDevelopment(nodeEnv);
}

/** Refuses to start with faults configured outside development/test (FAULT_SEED alone injects nothing). */
export function refuseFaultsOutsideDevelopment(config: LedgerConfig, latencyJitterMs: number): void {
  if (faultInjectionAllowed(config.NODE_ENV)) return;
  const set = Object.entries({
    FAULT_LATENCY_MS: config.FAULT_LATENCY_MS,
    FAULT_LATENCY_JITTER_MS: latencyJitterMs,
    FAULT_ERROR_RATE: config.FAULT_ERROR_RATE,
    FAULT_DROP_RESPONSE_RATE: config.FAULT_DROP_RESPONSE_RATE,
    FAULT_REFUSE_RATE: config.FAULT_REFUSE_RATE,
  }).flatMap(([name, value]) => (value !== 0 ? [name] : []));
  if (set.length) {
    throw new ConfigError(
      `refusing to start:\n  ${set.join(', ')}: fault injection is only allowed with NODE_ENV development or test (NODE_ENV is ${config.NODE_ENV})`,
    );
  }
}
