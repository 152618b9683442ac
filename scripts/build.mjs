#!/usr/bin/env node
// `npm run build`: one JavaScript file per deployable process in dist/ (api, worker, ledgers, migrate, and the
// reconciliation command: `node dist/reconcile.js --since 24h` with a worker's configuration).
// esbuild, not `tsc` project references: the workspace packages keep exporting their TypeScript sources (what
// development, the tests and tsx run), and the bundle inlines them, so production needs neither a compiler nor
// a second set of package entry points; `tsc --noEmit` in `npm run check` stays the type checker.
// Every third-party package stays external: the image installs them with `npm ci --omit=dev`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The processes the image can run (`node dist/<name>.js`) and where each starts. */
export const entryPoints = {
  api: 'apps/api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  ledgers: 'apps/ledgers/src/main.ts',
  migrate: 'scripts/migrate.ts',
  reconcile: 'scripts/reconcile.ts',
};

/** Workspace packages (`@it/…`) are bundled from source; everything else is resolved from node_modules at run time. */
const externalThirdParty = {
  name: 'external-third-party',
  /** @param {import('esbuild').PluginBuild} build */
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@it/') ? undefined : { path: args.path, external: true }));
  },
};

/**
 * Builds every entry point into `outdir` (default dist/ at the repository root), replacing what was there.
 * @param {{ outdir?: string }} [options]
 */
export async function build({ outdir = path.join(root, 'dist') } = {}) {
  fs.rmSync(outdir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Stack traces point at the TypeScript sources (`node --enable-source-maps`).
    sourcemap: 'linked',
    sourcesContent: false,
    // Class and function names survive (pino bindings, error names in logs).
    keepNames: true,
    plugins: [externalThirdParty],
    logLevel: 'warning',
    metafile: true,
  });
  // The bundles are ES modules named .js: the folder says so itself, whatever package.json sits above it.
  fs.writeFileSync(path.join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' }, null, 2)}\n`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const result = await build(values.outdir ? { outdir: path.resolve(values.outdir) } : {});
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js')) console.log(`[build] ${file}  ${(out.bytes / 1024).toFixed(0)} KiB`);
  }
}
