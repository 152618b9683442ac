// Installs the workspace's npm dependencies when they are missing or older than the lockfile, and (for the
// tests that need them) Debian packages of missing commands.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function ensureDeps() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  const fresh = fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs;
  if (fresh) return;
  console.log('[deps] installing npm dependencies (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm ci failed');
}

/** @param {string} cmd */
function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs the Debian package of every command that is missing (e.g. `{ promtool: 'prometheus', chromium:
 * 'chromium' }`), as the stack does for redis-server: tests that need a real Prometheus or browser call this
 * first, so `npm test` works on a fresh machine. Recommended packages are left out, apt's list is refreshed
 * only when a package is not found, and a packaged service that starts itself (Debian's prometheus on
 * :9090) is stopped and disabled: the tests run their own instance, with their own config, port and data.
 * @param {Record<string, string>} commands command → Debian package
 */
export function ensureSystemCommands(commands) {
  const missing = [...new Set(Object.entries(commands).filter(([cmd]) => !hasCommand(cmd)).map(([, pkg]) => pkg))];
  if (!missing.length) return;
  console.log(`[deps] installing Debian packages: ${missing.join(' ')}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  /** @param {string[]} args */
  const apt = (args) =>
    spawnSync(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), '-o', 'DPkg::Lock::Timeout=300', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  const install = () => apt(['install', '-y', '-q', '--no-install-recommends', ...missing]);
  if (install() !== 0 && (apt(['update', '-q']) !== 0 || install() !== 0)) {
    throw new Error(`could not install ${missing.join(' ')} with apt-get`);
  }
  if (missing.includes('prometheus') && fs.existsSync('/run/systemd/system')) {
    spawnSync(sudo[0] ?? 'systemctl', [...(sudo.length ? ['systemctl'] : []), 'disable', '--now', 'prometheus.service'], { stdio: 'inherit' });
  }
  const still = Object.keys(commands).filter((cmd) => !hasCommand(cmd));
  if (still.length) throw new Error(`still missing after installing: ${still.join(' ')}`);
}

// `node scripts/ensure-deps.mjs` (CI, before `npm run check`).
if (process.argv[1] === fileURLToPath(import.meta.url)) ensureDeps();
