import * as path from 'node:path';
import { LSPErrorCodes, ResponseError, type Connection, type Disposable, type ProgressToken, type WorkDoneProgressReporter } from 'vscode-languageserver/node';
import type { ExampleRun, RunResults } from '../core/results-store';
import { exampleLensTitle } from '../core/run-findings';
import { ContractsErrorCodes, ModelStatusNotification, type CompareQuantizationsResult, type ExampleRunResult, type ModelStatus, type RunExamplesResult, type RunProgressParams } from '../protocol';
import { runContract, type ContractRunResult, type ExampleResult, type ModelSource, type ResolvedRunnerModel, type RunProgress } from '../runtime/engine';
import { llamaSource } from '../runtime/llama-runner';
import { ModelManager, type ModelStatus as ManagerStatus } from '../runtime/models';
import type { Settings } from '../settings';
import type { CompareRequest, ExampleRunner, QuantizationComparer, RunRequest } from './runner';
import type { DriftStore } from './drift-store';
import { driftView, type BaselineViewData } from '../core/drift-view';
import { runDrift, type ScorerSource } from '../runtime/drift';
import { llamaScorers } from '../runtime/drift/llama';
import { checkAgainstBaseline } from '../runtime/drift/baseline-file';

export const UNTRUSTED_MESSAGE =
  'Examples are not run in an untrusted workspace: running one would load a model file and write traces where the workspace says. Trust the workspace to run examples; contracts are still checked.';

export interface RunServiceOptions {
  connection: Connection;
  results: RunResults;
  /** Where runners come from. Default: node-llama-cpp through a ModelManager made on the first run. */
  source?: (settings: Settings) => ModelSource;
  /** The results of `uri` changed: republish its diagnostics, refresh lenses. */
  changed(uri: string): void;
  /** Where quantization comparisons are kept for lenses, diagnostics and hovers. */
  drift?: DriftStore;
}

/** The protocol's model status (the client's status bar) from the ModelManager's. */
export function toProtocolStatus(s: ManagerStatus): ModelStatus {
  switch (s.state) {
    case 'not-loaded':
      return { state: 'not-loaded' };
    case 'downloading':
      return { state: 'downloading', model: s.model, percent: s.percent ?? 0, downloadedBytes: s.downloadedBytes, ...(s.totalBytes !== undefined ? { totalBytes: s.totalBytes } : {}) };
    case 'loading':
      return { state: 'loading', model: s.model, quantization: s.quantization, synthetic: s.synthetic };
    case 'ready':
      return { state: 'ready', model: s.model, quantization: s.quantization, threads: s.threads, synthetic: s.synthetic };
    case 'error':
      return { state: 'error', message: s.message };
  }
}

/** The run's own record of an example result, filed under the key of the version it ran on. */
export function toExampleRun(e: ExampleResult, key: string, r: Pick<ContractRunResult, 'model' | 'quantization'>): ExampleRun {
  const first = e.runs[0];
  const run: ExampleRun = {
    example: e.name,
    key,
    verdict: e.verdict.kind,
    message: e.verdict.message,
    cached: e.cached,
    latencies: e.runs.map((x) => x.totalMs),
    ttfts: e.runs.map((x) => x.ttftMs),
    model: { label: r.model?.label ?? 'unknown model', quantization: r.model?.quantization ?? r.quantization, synthetic: r.model?.synthetic ?? false },
    at: new Date().toISOString(),
  };
  if (e.verdict.diffs) run.diffs = e.verdict.diffs;
  if (e.verdict.schemaErrors) run.schemaErrors = e.verdict.schemaErrors.map((s) => ({ pointer: s.pointer, keyword: s.keyword, message: s.message }));
  if (e.output !== undefined) run.output = e.output;
  if (e.parsed !== undefined) run.parsed = e.parsed;
  if (e.stopReason) run.stopReason = e.stopReason;
  if (first) run.timing = { ttftMs: first.ttftMs, totalMs: first.totalMs, outputTokens: first.outputTokens, tokensPerSecond: first.tokensPerSecond, promptTokens: first.promptTokens, reusedPromptTokens: first.reusedPromptTokens };
  return run;
}

