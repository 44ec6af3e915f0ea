// How many CPU threads generation uses. llama.cpp's threads spin while they wait for each other,
// so more threads than free cores is catastrophically slow: on the 2-core dev machine a tiny
// synthetic gemma3 decoded ~300 tokens/s with 1 thread and ~8 tokens/s with 2 while the other
// core was busy (numbers in the model manager's report). Hence: never more threads than
// physical cores, one core left to the editor / language server when there are more than two.
import type { LlamaModel } from 'node-llama-cpp';

/**
 * The `threads: 0` (auto) rule, from the physical core count (`llama.cpuMathCores`):
 * 1–2 cores → 1 thread; 3–5 → cores − 1; more → 4 (decode of a 270M model stops scaling there;
 * see the report before raising it).
 */
export function autoThreads(physicalCores: number): number {
  const cores = Math.max(1, Math.floor(physicalCores));
  if (cores <= 2) return 1;
  return Math.min(cores - 1, 4);
}

/** The thread count to use: the `threads` setting when > 0 (capped at the cores), else autoThreads. */
export function chooseThreads(setting: number, physicalCores: number): { threads: number; note?: string } {
  if (setting > 0) {
    const cores = Math.max(1, Math.floor(physicalCores));
    if (setting > cores) {
      return { threads: cores, note: `contracts.threads is ${setting} but this machine has ${cores} physical cores; using ${cores} (more is much slower)` };
    }
    return { threads: setting };
  }
  return { threads: autoThreads(physicalCores) };
}

export interface DecodeSpeed {
  threads: number;
  promptTokens: number;
  /** prompt evaluation plus the first generated token, ms */
  firstTokenMs: number;
  /** generated tokens per second after the first */
  tokensPerSecond: number;
}

/**
 * Greedy-decodes `tokens` tokens after a short chat prompt with `threads` threads on a fresh
 * context and times it. Used by benchmarks and the thread-rule measurement, not at run time.
 */
export async function measureDecodeSpeed(model: LlamaModel, threads: number, tokens = 32): Promise<DecodeSpeed> {
  const prompt = model.tokenize('<start_of_turn>user\nClassify this complaint: my parcel arrived two weeks late.<end_of_turn>\n<start_of_turn>model\n', true);
  const input = [...model.tokenize('', false), ...prompt];
  const ctx = await model.createContext({ contextSize: 512, threads });
  try {
    const seq = ctx.getSequence();
    const bos = model.tokens.bos;
    const all = bos !== null && input[0] !== bos ? [bos, ...input] : input;
    const t0 = performance.now();
    let first = 0;
    let n = 0;
    for await (const _ of seq.evaluate(all, { temperature: 0 })) {
      void _;
      if (n === 0) first = performance.now();
      n++;
      if (n >= tokens) break;
    }
    const end = performance.now();
    return { threads, promptTokens: all.length, firstTokenMs: first - t0, tokensPerSecond: n > 1 ? ((n - 1) / (end - first)) * 1000 : 0 };
  } finally {
    await ctx.dispose();
  }
}
