// Loading models into the embedded llama.cpp: one Llama per process (prebuilt binaries only,
// logs routed to callbacks, never stdout), every file's header validated before loadModel (a
// malformed gemma3 file hits a native assert that kills the whole process), a memory check,
// one load per file shared by reference-counted handles, and unloading after an idle time.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { validateModelFile } from '../../gguf/reader';
import { InvalidModelFileError, type ResolvedModel } from './resolve';
import { chooseThreads } from './threads';
import { importNodeLlamaCpp } from '../nlc';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string) => void;

// ---- the process-wide Llama -------------------------------------------------------------------

export interface LlamaOptions {
  gpu: 'auto' | 'off';
  /** llama.cpp's minimum log level (default warn) */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

let shared: { gpu: 'auto' | 'off'; promise: Promise<Llama> } | undefined;
const logSinks = new Set<LogFn>();

/** Adds a receiver of llama.cpp's log lines; returns its remover. */
export function addLlamaLogSink(fn: LogFn): () => void {
  logSinks.add(fn);
  return () => logSinks.delete(fn);
}

function dispatchLog(level: string, message: string): void {
  const l: LogLevel = level === 'fatal' || level === 'error' ? 'error' : level === 'warn' ? 'warn' : level === 'debug' ? 'debug' : 'info';
  const text = message.replace(/\s+$/, '');
  if (text === '') return;
  for (const s of logSinks) {
    try {
      s(l, `llama.cpp: ${text}`);
    } catch {
      // a broken sink must not break llama.cpp's callback
    }
  }
}

/**
 * The process's one Llama instance, created on first use with `build: 'never'` (never compiles or
 * downloads binaries). The GPU choice of the first call wins; a later different one is logged.
 */
export async function getSharedLlama(opts: LlamaOptions, log?: LogFn): Promise<Llama> {
  if (shared) {
    if (shared.gpu !== opts.gpu) log?.('warn', `contracts.gpu changed to '${opts.gpu}'; restart to apply it (llama.cpp was started with '${shared.gpu}')`);
    return shared.promise;
  }
  const promise = (async () => {
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const level = { error: LlamaLogLevel.error, warn: LlamaLogLevel.warn, info: LlamaLogLevel.info, debug: LlamaLogLevel.debug }[opts.logLevel ?? 'warn'];
    return getLlama({
      build: 'never',
      gpu: opts.gpu === 'auto' ? 'auto' : false,
      logLevel: level,
      logger: (l, message) => dispatchLog(l, message),
      progressLogs: false,
      skipDownload: true,
    });
  })();
  shared = { gpu: opts.gpu, promise };
  promise.catch(() => {
    if (shared?.promise === promise) shared = undefined;
  });
  return promise;
}

/** Disposes the shared Llama (CLI exit, tests). Models loaded on it become unusable. */
export async function disposeSharedLlama(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (!s) return;
  try {
    const llama = await s.promise;
    await llama.dispose();
  } catch {
    // it never started
  }
}

// ---- loading ----------------------------------------------------------------------------------

export class ModelTooLargeError extends Error {
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly freeBytes: number,
  ) {
    super(message);
    this.name = 'ModelTooLargeError';
  }
}

export interface LoadedModel {
  model: LlamaModel;
  llama: Llama;
  /** the thread count to pass to createContext({ threads }) (llama.maxThreads is set to it too) */
  threads: number;
  resolved: ResolvedModel;
  /** time the load took, 0 when the model was already loaded */
  loadMs: number;
  /** gives the handle back; the model unloads after the idle time once every handle is released */
  release(): void;
}

export type LoaderEvent =
  | { type: 'loading'; resolved: ResolvedModel }
  | { type: 'loaded'; resolved: ResolvedModel; ms: number; threads: number }
  | { type: 'load-failed'; resolved: ResolvedModel; error: Error }
  | { type: 'released'; resolved: ResolvedModel; refs: number }
  | { type: 'unloaded'; resolved: ResolvedModel; reason: 'idle' | 'dispose' };

export interface ModelLoaderOptions {
  llama: () => Promise<Llama>;
  /** the `threads` setting (0 = auto) */
  threadsSetting: number;
  /** unload this long after the last release; 0 keeps models loaded */
  idleUnloadMs: number;
  gpu: 'auto' | 'off';
  /** bytes of memory available (default os.freemem) */
  freeMemory?: () => number;
  log: LogFn;
  onEvent: (e: LoaderEvent) => void;
}

interface Entry {
  key: string;
  resolved: ResolvedModel;
  refs: number;
  load: Promise<{ model: LlamaModel; llama: Llama; threads: number; ms: number }>;
  loaded?: { model: LlamaModel; llama: Llama; threads: number };
  idleTimer?: NodeJS.Timeout;
}

/** Extra memory beyond the file that a load plus a small context needs (KV cache, compute buffers). */
const LOAD_OVERHEAD_BYTES = 96 * 1024 * 1024;

export class ModelLoader {
  private readonly entries = new Map<string, Entry>();
  private readonly unloading = new Map<string, Promise<void>>();
  private disposed = false;

  constructor(private readonly opts: ModelLoaderOptions) {}

  /** New threads / idle settings: threads apply to the next load, the idle time to the next release. */
  configure(c: { threadsSetting: number; idleUnloadMs: number }): void {
    this.opts.threadsSetting = c.threadsSetting;
    this.opts.idleUnloadMs = c.idleUnloadMs;
  }

