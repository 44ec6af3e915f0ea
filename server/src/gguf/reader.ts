// A GGUF (v2/v3) header reader and a model-file validator. Reads only the header, through a
// small window buffer, so a 300 MB model costs a few MB of reads; every length read from the
// file is checked against what is left of it before anything is allocated, so a corrupt file
// fails with a GgufError instead of allocating gigabytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ggmlTensorBytes, ggmlTypeName, GGML_TYPE_INFO } from './quant';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

const SCALAR_SIZE: Readonly<Record<number, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

export function ggufValueTypeName(t: number): string {
  return GgufValueType[t] ?? `unknown(${t})`;
}

/** An array longer than `maxArrayLength`: skipped, only its element type and length kept. */
export interface SkippedArray {
  kind: 'skipped-array';
  itemType: GgufValueType;
  length: number;
}

export function isSkippedArray(v: unknown): v is SkippedArray {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'skipped-array';
}

/** Length of a metadata array value, read or skipped; undefined when `v` is not an array. */
export function metadataArrayLength(v: unknown): number | undefined {
  if (isSkippedArray(v)) return v.length;
  if (Array.isArray(v)) return v.length;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return (v as unknown as ArrayLike<unknown>).length;
  return undefined;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length (contiguous) */
  dims: number[];
  type: number;
  /** byte offset relative to dataOffset */
  offset: number;
  /** bytes of data, undefined for an unknown type or a row that is not whole blocks */
  size: number | undefined;
}

export interface GgufHeader {
  version: number;
  metadata: Record<string, unknown>;
  /** GGUF value type of each metadata key (for arrays: ARRAY; see arrayItemTypes) */
  metadataTypes: Record<string, GgufValueType>;
  arrayItemTypes: Record<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute file offset where tensor data starts */
  dataOffset: number;
  fileSize: number;
}

export type GgufErrorCode = 'NOT_FOUND' | 'BAD_MAGIC' | 'UNSUPPORTED_VERSION' | 'TRUNCATED' | 'CORRUPT' | 'IO';

export class GgufError extends Error {
  constructor(
    readonly code: GgufErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GgufError';
  }
}

export interface ReadGgufOptions {
  /** Arrays with more elements than this are skipped (default 1024). Infinity reads all. */
  maxArrayLength?: number;
  /** Longest string accepted anywhere in the header, in bytes (default 16 MiB). */
  maxStringBytes?: number;
}

const MAX_TENSORS = 1 << 20;
const MAX_KV = 1 << 20;
const MAX_DIMS = 8;
const MAX_KEY_BYTES = 1 << 16;
/** no header string (a chat template, a token) comes near this */
const MAX_STRING_BYTES = 1 << 30;
/** GGUF arrays: a vocabulary has ~10^5-10^6 entries */
const MAX_ARRAY_LENGTH = 1 << 28;

