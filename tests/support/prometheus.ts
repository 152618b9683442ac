// A real Prometheus (Debian's package, installed when missing) for the tests: its own config, data directory and
// loopback port, scraping static targets every second under the job name of deploy/k8s/base/monitoring/
// scrape.yaml and evaluating the shipped alert rules every second. Debian's build has no kubernetes_sd, and the
// package's own service is never used.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { sleep } from '@it/runtime';
import { ensureSystemCommands } from '../../scripts/ensure-deps.mjs';
import { root } from './processes.ts';

export const MONITORING_DIR = path.join(root, 'deploy/k8s/base/monitoring');
export const ALERTS_FILE = path.join(MONITORING_DIR, 'alerts.yaml');
export const DASHBOARD_FILE = path.join(root, 'deploy/grafana/internal-transfer.json');

/** promtool and prometheus, from Debian's `prometheus` package. */
export function ensurePrometheus(): void {
  ensureSystemCommands({ prometheus: 'prometheus', promtool: 'prometheus' });
}

// Below the kernel's ephemeral range (32768-60999 by default): a port the kernel picked for us could be handed
// out again as the source port of some client connection before our server binds it (or while a killed server
// is down between its restarts), which failed a chaos run with EADDRINUSE. Below the end-to-end products' fixed
// ports too (18180 and up); Redis Cluster adds 10000 for its bus port, which stays below the ephemeral range.
const PORT_RANGE = { from: 10_000, to: 18_000 };

/** Whether a server can listen on `port` right now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port nobody listens on right now, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 1_000; tries++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${PORT_RANGE.from}-${PORT_RANGE.to}`);
}

export interface AlertingRule {
  name: string;
  query: string;
  state: 'inactive' | 'pending' | 'firing';
  health: string;
  lastError?: string;
  lastEvaluation: string;
  alerts: { labels: Record<string, string>; state: string }[];
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The alerting rules of the shipped rule file, as written. */
export function shippedAlerts(): { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations: Record<string, string> }[] {
  const file = parse(fs.readFileSync(ALERTS_FILE, 'utf8')) as { groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

/** Every query of the Grafana dashboard, with Grafana's interval variable given a concrete value. */
export function dashboardQueries(rateInterval = '1m'): { panel: string; expr: string }[] {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: { title: string; type: string; targets?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', rateInterval) })));
}

export class Prometheus {
  readonly url: string;
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    port: number,
    readonly output: string[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts Prometheus on a free loopback port; `targets` are host:port per component (the `component` label). */
  static async start(targets: Record<string, string[]>): Promise<Prometheus> {
    ensurePrometheus();
    const scrape = parse(fs.readFileSync(path.join(MONITORING_DIR, 'scrape.yaml'), 'utf8')) as { job_name: string }[];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'it-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [ALERTS_FILE],
      scrape_configs: [
        {
          job_name: scrape[0]!.job_name,
          static_configs: Object.entries(targets).map(([component, hosts]) => ({ targets: hosts, labels: { component } })),
        },
      ],
    };
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(configFile, stringify(config));
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    const keep = (d: Buffer) => {
      output.push(d.toString());
      if (output.length > 100) output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const prometheus = new Prometheus(child, dir, port, output);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited during start:\n${output.join('')}`);
      try {
        if ((await fetch(`${prometheus.url}/-/ready`)).ok) return prometheus;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    await prometheus.stop();
    throw new Error(`prometheus not ready:\n${output.join('')}`);
  }

  private async api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }

  /** An instant query; rejects with Prometheus' error for a query that does not evaluate. */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] | [number, string] }>(`query?query=${encodeURIComponent(expr)}`);
    // A scalar (e.g. time()) answers one value, not series.
    return data.resultType === 'scalar' ? [{ metric: {}, value: data.result as [number, string] }] : (data.result as Sample[]);
  }

  async targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[]> {
    return (await this.api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[] }>('targets')).activeTargets;
  }

  async alertingRules(): Promise<AlertingRule[]> {
    const data = await this.api<{ groups: { rules: (AlertingRule & { type: string })[] }[] }>('rules?type=alert');
    return data.groups.flatMap((g) => g.rules);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once('exit', () => resolve());
        this.child.kill('SIGTERM');
      });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
