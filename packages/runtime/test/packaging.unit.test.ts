// What ships: the image installs production dependencies only, and none of the test or build tooling is one. Read from the lockfile, which is what `npm ci --omit=dev` installs from.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };

describe('production dependencies', () => {
  it.each(['vitest', 'eslint', 'typescript-eslint', '@stryker-mutator/core', 'node', 'tsx', 'esbuild'])('%s is development only', (name) => {
    expect(lock.packages[`node_modules/${name}`]?.dev).toBe(true);
  });

  it('typescript is development only, or an optional peer the image omits with --omit=optional', () => {
    const ts = lock.packages['node_modules/typescript'];
    expect(ts?.dev === true || ts?.devOptional === true).toBe(true);
  });

  it('the contract kit declares no test runner: the consumer\'s vitest runs its suites', () => {
    const kit = JSON.parse(read('packages/contract-kit/package.json')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) expect(kit[field]?.vitest).toBeUndefined();
  });

  it('the image installs production dependencies only', () => {
    expect(read('deploy/docker/Dockerfile')).toMatch(/^RUN npm ci --omit=dev --omit=optional\b/m);
  });
});