class WindowReader {
  private buf: Buffer;
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly fileSize: number,
    windowBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(windowBytes);
  }

  /** Makes [pos, pos+n) available in the window; returns the index of pos in `buf`. */
  private need(n: number, what: string): number {
    if (this.pos + n > this.fileSize) {
      throw new GgufError(
        'TRUNCATED',
        `file ends inside the header (reading ${what} at byte ${this.pos}, needed ${n} bytes, file has ${this.fileSize})`,
      );
    }
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.bufLen) return rel;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    const want = Math.min(this.buf.length, this.fileSize - this.pos);
    let got = 0;
    while (got < want) {
      const r = fs.readSync(this.fd, this.buf, got, want - got, this.pos + got);
      if (r === 0) break;
      got += r;
    }
    this.bufStart = this.pos;
    this.bufLen = got;
    if (got < n) throw new GgufError('IO', `short read at byte ${this.pos}: got ${got} of ${n} bytes`);
    return 0;
  }

  remaining(): number {
    return this.fileSize - this.pos;
  }

  u8(what: string): number {
    const i = this.need(1, what);
    this.pos += 1;
    return this.buf[i]!;
  }
  i8(what: string): number {
    const i = this.need(1, what);
    this.pos += 1;
    return this.buf.readInt8(i);
  }
  u16(what: string): number {
    const i = this.need(2, what);
    this.pos += 2;
    return this.buf.readUInt16LE(i);
  }
  i16(what: string): number {
    const i = this.need(2, what);
    this.pos += 2;
    return this.buf.readInt16LE(i);
  }
  u32(what: string): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(i);
  }
  i32(what: string): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.buf.readInt32LE(i);
  }
  f32(what: string): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.buf.readFloatLE(i);
  }
  f64(what: string): number {
    const i = this.need(8, what);
    this.pos += 8;
    return this.buf.readDoubleLE(i);
  }
  /** u64 as a number; values past 2^53 are returned as bigint. */
  u64(what: string): number | bigint {
    const i = this.need(8, what);
    this.pos += 8;
    const lo = this.buf.readUInt32LE(i);
    const hi = this.buf.readUInt32LE(i + 4);
    if (hi < 0x200000) return hi * 0x100000000 + lo;
    return this.buf.readBigUInt64LE(i);
  }
  i64(what: string): number | bigint {
    const i = this.need(8, what);
    this.pos += 8;
    const v = this.buf.readBigInt64LE(i);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  /**
   * A u64 used as a length or count. Above `hardMax` the file is corrupt; above what the rest
   * of the file could hold (`fitMax`) it is cut short.
   */
  count(what: string, hardMax: number, fitMax: number = hardMax): number {
    const at = this.pos;
    const v = this.u64(what);
    if (typeof v === 'bigint' || v > hardMax) {
      throw new GgufError('CORRUPT', `${what} is ${v}, more than the ${hardMax} allowed (at byte ${at})`);
    }
    if (v > fitMax) {
      throw new GgufError('TRUNCATED', `file ends inside the header (${what} is ${v}, more than the rest of the file can hold, at byte ${at})`);
    }
    return v;
  }
  string(what: string, maxBytes: number): string {
    const len = this.count(`length of ${what}`, maxBytes, this.remaining());
    const i = this.need(len, what);
    this.pos += len;
    return this.buf.toString('utf8', i, i + len);
  }
  /** Skips `n` length-prefixed strings, reading only their lengths (the hot loop of a vocab). */
  skipStrings(n: number, what: string): void {
    for (let i = 0; i < n; i++) {
      let rel = this.pos - this.bufStart;
      if (rel < 0 || rel + 8 > this.bufLen) rel = this.need(8, `length of ${what}[${i}]`);
      const lo = this.buf.readUInt32LE(rel);
      const hi = this.buf.readUInt32LE(rel + 4);
      const len = hi * 0x100000000 + lo;
      this.pos += 8;
      if (hi >= 0x200000 || len > MAX_STRING_BYTES) {
        throw new GgufError('CORRUPT', `${what}[${i}] has length ${len} (at byte ${this.pos - 8})`);
      }
      if (len > this.fileSize - this.pos) {
        throw new GgufError('TRUNCATED', `file ends inside the header (in ${what}[${i}], at byte ${this.pos - 8})`);
      }
      this.pos += len;
    }
  }
  /** Copies n bytes out into a fresh (aligned) ArrayBuffer. */
  bytes(n: number, what: string): ArrayBuffer {
    const out = new ArrayBuffer(n);
    const view = new Uint8Array(out);
    let done = 0;
    const chunk = Math.max(1, this.buf.length);
    while (done < n) {
      const take = Math.min(chunk, n - done);
      const i = this.need(take, what);
      view.set(this.buf.subarray(i, i + take), done);
      this.pos += take;
      done += take;
    }
    return out;
  }
}

