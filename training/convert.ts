/**
 * The tiny specialist's committed weights (training/specialist/*.safetensors, F16, written by
 * training/train.py) → gemma3 GGUF files at F16, Q8_0 and Q4_0, with the project's own encoders and
 * Gemma 3's real tokenizer and chat template. HF names become llama.cpp's, dims are reversed,
 * and norm weights are stored as 1 + w (NOTES: "Training a tiny gemma3 specialist").
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readGgufHeaderSync } from '../server/src/gguf/reader';
import { decodeF16, encodeTensor, GgmlType, type WritableQuant } from '../server/src/gguf/quant';
import { defaultTokenizerDir, loadGemma3Vocab, syntheticGemma3Spec, type Gemma3Shape, type SyntheticQuant } from '../server/src/gguf/synthetic';
import { kv, writeGguf, type GgufTensorSpec, type GgufValue } from '../server/src/gguf/writer';

export const SPECIALIST_DIR = path.join(__dirname, 'specialist');
export const SPECIALIST_FILES = ['specialist-a.safetensors', 'specialist-b.safetensors'];
/** Bump when the bytes written change, so that fixtures regenerate. */
export const SPECIALIST_CONVERTER_VERSION = 1;

export const SPECIALIST_SHAPE: Gemma3Shape = {
  nEmbd: 32,
  nLayer: 2,
  nHead: 2,
  nHeadKv: 1,
  headDim: 16,
  nFf: 128,
  nVocab: 262144,
  slidingWindow: 512,
  contextLength: 2048,
  ropeFreqBase: 1e6,
  ropeFreqBaseSwa: 1e4,
  rmsEps: 1e-6,
};

export const SPECIALIST_NAME = 'TINY SPECIALIST specialist-triage (trained by Prompt Contracts for tests and demos; not Gemma 3 270M)';

interface RawTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Reads a safetensors file: u64 header length, JSON header, raw little-endian data. */
export function readSafetensors(file: string): Map<string, RawTensor> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, data: new Uint8Array(buf.buffer, buf.byteOffset + base + t.data_offsets[0], t.data_offsets[1] - t.data_offsets[0]) });
  }
  return out;
}

function toF32(t: RawTensor): Float32Array {
  if (t.dtype !== 'F16') throw new Error(`expected F16 weights, found ${t.dtype}`);
  return decodeF16(t.data, t.shape.reduce((a, b) => a * b, 1));
}

/** The specialist's weights as float32, keyed by llama.cpp tensor name, with ggml dims. */
export function loadSpecialistWeights(dir = SPECIALIST_DIR): Map<string, { dims: number[]; values: Float32Array; norm: boolean }> {
  const raw = new Map<string, RawTensor>();
  for (const f of SPECIALIST_FILES) for (const [k, v] of readSafetensors(path.join(dir, f))) raw.set(k, v);
  const p0 = raw.get('model.embed_tokens.weight.part0');
  const p1 = raw.get('model.embed_tokens.weight.part1');
  if (!p0 || !p1) throw new Error('the embedding parts are missing from the specialist weights');
  const emb = new Float32Array(SPECIALIST_SHAPE.nVocab * SPECIALIST_SHAPE.nEmbd);
  emb.set(toF32(p0), 0);
  emb.set(toF32(p1), p0.shape[0]! * SPECIALIST_SHAPE.nEmbd);
  const out = new Map<string, { dims: number[]; values: Float32Array; norm: boolean }>();
  out.set('token_embd.weight', { dims: [SPECIALIST_SHAPE.nEmbd, SPECIALIST_SHAPE.nVocab], values: emb, norm: false });
  const names: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    'self_attn.q_norm': 'attn_q_norm',
    'self_attn.k_norm': 'attn_k_norm',
    post_attention_layernorm: 'post_attention_norm',
    pre_feedforward_layernorm: 'ffn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
    post_feedforward_layernorm: 'post_ffw_norm',
  };
  for (const [k, t] of raw) {
    if (k.startsWith('model.embed_tokens')) continue;
    let name: string;
    if (k === 'model.norm.weight') name = 'output_norm.weight';
    else {
      const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(k);
      const gg = m ? names[m[2]!] : undefined;
      if (!m || !gg) throw new Error(`unexpected tensor ${k} in the specialist weights`);
      name = `blk.${m[1]}.${gg}.weight`;
    }
    const norm = /norm/.test(name);
    const values = toF32(t);
    if (norm) for (let i = 0; i < values.length; i++) values[i] = values[i]! + 1;
    out.set(name, { dims: [...t.shape].reverse(), values, norm });
  }
  return out;
}

