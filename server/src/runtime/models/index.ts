// The model manager: the one object the run engine, the language server and the CLI use to turn
// a contract's model section into a loaded llama.cpp model. See resolve.ts for where files are
// looked for, download.ts for the download rules and loader.ts for loading.
import * as path from 'node:path';
import type { Settings } from '../../settings';
import type { DownloadProgress } from './download';
import { addLlamaLogSink, getSharedLlama, ModelLoader, type LoadedModel, type LoaderEvent, type LogFn } from './loader';
import { defaultResolveEnvironment, resolveModel, type ModelSpec, type ResolvedModel } from './resolve';

export type { ModelSpec, ResolvedModel, ModelSource, LookedAt } from './resolve';
export { ModelNotFoundError, InvalidModelFileError, modelsDirFor, fileTypeName } from './resolve';
export type { LoadedModel, LoaderEvent, LogFn, LogLevel } from './loader';
export { ModelTooLargeError, disposeSharedLlama, getSharedLlama } from './loader';
export type { DownloadProgress, DownloadResult, ProgressBar } from './download';
export { DownloadError, createProgressBar, downloadFile, formatBytes, isPartialPath, partialPathFor, PARTIAL_SUFFIX } from './download';
export type { RegistryFile, RegistryModel, RegistryLookup } from './registry';
export {
  builtinRegistry,
  downloadUrlFor,
  lookupModel,
  mergedRegistry,
  nodeLlamaCppFileName,
  normalizeQuantization,
  parseHfUri,
  UnknownModelError,
} from './registry';
export { autoThreads, chooseThreads } from './threads';

export type ModelStatus =
  | { state: 'not-loaded' }
  | { state: 'downloading'; model: string; percent: number | undefined; downloadedBytes: number; totalBytes: number | undefined }
  | { state: 'loading'; model: string; quantization: string; synthetic: boolean }
  | { state: 'ready'; model: string; quantization: string; threads: number; synthetic: boolean; loadedModels: number }
  | { state: 'error'; message: string };

export interface ModelManagerOptions {
  settings: Settings;
  workspaceRoot: string;
  /** home folder (default os.homedir()); tests point it at a temp folder */
  home?: string;
  /** environment (default process.env): OLLAMA_MODELS, HF_ENDPOINT */
  env?: NodeJS.ProcessEnv;
  /** receives the manager's and llama.cpp's log lines (never printed to stdout) */
  log?: LogFn;
  /** llama.cpp's minimum log level (default warn) */
  llamaLogLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** available memory in bytes (default os.freemem); tests inject a small number */
  freeMemory?: () => number;
  /** fetch used for downloads (default global fetch) */
  fetch?: typeof fetch;
}

export interface ResolveRequestOptions {
  /** default: the allowDownload setting; false when the workspace is untrusted or the CLI runs offline */
  allowDownload?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** automatic resumes of a dropped download within this call (default 3) */
  downloadRetries?: number;
}

export interface Disposable {
  dispose(): void;
}

export class ModelManager {
  private settings: Settings;
  private readonly workspaceRoot: string;
  private readonly home: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: LogFn;
  private readonly loader: ModelLoader;
  private readonly statusListeners = new Set<(s: ModelStatus) => void>();
  private readonly eventListeners = new Set<(e: LoaderEvent) => void>();
  private readonly inflight = new Map<string, Promise<ResolvedModel>>();
  private readonly downloads = new Map<string, { label: string; progress?: DownloadProgress }>();
  private readonly loading = new Map<string, ResolvedModel>();
  private lastUsed: ResolvedModel | undefined;
  private lastError: string | undefined;
  private lastStatusJson = JSON.stringify({ state: 'not-loaded' });
  private readonly removeLogSink: () => void;
  private disposed = false;

  constructor(private readonly opts: ModelManagerOptions) {
    const def = defaultResolveEnvironment();
    this.settings = opts.settings;
    this.workspaceRoot = path.resolve(opts.workspaceRoot);
    this.home = opts.home ?? def.home;
    this.env = opts.env ?? def.env;
    this.log = opts.log ?? (() => undefined);
    this.removeLogSink = addLlamaLogSink(this.log);
    this.loader = new ModelLoader({
      llama: () => getSharedLlama({ gpu: this.settings.gpu, ...(opts.llamaLogLevel ? { logLevel: opts.llamaLogLevel } : {}) }, this.log),
      threadsSetting: this.settings.threads,
      idleUnloadMs: Math.max(0, this.settings.idleUnloadSeconds * 1000),
      gpu: this.settings.gpu,
      ...(opts.freeMemory ? { freeMemory: opts.freeMemory } : {}),
      log: this.log,
      onEvent: (e) => this.onLoaderEvent(e),
    });
  }

