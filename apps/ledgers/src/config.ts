// Settings of the reference ledgers that @it/config does not carry (yet): parsed from the environment with
// the same strictness, next to loadLedgerConfig.
import { z } from 'zod';
import { ConfigError } from '@it/config';
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
  const r = extrasSchema.safeParse(env);
  if (!r.success) {
    throw new ConfigError(`invalid configuration:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  let assets: AssetSet;
  try {
    assets = parseAssetSet(r.data.LEDGER_KNOWN_ASSETS);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  LEDGER_KNOWN_ASSETS: ${errorMessage(err)}`, { cause: err });
  }
  return { assets, latencyJitterMs: r.data.FAULT_LATENCY_JITTER_MS };
}