export function toProtocolResult(e: ExampleResult, r: Pick<ContractRunResult, 'model' | 'quantization'>): ExampleRunResult {
  const out: ExampleRunResult = { example: e.name, quantization: r.model?.quantization ?? r.quantization, status: e.verdict.kind, message: e.verdict.message, cached: e.cached };
  if (e.parsed !== undefined) out.output = e.parsed;
  if (e.output !== undefined) out.raw = e.output;
  const problems = [
    ...(e.verdict.schemaErrors ?? []).map((s) => ({ pointer: s.pointer, message: s.message })),
    ...(e.verdict.diffs ?? []).map((d) => ({ pointer: d.pointer, message: d.kind === 'different' ? `expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}` : d.kind })),
  ];
  if (problems.length) out.problems = problems;
  if (e.latency) out.latencyMs = e.latency.p50;
  if (e.ttft) out.ttftMs = e.ttft.p50;
  if (e.runs[0]) {
    out.tokens = e.runs[0].outputTokens;
    out.tokensPerSecond = e.runs[0].tokensPerSecond;
  }
  if (r.model) {
    out.model = r.model.label;
    out.synthetic = r.model.synthetic;
  }
  return out;
}

function resolveDir(dir: string, root: string | undefined): string | undefined {
  if (!dir.trim()) return undefined;
  if (path.isAbsolute(dir)) return dir;
  return root ? path.resolve(root, dir) : undefined;
}

/** What of the settings chooses the model: part of every result's key. */
export function modelContext(s: Settings): unknown {
  return { modelFile: s.modelFile, models: s.models };
}

/**
 * Runs examples for the language server: the engine with progress (LSP work-done progress and
 * `contracts/runProgress`), cancellation (`$/cancelRequest` or the progress's cancel button →
 * AbortSignal), results filed in the store as each example finishes, model status forwarded as
 * `contracts/modelStatus`. In an untrusted workspace it refuses before anything is loaded.
 */
export class RunService implements ExampleRunner, QuantizationComparer {
  private trusted = true;
  private llama: { manager: ModelManager; source: ModelSource; settings: string; status: Disposable; events: Disposable } | undefined;
  private scripted: { source: ModelSource; settings: string } | undefined;
  private readonly inflight = new Set<AbortController>();
  /** Models (queue keys) that ran since they were loaded: later runs skip the warm-up. */
  private readonly warm = new Set<string>();

  constructor(private readonly opts: RunServiceOptions) {}

  setTrusted(trusted: boolean): void {
    if (this.trusted === trusted) return;
    this.trusted = trusted;
    if (!trusted) {
      for (const c of this.inflight) c.abort();
      void this.disposeModels();
    }
  }

  async dispose(): Promise<void> {
    for (const c of this.inflight) c.abort();
    await this.disposeModels();
  }

  private async disposeModels(): Promise<void> {
    const l = this.llama;
    this.llama = undefined;
    this.warm.clear();
    if (!l) return;
    l.status.dispose();
    l.events.dispose();
    await l.manager.dispose().catch((e) => this.opts.connection.console.error(`unloading models failed: ${(e as Error).message}`));
    void this.opts.connection.sendNotification(ModelStatusNotification, { state: 'not-loaded' });
  }

  private sourceFor(settings: Settings, workspaceRoot: string | undefined): ModelSource {
    const json = JSON.stringify(settings);
    if (this.opts.source) {
      if (!this.scripted || this.scripted.settings !== json) this.scripted = { source: this.opts.source(settings), settings: json };
      return this.scripted.source;
    }
    if (this.llama) {
      if (this.llama.settings !== json) {
        if (JSON.parse(this.llama.settings).gpu !== settings.gpu) this.opts.connection.console.warn('contracts.gpu applies when the language server starts: restart it to use the new value.');
        this.llama.manager.updateSettings(settings);
        this.llama.settings = json;
      }
      return this.llama.source;
    }
    const console = this.opts.connection.console;
    const manager = new ModelManager({
      settings,
      workspaceRoot: workspaceRoot ?? process.cwd(),
      log: (level, message) => {
        if (level === 'error') console.error(message);
        else if (level === 'warn') console.warn(message);
        else if (level === 'info') console.info(message);
      },
    });
    const status = manager.onStatus((s) => void this.opts.connection.sendNotification(ModelStatusNotification, toProtocolStatus(s)));
    const events = manager.onEvent((e) => {
      if (e.type === 'unloaded') this.warm.delete(e.resolved.path);
    });
    this.llama = { manager, source: llamaSource(manager), settings: json, status, events };
    return this.llama.source;
  }

