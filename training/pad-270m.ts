/**
 * The trained tiny specialist (training/specialist/, hidden 32, 2 blocks) embedded exactly into
 * Gemma 3 270M's shape (hidden 640, 18 blocks, 4 heads / 1 KV head, head dim 256, FFN 2048), for
 * benchmarks: same answers as the tiny model, the compute cost of a 270M model. It is NOT Gemma 3
 * 270M; general.name says so.
 *
 *   node --import tsx training/pad-270m.ts [F16|Q8_0|Q4_0 ...]   (default: all three, into .cache/models/)
 *
 * How it stays exact (llama.cpp gemma3 graph, src/models/gemma3.cpp of the llama.cpp that
 * node-llama-cpp 3.22.1 carries in llama/gitRelease.bundle). r = sqrt(640/32) = sqrt(20).
 *  - token_embd is the tiny one zero-padded, NOT rescaled. llama.cpp multiplies it by
 *    sqrt(n_embd), so the residual stream is r × the tiny model's in dims 0..31, 0 elsewhere.
 *    (Rescaling E by 1/r instead would round every quantized embedding block differently; this
 *    way every block of token_embd, also the tied output matrix, is byte-identical to the tiny
 *    file's.)
 *  - An RMSNorm over 640 dims of a vector that is zero outside 0..31 divides by
 *    sqrt(Σx²/640) = rms32(x)/r. On the residual (r × x) that is exactly rms32(x) again, so
 *    attn_norm, ffn_norm and output_norm give r × the tiny output: their effective gains
 *    (GGUF stores 1 + w) are divided by r. post_attention_norm and post_ffw_norm see the blocks'
 *    unscaled outputs, so they give r × the tiny output, which is what the r-scaled residual
 *    needs: their gains are kept.
 *  - eps: the post norms see mean(x²)/20, so layer_norm_rms_epsilon = 1e-6/20 keeps them exact.
 *    The residual norms see the tiny model's mean(x²) itself, so for them eps is effectively
 *    1e-6/20 instead of 1e-6 (a relative change of at most ~2e-5 of their scale: the residual's
 *    mean square is ≥ 0.03 here), and q/k norms (below) see 0.8e-6 instead of 1e-6. Exactness in
 *    every norm at once would need a non-power-of-two rescale of a quantized tensor (E, or
 *    attn_output and ffn_down), which changes rounding everywhere; this is the smaller error.
 *  - Attention: tiny heads 0,1 → heads 0,1 in dims 0..15; q/k/v/o zero-padded, heads 2,3 get
 *    zero q and zero attn_output columns (their output is dropped). q_norm/k_norm are RMSNorms
 *    over head_dim: 256 vs 16, so each gives 4× the tiny output. llama.cpp scales Q by
 *    f_attention_scale = 1/sqrt(n_embd_head_k) = 1/16 for the 270M type (gemma3.cpp
 *    load_arch_hparams), 1/4 for the tiny one: q·k·(1/16)·16 = 16× too much, ×1/4 needed → q_norm
 *    gain kept, k_norm gain ÷4 (K then equals the tiny K; Q is 4× the tiny Q before the 1/16).
 *  - RoPE: gemma3.rope.dimension_count = 16. llama.cpp reads it into n_rot (n_rot_swa defaults to
 *    it); the n_rot == head_dim check in llama_model::load_hparams applies to LLAMA/DECI/FALCON
 *    only. NEOX rope over n_rot dims rotates (i, i+8), i < 8, with theta base^(-2i/16), exactly as
 *    the tiny model, and leaves dims 16..255 (zero) alone.
 *  - FFN gate/up/down zero-padded to 2048: gelu(0)·0 = 0.
 *  - Blocks 2..17: all matrices zero, norm gains 1: q = k = v = 0, attention output 0, post norm
 *    of 0 is 0, same for the FFN → each adds exactly 0 to the residual. Dense matmuls cost the
 *    same whatever the values.
 *  - Quantized blocks: ggml quantizes rows in blocks of 32 along dims[0]. Every tiny row is a
 *    whole number of blocks and lands at the start of its padded row, so token_embd, attn_q/k/v
 *    and ffn_gate/up/down quantize to the same bytes as in the tiny file, except attn_output:
 *    its tiny rows hold [head0 16 | head1 16] in one block, the padded ones at 0..15 and
 *    256..271, two blocks with their own scales. Q8_0/Q4_0 activations are quantized in blocks
 *    of 32 the same way, so at Q8_0/Q4_0 the attention output projection rounds differently.
 */