function readScalar(r: WindowReader, type: number, what: string, maxStringBytes: number): unknown {
  switch (type) {
    case GgufValueType.UINT8:
      return r.u8(what);
    case GgufValueType.INT8:
      return r.i8(what);
    case GgufValueType.UINT16:
      return r.u16(what);
    case GgufValueType.INT16:
      return r.i16(what);
    case GgufValueType.UINT32:
      return r.u32(what);
    case GgufValueType.INT32:
      return r.i32(what);
    case GgufValueType.FLOAT32:
      return r.f32(what);
    case GgufValueType.BOOL:
      return r.u8(what) !== 0;
    case GgufValueType.STRING:
      return r.string(what, maxStringBytes);
    case GgufValueType.UINT64:
      return r.u64(what);
    case GgufValueType.INT64:
      return r.i64(what);
    case GgufValueType.FLOAT64:
      return r.f64(what);
    default:
      throw new GgufError('CORRUPT', `${what} has unknown value type ${type} (at byte ${r.pos - 4})`);
  }
}

function readArray(r: WindowReader, key: string, opts: Required<ReadGgufOptions>, itemTypes: Record<string, GgufValueType>): unknown {
  const itemType = r.u32(`element type of ${key}`);
  if (itemType === GgufValueType.ARRAY) throw new GgufError('CORRUPT', `${key}: nested arrays are not supported`);
  const minItem = itemType === GgufValueType.STRING ? 8 : SCALAR_SIZE[itemType];
  if (minItem === undefined) throw new GgufError('CORRUPT', `${key}: unknown array element type ${itemType}`);
  const length = r.count(`length of ${key}`, MAX_ARRAY_LENGTH, Math.floor(r.remaining() / minItem));
  itemTypes[key] = itemType;
  if (length > opts.maxArrayLength) {
    if (itemType === GgufValueType.STRING) {
      r.skipStrings(length, key);
    } else {
      r.pos += length * minItem;
    }
    const skipped: SkippedArray = { kind: 'skipped-array', itemType, length };
    return skipped;
  }
  switch (itemType) {
    case GgufValueType.STRING: {
      const out: string[] = new Array<string>(length);
      for (let i = 0; i < length; i++) out[i] = r.string(`${key}[${i}]`, opts.maxStringBytes);
      return out;
    }
    case GgufValueType.UINT8:
      return new Uint8Array(r.bytes(length, key));
    case GgufValueType.INT8:
      return new Int8Array(r.bytes(length, key));
    case GgufValueType.UINT16:
      return new Uint16Array(r.bytes(length * 2, key));
    case GgufValueType.INT16:
      return new Int16Array(r.bytes(length * 2, key));
    case GgufValueType.UINT32:
      return new Uint32Array(r.bytes(length * 4, key));
    case GgufValueType.INT32:
      return new Int32Array(r.bytes(length * 4, key));
    case GgufValueType.FLOAT32:
      return new Float32Array(r.bytes(length * 4, key));
    case GgufValueType.FLOAT64:
      return new Float64Array(r.bytes(length * 8, key));
    case GgufValueType.BOOL:
      return Array.from(new Uint8Array(r.bytes(length, key)), (b) => b !== 0);
    default: {
      const out: unknown[] = new Array<unknown>(length);
      for (let i = 0; i < length; i++) out[i] = readScalar(r, itemType, `${key}[${i}]`, opts.maxStringBytes);
      return out;
    }
  }
}