const QUANT: Record<SyntheticQuant, WritableQuant> = { F16: GgmlType.F16, Q8_0: GgmlType.Q8_0, Q4_0: GgmlType.Q4_0 };

export async function writeSpecialistGguf(quant: SyntheticQuant, outPath: string): Promise<void> {
  const weights = loadSpecialistWeights();
  const vocab = loadGemma3Vocab(defaultTokenizerDir(), SPECIALIST_SHAPE.nVocab);
  // The metadata of a gemma3 file of this shape, relabelled: trained weights, not random ones.
  const spec = syntheticGemma3Spec({ shape: SPECIALIST_SHAPE, quant, seed: 0, vocab, name: SPECIALIST_NAME, shapeLabel: 'specialist' });
  const metadata: Array<[string, GgufValue]> = spec.metadata.filter(([k]) => !k.startsWith('prompt_contracts.') && k !== 'general.description');
  metadata.push(
    ['general.description', kv.str('A 2-layer gemma3 model (hidden 32) with Gemma 3\'s vocabulary, trained by Prompt Contracts on samples/specialist-triage.contract.yaml for tests and demos.')],
    ['prompt_contracts.specialist', kv.str('specialist-triage')],
    ['prompt_contracts.specialist.converter_version', kv.u32(SPECIALIST_CONVERTER_VERSION)],
    ['prompt_contracts.specialist.weights_sha1', kv.str(weightsHash())],
  );
  const matType = QUANT[quant];
  const embType = quant === 'Q4_0' ? GgmlType.Q8_0 : matType;
  const order = spec.tensors.map((t) => t.name);
  const tensors: GgufTensorSpec[] = order.map((name) => {
    const w = weights.get(name);
    if (!w) throw new Error(`the specialist weights have no ${name}`);
    const type = w.norm ? GgmlType.F32 : name === 'token_embd.weight' ? embType : matType;
    return { name, dims: w.dims, type, data: () => [encodeTensor(type, w.values)] };
  });
  await writeGguf(outPath, { metadata, tensors });
}

let hashCache: string | undefined;

/** Identifies the committed weights, so that GGUF files built from older weights are rebuilt. */
export function weightsHash(dir = SPECIALIST_DIR): string {
  if (!hashCache) {
    const h = createHash('sha1');
    for (const f of SPECIALIST_FILES) h.update(fs.readFileSync(path.join(dir, f)));
    hashCache = h.digest('hex');
  }
  return hashCache;
}

export function specialistFileName(quant: SyntheticQuant): string {
  return `specialist-triage-${quant}.gguf`;
}

function upToDate(file: string): boolean {
  try {
    const md = readGgufHeaderSync(file).metadata;
    return md['prompt_contracts.specialist.converter_version'] === SPECIALIST_CONVERTER_VERSION && md['prompt_contracts.specialist.weights_sha1'] === weightsHash();
  } catch {
    return false;
  }
}

/**
 * For each quantization, the GGUF file `fileName(q)` in `dir`, written by `write` when `upToDate`
 * says the one there is missing or stale; one log line per file.
 */
export async function ensureGgufFiles<Q extends SyntheticQuant>(
  dir: string,
  quants: readonly Q[],
  spec: { fileName: (q: Q) => string; upToDate: (file: string) => boolean; write: (q: Q, file: string) => Promise<unknown> },
  log: (line: string) => void,
): Promise<Record<Q, string>> {
  fs.mkdirSync(dir, { recursive: true });
  const out = {} as Record<Q, string>;
  for (const q of quants) {
    const file = path.join(dir, spec.fileName(q));
    if (!spec.upToDate(file)) {
      const t = performance.now();
      await spec.write(q, file);
      log(`${path.relative(process.cwd(), file)}  ${(fs.statSync(file).size / 1e6).toFixed(1)} MB  wrote in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } else log(`${path.relative(process.cwd(), file)}  up to date`);
    out[q] = file;
  }
  return out;
}

/** Paths of the specialist's F16/Q8_0/Q4_0 GGUF files in `dir`, built from the committed weights when missing or stale. */
export function ensureSpecialistModels(dir: string, log: (line: string) => void = () => {}): Promise<Record<SyntheticQuant, string>> {
  return ensureGgufFiles(dir, ['F16', 'Q8_0', 'Q4_0'] as const, { fileName: specialistFileName, upToDate, write: writeSpecialistGguf }, log);
}
