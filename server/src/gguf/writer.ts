// A streaming GGUF v3 writer. The header (metadata and tensor infos) is written first, then each
// tensor's data is pulled from its producer in order, so only one tensor (or one chunk of it)
// is in memory at a time. Writes go to a temp file next to the target, renamed at the end.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType } from './reader';
import { ggmlTensorBytes, ggmlTypeName } from './quant';

type ScalarType = Exclude<GgufValueType, GgufValueType.ARRAY>;

export type GgufScalar = { type: ScalarType; value: number | bigint | boolean | string };
export type GgufArray = {
  type: GgufValueType.ARRAY;
  itemType: ScalarType;
  values: ArrayLike<number | bigint | boolean | string>;
};
export type GgufValue = GgufScalar | GgufArray;

/** Typed metadata value constructors: `{ 'gemma3.block_count': kv.u32(18) }`. */
export const kv = {
  u8: (value: number): GgufScalar => ({ type: GgufValueType.UINT8, value }),
  i8: (value: number): GgufScalar => ({ type: GgufValueType.INT8, value }),
  u16: (value: number): GgufScalar => ({ type: GgufValueType.UINT16, value }),
  i16: (value: number): GgufScalar => ({ type: GgufValueType.INT16, value }),
  u32: (value: number): GgufScalar => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufScalar => ({ type: GgufValueType.INT32, value }),
  u64: (value: number | bigint): GgufScalar => ({ type: GgufValueType.UINT64, value }),
  i64: (value: number | bigint): GgufScalar => ({ type: GgufValueType.INT64, value }),
  f32: (value: number): GgufScalar => ({ type: GgufValueType.FLOAT32, value }),
  f64: (value: number): GgufScalar => ({ type: GgufValueType.FLOAT64, value }),
  bool: (value: boolean): GgufScalar => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufScalar => ({ type: GgufValueType.STRING, value }),
  arr: (itemType: ScalarType, values: ArrayLike<number | bigint | boolean | string>): GgufArray => ({
    type: GgufValueType.ARRAY,
    itemType,
    values,
  }),
};

export type TensorChunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface GgufTensorSpec {
  name: string;
  /** ggml order: dims[0] is the row length */
  dims: number[];
  type: number;
  /** the encoded bytes, or a producer called when this tensor's turn to be written comes */
  data: Uint8Array | (() => Uint8Array | TensorChunks | Promise<Uint8Array>);
}

export interface WriteGgufOptions {
  metadata: Record<string, GgufValue> | Array<[string, GgufValue]>;
  tensors: GgufTensorSpec[];
  alignment?: number;
}

export interface WriteGgufResult {
  path: string;
  bytes: number;
  dataOffset: number;
}

const FLUSH_BYTES = 4 << 20;

/**
 * Header writes are synchronous appends to in-memory buffers (a GGUF header is a few MB at
 * most); `bytes` drains them and hands large chunks to the file directly.
 */
class Sink {
  private buf = Buffer.allocUnsafe(FLUSH_BYTES);
  private len = 0;
  private full: Buffer[] = [];
  written = 0;

