// Fault injection for chaos tests: latency, errors before applying, applied-but-response-lost, and business
// refusals. Deterministic under a seed: every request draws the same number of values from one PRNG, so
// the same seed and the same request order give the same faults.
import { z } from 'zod';

export interface FaultSettings {
  /** Fixed delay before an operation is handled. */
  latencyMs: number;
  /** Extra uniformly random delay in [0, latencyJitterMs). */
  latencyJitterMs: number;
  /** Answer 503 without applying anything. */
  errorRate: number;
  /** Apply the operation, then destroy the connection instead of answering. */
  dropResponseRate: number;
  /** Refuse a new withdraw or deposit with reason `injected_refusal` (recorded, so it is definite). */
  refuseRate: number;
  seed: number;
}

export interface FaultDraw {
  delayMs: number;
  error: boolean;
  drop: boolean;
  refuse: boolean;
}

export const NO_FAULTS: FaultSettings = {
  latencyMs: 0,
  latencyJitterMs: 0,
  errorRate: 0,
  dropResponseRate: 0,
  refuseRate: 0,
  seed: 1,
};

/** mulberry32: a tiny, well-mixed 32-bit PRNG; plenty for fault injection, not for anything secret. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(60_000);

/** The wire shape of `PUT /v1/admin/faults`: a full replacement; omitted fields are off. */
export const faultSettingsBody = z
  .object({
    latency_ms: ms.default(0),
    latency_jitter_ms: ms.default(0),
    error_rate: rate.default(0),
    drop_response_rate: rate.default(0),
    refuse_rate: rate.default(0),
    seed: z.number().int().min(-(2 ** 31)).max(2 ** 32 - 1).optional(),
  })
  .strict();

export function faultsToWire(s: FaultSettings) {
  return {
    latency_ms: s.latencyMs,
    latency_jitter_ms: s.latencyJitterMs,
    error_rate: s.errorRate,
    drop_response_rate: s.dropResponseRate,
    refuse_rate: s.refuseRate,
    seed: s.seed,
  };
}

export class Faults {
  private settings: FaultSettings;
  private random: () => number;

  constructor(settings: FaultSettings = NO_FAULTS) {
    this.settings = { ...settings };
    this.random = mulberry32(settings.seed);
  }

  get(): FaultSettings {
    return { ...this.settings };
  }

  /** Replaces the settings and restarts the PRNG from the seed, so a test run is reproducible. */
  set(settings: FaultSettings): void {
    this.settings = { ...settings };
    this.random = mulberry32(settings.seed);
  }

  get active(): boolean {
    const s = this.settings;
    return s.latencyMs > 0 || s.latencyJitterMs > 0 || s.errorRate > 0 || s.dropResponseRate > 0 || s.refuseRate > 0;
  }

  draw(): FaultDraw {
    const s = this.settings;
    // Always four draws, whatever the rates, so one setting does not shift the others' sequence.
    const jitter = this.random();
    const error = this.random();
    const refuse = this.random();
    const drop = this.random();
    return {
      delayMs: s.latencyMs + Math.floor(jitter * s.latencyJitterMs),
      error: error < s.errorRate,
      refuse: refuse < s.refuseRate,
      drop: drop < s.dropResponseRate,
    };
  }
}