import * as path from 'node:path';
import { readGgufHeaderSync } from '../server/src/gguf/reader';
import { encodeTensor, GgmlType, type WritableQuant } from '../server/src/gguf/quant';
import { defaultTokenizerDir, GEMMA3_SHAPES, loadGemma3Vocab, syntheticGemma3Spec, type Gemma3Shape, type SyntheticQuant } from '../server/src/gguf/synthetic';
import { kv, writeGguf, type GgufTensorSpec, type GgufValue } from '../server/src/gguf/writer';
import { ensureGgufFiles, loadSpecialistWeights, SPECIALIST_CONVERTER_VERSION, SPECIALIST_SHAPE, weightsHash } from './convert';

/** Bump when the bytes written change, so that cached files regenerate. */
export const PAD_270M_VERSION = 1;

const T = SPECIALIST_SHAPE;
const BASE = GEMMA3_SHAPES['270m'];
/** sqrt(640 / 32): how much larger the residual stream is than the tiny model's. */
const R = Math.sqrt(BASE.nEmbd / T.nEmbd);

/** Gemma 3 270M's shape; rms eps 1e-6/20 keeps the padded norms exact (see above). */
export const PADDED_SHAPE: Gemma3Shape = { ...BASE, rmsEps: T.rmsEps / (BASE.nEmbd / T.nEmbd) };

export const PADDED_NAME = 'TINY SPECIALIST specialist-triage (hidden 32, 2 layers) zero-padded to the Gemma 3 270M shape for benchmarks (not Gemma 3 270M; 270M compute cost, the tiny model\'s answers)';

export function padded270mFileName(quant: SyntheticQuant): string {
  return `specialist-triage-270m-${quant}.gguf`;
}

type Weights = ReturnType<typeof loadSpecialistWeights>;

interface PaddedTensor {
  name: string;
  /** ggml dims of the padded tensor */
  dims: [number] | [number, number];
  norm: boolean;
  /** copies source row `row` (src values, ggml row-major) into dst (the padded row, zeroed) */
  fill?: (dstRow: number, dst: Float32Array) => void;
  /** norm tensors: the whole vector */
  vector?: Float32Array;
}

function check(w: Weights, name: string, dims: number[]): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`the specialist weights have no ${name}`);
  if (t.dims.join('x') !== dims.join('x')) throw new Error(`${name}: expected dims ${dims.join('x')}, found ${t.dims.join('x')}`);
  return t.values;
}

/** A norm gain vector of length n: the tiny gain × scale in the first src.length dims, 1 elsewhere. */
function gain(n: number, src: Float32Array | undefined, scale: number): Float32Array {
  const v = new Float32Array(n).fill(1);
  if (src) for (let i = 0; i < src.length; i++) v[i] = src[i]! * scale;
  return v;
}

