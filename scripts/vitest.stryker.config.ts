// Vitest as StrykerJS runs it (stryker.config.json): the unit tests only, never the integration or e2e
// projects, which need the shared Cassandra/Redis. Stryker copies the repository into a sandbox but links
// node_modules back to the original, so `@it/*` would resolve to the unmutated sources: the aliases point
// every workspace package at the copy next to this file instead.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));
const workspaces = ['packages', 'apps'].flatMap((dir) =>
  readdirSync(`${root}${dir}`).map((name) => ({ dir, name })),
);

export default defineConfig({
  root,
  resolve: {
    alias: Object.fromEntries(workspaces.map(({ dir, name }) => [`@it/${name}`, `${root}${dir}/${name}/src/index.ts`])),
  },
  test: {
    include: ['packages/*/test/**/*.unit.test.ts', 'apps/*/test/**/*.unit.test.ts'],
  },
});