function describeForeignMagic(head: Buffer): string {
  const ascii = head.toString('latin1', 0, 4);
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b) return 'it looks like a zip archive (a PyTorch checkpoint?)';
  if (head.length >= 9 && head[8] === 0x7b) return 'it looks like a safetensors file';
  if (ascii === 'lmgg' || ascii === 'fmgg' || ascii === 'tjgg') return 'it is a pre-GGUF ggml file, which llama.cpp no longer loads';
  if (head.length > 0 && (head[0] === 0x7b || head[0] === 0x3c)) return 'it looks like a text file (JSON or HTML, e.g. an error page saved instead of the model)';
  if (head.length === 0) return 'the file is empty';
  return `its first bytes are ${Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

/** Reads the header of a GGUF file. Throws GgufError for anything that is not a readable GGUF header. */
export function readGgufHeaderSync(filePath: string, options: ReadGgufOptions = {}): GgufHeader {
  const opts: Required<ReadGgufOptions> = {
    maxArrayLength: options.maxArrayLength ?? 1024,
    maxStringBytes: options.maxStringBytes ?? 16 * 1024 * 1024,
  };
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new GgufError('NOT_FOUND', `no such file: ${filePath}`);
    throw new GgufError('IO', `cannot open ${filePath}: ${err.message}`);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    const r = new WindowReader(fd, fileSize, 1 << 20);
    if (fileSize < 4 || r.u32('magic') !== GGUF_MAGIC) {
      const head = Buffer.alloc(Math.min(16, fileSize));
      fs.readSync(fd, head, 0, head.length, 0);
      throw new GgufError('BAD_MAGIC', `not a GGUF file: ${describeForeignMagic(head)}`);
    }
    const version = r.u32('version');
    if (version === 1) throw new GgufError('UNSUPPORTED_VERSION', 'GGUF version 1 is not supported (only 2 and 3)');
    if (version !== 2 && version !== 3) {
      const hint = version > 0xffff ? ' (a big-endian GGUF? only little-endian files are supported)' : '';
      throw new GgufError('UNSUPPORTED_VERSION', `unsupported GGUF version ${version}${hint}`);
    }
    const tensorCount = r.count('tensor count', MAX_TENSORS, Math.floor(r.remaining() / 24));
    const kvCount = r.count('metadata count', MAX_KV, Math.floor(r.remaining() / 12));

    const metadata: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const metadataTypes: Record<string, GgufValueType> = Object.create(null) as Record<string, GgufValueType>;
    const arrayItemTypes: Record<string, GgufValueType> = Object.create(null) as Record<string, GgufValueType>;
    for (let k = 0; k < kvCount; k++) {
      const key = r.string(`key #${k}`, MAX_KEY_BYTES);
      const type = r.u32(`type of ${key}`);
      metadataTypes[key] = type;
      metadata[key] =
        type === GgufValueType.ARRAY ? readArray(r, key, opts, arrayItemTypes) : readScalar(r, type, key, opts.maxStringBytes);
    }

    const tensors: GgufTensorInfo[] = new Array<GgufTensorInfo>(tensorCount);
    for (let t = 0; t < tensorCount; t++) {
      const name = r.string(`name of tensor #${t}`, MAX_KEY_BYTES);
      const nDims = r.u32(`dimension count of ${name}`);
      if (nDims > MAX_DIMS) throw new GgufError('CORRUPT', `tensor ${name} has ${nDims} dimensions`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(r.count(`dimension ${d} of ${name}`, 2 ** 40));
      const type = r.u32(`type of ${name}`);
      const offset = r.count(`offset of ${name}`, 2 ** 50);
      tensors[t] = { name, dims, type, offset, size: ggmlTensorBytes(type, dims) };
    }

    const alignRaw = metadata['general.alignment'];
    const alignment = typeof alignRaw === 'number' && alignRaw > 0 && Number.isInteger(alignRaw) ? alignRaw : GGUF_DEFAULT_ALIGNMENT;
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    return { version, metadata, metadataTypes, arrayItemTypes, tensors, alignment, dataOffset, fileSize };
  } finally {
    fs.closeSync(fd);
  }
}

/** Async form of readGgufHeaderSync (the work is a few small reads). */
export async function readGgufHeader(filePath: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  return readGgufHeaderSync(filePath, options);
}

// ---- validation --------------------------------------------------------------------------------

export type ModelProblemCode =
  | 'NOT_FOUND'
  | 'NOT_GGUF'
  | 'UNSUPPORTED_VERSION'
  | 'CORRUPT'
  | 'TRUNCATED'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'MISSING_KEY'
  | 'BAD_KEY'
  | 'MISSING_TOKENIZER'
  | 'MISSING_TENSOR'
  | 'BAD_TENSOR';

