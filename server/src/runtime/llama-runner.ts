import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from 'node-llama-cpp';
import type { ModelManager, ResolvedModel, ResolveRequestOptions } from './models';
import { ModelUnavailableError, type ModelSource, type ResolvedRunnerModel } from './engine';
import { endAtValue, GrammarError, type GrammarPlan } from './grammar';
import { AbortError, type GenerateRequest, type GenerateResult, type ModelRunner, type RunnerModelInfo } from './runner';
import { trailingWhitespaceRun, WHITESPACE_RUN, type StopReason } from '../core/verdict';
import { importNodeLlamaCpp } from './nlc';
import { LlamaScorer, type TokenScorer } from './drift/teacher';

/**
 * ModelRunner on node-llama-cpp, in process. One context with one sequence per runner:
 * - prompts are token arrays (tokenized by the caller with special tokens parsed);
 * - the shared prefix (system text + user template up to the first placeholder) is evaluated once
 *   and kept; for each generation only the tokens after it are erased and evaluated again;
 * - the prefix is always evaluated as its own batch, so the computation (and so the greedy output)
 *   does not depend on what the sequence held before;
 * - greedy at temperature 0 with no repeat penalty and no other sampler;
 * - the JSON grammar is compiled once per schema hash and Llama instance, and ends at the value
 *   (see grammar.ts `endAtValue`);
 * - cancellation is checked after every token: an abort stops before the next token is evaluated.
 */

const grammarCache = new WeakMap<Llama, Map<string, Promise<{ grammar: LlamaGrammar; stopText?: string }>>>();

let nlcVersion: string | undefined;
/** node-llama-cpp's version, read from its package.json without loading it (it is part of the cache key). */
export function nodeLlamaCppVersion(): string {
  if (nlcVersion) return nlcVersion;
  try {
    const main = require.resolve('node-llama-cpp');
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8')) as { version?: string };
    nlcVersion = pkg.version ?? 'unknown';
  } catch {
    nlcVersion = 'unknown';
  }
  return nlcVersion;
}

export interface LlamaRunnerOptions {
  /** Context size; default: enough for the longest request, in multiples of 256. */
  contextSize?: number;
}

export interface LlamaHandle {
  model: LlamaModel;
  llama: Llama;
  threads: number;
}

/** Runners kept between runs, per loaded model (gone with the model: its contexts go with it). */
const idleRunners = new WeakMap<LlamaModel, LlamaRunner[]>();

export class LlamaRunner implements ModelRunner {
  private context: LlamaContext | undefined;
  private sequence: LlamaContextSequence | undefined;
  private readonly grammars = new Map<string, { grammar: LlamaGrammar; stopText?: string }>();
  private stateClass: typeof import('node-llama-cpp').LlamaGrammarEvaluationState | undefined;

  constructor(
    private readonly handle: LlamaHandle,
    readonly info: RunnerModelInfo,
    private readonly opts: LlamaRunnerOptions = {},
  ) {}

  /** Whether this runner can serve another run: its model and context are alive and the context size asked is the same. */
  usable(contextSize: number | undefined): boolean {
    if (this.handle.model.disposed || this.context?.disposed) return false;
    return (this.opts.contextSize ?? 0) === (contextSize ?? 0);
  }

  tokenize(text: string, specialTokens = false): readonly number[] {
    return this.handle.model.tokenize(text, specialTokens) as readonly number[];
  }

  async prepare(plan: GrammarPlan): Promise<void> {
    this.stateClass ??= (await importNodeLlamaCpp()).LlamaGrammarEvaluationState;
    if (plan.mode === 'free' || this.grammars.has(plan.hash)) return;
    const { llama } = this.handle;
    let perLlama = grammarCache.get(llama);
    if (!perLlama) grammarCache.set(llama, (perLlama = new Map()));
    let p = perLlama.get(plan.hash);
    if (!p) {
      p = (async () => {
        let stock: LlamaGrammar;
        try {
          stock = await llama.createGrammarForJsonSchema(plan.converted!.schema as never);
        } catch (e) {
          throw new GrammarError(`node-llama-cpp could not build a grammar for the schema: ${(e as Error).message}`, '/');
        }
        const ending = endAtValue(stock.grammar);
        if (ending === undefined) return { grammar: stock, stopText: '\n\n\n\n' };
        return { grammar: await llama.createGrammar({ grammar: ending }) };
      })();
      perLlama.set(plan.hash, p);
      p.catch(() => perLlama!.delete(plan.hash));
    }
    this.grammars.set(plan.hash, await p);
  }

