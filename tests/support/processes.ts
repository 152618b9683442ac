// Real processes for end-to-end and crash tests: each app runs as its own Node process (tsx), exactly as
// `npm start` runs it, and can be killed and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, sleep } from '@it/runtime';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AppProcess {
  name: string;
  /** Port of the readiness URL (a worker's metrics/health listener). */
  metricsPort: number;
  child: ChildProcess;
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const scripts = {
  ledgers: 'apps/ledgers/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  api: 'apps/api/src/main.ts',
} as const;

export async function startApp(
  app: keyof typeof scripts,
  env: Record<string, string>,
  readyUrl: string,
  name: string = app,
): Promise<AppProcess> {
  // node itself with tsx as a loader, not the tsx CLI: the CLI runs the app in a child process, so a
  // SIGKILL aimed at it would leave the real app running. PRODUCT_FROM_BUILD=1 runs the production bundles
  // (`npm run build` first; PRODUCT_BUILD_DIR: bundles built elsewhere in the repository) instead, to
  // measure what production runs.
  const bundle = path.join(process.env.PRODUCT_BUILD_DIR ?? 'dist', `${app}.js`);
  const command = process.env.PRODUCT_FROM_BUILD === '1' ? ['--enable-source-maps', bundle] : ['--import', 'tsx', scripts[app]];
  const child = spawn(process.execPath, command, {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const proc: AppProcess = {
    name,
    metricsPort: Number(new URL(readyUrl).port),
    child,
    output,
    kill(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start:\n${output.join('')}`);
    try {
      if ((await fetch(readyUrl)).ok) return proc;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  await proc.kill('SIGKILL');
  throw new Error(`${name} not ready at ${readyUrl}:\n${output.join('')}`);
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  const cause = last === undefined ? '' : `: ${errorMessage(last)}`;
  throw new Error(`timed out waiting for ${what}${cause}`);
}

/** Calls `onRecord` with each JSON (pino) log line a process writes to `stream`, once the whole line is in. */
export function onLogRecords(stream: Readable, onRecord: (record: Record<string, unknown>) => void): void {
  let partial = '';
  stream.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) onRecord(JSON.parse(line) as Record<string, unknown>);
  });
}
