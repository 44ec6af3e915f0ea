import type { LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { logSoftmax } from '../../core/drift-compare';
import { AbortError, type RunnerModelInfo } from '../runner';

/**
 * Teacher forcing on node-llama-cpp: the prompt plus the reference's output tokens are fed to a
 * model in one batch (no sampling), and the next-token distribution is read at every output
 * position — position i is the distribution of the token that follows the prompt and the first i
 * output tokens. The raw model distribution is read: no grammar, no temperature, no penalty.
 *
 * node-llama-cpp exposes full-vocabulary distributions only as a JS Map of all 262,144 tokens per
 * position (`controlledEvaluate` with `generateNext.logits: true` or `probabilities: true`); building
 * it costs ~0.2 s per position, far more than generating the token. What its native sampler
 * computes per position (each a loop over the whole vocabulary; bench/teacher-breakdown.ts measures
 * them) is cheaper:
 *   - the greedy token (copy the logits into a candidate array, find the largest),
 *   - `totalLogitWeight` = Σ exp(logit − max logit) over the FULL vocabulary (an expf per token),
 *   - the logits of a few named tokens (`logits.filter.tokens`: a vocabulary-sized array and a
 *     search per token),
 *   - the top-K logits (a top-k sampler chain: partial sort; its normaliser covers only the K).
 * From these the `topk` method gets exact, fully normalised log-probabilities of the reference's
 * top-K tokens under both models (see klTopK in core/drift-compare.ts for the KL bound). Each read
 * also needs the position's output row (262,144 × hidden). The `exact` method reads the full
 * vocabulary (slow; for checking the bound).
 */

export interface TeacherRequest {
  /** The rendered prompt's tokens (special tokens parsed). */
  prompt: readonly number[];
  /** Leading prompt tokens every example shares (their state is reused between examples). */
  sharedPrefix: number;
  /** The reference's output, tokenized. */
  output: readonly number[];
}

export interface ReferencePosition {
  /** The reference's top-K tokens, most likely first, with exact log-probabilities. */
  refTop: { token: number; logProb: number }[];
  /** Greedy token over the full vocabulary. */
  refArgmax: number;
}

export interface CandidatePosition {
  /** Exact log-probabilities of the requested tokens, in request order. */
  logProbs: number[];
  argmax: number;
}

export interface FullVocabPosition {
  logProbs: Float64Array;
  argmax: number;
}

export interface TokenScorer {
  readonly info: RunnerModelInfo;
  tokenize(text: string, specialTokens?: boolean): number[];
  /**
   * Reference side of the top-K method: one pass for the normaliser, the greedy token and the
   * answer's token at every position; at the positions where the reference is not sure (see
   * DEFAULT_CONFIDENT_TAIL), a second pass for the top-K logits (outputs there only). At each such
   * position the most likely tokens are kept, at most `k`, stopping once they hold all but
   * `tailMass` of the probability (default 1e-6); every token kept costs the candidate's pass
   * time. `confident` 0 always reads the top K.
   */
  referenceTopK(req: TeacherRequest, k: number, signal?: AbortSignal, tailMass?: number, confident?: number): Promise<ReferencePosition[]>;
  /** Candidate side: one pass, log-probabilities of the given tokens at each position, plus the greedy token. */
  candidateOn(req: TeacherRequest, tokens: readonly (readonly number[])[], signal?: AbortSignal): Promise<CandidatePosition[]>;
  /** The full-vocabulary distribution at each position (slow: ~0.4 s per position on 2 cores). */
  fullVocabulary(req: TeacherRequest, signal?: AbortSignal): Promise<FullVocabPosition[]>;
  dispose(): Promise<void>;
}

export interface LlamaScorerHandle {
  model: LlamaModel;
  threads: number;
}

/** A borrowed sequence that is gone or too small: the caller teacher-forces in a context of its own instead. */
export class NoSequenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoSequenceError';
  }
}

/** The reference's top tokens stop once they hold all but this much probability. */
export const DEFAULT_TAIL_MASS = 1e-6;

/**
 * At a position where the reference's top token holds all but this much probability, that token
 * alone stands for its top-K (the second pass skips the position). The KL bound then misses at
 * most p(rest) · KL(tails) ≤ this × KL(tails) there: ~1e-4 nats at most, usually far less.
 */
export const DEFAULT_CONFIDENT_TAIL = 1e-3;

type Item = number | [number, { generateNext: Record<string, unknown> }];
interface NextOutput {
  token?: number | null;
  logits?: Map<number, number>;
  totalLogitWeight?: number;
}

/** Options of a top-k sampler chain that truncates to exactly K and changes no logit. */
function topKOptions(k: number) {
  return { temperature: 1, topK: k, topP: 1, minP: 0, seed: 1 };
}

