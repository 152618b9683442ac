// The project runs on its own Node 24 (the npm package `node`, a devDependency, installs the official binary
// under node_modules), whatever Node started the command. An entry script calls runOnProjectNode() once the
// dependencies are installed: under another major it re-executes itself with the project's binary, with
// node_modules/.bin first on PATH so every child (`npx vitest`, `node …`) runs on it too.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_MAJOR = 24;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binDir = path.join(root, 'node_modules', '.bin');

/** The project's Node binary (present once dependencies are installed). */
export const projectNode = path.join(root, 'node_modules', 'node', 'bin', 'node');

/** The environment every child of the project gets: the project's Node first on PATH. */
export function projectEnv(env = process.env) {
  const entries = (env.PATH ?? '').split(path.delimiter).filter((p) => p && p !== binDir);
  return { ...env, PATH: [binDir, ...entries].join(path.delimiter) };
}

/**
 * Resolves at once on Node 24 (with PATH set for the children); otherwise runs this same script on the project's
 * Node, forwarding signals, and exits with its status (it never resolves).
 * @returns {Promise<void>}
 */
export function runOnProjectNode() {
  process.env.PATH = projectEnv().PATH;
  if (Number(process.versions.node.split('.')[0]) === NODE_MAJOR) return Promise.resolve();
  if (!fs.existsSync(projectNode)) {
    throw new Error(`Node ${NODE_MAJOR} is missing at ${projectNode}: run \`npm ci\` (the \`node\` devDependency brings it)`);
  }
  const script = process.argv[1] ?? '';
  console.log(`[node] Node ${process.versions.node} started ${path.basename(script)}; continuing on the project's Node ${NODE_MAJOR}`);
  const child = spawn(projectNode, [...process.execArgv, script, ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.on(signal, () => child.kill(signal));
  }
  return new Promise(() => {
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1)));
  });
}