export interface ModelProblem {
  code: ModelProblemCode;
  message: string;
}

export interface ModelValidation {
  ok: boolean;
  problems: ModelProblem[];
  /** present when the header could be read */
  header?: GgufHeader;
  architecture?: string;
  /** true when the file carries prompt_contracts.synthetic = true */
  synthetic: boolean;
}

export const SUPPORTED_ARCHITECTURES = ['gemma3'] as const;

type KeyKind = 'uint' | 'float' | 'uint-or-array';

/**
 * Keys of a gemma3 model and what the embedded llama.cpp (node-llama-cpp 3.22.1) does without
 * them, measured: some abort the whole process (GGML_ASSERT), some fail the load, some fall
 * back to a default that is wrong for Gemma 3.
 */
const GEMMA3_REQUIRED_KEYS: ReadonlyArray<[string, KeyKind, string]> = [
  ['context_length', 'uint', 'llama.cpp refuses to load the model without it'],
  ['embedding_length', 'uint', 'llama.cpp refuses to load the model without it'],
  ['block_count', 'uint', 'llama.cpp refuses to load the model without it'],
  ['feed_forward_length', 'uint-or-array', 'loading it would crash the whole process (llama.cpp aborts on a failed assert)'],
  ['attention.head_count', 'uint-or-array', 'loading it would crash the whole process (llama.cpp aborts on a failed assert)'],
  ['attention.head_count_kv', 'uint-or-array', 'llama.cpp would assume one KV head per attention head, which is wrong for Gemma 3'],
  ['attention.key_length', 'uint', 'llama.cpp would assume embedding_length / head_count, which is wrong for Gemma 3'],
  ['attention.value_length', 'uint', 'llama.cpp would assume embedding_length / head_count, which is wrong for Gemma 3'],
  ['attention.layer_norm_rms_epsilon', 'float', 'llama.cpp refuses to load the model without it'],
  ['rope.freq_base', 'float', "llama.cpp would use 10000 instead of Gemma 3's 1000000"],
  ['attention.sliding_window', 'uint', 'llama.cpp would run every layer with global attention, unlike Gemma 3'],
];

const UINT_TYPES = new Set<number>([
  GgufValueType.UINT8,
  GgufValueType.UINT16,
  GgufValueType.UINT32,
  GgufValueType.UINT64,
  GgufValueType.INT8,
  GgufValueType.INT16,
  GgufValueType.INT32,
  GgufValueType.INT64,
]);
const FLOAT_TYPES = new Set<number>([GgufValueType.FLOAT32, GgufValueType.FLOAT64]);

function firstNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const first = (v as unknown as ArrayLike<number>)[0];
    return typeof first === 'number' ? first : undefined;
  }
  return undefined;
}

