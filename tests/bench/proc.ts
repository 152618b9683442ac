// CPU time of processes from /proc (Linux): utime + stime of /proc/<pid>/stat, in clock ticks, and which
// process listens on a TCP port (how the bench finds Cassandra and Redis without being told their pids).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return ticksPerSecond;
}

/** CPU milliseconds (user + system) a process has used since it started; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

/** The pid of the process listening on 127.0.0.1/0.0.0.0/:: `port`, or undefined when none is visible. */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ip:port in hex; state 0A is LISTEN; column 9 is the socket inode.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** CPU milliseconds of each named process, read now; `self` is this process (process.cpuUsage). */
export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const ms = pid === process.pid ? cpuOfSelf() : cpuMs(pid);
    if (ms !== undefined) out[name] = ms;
  }
  return out;
}

function cpuOfSelf(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of Object.entries(after)) if (before[name] !== undefined) out[name] = ms - before[name];
  return out;
}

/** Local TCP ports of the sockets a process holds (its client connections among them). */
export function localPortsOf(pid: number): Set<number> {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return new Set();
  }
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[9] && inodes.has(cols[9])) ports.add(parseInt(cols[1]!.split(':').at(-1)!, 16));
    }
  }
  return ports;
}

/** A JVM system property of a running process (`-Dname=value` on its command line). */
export function jvmProperty(pid: number, name: string): string | undefined {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const arg = args.find((a) => a.startsWith(`-D${name}=`));
    return arg?.slice(name.length + 3);
  } catch {
    return undefined;
  }
}

/** The node's system.log (empty when there is none): read once, then searched for each kind of event. */
export function readCassandraLog(logDir: string | undefined): string {
  if (!logDir) return '';
  try {
    return fs.readFileSync(`${logDir}/system.log`, 'utf8');
  } catch {
    return '';
  }
}

/** Each line of `log` matching `event`, with the time it was logged (the server's local time) and its groups. */
function* logged(log: string, event: string): Generator<{ at: Date; groups: Record<string, string> }> {
  const line = new RegExp(String.raw`(?<date>\d{4}-\d\d-\d\d) (?<time>\d\d:\d\d:\d\d),(?<millis>\d{3}) ${event}`, 'g');
  for (const m of log.matchAll(line)) {
    const groups = m.groups!;
    yield { at: new Date(`${groups.date}T${groups.time}.${groups.millis}`), groups };
  }
}

/**
 * Cassandra's garbage-collection pauses logged between `from` and `to` (its GCInspector logs every pause
 * of gc_log_threshold (50 ms) or more).
 */
export function cassandraGcPauses(log: string, from: Date, to: Date): number[] {
  const pauses: number[] = [];
  for (const { at, groups } of logged(log, String.raw`GCInspector\.java:\d+ - .*? GC in (?<ms>\d+)ms`)) {
    if (at >= from && at <= to) pauses.push(Number(groups.ms));
  }
  return pauses;
}

/**
 * Cassandra's memtable flushes forced by memory use and its compactions of a second or more that overlap
 * `from`–`to`, e.g. `flush system.paxos`, `compaction system.paxos 6.6 s`: on two shared cores each takes a
 * core, and a compaction of the Paxos state stalls every request in flight (docs/performance.md).
 */
export function cassandraBackgroundWork(log: string, from: Date, to: Date): string[] {
  const work: string[] = [];
  for (const { at, groups } of logged(log, String.raw`ColumnFamilyStore\.java:\d+ - Enqueuing flush of (?<table>\S+?), Reason: MEMTABLE_LIMIT`)) {
    if (at >= from && at <= to) work.push(`flush ${groups.table}`);
  }
  const compacted = String.raw`CompactionTask\.java:\d+ - Compacted \(\S+\) \d+ sstables to \[[^\]]*\/(?<keyspace>[^/\]]+)\/(?<table>[^/\]-]+)-[0-9a-f]{32}\/[^\]]*\].*? in (?<ms>[\d,]+)ms`;
  for (const { at: end, groups } of logged(log, compacted)) {
    const ms = Number(groups.ms!.replaceAll(',', ''));
    if (ms >= 1_000 && end >= from && end.getTime() - ms <= to.getTime()) work.push(`compaction ${groups.keyspace}.${groups.table} ${(ms / 1000).toFixed(1)} s`);
  }
  return work;
}