  /** Loads the model once (or joins the load in progress) and returns a handle. */
  async acquire(resolved: ResolvedModel): Promise<LoadedModel> {
    if (this.disposed) throw new Error('the model manager was disposed');
    const key = resolved.identity;
    const pending = this.unloading.get(key);
    if (pending) await pending;
    let entry = this.entries.get(key);
    if (!entry) {
      const e: Entry = { key, resolved, refs: 0, load: undefined as unknown as Entry['load'] };
      e.load = this.load(e);
      this.entries.set(key, e);
      entry = e;
    }
    entry.refs++;
    if (entry.idleTimer) {
      clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    const alreadyLoaded = entry.loaded !== undefined;
    let r: Awaited<Entry['load']>;
    try {
      r = await entry.load;
    } catch (err) {
      entry.refs--;
      throw err;
    }
    let released = false;
    const e = entry;
    return {
      model: r.model,
      llama: r.llama,
      threads: r.threads,
      resolved: e.resolved,
      loadMs: alreadyLoaded ? 0 : r.ms,
      release: () => {
        if (released) return;
        released = true;
        this.release(e);
      },
    };
  }

  /** Models currently loaded (or loading), with their handle counts. */
  loaded(): Array<{ resolved: ResolvedModel; refs: number; ready: boolean; threads?: number }> {
    return [...this.entries.values()].map((e) => ({
      resolved: e.resolved,
      refs: e.refs,
      ready: e.loaded !== undefined,
      ...(e.loaded ? { threads: e.loaded.threads } : {}),
    }));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.entries.values()];
    await Promise.all(all.map((e) => this.unload(e, 'dispose')));
    await Promise.all([...this.unloading.values()]);
  }

  private async load(entry: Entry): Promise<{ model: LlamaModel; llama: Llama; threads: number; ms: number }> {
    const r = entry.resolved;
    try {
      // 1. the header, so that no malformed file ever reaches llama.cpp's asserts
      const v = await validateModelFile(r.path);
      if (!v.ok) throw new InvalidModelFileError(r.path, v.problems.map((p) => p.message), `The model file (${r.label})`);
      // 2. memory
      const size = fs.statSync(r.path).size;
      const need = size + LOAD_OVERHEAD_BYTES;
      const free = (this.opts.freeMemory ?? os.freemem)();
      if (need > free) {
        throw new ModelTooLargeError(
          `${r.label} needs about ${mb(need)} of memory to load but only ${mb(free)} is available. ` +
            `Close other programs, or use a smaller quantization (QAT-Q4_0 is ${mb(241_410_624)} for Gemma 3 270M).`,
          need,
          free,
        );
      }
      this.opts.onEvent({ type: 'loading', resolved: r });
      const llama = await this.opts.llama();
      const { threads, note } = chooseThreads(this.opts.threadsSetting, llama.cpuMathCores);
      if (note) this.opts.log('warn', note);
      llama.maxThreads = threads;
      const t0 = performance.now();
      let model: LlamaModel;
      try {
        model = await llama.loadModel({ modelPath: r.path, ...(this.opts.gpu === 'off' ? { gpuLayers: 0 } : {}) });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (err instanceof Error && (err.name === 'InsufficientMemoryError' || /insufficient memory|not enough memory|failed to allocate/i.test(msg))) {
          throw new ModelTooLargeError(`${r.label} does not fit in the available memory: ${msg}`, need, free);
        }
        throw new Error(`llama.cpp could not load ${r.label} (${r.path}): ${msg}`);
      }
      const ms = performance.now() - t0;
      entry.loaded = { model, llama, threads };
      this.opts.log('info', `loaded ${r.label} in ${ms.toFixed(0)} ms (${threads} thread${threads === 1 ? '' : 's'})`);
      this.opts.onEvent({ type: 'loaded', resolved: r, ms, threads });
      return { model, llama, threads, ms };
    } catch (err) {
      if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      const error = err instanceof Error ? err : new Error(String(err));
      this.opts.onEvent({ type: 'load-failed', resolved: r, error });
      throw error;
    }
  }

  private release(entry: Entry): void {
    entry.refs = Math.max(0, entry.refs - 1);
    this.opts.onEvent({ type: 'released', resolved: entry.resolved, refs: entry.refs });
    if (entry.refs > 0 || this.entries.get(entry.key) !== entry) return;
    if (this.opts.idleUnloadMs <= 0) return;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.refs === 0) void this.unload(entry, 'idle');
    }, this.opts.idleUnloadMs);
    entry.idleTimer.unref();
  }

  private unload(entry: Entry, reason: 'idle' | 'dispose'): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return this.unloading.get(entry.key) ?? Promise.resolve();
    this.entries.delete(entry.key);
    clearTimeout(entry.idleTimer);
    const p = (async () => {
      try {
        const r = await entry.load;
        await r.model.dispose();
        this.opts.log('info', `unloaded ${entry.resolved.label} (${reason === 'idle' ? 'idle' : 'shutting down'})`);
        this.opts.onEvent({ type: 'unloaded', resolved: entry.resolved, reason });
      } catch {
        // a failed load has nothing to unload
      } finally {
        this.unloading.delete(entry.key);
      }
    })();
    this.unloading.set(entry.key, p);
    return p;
  }
}

function mb(n: number): string {
  return `${Math.round(n / (1024 * 1024))} MB`;
}