  async run(req: RunRequest, signal: AbortSignal, progress: (p: RunProgressParams) => void): Promise<RunExamplesResult> {
    if (!this.trusted) throw new ResponseError(ContractsErrorCodes.WorkspaceUntrusted, UNTRUSTED_MESSAGE);
    const { params, check, settings } = req;
    const uri = params.uri;
    const contract = check.contract;
    const keys = this.opts.results.keysOf(check);
    const selected = params.examples?.length ? new Set(params.examples) : undefined;
    const total = (contract?.examples ?? []).filter((e) => !selected || selected.has(e.name)).length;

    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(controller);
    const contractName = contract?.contract ?? 'contract';
    const title = !selected ? `Run all: ${contractName}` : selected.size === 1 ? `Run example "${[...selected][0]}"` : `Run ${selected.size} examples of ${contractName}`;
    let reporter: ProgressReporter | undefined;
    try {
      reporter = await ProgressReporter.create(this.opts.connection, `Prompt Contracts: ${title}`, () => controller.abort(), params.workDoneToken);
      const base = this.sourceFor(settings, req.workspaceRoot);
      // Resolved once, before the engine asks: to know whether the model is warm and what it is.
      let resolving: Promise<ResolvedRunnerModel> | undefined;
      const source: ModelSource = { engine: base.engine, resolve: (r) => (resolving ??= base.resolve(r)), open: (m, o) => base.open(m, o) };
      let model: ResolvedRunnerModel | undefined;
      if (contract && check.schema && !check.findings.some((f) => f.severity === 'error')) {
        const quantization = params.quantization ?? contract.model.quantizations[0] ?? '';
        model = await source.resolve({ contract, ...(req.file ? { contractFile: req.file } : {}), quantization, signal: controller.signal }).catch(() => undefined);
      }
      const info: Pick<ContractRunResult, 'model' | 'quantization'> = { quantization: model?.info.quantization ?? params.quantization ?? '', ...(model ? { model: model.info } : {}) };

      const progressOf = reporter;
      let done = 0;
      const onProgress = (e: RunProgress) => {
        if (e.kind === 'queued') progressOf.report(`waiting for ${e.ahead} earlier run${e.ahead === 1 ? '' : 's'} on ${e.model}`);
        else if (e.kind === 'loading') progressOf.report(e.message ? `${e.model}: ${e.message}` : `loading ${e.model}`);
        else if (e.kind === 'started') {
          if (model) this.warm.add(model.key);
          progressOf.report(`running on ${e.model}`);
        } else if (e.kind === 'example') {
          const ex = e.result;
          if (selected && !selected.has(ex.name)) return;
          done++;
          const key = keys.examples.get(ex.name);
          // Cancelled and skipped examples keep their previous result.
          const stored = key !== undefined && ex.verdict.kind !== 'cancelled' && ex.verdict.kind !== 'skipped' ? this.opts.results.record(uri, toExampleRun(ex, key, info)) : undefined;
          progress({ uri, done, total, last: toProtocolResult(ex, info) });
          progressOf.report(`${done}/${total} · ${ex.name}: ${stored ? exampleLensTitle({ run: stored, stale: false }) : ex.verdict.kind}`, total ? (done / total) * 100 : undefined);
          if (stored) this.opts.changed(uri);
        }
      };
      const traceDir = resolveDir(settings.traceDir, req.workspaceRoot);
      const cacheDir = settings.useCache ? resolveDir(settings.cacheDir, req.workspaceRoot) : undefined;
      const result = await runContract(check, {
        source,
        ...(req.file ? { file: req.file } : {}),
        ...(params.quantization ? { quantization: params.quantization } : {}),
        ...(model && this.warm.has(model.key) ? { warmup: 0 } : {}),
        ...(selected ? { examples: [...selected] } : {}),
        noCache: params.noCache === true,
        signal: controller.signal,
        ...(traceDir ? { traceDir } : {}),
        ...(cacheDir ? { cacheDir } : {}),
        onProgress,
      });

      const failed = result.status === 'model-unavailable' || (result.status === 'error' && result.judged === 0);
      const failure = failed ? { key: keys.contract, reason: result.reason ?? result.status, at: new Date().toISOString() } : undefined;
      if ((failed || result.status !== 'not-run') && this.opts.results.recordFailure(uri, failure)) this.opts.changed(uri);
      if (result.status === 'cancelled' && signal.aborted) {
        throw new ResponseError(LSPErrorCodes.RequestCancelled, `the run was cancelled after ${done} of ${total} example${total === 1 ? '' : 's'}; finished results are kept`);
      }
      return toRunExamplesResult(uri, result, selected);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.inflight.delete(controller);
      reporter?.done();
    }
  }