function checkTensorShapes(h: GgufHeader, arch: string, problems: ModelProblem[]): void {
  const num = (k: string): number | undefined => firstNumber(h.metadata[`${arch}.${k}`]);
  const nEmbd = num('embedding_length');
  const nLayer = num('block_count');
  const nFf = num('feed_forward_length');
  const nHead = num('attention.head_count');
  const nHeadKv = num('attention.head_count_kv');
  const headK = num('attention.key_length') ?? (nEmbd !== undefined && nHead ? nEmbd / nHead : undefined);
  const headV = num('attention.value_length') ?? headK;
  const nVocab = metadataArrayLength(h.metadata['tokenizer.ggml.tokens']);
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const expect = (name: string, dims: Array<number | undefined>, required = true): void => {
    const t = byName.get(name);
    if (!t) {
      if (required) problems.push({ code: 'MISSING_TENSOR', message: `tensor ${name} is missing` });
      return;
    }
    if (dims.some((d) => d === undefined)) return;
    const same = t.dims.length >= dims.length && dims.every((d, i) => t.dims[i] === d) && t.dims.slice(dims.length).every((d) => d === 1);
    if (!same) {
      problems.push({
        code: 'BAD_TENSOR',
        message: `tensor ${name} has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}] from the metadata`,
      });
    }
  };
  expect('token_embd.weight', [nEmbd, nVocab]);
  expect('output_norm.weight', [nEmbd]);
  expect('output.weight', [nEmbd, nVocab], false);
  if (nLayer === undefined || nLayer > 4096) return;
  const q = nHead !== undefined && headK !== undefined ? nHead * headK : undefined;
  const k = nHeadKv !== undefined && headK !== undefined ? nHeadKv * headK : undefined;
  const v = nHeadKv !== undefined && headV !== undefined ? nHeadKv * headV : undefined;
  const o = nHead !== undefined && headV !== undefined ? nHead * headV : undefined;
  for (let i = 0; i < nLayer; i++) {
    const b = `blk.${i}.`;
    expect(`${b}attn_norm.weight`, [nEmbd]);
    expect(`${b}attn_q.weight`, [nEmbd, q]);
    expect(`${b}attn_k.weight`, [nEmbd, k]);
    expect(`${b}attn_v.weight`, [nEmbd, v]);
    expect(`${b}attn_output.weight`, [o, nEmbd]);
    expect(`${b}attn_q_norm.weight`, [headK]);
    expect(`${b}attn_k_norm.weight`, [headK]);
    expect(`${b}post_attention_norm.weight`, [nEmbd]);
    expect(`${b}ffn_norm.weight`, [nEmbd]);
    expect(`${b}ffn_gate.weight`, [nEmbd, nFf]);
    expect(`${b}ffn_up.weight`, [nEmbd, nFf]);
    expect(`${b}ffn_down.weight`, [nFf, nEmbd]);
    expect(`${b}post_ffw_norm.weight`, [nEmbd]);
  }
}

/**
 * Checks that a file is a GGUF that the embedded llama.cpp can load as a gemma3 model without
 * reaching one of its process-aborting asserts. Reads only the header. Never throws for a bad
 * file: every problem becomes an entry in `problems`.
 */
/** Validations by file identity (device, inode, size, mtime): a run resolves its model every time. */
const validated = new Map<string, ModelValidation>();
const VALIDATED_MAX = 32;

/**
 * Checks a GGUF file before llama.cpp sees it (see validateModelFileUncached). The answer is kept
 * per file identity, so an unchanged file is read once per process: reading the header walks the
 * whole tokenizer (262,144 strings), ~10 ms, which every run would otherwise pay twice.
 */
