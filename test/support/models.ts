// Paths of the synthetic test models, generated into .cache/models/ on first use. Generation
// failures throw: a test that needs a model must fail, never skip, when it cannot have one.
import { BENCH_MODEL_SET, defaultModelsDir, ensureSyntheticModel, TEST_MODEL_SET, type FixtureResult } from '../../scripts/fixtures';
import { ensureSpecialistModels } from '../../training/convert';
import { ensurePadded270mModels } from '../../training/pad-270m';
import type { SyntheticQuant } from '../../server/src/gguf/synthetic';

export interface TestModels {
  /** hidden 64, 2 blocks, Gemma 3's vocab and tokenizer; random weights */
  tiny: Record<SyntheticQuant, string>;
}

export interface BenchModels {
  /** Gemma 3 270M's exact shape; random weights */
  '270m': Record<SyntheticQuant, string>;
}

let testModels: Promise<TestModels> | undefined;
let benchModels: Promise<BenchModels> | undefined;

async function ensureAll(set: ReadonlyArray<readonly [FixtureResult['shape'], SyntheticQuant]>): Promise<FixtureResult[]> {
  const out: FixtureResult[] = [];
  // One at a time: each write is CPU-bound and the machine may have 2 cores.
  for (const [shape, quant] of set) {
    try {
      out.push(await ensureSyntheticModel(shape, quant));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(`could not generate the synthetic ${shape} ${quant} test model: ${msg}`, { cause: e });
    }
  }
  return out;
}

/** The tiny F16/Q8_0/Q4_0 models (same weights at each quantization). */
export function ensureTestModels(): Promise<TestModels> {
  testModels ??= ensureAll(TEST_MODEL_SET).then((rs) => {
    const tiny = {} as Record<SyntheticQuant, string>;
    for (const r of rs) tiny[r.quant] = r.path;
    return { tiny };
  });
  return testModels;
}

/** The 270M-shaped models: Q8_0 292 MB, Q4_0 241 MB (token_embd at Q8_0), F16 543 MB; ~5-7 s each to write. */
export function ensureBenchModels(): Promise<BenchModels> {
  benchModels ??= ensureAll(BENCH_MODEL_SET).then((rs) => {
    const m = {} as Record<SyntheticQuant, string>;
    for (const r of rs) m[r.quant] = r.path;
    return { '270m': m };
  });
  return benchModels;
}

let specialist: Promise<Record<SyntheticQuant, string>> | undefined;

/** The tiny trained specialist (training/specialist/) at F16/Q8_0/Q4_0: real passes and real failures. */
export function ensureSpecialistTestModels(): Promise<Record<SyntheticQuant, string>> {
  specialist ??= ensureSpecialistModels(defaultModelsDir());
  return specialist;
}

let specialist270m: Promise<Record<SyntheticQuant, string>> | undefined;

/**
 * The trained specialist zero-padded to Gemma 3 270M's exact shape (training/pad-270m.ts): the tiny
 * model's answers at the 270M compute cost, for benchmarks. F16 543 MB, Q8_0 292 MB, Q4_0 241 MB;
 * ~8 s to write all three. Not part of `npm run fixtures`.
 */
export function ensureSpecialist270mModels(): Promise<Record<SyntheticQuant, string>> {
  specialist270m ??= ensurePadded270mModels(defaultModelsDir()) as Promise<Record<SyntheticQuant, string>>;
  return specialist270m;
}