export class LlamaScorer implements TokenScorer {
  private context: LlamaContext | undefined;
  private sequence: LlamaContextSequence | undefined;

  /**
   * `borrowed`: teacher-force in another owner's sequence (the run engine's runner, right after it
   * generated the answer, so that the prompt's evaluated state is reused); the scorer then creates
   * no context, and dispose() leaves the sequence to its owner.
   */
  constructor(
    private readonly handle: LlamaScorerHandle,
    readonly info: RunnerModelInfo,
    private readonly borrowed?: () => LlamaContextSequence | undefined,
  ) {}

  tokenize(text: string, specialTokens = false): number[] {
    return [...(this.handle.model.tokenize(text, specialTokens) as number[])];
  }

  async referenceTopK(req: TeacherRequest, k: number, signal?: AbortSignal, tailMass = DEFAULT_TAIL_MASS, confident = DEFAULT_CONFIDENT_TAIL): Promise<ReferencePosition[]> {
    if (!req.output.length) return [];
    // 1. At every position: the full-vocabulary normaliser, the greedy token and its logit, and the
    //    logit of the answer's own next token.
    const norm = await this.pass(req, (i) => ({ token: true, totalLogitWeight: true, logits: { filter: { tokens: [req.output[i]!], includeSelected: true } } }), signal);
    const heads = norm.map((n, i) => {
      if (!n || n.token == null || !n.logits || typeof n.totalLogitWeight !== 'number') throw new Error(`node-llama-cpp returned no distribution at output position ${i}`);
      const max = n.logits.get(n.token);
      if (max === undefined) throw new Error(`node-llama-cpp did not return the greedy token's logit at output position ${i}`);
      return { argmax: n.token, max, logZ: max + Math.log(n.totalLogitWeight), logits: n.logits };
    });
    // 2. Where the reference is sure (its top token holds all but `confident` of the probability:
    //    p(top) = 1 / W), that token (and the answer's) stands for its top-K. Only the positions
    //    where it is not need the top-K logits: a second pass that asks for outputs there alone and
    //    stops after the last of them (no output row, no sampling anywhere else). A position's
    //    logits do not depend on which other positions ask for outputs, nor on how many tokens
    //    follow it, as long as the batch asks for at least two (one output row takes another
    //    kernel for F16 weights and may differ in the last bit): so a lone unsure position is read
    //    with a neighbour. Checked in test/teacher-forcing.test.ts; it keeps both passes and the
    //    candidate's reading the same numbers (a model compared with itself: KL exactly 0).
    const unsure = heads.map((h) => h.max - h.logZ < Math.log1p(-confident));
    const ask = unsure.slice();
    const asked = ask.filter(Boolean).length;
    if (asked === 1 && ask.length >= 2) {
      const at = ask.indexOf(true);
      ask[at > 0 ? at - 1 : 1] = true;
    }
    const last = ask.lastIndexOf(true);
    const top = last < 0 ? [] : await this.pass(req, (i) => (ask[i] ? { logits: true, options: topKOptions(k) } : undefined), signal, last + 1);
    return heads.map((h, i) => {
      const { logZ, argmax } = h;
      if (!unsure[i]) {
        const y = req.output[i]!;
        const refTop = [{ token: argmax, logProb: h.max - logZ }];
        const ly = h.logits.get(y);
        if (y !== argmax && ly !== undefined) refTop.push({ token: y, logProb: ly - logZ });
        return { refTop, refArgmax: argmax };
      }
      const entries = [...(top[i]?.logits ?? new Map<number, number>())];
      if (!entries.length) throw new Error(`node-llama-cpp returned no distribution at output position ${i}`);
      const refTop: ReferencePosition['refTop'] = [];
      let mass = 0;
      for (const [token, logit] of entries) {
        const logProb = logit - logZ;
        refTop.push({ token, logProb });
        mass += Math.exp(logProb);
        if (mass >= 1 - tailMass) break;
      }
      return { refTop, refArgmax: argmax };
    });
  }

  async candidateOn(req: TeacherRequest, tokens: readonly (readonly number[])[], signal?: AbortSignal): Promise<CandidatePosition[]> {
    if (!req.output.length) return [];
    const res = await this.pass(req, (i) => ({ token: true, totalLogitWeight: true, logits: { filter: { tokens: [...(tokens[i] ?? [])], includeSelected: true } } }), signal);
    return res.map((r, i) => {
      if (!r || r.token == null || !r.logits || typeof r.totalLogitWeight !== 'number') throw new Error(`node-llama-cpp returned no distribution at output position ${i}`);
      const max = r.logits.get(r.token);
      if (max === undefined) throw new Error(`node-llama-cpp did not return the greedy token's logit at output position ${i}`);
      const logZ = max + Math.log(r.totalLogitWeight);
      return {
        logProbs: (tokens[i] ?? []).map((t) => {
          const l = r.logits!.get(t);
          if (l === undefined) throw new Error(`token ${t} is not in the candidate's vocabulary`);
          return l - logZ;
        }),
        argmax: r.token,
      };
    });
  }