  private async ensureSequence(needed: number): Promise<LlamaContextSequence> {
    if (this.sequence && this.context && !this.context.disposed && this.context.contextSize >= needed) return this.sequence;
    await this.disposeContext();
    const size = Math.max(this.opts.contextSize ?? 0, Math.ceil(needed / 256) * 256, 512);
    this.context = await this.handle.model.createContext({
      contextSize: size,
      sequences: 1,
      threads: this.handle.threads,
      // Gemma 3 uses sliding-window attention; a full cache lets any prefix be reused.
      swaFullCache: true,
      batchSize: Math.min(size, 512),
    });
    this.sequence = this.context.getSequence();
    return this.sequence;
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    if (req.signal?.aborted) throw new AbortError();
    if (!req.tokens.length) throw new Error('the prompt has no tokens');
    const t0 = performance.now();
    const needed = req.tokens.length + req.maxTokens + 1;
    if (req.contextSize !== undefined && needed > req.contextSize) throw new Error(`the prompt (${req.tokens.length} tokens) and maxTokens (${req.maxTokens}) do not fit the context of ${req.contextSize} tokens (model.contextSize)`);
    const seq = await this.ensureSequence(Math.max(needed, req.contextSize ?? 0));
    const tokens = req.tokens as number[];
    const prefix = Math.min(req.reusablePrefix, tokens.length - 1);

    // Keep the shared prefix when the sequence already holds it; otherwise start over and evaluate
    // it as one batch, so that every run performs the same computation.
    const have = seq.compareContextTokens(tokens as never).firstDifferentIndex;
    let reused = 0;
    if (prefix > 0 && have >= prefix) {
      if (seq.nextTokenIndex > prefix) await seq.eraseContextTokenRanges([{ start: prefix, end: seq.nextTokenIndex }]);
      reused = prefix;
    } else {
      if (seq.nextTokenIndex > 0) await seq.clearHistory();
      if (prefix > 0) await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(0, prefix) as never);
    }
    if (req.signal?.aborted) throw new AbortError();

    let grammarState: InstanceType<typeof import('node-llama-cpp').LlamaGrammarEvaluationState> | undefined;
    let stopText: string | undefined;
    if (req.grammar.mode === 'constrained') {
      const g = this.grammars.get(req.grammar.hash);
      if (!g || !this.stateClass) throw new Error('prepare() was not called for this grammar');
      grammarState = new this.stateClass({ model: this.handle.model, grammar: g.grammar });
      stopText = g.stopText;
    }
    const s = req.sampler;
    const model = this.handle.model;
    const out: number[] = [];
    let ttft = 0;
    let stop: StopReason = 'eog';
    let wsRun = 0;
    const iter = seq.evaluate(tokens.slice(prefix) as never, {
      temperature: s.temperature,
      ...(s.temperature > 0 ? { topK: s.topK ?? 40, topP: s.topP ?? 0.95, ...(s.seed !== undefined ? { seed: s.seed } : {}) } : {}),
      ...(grammarState ? { grammarEvaluationState: grammarState } : {}),
    });
    try {
      for await (const token of iter) {
        if (!ttft) ttft = performance.now() - t0;
        out.push(token as number);
        const piece = model.detokenize([token]);
        const trailing = trailingWhitespaceRun(piece);
        wsRun = trailing === piece.length ? wsRun + piece.length : trailing;
        if (req.onToken) req.onToken(out.length - 1, model.detokenize(out as never));
        if (req.signal?.aborted) {
          stop = 'abort';
          break;
        }
        if (stopText && wsRun >= stopText.length && model.detokenize(out as never).endsWith(stopText)) {
          stop = 'eog';
          break;
        }
        if (wsRun >= WHITESPACE_RUN) {
          stop = 'whitespace';
          break;
        }
        if (out.length >= req.maxTokens) {
          stop = 'maxTokens';
          break;
        }
      }
    } finally {
      // Ends the generator (when we broke out of it) before the next call uses the sequence.
      await iter.return(undefined);
    }
    const total = performance.now() - t0;
    let text = model.detokenize(out as never);
    if (stopText && stop === 'eog' && text.endsWith(stopText)) text = text.replace(/\n+$/, '');
    return {
      text,
      stopReason: stop,
      promptTokens: tokens.length,
      reusedPromptTokens: reused,
      outputTokens: out.length,
      timings: { ttftMs: ttft || total, totalMs: total, tokensPerSecond: out.length > 1 && total > ttft ? ((out.length - 1) * 1000) / (total - ttft) : 0 },
    };
  }

  scorer(): TokenScorer {
    return new LlamaScorer(this.handle, this.info, () => this.sequence);
  }

  private async disposeContext(): Promise<void> {
    const c = this.context;
    this.context = undefined;
    this.sequence = undefined;
    if (c && !c.disposed) await c.dispose();
  }

  async dispose(): Promise<void> {
    await this.disposeContext();
  }
}