  /** Runs every listed quantization and compares the candidates with the reference (drift). */
  async compare(req: CompareRequest, signal: AbortSignal): Promise<CompareQuantizationsResult> {
    if (!this.trusted) throw new ResponseError(ContractsErrorCodes.WorkspaceUntrusted, UNTRUSTED_MESSAGE);
    const { params, check, settings } = req;
    const uri = params.uri;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(controller);
    let reporter: ProgressReporter | undefined;
    try {
      reporter = await ProgressReporter.create(this.opts.connection, `Prompt Contracts: compare quantizations of ${check.contract?.contract ?? 'contract'}`, () => controller.abort(), params.workDoneToken);
      const source = this.sourceFor(settings, req.workspaceRoot);
      const manager = this.llama?.manager;
      const scorers: ScorerSource | undefined = manager ? llamaScorers(manager) : undefined;
      const traceDir = resolveDir(settings.traceDir, req.workspaceRoot);
      const cacheDir = settings.useCache ? resolveDir(settings.cacheDir, req.workspaceRoot) : undefined;
      const progressOf = reporter;
      const drift = await runDrift(check, {
        source,
        ...(scorers ? { scorers } : {}),
        ...(req.file ? { file: req.file } : {}),
        noCache: params.noCache === true,
        signal: controller.signal,
        ...(traceDir ? { traceDir } : {}),
        ...(cacheDir ? { cacheDir } : {}),
        onProgress: (m) => progressOf.report(m),
      });
      let baseline: BaselineViewData | undefined;
      if (req.file) {
        const b = await checkAgainstBaseline(check, req.file, Object.values(drift.runs));
        baseline = b.status === 'compared' ? { status: 'compared', comparison: b.comparison } : b.status === 'invalid' ? { status: 'invalid', message: b.message, file: b.file } : { status: 'missing' };
      }
      this.opts.drift?.set(uri, check.text, drift, baseline);
      this.opts.changed(uri);
      const view = driftView(check, drift, baseline);
      return { uri, status: drift.status, lines: view.lenses.map((l) => l.title), ...(drift.status === 'not-run' || drift.status === 'error' ? { reason: drift.candidates.map((c) => c.message).filter(Boolean).join('; ') || drift.status } : {}) };
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.inflight.delete(controller);
      reporter?.done();
    }
  }
}

/** The answer to `contracts/runExamples`: the chosen examples only (others are not part of this run). */
export function toRunExamplesResult(uri: string, r: ContractRunResult, selected: Set<string> | undefined): RunExamplesResult {
  const examples = r.examples.filter((e) => !selected || selected.has(e.name));
  const results = examples.map((e) => toProtocolResult(e, r));
  const skipped = examples.filter((e) => e.verdict.kind === 'skipped' || e.verdict.kind === 'cancelled').length;
  const passed = examples.filter((e) => e.verdict.kind === 'pass').length;
  const out: RunExamplesResult = {
    uri,
    contract: r.contract,
    results,
    summary: { total: examples.length, passed, failed: examples.length - skipped - passed, skipped },
  };
  if (r.latency) {
    out.summary.p50Ms = r.latency.p50;
    out.summary.p95Ms = r.latency.p95;
  }
  if (r.reason) out.reason = r.reason;
  return out;
}

/**
 * LSP work-done progress for one run: the client's token, or one the server creates when the
 * client supports it (`window/workDoneProgress/create`); begun before the run starts, cancellable.
 */
class ProgressReporter {
  private cancel?: Disposable;

  private constructor(private readonly reporter: WorkDoneProgressReporter) {}

  /**
   * Reports on the request's `workDoneToken` when the client sent one (it cancels with
   * `$/cancelRequest` then); else creates a token and waits for the client's answer (at most
   * `timeoutMs`; without one the run goes on without progress).
   */
  static async create(connection: Connection, title: string, onCancel: () => void, workDoneToken?: ProgressToken, timeoutMs = 2000): Promise<ProgressReporter> {
    if (workDoneToken !== undefined) {
      const attached = connection.window.attachWorkDoneProgress(workDoneToken);
      attached.begin(title, 0, 'starting', true);
      return new ProgressReporter(attached);
    }
    let timer: NodeJS.Timeout | undefined;
    const created = connection.window.createWorkDoneProgress().catch(() => undefined);
    const r = await Promise.race([created, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    if (!r) {
      // Too late for this run: end it when it comes, so the client shows nothing stale.
      void created.then((late) => {
        if (!late) return;
        late.begin(title, 0, undefined, false);
        late.done();
      });
      return new ProgressReporter({ begin() {}, report() {}, done() {} });
    }
    const p = new ProgressReporter(r);
    p.cancel = r.token.onCancellationRequested(onCancel);
    r.begin(title, 0, 'starting', true);
    return p;
  }

  report(message: string, percentage?: number): void {
    if (percentage !== undefined) this.reporter.report(Math.round(percentage), message);
    else this.reporter.report(message);
  }

  done(): void {
    this.cancel?.dispose();
    this.reporter.done();
  }
}