export async function validateModelFile(filePath: string): Promise<ModelValidation> {
  let key: string | undefined;
  try {
    const st = fs.statSync(filePath);
    key = `${path.resolve(filePath)}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    // Missing or unreadable: the uncached path says why.
  }
  const hit = key !== undefined ? validated.get(key) : undefined;
  if (hit) return hit;
  const v = await validateModelFileUncached(filePath);
  if (key !== undefined) {
    if (validated.size >= VALIDATED_MAX) validated.delete(validated.keys().next().value!);
    validated.set(key, v);
  }
  return v;
}

async function validateModelFileUncached(filePath: string): Promise<ModelValidation> {
  const problems: ModelProblem[] = [];
  let h: GgufHeader;
  try {
    h = readGgufHeaderSync(filePath, { maxArrayLength: 1024 });
  } catch (e) {
    if (!(e instanceof GgufError)) throw e;
    const code: ModelProblemCode =
      e.code === 'BAD_MAGIC' ? 'NOT_GGUF' : e.code === 'IO' ? 'CORRUPT' : (e.code as ModelProblemCode);
    const prefix = e.code === 'TRUNCATED' ? 'the file is truncated: ' : '';
    return { ok: false, problems: [{ code, message: prefix + e.message }], synthetic: false };
  }

  let truncatedReported = false;
  for (const t of h.tensors) {
    if (!GGML_TYPE_INFO[t.type]) {
      problems.push({ code: 'BAD_TENSOR', message: `tensor ${t.name} has unknown ggml type ${t.type}` });
      continue;
    }
    if (t.size === undefined) {
      problems.push({
        code: 'BAD_TENSOR',
        message: `tensor ${t.name}: row length ${t.dims[0]} is not a multiple of the ${ggmlTypeName(t.type)} block size`,
      });
      continue;
    }
    if (t.offset % h.alignment !== 0) {
      problems.push({ code: 'CORRUPT', message: `tensor ${t.name} data offset ${t.offset} is not aligned to ${h.alignment}` });
    }
    const end = h.dataOffset + t.offset + t.size;
    if (end > h.fileSize && !truncatedReported) {
      truncatedReported = true;
      problems.push({
        code: 'TRUNCATED',
        message: `the file is truncated: tensor ${t.name} ends at byte ${end} but the file has only ${h.fileSize} bytes (incomplete download?)`,
      });
    }
  }

  const archRaw = h.metadata['general.architecture'];
  const arch = typeof archRaw === 'string' ? archRaw : undefined;
  if (arch === undefined) {
    problems.push({ code: 'MISSING_KEY', message: 'metadata key general.architecture is missing' });
  } else if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    problems.push({
      code: 'UNSUPPORTED_ARCHITECTURE',
      message: `unsupported architecture '${arch}': only ${SUPPORTED_ARCHITECTURES.join(', ')} (Gemma 3) models are supported`,
    });
  } else {
    for (const [suffix, kind, consequence] of GEMMA3_REQUIRED_KEYS) {
      const key = `${arch}.${suffix}`;
      const type = h.metadataTypes[key];
      if (type === undefined) {
        problems.push({ code: 'MISSING_KEY', message: `metadata key ${key} is missing: ${consequence}` });
        continue;
      }
      const item = h.arrayItemTypes[key];
      const ok =
        kind === 'float'
          ? FLOAT_TYPES.has(type)
          : UINT_TYPES.has(type) || (kind === 'uint-or-array' && type === GgufValueType.ARRAY && item !== undefined && UINT_TYPES.has(item));
      if (!ok) {
        problems.push({ code: 'BAD_KEY', message: `metadata key ${key} has type ${ggufValueTypeName(type)}, expected ${kind === 'float' ? 'a float' : 'an integer'}` });
        continue;
      }
      const n = firstNumber(h.metadata[key]);
      if (n !== undefined && !(n > 0)) {
        problems.push({ code: 'BAD_KEY', message: `metadata key ${key} is ${n}, expected a positive value` });
      }
    }
  }

  const tokModel = h.metadata['tokenizer.ggml.model'];
  const nTokens = metadataArrayLength(h.metadata['tokenizer.ggml.tokens']);
  if (typeof tokModel !== 'string') {
    problems.push({ code: 'MISSING_TOKENIZER', message: 'the file has no tokenizer (tokenizer.ggml.model is missing)' });
  } else if (!nTokens) {
    problems.push({ code: 'MISSING_TOKENIZER', message: 'the file has no tokenizer vocabulary (tokenizer.ggml.tokens is missing or empty)' });
  } else {
    for (const k of ['tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
      const n = metadataArrayLength(h.metadata[k]);
      if (n !== undefined && n !== nTokens) {
        problems.push({ code: 'BAD_KEY', message: `${k} has ${n} entries but the vocabulary has ${nTokens}` });
      }
    }
  }

  if (arch !== undefined && (SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) checkTensorShapes(h, arch, problems);

  const synthetic = h.metadata['prompt_contracts.synthetic'] === true;
  return { ok: problems.length === 0, problems, header: h, ...(arch !== undefined ? { architecture: arch } : {}), synthetic };
}

/** The problems with a file as a Gemma 3 model, as human-readable lines; empty when it is fine. */
export async function validateGemmaGguf(filePath: string): Promise<string[]> {
  return (await validateModelFile(filePath)).problems.map((p) => p.message);
}
