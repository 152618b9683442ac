// Which asset ids a reference ledger knows. Any id in 1..2^31-1 is well-formed (the contract's range); an
// id outside the configured set is a definite business refusal (`unknown_asset`), recorded like any other.
import { MAX_ASSET_ID } from '@it/domain';

export interface AssetSet {
  has(assetId: number): boolean;
  /** The spec it was parsed from, for logs and docs. */
  readonly spec: string;
}

/** `"1-1000"`, `"1,2,3"`, `"1-100,5000,7000-7010"`. */
export function parseAssetSet(spec: string): AssetSet {
  const ranges: [number, number][] = [];
  for (const part of spec.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`asset set: "${part}" is not an id or a range lo-hi`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > MAX_ASSET_ID || lo > hi) throw new Error(`asset set: "${part}" must lie within 1..${MAX_ASSET_ID}, low to high`);
    ranges.push([lo, hi]);
  }
  if (ranges.length === 0) throw new Error('asset set is empty');
  return {
    spec,
    has: (id) => Number.isInteger(id) && ranges.some(([lo, hi]) => id >= lo && id <= hi),
  };
}

export const DEFAULT_ASSETS = '1-1000';