  /**
   * Finds the file for `spec` (see resolve.ts for the order), downloading it when allowed.
   * Concurrent calls for the same spec share one resolution (and one download).
   */
  resolve(spec: ModelSpec, opts: ResolveRequestOptions = {}): Promise<ResolvedModel> {
    if (this.disposed) return Promise.reject(new Error('the model manager was disposed'));
    const key = JSON.stringify([spec.id, spec.quantization ?? '', spec.file ?? '', spec.fileBaseDir ?? '', opts.allowDownload ?? null]);
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const label = spec.file ? spec.file : `${spec.id}${spec.quantization ? ` ${spec.quantization}` : ''}`;
    const p = (async () => {
      try {
        const r = await resolveModel(
          spec,
          { settings: this.settings, workspaceRoot: this.workspaceRoot, home: this.home, env: this.env, log: this.log },
          {
            ...(opts.allowDownload !== undefined ? { allowDownload: opts.allowDownload } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
            ...(opts.downloadRetries !== undefined ? { downloadRetries: opts.downloadRetries } : {}),
            onProgress: (pr) => {
              this.downloads.set(key, { label, progress: pr });
              if (pr.phase === 'done') this.downloads.delete(key);
              this.emitStatus();
              opts.onProgress?.(pr);
            },
          },
        );
        this.lastError = undefined;
        return r;
      } catch (err) {
        const aborted = err instanceof Error && err.name === 'AbortError';
        if (!aborted) this.lastError = err instanceof Error ? err.message : String(err);
        throw err;
      } finally {
        this.inflight.delete(key);
        this.downloads.delete(key);
        this.emitStatus();
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  /**
   * Loads a resolved model (once; later calls share the load) and returns a handle. Call
   * `release()` when done: the model unloads `idleUnloadSeconds` after the last release.
   */
  async acquire(resolved: ResolvedModel): Promise<LoadedModel> {
    try {
      const h = await this.loader.acquire(resolved);
      this.lastUsed = h.resolved;
      this.lastError = undefined;
      this.emitStatus();
      return h;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.emitStatus();
      throw err;
    }
  }

  /**
   * Takes new settings (the editor's configuration changed). Resolution uses them at once;
   * `threads` applies to the next load, `idleUnloadSeconds` to the next release; `gpu` needs a
   * restart (llama.cpp starts once per process). Loaded models stay loaded.
   */
  updateSettings(settings: Settings): void {
    this.settings = settings;
    this.loader.configure({ threadsSetting: settings.threads, idleUnloadMs: Math.max(0, settings.idleUnloadSeconds * 1000) });
    this.emitStatus();
  }

  /**
   * Starts llama.cpp in the background (getLlama takes ~3.5 s on a busy 2-core machine), so the
   * first run does not pay for it. Never throws: a failure becomes the error status.
   */
  async warmUp(): Promise<void> {
    try {
      await getSharedLlama({ gpu: this.settings.gpu, ...(this.opts.llamaLogLevel ? { logLevel: this.opts.llamaLogLevel } : {}) }, this.log);
    } catch (err) {
      this.lastError = `llama.cpp could not start: ${err instanceof Error ? err.message : String(err)}`;
      this.log('error', this.lastError);
      this.emitStatus();
    }
  }

  /** resolve + acquire. */
  async load(spec: ModelSpec, opts: ResolveRequestOptions = {}): Promise<LoadedModel> {
    return this.acquire(await this.resolve(spec, opts));
  }

  status(): ModelStatus {
    const dl = [...this.downloads.values()][0];
    if (dl) {
      const p = dl.progress;
      return {
        state: 'downloading',
        model: dl.label,
        percent: p?.percent,
        downloadedBytes: p?.downloadedBytes ?? 0,
        totalBytes: p?.totalBytes,
      };
    }
    const loading = [...this.loading.values()][0];
    if (loading) return { state: 'loading', model: loading.label, quantization: loading.quantization, synthetic: loading.synthetic };
    if (this.lastError !== undefined) return { state: 'error', message: this.lastError };
    const ready = this.loader.loaded().filter((l) => l.ready);
    if (ready.length > 0) {
      const cur = ready.find((l) => l.resolved.identity === this.lastUsed?.identity) ?? ready[ready.length - 1]!;
      return {
        state: 'ready',
        model: cur.resolved.label,
        quantization: cur.resolved.quantization,
        threads: cur.threads ?? 1,
        synthetic: cur.resolved.synthetic,
        loadedModels: ready.length,
      };
    }
    return { state: 'not-loaded' };
  }

  /** Calls `cb` whenever status() changes. */
  onStatus(cb: (s: ModelStatus) => void): Disposable {
    this.statusListeners.add(cb);
    return { dispose: () => void this.statusListeners.delete(cb) };
  }

  /** Loader events (loading, loaded, load-failed, released, unloaded): for logs, traces and tests. */
  onEvent(cb: (e: LoaderEvent) => void): Disposable {
    this.eventListeners.add(cb);
    return { dispose: () => void this.eventListeners.delete(cb) };
  }

  /** Models loaded now. */
  loadedModels(): Array<{ resolved: ResolvedModel; refs: number; ready: boolean; threads?: number }> {
    return this.loader.loaded();
  }

  /** Unloads every model. The process-wide Llama stays (disposeSharedLlama() ends it). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.loader.dispose();
    this.removeLogSink();
    this.emitStatus();
    this.statusListeners.clear();
    this.eventListeners.clear();
  }

  private onLoaderEvent(e: LoaderEvent): void {
    if (e.type === 'loading') this.loading.set(e.resolved.identity, e.resolved);
    if (e.type === 'loaded' || e.type === 'load-failed') this.loading.delete(e.resolved.identity);
    for (const l of this.eventListeners) {
      try {
        l(e);
      } catch (err) {
        this.log('error', `model event listener failed: ${String(err)}`);
      }
    }
    this.emitStatus();
  }

  private emitStatus(): void {
    const s = this.status();
    const json = JSON.stringify(s);
    if (json === this.lastStatusJson) return;
    this.lastStatusJson = json;
    for (const l of this.statusListeners) {
      try {
        l(s);
      } catch (err) {
        this.log('error', `model status listener failed: ${String(err)}`);
      }
    }
  }
}