  async fullVocabulary(req: TeacherRequest, signal?: AbortSignal): Promise<FullVocabPosition[]> {
    if (!req.output.length) return [];
    const res = await this.pass(req, { token: true, logits: true }, signal);
    return res.map((r, i) => {
      if (!r?.logits || r.token == null) throw new Error(`node-llama-cpp returned no distribution at output position ${i}`);
      let size = 0;
      for (const t of r.logits.keys()) if (t + 1 > size) size = t + 1;
      const logits = new Float64Array(size).fill(-Infinity);
      for (const [t, l] of r.logits) logits[t] = l;
      return { logProbs: logSoftmax(logits), argmax: r.token };
    });
  }

  /**
   * Evaluates [prompt[P−1], output[0 .. m−2]] in one batch, m = `positions` (default n, every
   * output position), with `generateNext` on the items `next` asks for (an item without one gets
   * no output row and no sampling), after prompt[0 .. P−2]:
   * - when the sequence already holds all of it (a previous pass over the same prompt, or the
   *   generation that produced this answer, in the runner's own context), it is kept as it is;
   * - otherwise the shared prefix is kept when it is there (else evaluated as its own batch, so the
   *   computation does not depend on what the sequence held before), and the rest of the prompt
   *   goes into the same batch as the answer (one pass over the weights instead of two).
   */
  private async pass(req: TeacherRequest, next: Record<string, unknown> | ((i: number) => Record<string, unknown> | undefined), signal?: AbortSignal, positions = req.output.length): Promise<(NextOutput | undefined)[]> {
    if (signal?.aborted) throw new AbortError();
    const P = req.prompt.length;
    if (P < 1) throw new Error('the prompt has no tokens');
    const seq = await this.ensureSequence(P + req.output.length + 8);
    const pre = req.prompt.slice(0, P - 1) as number[];
    const have = seq.compareContextTokens(pre as never).firstDifferentIndex;
    let lead: number[] = [];
    if (have >= pre.length) {
      if (seq.nextTokenIndex > pre.length) await seq.eraseContextTokenRanges([{ start: pre.length, end: seq.nextTokenIndex }]);
    } else {
      const prefix = Math.min(req.sharedPrefix, pre.length);
      if (prefix > 0 && have >= prefix) {
        if (seq.nextTokenIndex > prefix) await seq.eraseContextTokenRanges([{ start: prefix, end: seq.nextTokenIndex }]);
      } else {
        if (seq.nextTokenIndex > 0) await seq.clearHistory();
        if (prefix > 0) await seq.evaluateWithoutGeneratingNewTokens(pre.slice(0, prefix) as never);
      }
      lead = pre.slice(prefix);
    }
    if (signal?.aborted) throw new AbortError();
    const fed = [req.prompt[P - 1]!, ...req.output.slice(0, positions - 1)];
    const items: Item[] = fed.map((t, i) => {
      const g = typeof next === 'function' ? next(i) : next;
      return g ? [t, { generateNext: g }] : t;
    });
    const out = (await seq.controlledEvaluate([...lead, ...items] as never)) as ({ next: NextOutput } | undefined)[];
    return fed.map((_, i) => out[lead.length + i]?.next);
  }

  private async ensureSequence(needed: number): Promise<LlamaContextSequence> {
    if (this.borrowed) {
      const seq = this.borrowed();
      if (!seq || seq.context.disposed) throw new NoSequenceError('the runner has no context to teacher-force in');
      if (seq.contextSize < needed) throw new NoSequenceError(`the runner's context (${seq.contextSize} tokens) is too small for the prompt and the answer (${needed})`);
      return seq;
    }
    if (this.sequence && this.context && this.context.contextSize >= needed) return this.sequence;
    await this.dispose();
    const size = Math.max(Math.ceil(needed / 256) * 256, 512);
    this.context = await this.handle.model.createContext({ contextSize: size, sequences: 1, threads: this.handle.threads, swaFullCache: true, batchSize: Math.min(size, 512) });
    this.sequence = this.context.getSequence();
    return this.sequence;
  }

  async dispose(): Promise<void> {
    if (this.borrowed) return;
    const c = this.context;
    this.context = undefined;
    this.sequence = undefined;
    if (c && !c.disposed) await c.dispose();
  }
}
