import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Every child the benchmark started, so that none outlives it (normal end, error, Ctrl-C). */
const live = new Set<ChildProcess>();

/** Kills a child started by `track` and whatever it started (it leads its own process group). */
export function killTree(c: ChildProcess): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

/** Temp folders the benchmark made, removed on exit however it ends. */
const temps = new Set<string>();

function killAll(): void {
  for (const c of live) killTree(c);
  live.clear();
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
  temps.clear();
}

/** A fresh folder under os.tmpdir(), removed by `removeTempDir` or at exit. */
export function tempDir(prefix: string): string {
  hookExit();
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  temps.delete(d);
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Spawns a child in its own process group (so GNU time's child dies with it) and kills it on our exit. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  hookExit();
  const child = spawn(cmd, args, { ...opts, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function executable(...candidates: string[]): string | undefined {
  return candidates.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** /usr/bin/time -v reports the peak RSS of the process it runs (the child, not us). */
export const GNU_TIME = executable('/usr/bin/time', '/usr/local/bin/time');
/** util-linux taskset, to run a child on one core. */
export const TASKSET = executable('/usr/bin/taskset', '/bin/taskset');

const MAXRSS_PRELOAD = path.join(__dirname, 'report-maxrss.cjs');

export interface Measured {
  child: ChildProcess;
  /** Resolves when the child has exited, with its peak RSS in bytes (undefined when it could not be read). */
  done: Promise<Exited>;
}

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  peakRssBytes?: number;
  /** User + system CPU time of the child, ms. */
  cpuMs?: number;
}

/**
 * Spawns `node <args>` so that its peak RSS can be read when it exits: under GNU time when the
 * machine has it, else with a preload that writes `process.resourceUsage().maxRSS` from inside
 * the child (the same number: getrusage's ru_maxrss of that process).
 */
export function spawnNodeMeasured(args: string[], opts: SpawnOptions & { tmp?: string; cpus?: string } = {}): Measured {
  const rssFile = path.join(opts.tmp ?? os.tmpdir(), `maxrss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  let cmd: string;
  let argv: string[];
  let env = opts.env ?? process.env;
  // `cpus` pins the child to those CPUs (taskset -c): os.availableParallelism() sees only them.
  const node = opts.cpus !== undefined && TASKSET ? [TASKSET, '-c', opts.cpus, process.execPath] : [process.execPath];
  if (GNU_TIME) {
    cmd = GNU_TIME;
    argv = ['-v', '-o', rssFile, ...node, ...args];
  } else {
    [cmd, ...argv] = [...node, '--require', MAXRSS_PRELOAD, ...args];
    env = { ...env, BENCH_MAXRSS_FILE: rssFile };
  }
  const child = spawnTracked(cmd, argv, { ...opts, env });
  const done = new Promise<Exited>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const r: Exited = { code, signal };
      try {
        const text = fs.readFileSync(rssFile, 'utf8');
        fs.rmSync(rssFile, { force: true });
        const num = (re: RegExp) => {
          const m = re.exec(text);
          return m ? Number(m[1]) : undefined;
        };
        const kib = GNU_TIME ? num(/Maximum resident set size \(kbytes\): (\d+)/) : num(/^maxRSS (\d+)/m);
        const user = GNU_TIME ? num(/User time \(seconds\): ([\d.]+)/) : num(/^userMs ([\d.]+)/m);
        const sys = GNU_TIME ? num(/System time \(seconds\): ([\d.]+)/) : num(/^systemMs ([\d.]+)/m);
        if (kib !== undefined) r.peakRssBytes = kib * 1024;
        if (user !== undefined && sys !== undefined) r.cpuMs = GNU_TIME ? (user + sys) * 1000 : user + sys;
      } catch {
        // No report: the child died before writing it.
      }
      resolve(r);
    });
  });
  return { child, done };
}
