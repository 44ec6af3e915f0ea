import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { GrammarPlan } from './grammar';
import type { StopReason } from '../core/verdict';
import type { TokenScorer } from './drift/teacher';

/**
 * The model behind an interface: the engine asks a ModelRunner for one completion at a time.
 * LlamaRunner (llama-runner.ts) runs node-llama-cpp in process; ScriptedRunner returns scripted
 * outputs and latencies for tests, with no model.
 */

export interface SamplerSettings {
  /** 0: greedy (deterministic); no other sampler runs. */
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface GenerateRequest {
  /** Labels for scripted outputs, progress and errors. */
  contract: string;
  example: string;
  /** The rendered prompt (special-token markup included) and its tokens. */
  promptText: string;
  tokens: readonly number[];
  /**
   * How many leading prompt tokens may be reused from a previous evaluation (the prefix every
   * example shares). Tokens after it are always evaluated again, so repeats of one example measure
   * the same work as the first run.
   */
  reusablePrefix: number;
  grammar: GrammarPlan;
  maxTokens: number;
  /**
   * Context window to allocate: the contract's `model.contextSize`, or (set by the engine) the
   * longest prompt of the run plus maxTokens, so that one context serves every example.
   */
  contextSize?: number;
  sampler: SamplerSettings;
  /** Called after each generated token, with the token index (0-based) and the text so far. */
  onToken?: (index: number, textSoFar: string) => void;
  signal?: AbortSignal;
}

export interface GenerateTimings {
  /** Time to first token, from the call until the first generated token was available. */
  ttftMs: number;
  /** Whole call, prompt evaluation included. */
  totalMs: number;
  /** Decode rate after the first token: (outputTokens − 1) / (totalMs − ttftMs). */
  tokensPerSecond: number;
}

export interface GenerateResult {
  text: string;
  stopReason: StopReason;
  promptTokens: number;
  /** Prompt tokens whose evaluated state was reused instead of evaluated. */
  reusedPromptTokens: number;
  outputTokens: number;
  timings: GenerateTimings;
}

export interface RunnerModelInfo {
  /** File path (or a label for non-file runners). */
  path: string;
  id: string;
  quantization: string;
  /** Stable identity of the weights (e.g. size + hash of the header): part of the cache key. */
  identity: string;
  /** A random-weight test model: its outputs say nothing about quality. */
  synthetic: boolean;
  /** For people, e.g. "gemma-3-270m-it Q8_0" or "SYNTHETIC tiny gemma3 Q8_0". */
  label: string;
}

export interface ModelRunner {
  readonly info: RunnerModelInfo;
  /** Tokenizes with special tokens parsed when `specialTokens` is true. */
  tokenize(text: string, specialTokens?: boolean): readonly number[];
  /** Compiles (or fetches from the cache) what `generate` needs for this plan; throws GrammarError-like errors. */
  prepare(grammar: GrammarPlan): Promise<void>;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  /**
   * Teacher forcing in the runner's own context (drift): right after `generate`, the prompt's
   * evaluated state is still there and is reused. Absent on runners without a model (scripted).
   */
  scorer?(): TokenScorer;
  /** Frees the runner's own resources (contexts); the model lease is released by its owner. */
  dispose(): Promise<void>;
}

export class AbortError extends Error {
  constructor(message = 'the run was cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

// --- scripted ----------------------------------------------------------------------------------------

/** One scripted completion. */
export interface ScriptedOutput {
  output: string;
  /** Default: 'eog'. */
  stopReason?: StopReason;
  /** Reported total latency (default 1 ms). Nothing sleeps unless `sleepMs` is set. */
  latencyMs?: number;
  ttftMs?: number;
  outputTokens?: number;
  /** Throw this message instead of answering. */
  error?: string;
  /** Really wait this long (to test queues and cancellation). */
  sleepMs?: number;
}

/**
 * A script: contract name → example name → an output, or a list of outputs used in turn for
 * warm-up and repeats (the last one repeats). `"*"` matches any contract or example.
 */
export type Script = Record<string, Record<string, ScriptedOutput | string | (ScriptedOutput | string)[]>>;

export interface ScriptedCall {
  contract: string;
  example: string;
  tokens: number;
  reusablePrefix: number;
  maxTokens: number;
  grammar: GrammarPlan['mode'];
  sampler: SamplerSettings;
}

/**
 * A ModelRunner without a model, for tests: answers from a script. Tokens are the UTF-16 code
 * units of the text (special-token markup is kept as characters).
 */
export class ScriptedRunner implements ModelRunner {
  readonly calls: ScriptedCall[] = [];
  private readonly turns = new Map<string, number>();
  readonly info: RunnerModelInfo;

  constructor(private readonly script: Script | ((req: GenerateRequest) => ScriptedOutput | string), info?: Partial<RunnerModelInfo>) {
    this.info = { path: 'scripted', id: 'scripted', quantization: 'none', identity: 'scripted', synthetic: false, label: 'scripted runner (no model)', ...info };
  }

  static fromFile(file: string, info?: Partial<RunnerModelInfo>): ScriptedRunner {
    const text = readFileSync(file, 'utf8');
    // The script's content is the "model identity": editing the script invalidates cached outputs.
    const identity = `scripted:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    return new ScriptedRunner(JSON.parse(text) as Script, { label: `scripted runner (${file}, no model)`, identity, ...info });
  }

  tokenize(text: string): readonly number[] {
    const out = new Array<number>(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  async prepare(): Promise<void> {}

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    this.calls.push({ contract: req.contract, example: req.example, tokens: req.tokens.length, reusablePrefix: req.reusablePrefix, maxTokens: req.maxTokens, grammar: req.grammar.mode, sampler: req.sampler });
    if (req.signal?.aborted) throw new AbortError();
    const s = this.next(req);
    if (s.sleepMs) await sleep(s.sleepMs, req.signal);
    if (s.error !== undefined) throw new Error(s.error);
    const outputTokens = s.outputTokens ?? Math.max(1, Math.ceil(s.output.length / 4));
    let stop: StopReason = s.stopReason ?? 'eog';
    let text = s.output;
    if (req.onToken) {
      // Emit the text in outputTokens pieces so that cancellation from onToken can be exercised.
      const step = Math.max(1, Math.ceil(text.length / outputTokens));
      for (let i = 0, k = 0; i < text.length; i += step, k++) {
        req.onToken(k, text.slice(0, i + step));
        if (req.signal?.aborted) {
          text = text.slice(0, i + step);
          stop = 'abort';
          break;
        }
      }
    }
    const totalMs = s.latencyMs ?? 1;
    const ttftMs = s.ttftMs ?? Math.min(totalMs, totalMs / Math.max(1, outputTokens));
    return {
      text,
      stopReason: stop,
      promptTokens: req.tokens.length,
      reusedPromptTokens: 0,
      outputTokens,
      timings: { ttftMs, totalMs, tokensPerSecond: outputTokens > 1 && totalMs > ttftMs ? ((outputTokens - 1) * 1000) / (totalMs - ttftMs) : 0 },
    };
  }

  async dispose(): Promise<void> {}

  private next(req: GenerateRequest): ScriptedOutput {
    if (typeof this.script === 'function') return norm(this.script(req));
    const byContract = this.script[req.contract] ?? this.script['*'];
    const entry = byContract?.[req.example] ?? byContract?.['*'];
    if (entry === undefined) throw new Error(`the script has no output for contract "${req.contract}", example "${req.example}"`);
    if (!Array.isArray(entry)) return norm(entry);
    const key = req.contract + '\0' + req.example;
    const n = this.turns.get(key) ?? 0;
    this.turns.set(key, n + 1);
    return norm(entry[Math.min(n, entry.length - 1)]!);
  }
}

function norm(s: ScriptedOutput | string): ScriptedOutput {
  return typeof s === 'string' ? { output: s } : s;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