/** The padded tensors, in llama.cpp's order (as the synthetic generator writes them). */
export function paddedTensors(w: Weights = loadSpecialistWeights()): PaddedTensor[] {
  const S = BASE;
  const hd = T.headDim;
  const out: PaddedTensor[] = [];
  const emb = check(w, 'token_embd.weight', [T.nEmbd, T.nVocab]);
  out.push({
    name: 'token_embd.weight',
    dims: [S.nEmbd, S.nVocab],
    norm: false,
    fill: (r, dst) => dst.set(emb.subarray(r * T.nEmbd, (r + 1) * T.nEmbd)),
  });
  /** matrix whose src row `r` (length srcRow) goes to dst row rowMap(r) at column offsets colMap */
  const mat = (name: string, srcDims: [number, number], dims: [number, number], rowOf: (dstRow: number) => number, segments: Array<[srcCol: number, dstCol: number, len: number]>): PaddedTensor => {
    const src = check(w, name, srcDims);
    return {
      name,
      dims,
      norm: false,
      fill: (dr, dst) => {
        const sr = rowOf(dr);
        if (sr < 0) return;
        for (const [sc, dc, len] of segments) dst.set(src.subarray(sr * srcDims[0] + sc, sr * srcDims[0] + sc + len), dc);
      },
    };
  };
  const zero = (name: string, dims: [number, number]): PaddedTensor => ({ name, dims, norm: false, fill: () => {} });
  const norm = (name: string, n: number, src: Float32Array | undefined, scale: number): PaddedTensor => ({ name, dims: [n], norm: true, vector: gain(n, src, scale) });
  // q rows: head h, dim d → h*256 + d; the tiny ones h*16 + d.
  const qRow = (dr: number) => {
    const h = Math.floor(dr / S.headDim);
    const d = dr % S.headDim;
    return h < T.nHead && d < hd ? h * hd + d : -1;
  };
  const kvRow = (dr: number) => (dr < hd ? dr : -1);
  const first = (n: number) => (dr: number) => (dr < n ? dr : -1);
  const q = S.nHead * S.headDim;
  const kvDim = S.nHeadKv * S.headDim;
  for (let i = 0; i < S.nLayer; i++) {
    const b = `blk.${i}.`;
    if (i < T.nLayer) {
      const g = (n: string, len: number) => check(w, `${b}${n}.weight`, [len]);
      out.push(
        norm(`${b}attn_norm.weight`, S.nEmbd, g('attn_norm', T.nEmbd), 1 / R),
        mat(`${b}attn_q.weight`, [T.nEmbd, T.nHead * hd], [S.nEmbd, q], qRow, [[0, 0, T.nEmbd]]),
        mat(`${b}attn_k.weight`, [T.nEmbd, T.nHeadKv * hd], [S.nEmbd, kvDim], kvRow, [[0, 0, T.nEmbd]]),
        mat(`${b}attn_v.weight`, [T.nEmbd, T.nHeadKv * hd], [S.nEmbd, kvDim], kvRow, [[0, 0, T.nEmbd]]),
        // input columns: tiny head h dims 0..15 (at h*16) → h*256
        mat(`${b}attn_output.weight`, [T.nHead * hd, T.nEmbd], [q, S.nEmbd], first(T.nEmbd), Array.from({ length: T.nHead }, (_, h) => [h * hd, h * S.headDim, hd] as [number, number, number])),
        norm(`${b}attn_q_norm.weight`, S.headDim, g('attn_q_norm', hd), 1),
        norm(`${b}attn_k_norm.weight`, S.headDim, g('attn_k_norm', hd), 1 / Math.sqrt(S.headDim / hd)),
        norm(`${b}post_attention_norm.weight`, S.nEmbd, g('post_attention_norm', T.nEmbd), 1),
        norm(`${b}ffn_norm.weight`, S.nEmbd, g('ffn_norm', T.nEmbd), 1 / R),
        mat(`${b}ffn_gate.weight`, [T.nEmbd, T.nFf], [S.nEmbd, S.nFf], first(T.nFf), [[0, 0, T.nEmbd]]),
        mat(`${b}ffn_up.weight`, [T.nEmbd, T.nFf], [S.nEmbd, S.nFf], first(T.nFf), [[0, 0, T.nEmbd]]),
        mat(`${b}ffn_down.weight`, [T.nFf, T.nEmbd], [S.nFf, S.nEmbd], first(T.nEmbd), [[0, 0, T.nFf]]),
        norm(`${b}post_ffw_norm.weight`, S.nEmbd, g('post_ffw_norm', T.nEmbd), 1),
      );
    } else {
      out.push(
        norm(`${b}attn_norm.weight`, S.nEmbd, undefined, 1),
        zero(`${b}attn_q.weight`, [S.nEmbd, q]),
        zero(`${b}attn_k.weight`, [S.nEmbd, kvDim]),
        zero(`${b}attn_v.weight`, [S.nEmbd, kvDim]),
        zero(`${b}attn_output.weight`, [q, S.nEmbd]),
        norm(`${b}attn_q_norm.weight`, S.headDim, undefined, 1),
        norm(`${b}attn_k_norm.weight`, S.headDim, undefined, 1),
        norm(`${b}post_attention_norm.weight`, S.nEmbd, undefined, 1),
        norm(`${b}ffn_norm.weight`, S.nEmbd, undefined, 1),
        zero(`${b}ffn_gate.weight`, [S.nEmbd, S.nFf]),
        zero(`${b}ffn_up.weight`, [S.nEmbd, S.nFf]),
        zero(`${b}ffn_down.weight`, [S.nFf, S.nEmbd]),
        norm(`${b}post_ffw_norm.weight`, S.nEmbd, undefined, 1),
      );
    }
  }
  out.push(norm('output_norm.weight', S.nEmbd, check(w, 'output_norm.weight', [T.nEmbd]), 1 / R));
  // The tiny model must be the shape this file assumes.
  if (w.size !== 1 + T.nLayer * 13 + 1) throw new Error(`the specialist weights have ${w.size} tensors, expected ${2 + T.nLayer * 13}`);
  return out;
}

/**
 * Encodes like encodeTensor(type, values), byte for byte (every writable type encodes each run
 * of 32 values on its own), but copies a precomputed block for runs of 32 zeros: most of a
 * padded tensor is zero.
 */
export function encodeMostlyZero(type: WritableQuant, values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) return encodeTensor(type, values);
  const zeroBlock = encodeTensor(type, new Float32Array(32));
  const bb = zeroBlock.length;
  const out = new Uint8Array((values.length / 32) * bb);
  for (let b = 0, o = 0; b < values.length; b += 32, o += bb) {
    let nz = false;
    for (let j = b; j < b + 32; j++) {
      if (values[j] !== 0) {
        nz = true;
        break;
      }
    }
    out.set(nz ? encodeTensor(type, values.subarray(b, b + 32)) : zeroBlock, o);
  }
  return out;
}

const CHUNK = 1 << 21;

