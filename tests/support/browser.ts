// A real browser for the tests: Debian's chromium (installed when missing) driven by playwright-core, which
// downloads no browser of its own. Shared by every browser test (Bull Board, the API docs page…).
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ensureSystemCommands } from '../../scripts/ensure-deps.mjs';
import { root } from './processes.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots and other artifacts a person can look at after a run (git-ignored). */
export const ARTIFACTS_DIR = path.join(root, 'reports', 'e2e');

export function ensureChromium(): void {
  ensureSystemCommands({ chromium: 'chromium' });
}

/** Headless chromium; as root it needs --no-sandbox (Chrome's sandbox refuses to run as root). */
export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