// --- the model source for the engine ----------------------------------------------------------

export interface LlamaSourceOptions {
  /** `--model FILE|URI`: overrides every contract's model. */
  modelOverride?: string;
  /** Folder a relative `--model` path is relative to (the current directory for the CLI). */
  modelOverrideBaseDir?: string;
  resolve?: ResolveRequestOptions;
  contextSize?: number;
}

export function runnerInfo(r: ResolvedModel): RunnerModelInfo {
  return { path: r.path, id: r.id, quantization: r.quantization, identity: r.identity, synthetic: r.synthetic, label: r.label };
}

/** The engine's ModelSource on top of the ModelManager (which resolves, downloads and loads). */
export function llamaSource(manager: ModelManager, opts: LlamaSourceOptions = {}): ModelSource {
  return {
    engine: `node-llama-cpp ${nodeLlamaCppVersion()}`,
    async resolve({ contract, contractFile, quantization, signal }) {
      const file = opts.modelOverride ?? contract.model.file;
      const fileBaseDir = opts.modelOverride ? (opts.modelOverrideBaseDir ?? process.cwd()) : contractFile ? path.dirname(contractFile) : undefined;
      try {
        const resolved = await manager.resolve(
          { id: contract.model.id, quantization, ...(file ? { file } : {}), ...(fileBaseDir ? { fileBaseDir } : {}) },
          { ...opts.resolve, ...(signal ? { signal } : {}) },
        );
        return { key: resolved.path, info: runnerInfo(resolved), native: resolved } satisfies ResolvedRunnerModel;
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw new ModelUnavailableError((e as Error).message);
      }
    },
    async open(resolved) {
      const native = resolved.native as ResolvedModel | undefined;
      if (!native) throw new Error('this model was not resolved by llamaSource');
      let lease;
      try {
        lease = await manager.acquire(native);
      } catch (e) {
        throw new ModelUnavailableError(`cannot load ${native.label}: ${(e as Error).message}`);
      }
      // A runner (its context, and the prompt prefix evaluated in it) outlives the run while its
      // model stays loaded: the next run of the same contract starts from the kept prefix.
      const pool = idleRunners.get(lease.model);
      const kept = pool?.pop();
      const runner = kept && kept.usable(opts.contextSize) ? kept : new LlamaRunner(lease, runnerInfo(lease.resolved), { ...(opts.contextSize ? { contextSize: opts.contextSize } : {}) });
      if (kept && kept !== runner) await kept.dispose();
      return {
        runner,
        async release() {
          try {
            const idle = idleRunners.get(lease.model) ?? [];
            if (!lease.model.disposed && idle.length < 1 && runner.usable(opts.contextSize)) {
              idle.push(runner);
              idleRunners.set(lease.model, idle);
            } else await runner.dispose();
          } finally {
            lease.release();
          }
        },
      };
    },
  };
}
