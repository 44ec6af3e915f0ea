// `npm run fixtures [-- --bench] [-- --force]`: writes the synthetic random-weight gemma3
// models used by tests, the tiny trained specialist's GGUF files (built from training/specialist/), (and, with --bench, the 270M-shaped ones used by benchmarks) into the git-ignored .cache/models/. A file is reused when its sidecar manifest
// matches the current generator version, seed and size, and its header says so too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readGgufHeaderSync } from '../server/src/gguf/reader';
import {
  SYNTHETIC_GENERATOR_VERSION,
  writeSyntheticGemma3,
  type SyntheticQuant,
  type SyntheticShapeName,
} from '../server/src/gguf/synthetic';
import { ensureSpecialistModels } from '../training/convert';

export const FIXTURE_SEED = 1234;

export function defaultModelsDir(): string {
  return path.resolve(__dirname, '..', '.cache', 'models');
}

export function syntheticModelFileName(shape: SyntheticShapeName, quant: SyntheticQuant): string {
  return `synthetic-gemma3-${shape}-${quant}.gguf`;
}

interface Manifest {
  generatorVersion: number;
  shape: SyntheticShapeName;
  quant: SyntheticQuant;
  seed: number;
  bytes: number;
  writtenMs: number;
  createdAt: string;
}

export interface FixtureResult {
  path: string;
  shape: SyntheticShapeName;
  quant: SyntheticQuant;
  bytes: number;
  /** false when an up-to-date file was already there */
  generated: boolean;
  /** time spent writing it (this run, or the run that wrote it) */
  writtenMs: number;
}

export interface EnsureModelOptions {
  dir?: string;
  seed?: number;
  force?: boolean;
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function upToDate(modelPath: string, m: Manifest | undefined, shape: SyntheticShapeName, quant: SyntheticQuant, seed: number): boolean {
  if (!m || m.generatorVersion !== SYNTHETIC_GENERATOR_VERSION || m.shape !== shape || m.quant !== quant || m.seed !== seed) return false;
  let size: number;
  try {
    size = fs.statSync(modelPath).size;
  } catch {
    return false;
  }
  if (size !== m.bytes) return false;
  try {
    const h = readGgufHeaderSync(modelPath);
    return (
      h.version === 3 &&
      h.metadata['prompt_contracts.synthetic.generator_version'] === SYNTHETIC_GENERATOR_VERSION &&
      h.metadata['prompt_contracts.synthetic.seed'] === seed
    );
  } catch {
    return false;
  }
}

/** Returns the path of an up-to-date synthetic model, writing it first when needed. */
export async function ensureSyntheticModel(
  shape: SyntheticShapeName,
  quant: SyntheticQuant,
  options: EnsureModelOptions = {},
): Promise<FixtureResult> {
  const dir = options.dir ?? defaultModelsDir();
  const seed = options.seed ?? FIXTURE_SEED;
  const modelPath = path.join(dir, syntheticModelFileName(shape, quant));
  const manifestPath = `${modelPath}.manifest.json`;
  const existing = readManifest(manifestPath);
  if (!options.force && upToDate(modelPath, existing, shape, quant, seed)) {
    return { path: modelPath, shape, quant, bytes: existing!.bytes, generated: false, writtenMs: existing!.writtenMs };
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(manifestPath, { force: true });
  const res = await writeSyntheticGemma3({ shape, quant, seed, outPath: modelPath });
  const manifest: Manifest = {
    generatorVersion: SYNTHETIC_GENERATOR_VERSION,
    shape,
    quant,
    seed,
    bytes: res.bytes,
    writtenMs: Math.round(res.ms),
    createdAt: new Date().toISOString(),
  };
  const tmp = `${manifestPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(tmp, manifestPath);
  return { path: modelPath, shape, quant, bytes: res.bytes, generated: true, writtenMs: manifest.writtenMs };
}

export const TEST_MODEL_SET: ReadonlyArray<[SyntheticShapeName, SyntheticQuant]> = [
  ['tiny', 'F16'],
  ['tiny', 'Q8_0'],
  ['tiny', 'Q4_0'],
];
export const BENCH_MODEL_SET: ReadonlyArray<[SyntheticShapeName, SyntheticQuant]> = [
  ['270m', 'Q8_0'],
  ['270m', 'Q4_0'],
  ['270m', 'F16'],
];

async function main(argv: string[]): Promise<void> {
  const known = new Set(['--bench', '--force']);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length > 0) throw new Error(`unknown argument(s) ${unknown.join(' ')}; expected --bench, --force`);
  const set: Array<[SyntheticShapeName, SyntheticQuant]> = [...TEST_MODEL_SET];
  if (argv.includes('--bench')) set.push(...BENCH_MODEL_SET);
  for (const [shape, quant] of set) {
    const r = await ensureSyntheticModel(shape, quant, { force: argv.includes('--force') });
    const mb = (r.bytes / 1e6).toFixed(1);
    const what = r.generated ? `wrote in ${(r.writtenMs / 1000).toFixed(1)} s` : 'up to date';
    console.log(`${path.relative(process.cwd(), r.path)}  ${mb} MB  ${what}`);
  }
  await ensureSpecialistModels(defaultModelsDir(), (line) => console.log(line));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