function* chunks(t: PaddedTensor, type: WritableQuant): Generator<Uint8Array> {
  if (t.vector) {
    yield encodeTensor(type, t.vector);
    return;
  }
  const row = t.dims[0];
  const rows = t.dims[1] ?? 1;
  const per = Math.max(1, Math.floor(CHUNK / row));
  const buf = new Float32Array(per * row);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const n = Math.min(per, rows - r0);
    const view = buf.subarray(0, n * row);
    view.fill(0);
    for (let r = 0; r < n; r++) t.fill!(r0 + r, view.subarray(r * row, (r + 1) * row));
    yield encodeMostlyZero(type, view);
  }
}

const QUANT: Record<SyntheticQuant, WritableQuant> = { F16: GgmlType.F16, Q8_0: GgmlType.Q8_0, Q4_0: GgmlType.Q4_0 };

export async function writePadded270mGguf(quant: SyntheticQuant, outPath: string): Promise<void> {
  const tensors = paddedTensors();
  const vocab = loadGemma3Vocab(defaultTokenizerDir(), BASE.nVocab);
  const spec = syntheticGemma3Spec({ shape: PADDED_SHAPE, quant, seed: 0, vocab, name: PADDED_NAME, shapeLabel: 'specialist-270m' });
  const metadata: Array<[string, GgufValue]> = spec.metadata.filter(([k]) => !k.startsWith('prompt_contracts.') && k !== 'general.description');
  // Right after the other rope key; llama.cpp reads it as n_rot.
  metadata.splice(metadata.findIndex(([k]) => k === 'gemma3.rope.freq_base'), 0, ['gemma3.rope.dimension_count', kv.u32(T.headDim)]);
  metadata.push(
    [
      'general.description',
      kv.str(
        'The 2-layer gemma3 specialist trained by Prompt Contracts (hidden 32) embedded exactly into Gemma 3 270M\'s shape by zero-padding and ' +
          'rescaling norm gains (training/pad-270m.ts): 16 of the 18 blocks are zero and add nothing. Same answers as the tiny model, the compute ' +
          'cost of the 270M shape; for benchmarks. Not Gemma 3 270M. rms eps is 1e-6/20 and rope.dimension_count 16 to keep the embedding exact.',
      ),
    ],
    ['prompt_contracts.specialist', kv.str('specialist-triage')],
    ['prompt_contracts.specialist.padded_shape', kv.str('gemma3-270m')],
    ['prompt_contracts.specialist.pad_version', kv.u32(PAD_270M_VERSION)],
    ['prompt_contracts.specialist.converter_version', kv.u32(SPECIALIST_CONVERTER_VERSION)],
    ['prompt_contracts.specialist.weights_sha1', kv.str(weightsHash())],
  );
  const matType = QUANT[quant];
  const embType = quant === 'Q4_0' ? GgmlType.Q8_0 : matType;
  const expected = spec.tensors.map((t) => `${t.name}:${t.dims.join('x')}`);
  const got = tensors.map((t) => `${t.name}:${t.dims.join('x')}`);
  if (expected.join(',') !== got.join(',')) throw new Error('the padded tensors do not match the 270M layout');
  const specs: GgufTensorSpec[] = tensors.map((t) => {
    const type = t.norm ? GgmlType.F32 : t.name === 'token_embd.weight' ? embType : matType;
    return { name: t.name, dims: t.dims, type, data: () => chunks(t, type) };
  });
  await writeGguf(outPath, { metadata, tensors: specs });
}

function upToDate(file: string): boolean {
  try {
    const md = readGgufHeaderSync(file).metadata;
    return (
      md['prompt_contracts.specialist.pad_version'] === PAD_270M_VERSION &&
      md['prompt_contracts.specialist.converter_version'] === SPECIALIST_CONVERTER_VERSION &&
      md['prompt_contracts.specialist.weights_sha1'] === weightsHash()
    );
  } catch {
    return false;
  }
}

/** Paths of the padded specialist's GGUF files in `dir` (~292 MB at Q8_0), written when missing or stale. */
export function ensurePadded270mModels(
  dir: string,
  quants: readonly SyntheticQuant[] = ['F16', 'Q8_0', 'Q4_0'],
  log: (line: string) => void = () => {},
): Promise<Partial<Record<SyntheticQuant, string>>> {
  return ensureGgufFiles(dir, quants, { fileName: padded270mFileName, upToDate, write: writePadded270mGguf }, log);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const quants = (args.length ? args : ['F16', 'Q8_0', 'Q4_0']) as SyntheticQuant[];
  for (const q of quants) if (!(q in QUANT)) throw new Error(`unknown quantization ${q}: F16, Q8_0 or Q4_0`);
  ensurePadded270mModels(path.resolve(__dirname, '..', '.cache', 'models'), quants, (l) => console.log(l)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
