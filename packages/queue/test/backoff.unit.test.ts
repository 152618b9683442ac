import { describe, expect, it } from 'vitest';
import { backoffDelay, jobIdFor } from '../src/index.ts';

const policy = { baseMs: 500, maxMs: 60_000 };

describe('backoffDelay', () => {
  it('grows exponentially between half and the full step', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(250);
    expect(backoffDelay(1, policy, () => 1)).toBe(500);
    expect(backoffDelay(2, policy, () => 0)).toBe(500);
    expect(backoffDelay(3, policy, () => 1)).toBe(2000);
  });
  it('is capped', () => {
    expect(backoffDelay(50, policy, () => 1)).toBe(60_000);
    expect(backoffDelay(10_000, policy, () => 0)).toBe(30_000);
  });
  it('treats attempt 0 like attempt 1', () => {
    expect(backoffDelay(0, policy, () => 1)).toBe(500);
  });
  it('jitters within bounds', () => {
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(4, policy);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe('jobIdFor', () => {
  it('is stable, colon-free and not all digits', () => {
    const id = jobIdFor('0b5c3c62-4a1e-4d7c-9f59-3f0a8a1e2b11');
    expect(id).toBe('transfer-0b5c3c62-4a1e-4d7c-9f59-3f0a8a1e2b11');
    expect(id).not.toContain(':');
    expect(id).not.toMatch(/^\d+$/);
  });
});
