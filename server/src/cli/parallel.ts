import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkFile, diskHost, type CheckFilesOptions } from './check-files';
import type { FileReport } from './report';

/**
 * Checking is CPU-bound (mostly YAML parsing), so large sets are shared with worker threads: the
 * calling thread and each worker claim batches of files from one shared counter, so a slow file
 * never leaves a thread idle. A worker that fails only costs time: whatever it did not report is
 * checked on the calling thread.
 */
export const CHECK_WORKER = 'prompt-contracts/check-worker';

const BATCH = 8;
/** Below this many files a worker costs more (≈100 ms to load the checker) than it saves. */
const FILES_PER_WORKER = 150;
const MAX_WORKERS = 3;

export interface CheckWorkerData {
  kind: typeof CHECK_WORKER;
  files: string[];
  opts: CheckFilesOptions;
  counter: Int32Array;
}

/** Filled in when given: how the work was shared (for tests and benchmarks). */
export interface ParallelStats {
  workers: number;
  checkedByWorkers: number;
}

type WorkerMessage = { done: false; results: [number, FileReport][] } | { done: true };

function workerCount(files: number): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(0, Math.min(cores - 1, MAX_WORKERS, Math.floor(files / FILES_PER_WORKER)));
}

function startWorker(script: string, data: CheckWorkerData): Worker {
  if (/\.[cm]?ts$/.test(script)) {
    // Running from the sources (tests, development): loader hooks do not reach worker threads, so
    // the worker registers tsx's require hook itself.
    const hook = ['tsx', 'cjs'].join('/'); // not a literal: bundles never need it, and esbuild leaves it alone
    const tsx = require.resolve(hook);
    return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(script)});`, { eval: true, workerData: data, stdout: true, stderr: true });
  }
  return new Worker(script, { workerData: data, stdout: true, stderr: true });
}

function claimLoop(files: readonly string[], counter: Int32Array, opts: CheckFilesOptions, onBatch: (results: [number, FileReport][]) => void): void {
  const host = diskHost(opts.root);
  for (;;) {
    const start = Atomics.add(counter, 0, BATCH);
    if (start >= files.length) return;
    const results: [number, FileReport][] = [];
    for (let i = start; i < Math.min(start + BATCH, files.length); i++) results.push([i, checkFile(files[i]!, host, opts)]);
    onBatch(results);
  }
}

/** The worker side: started with `workerData` of kind CHECK_WORKER by the script the caller names. */
export function runCheckWorker(data: CheckWorkerData, post: (m: WorkerMessage) => void): void {
  claimLoop(data.files, data.counter, data.opts, (results) => post({ done: false, results }));
  post({ done: true });
}

/**
 * Checks files, in parallel when there are many and `workerScript` is given: a script that, started
 * as a worker thread with CHECK_WORKER data, calls runCheckWorker (the `contracts` bin does).
 */
export async function checkFilesParallel(files: readonly string[], opts: CheckFilesOptions, workerScript?: string, stats?: ParallelStats): Promise<FileReport[]> {
  const results: (FileReport | undefined)[] = new Array(files.length);
  const n = workerScript ? workerCount(files.length) : 0;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const finished: Promise<void>[] = [];
  if (stats) Object.assign(stats, { workers: n, checkedByWorkers: 0 });
  for (let w = 0; w < n; w++) {
    finished.push(
      new Promise<void>((resolve) => {
        let worker: Worker;
        try {
          const data: CheckWorkerData = { kind: CHECK_WORKER, files: [...files], opts, counter };
          worker = startWorker(workerScript!, data);
        } catch {
          resolve();
          return;
        }
        worker.on('message', (m: WorkerMessage) => {
          if (m.done) {
            worker.unref(); // everything is in: the process need not wait for the worker's teardown
            resolve();
          }
          else {
            for (const [i, r] of m.results) results[i] = r;
            if (stats) stats.checkedByWorkers += m.results.length;
          }
        });
        worker.on('error', () => resolve());
        worker.on('exit', () => resolve());
      }),
    );
  }
  claimLoop(files, counter, opts, (batch) => {
    for (const [i, r] of batch) results[i] = r;
  });
  await Promise.all(finished);
  const host = diskHost(opts.root);
  return results.map((r, i) => r ?? checkFile(files[i]!, host, opts));
}
