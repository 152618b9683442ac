// The alert rules and the dashboard as shipped, offline: promtool lints the rules and runs their unit tests
// (alerts.test.yaml: a series that fires each alert and one that must not), every alert links to a runbook
// section of docs/operations.md that says what it means, what to look at and what to do, and every metric the
// rules and the dashboard name is one the product exports. tests/e2e/prometheus.e2e.test.ts evaluates them all
// in a real Prometheus.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createApiMetrics, createLedgerMetrics, createWorkerMetrics } from '@it/observability';
import { root } from '../support/processes.ts';
import { ALERTS_FILE, dashboardQueries, DASHBOARD_FILE, ensurePrometheus, MONITORING_DIR, shippedAlerts } from '../support/prometheus.ts';

const TESTS_FILE = path.join(root, 'tests/monitoring/alerts.test.yaml');

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** GitHub's anchor of a Markdown heading. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

/** Metric names in PromQL, histogram series mapped to their family. */
function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\binternal_transfer_\w+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))];
}

beforeAll(() => ensurePrometheus(), 600_000);

describe('alert rules', () => {
  it('pass promtool check rules with every lint', () => {
    const r = promtool('check', 'rules', '--lint=all', '--lint-fatal', ALERTS_FILE);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool('test', 'rules', TESTS_FILE);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('each alert has a unit test that fires it and one in which it must not fire', () => {
    const file = parse(fs.readFileSync(TESTS_FILE, 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    expect(file.rule_files.map((f) => path.resolve(path.dirname(TESTS_FILE), f))).toEqual([ALERTS_FILE]);
    const cases = file.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of shippedAlerts()) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, stays: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, stays: true });
    }
  });

  it('each alert links to its runbook section, which says what it means, what to look at and what to do', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
    const sections = new Map<string, string>();
    const headings = [...doc.matchAll(/^(#{2,4}) (.+)$/gm)];
    headings.forEach((h, i) => sections.set(anchorOf(h[2]!), doc.slice(h.index, headings[i + 1]?.index ?? doc.length)));
    for (const { alert, annotations, labels } of shippedAlerts()) {
      expect(annotations.runbook_url).toBe(`docs/operations.md#${alert.toLowerCase()}`);
      const section = sections.get(alert.toLowerCase());
      expect({ alert, section: section !== undefined }).toEqual({ alert, section: true });
      for (const part of ['**What it means.**', '**What to look at.**', '**What to do.**']) {
        expect({ alert, part, present: section!.includes(part) }).toEqual({ alert, part, present: true });
      }
      expect(['page', 'ticket']).toContain(labels?.severity);
      expect(annotations.summary).toBeTruthy();
    }
  });

  it('name only metrics the product exports', async () => {
    const exported = new Set<string>();
    for (const registry of [createApiMetrics().registry, createWorkerMetrics().registry, createLedgerMetrics('funding').registry]) {
      for (const m of await registry.getMetricsAsJSON()) exported.add(m.name);
    }
    const named = [...shippedAlerts().map((a) => a.expr), ...dashboardQueries().map((q) => q.expr)].flatMap(metricsIn);
    expect(named.length).toBeGreaterThan(20);
    expect([...new Set(named)].filter((n) => !exported.has(n))).toEqual([]);
  });
});

describe('scrape config', () => {
  it('keeps only annotated pods, on the port and path they name, with a component label', () => {
    const [job, ...more] = parse(fs.readFileSync(path.join(MONITORING_DIR, 'scrape.yaml'), 'utf8')) as {
      job_name: string;
      relabel_configs: { source_labels: string[]; target_label?: string; action?: string }[];
    }[];
    expect(more).toEqual([]);
    expect(job!.job_name).toBe('internal-transfer');
    const sources = job!.relabel_configs.map((r) => `${r.source_labels.join(',')} → ${r.action ?? 'replace'} ${r.target_label ?? ''}`.trim());
    expect(sources).toEqual([
      '__meta_kubernetes_pod_annotation_prometheus_io_scrape → keep',
      '__meta_kubernetes_pod_annotation_prometheus_io_path → replace __metrics_path__',
      '__address__,__meta_kubernetes_pod_annotation_prometheus_io_port → replace __address__',
      '__meta_kubernetes_pod_label_app_kubernetes_io_component → replace component',
      '__meta_kubernetes_namespace → replace namespace',
      '__meta_kubernetes_pod_name → replace pod',
    ]);
  });
});

describe('dashboard', () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as {
    uid: string;
    templating: { list: { name: string; type: string; query: string }[] };
    panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource: { uid: string } }[] }[];
  };

  it('covers throughput, latency, queue, active/stuck/overdue, adapters, sweeper and API status codes', () => {
    const all = dashboardQueries().map((q) => q.expr).join('\n');
    for (const metric of [
      'internal_transfer_transfers_finished_total',
      'internal_transfer_transfer_duration_seconds_bucket',
      'internal_transfer_step_duration_seconds_bucket',
      'internal_transfer_queue_jobs',
      'internal_transfer_transfers_active',
      'internal_transfer_transfers_stuck',
      'internal_transfer_transfers_overdue',
      'internal_transfer_adapter_call_duration_seconds_bucket',
      'internal_transfer_adapter_call_duration_seconds_count',
      'internal_transfer_sweeper_last_success_timestamp_seconds',
      'internal_transfer_sweeper_runs_total',
      'internal_transfer_http_request_duration_seconds_count',
    ]) {
      expect({ metric, shown: all.includes(metric) }).toEqual({ metric, shown: true });
    }
    expect(all).toMatch(/histogram_quantile\(0\.5,[^\n]*transfer_duration/);
    expect(all).toMatch(/histogram_quantile\(0\.99,[^\n]*transfer_duration/);
  });

  it('reads the Prometheus chosen in its datasource variable; panel ids are unique', () => {
    expect(dash.uid).toBe('internal-transfer');
    expect(dash.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const data = dash.panels.filter((p) => p.type !== 'row');
    for (const p of data) {
      expect(p.datasource?.uid).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe('${datasource}');
    }
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
  });
});