  constructor(private readonly fh: fs.promises.FileHandle) {}

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.len > 0) this.full.push(this.buf.subarray(0, this.len));
    this.buf = Buffer.allocUnsafe(Math.max(n, FLUSH_BYTES));
    this.len = 0;
  }

  private async writeAll(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    for (const b of this.full) await this.writeAll(b);
    this.full = [];
    if (this.len > 0) await this.writeAll(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    this.written += 1;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
    this.written += 4;
  }
  u64(v: number | bigint): void {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.len);
    this.len += 8;
    this.written += 8;
  }
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.room(8 + n);
    this.buf.writeBigUInt64LE(BigInt(n), this.len);
    this.buf.write(s, this.len + 8, n, 'utf8');
    this.len += 8 + n;
    this.written += 8 + n;
  }
  scalar(type: ScalarType, v: number | bigint | boolean | string, key: string): void {
    if (type === GgufValueType.STRING) {
      if (typeof v !== 'string') throw new TypeError(`${key}: expected a string`);
      return this.string(v);
    }
    if (type === GgufValueType.BOOL) return this.u8(v ? 1 : 0);
    if (typeof v === 'string' || typeof v === 'boolean') throw new TypeError(`${key}: expected a number`);
    this.room(8);
    const b = this.buf;
    const o = this.len;
    let end: number;
    switch (type) {
      case GgufValueType.UINT8:
        end = b.writeUInt8(Number(v), o);
        break;
      case GgufValueType.INT8:
        end = b.writeInt8(Number(v), o);
        break;
      case GgufValueType.UINT16:
        end = b.writeUInt16LE(Number(v), o);
        break;
      case GgufValueType.INT16:
        end = b.writeInt16LE(Number(v), o);
        break;
      case GgufValueType.UINT32:
        end = b.writeUInt32LE(Number(v), o);
        break;
      case GgufValueType.INT32:
        end = b.writeInt32LE(Number(v), o);
        break;
      case GgufValueType.FLOAT32:
        end = b.writeFloatLE(Number(v), o);
        break;
      case GgufValueType.FLOAT64:
        end = b.writeDoubleLE(Number(v), o);
        break;
      case GgufValueType.UINT64:
        end = b.writeBigUInt64LE(BigInt(v), o);
        break;
      case GgufValueType.INT64:
        end = b.writeBigInt64LE(BigInt(v), o);
        break;
      default:
        throw new TypeError(`${key}: unknown GGUF value type ${String(type)}`);
    }
    this.written += end - o;
    this.len = end;
  }
  async bytes(chunk: Uint8Array): Promise<void> {
    if (chunk.length <= FLUSH_BYTES / 4) {
      this.room(chunk.length);
      this.buf.set(chunk, this.len);
      this.len += chunk.length;
    } else {
      await this.flush();
      await this.writeAll(chunk);
    }
    this.written += chunk.length;
  }
  async pad(alignment: number): Promise<void> {
    const n = (alignment - (this.written % alignment)) % alignment;
    if (n > 0) await this.bytes(new Uint8Array(n));
  }
}

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

/** Writes a GGUF v3 file; returns its size. The target appears only once it is complete. */
export async function writeGguf(outPath: string, options: WriteGgufOptions): Promise<WriteGgufResult> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const entries = Array.isArray(options.metadata) ? options.metadata : Object.entries(options.metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !entries.some(([k]) => k === 'general.alignment')) {
    entries.push(['general.alignment', kv.u32(alignment)]);
  }
  const seen = new Set<string>();
  for (const [k] of entries) {
    if (seen.has(k)) throw new Error(`duplicate metadata key ${k}`);
    seen.add(k);
  }

  const layout: Array<{ spec: GgufTensorSpec; size: number; offset: number }> = [];
  let offset = 0;
  for (const spec of options.tensors) {
    const size = ggmlTensorBytes(spec.type, spec.dims);
    if (size === undefined) {
      throw new Error(`tensor ${spec.name}: cannot store [${spec.dims.join(', ')}] as ${ggmlTypeName(spec.type)}`);
    }
    layout.push({ spec, size, offset });
    offset += Math.ceil(size / alignment) * alignment;
  }

  await fs.promises.mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
  const tmp = `${outPath}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fh = await fs.promises.open(tmp, 'w');
  let dataOffset = 0;
  let total = 0;
  try {
    const s = new Sink(fh);
    s.u32(GGUF_MAGIC);
    s.u32(3);
    s.u64(layout.length);
    s.u64(entries.length);
    for (const [key, value] of entries) {
      s.string(key);
      s.u32(value.type);
      if (value.type === GgufValueType.ARRAY) {
        s.u32(value.itemType);
        s.u64(value.values.length);
        for (let i = 0; i < value.values.length; i++) s.scalar(value.itemType, value.values[i]!, key);
      } else {
        s.scalar(value.type, value.value, key);
      }
    }
    for (const { spec, offset: off } of layout) {
      s.string(spec.name);
      s.u32(spec.dims.length);
      for (const d of spec.dims) s.u64(d);
      s.u32(spec.type);
      s.u64(off);
    }
    await s.pad(alignment);
    dataOffset = s.written;

    for (const { spec, size } of layout) {
      const start = s.written;
      const produced = typeof spec.data === 'function' ? await spec.data() : spec.data;
      if (produced instanceof Uint8Array) {
        await s.bytes(produced);
      } else if (isAsyncIterable(produced)) {
        for await (const chunk of produced) await s.bytes(chunk);
      } else {
        for (const chunk of produced) await s.bytes(chunk);
      }
      const got = s.written - start;
      if (got !== size) throw new Error(`tensor ${spec.name}: producer gave ${got} bytes, expected ${size}`);
      await s.pad(alignment);
    }
    await s.flush();
    total = s.written;
    await fh.close();
    await fs.promises.rename(tmp, outPath);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  return { path: outPath, bytes: total, dataOffset };
}
