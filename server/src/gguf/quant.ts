// ggml tensor types and encoders/decoders for the few we write (F32, F16, Q8_0, Q4_0).
// Block layouts and rounding follow ggml's reference quantizers (ggml-quants.c,
// quantize_row_q8_0_ref / quantize_row_q4_0_ref) byte for byte.

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

export interface GgmlTypeInfo {
  name: string;
  /** elements per block */
  blockSize: number;
  /** bytes per block */
  typeSize: number;
}

export const GGML_TYPE_INFO: Readonly<Record<number, GgmlTypeInfo>> = {
  [GgmlType.F32]: { name: 'F32', blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { name: 'F16', blockSize: 1, typeSize: 2 },
  [GgmlType.Q4_0]: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  [GgmlType.Q8_1]: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  [GgmlType.Q2_K]: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  [GgmlType.IQ2_XXS]: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  [GgmlType.IQ2_XS]: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  [GgmlType.IQ3_XXS]: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  [GgmlType.IQ1_S]: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  [GgmlType.IQ4_NL]: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  [GgmlType.IQ3_S]: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  [GgmlType.IQ2_S]: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  [GgmlType.IQ4_XS]: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  [GgmlType.I8]: { name: 'I8', blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { name: 'I16', blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { name: 'I32', blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { name: 'I64', blockSize: 1, typeSize: 8 },
  [GgmlType.F64]: { name: 'F64', blockSize: 1, typeSize: 8 },
  [GgmlType.IQ1_M]: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  [GgmlType.BF16]: { name: 'BF16', blockSize: 1, typeSize: 2 },
  [GgmlType.TQ1_0]: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  [GgmlType.TQ2_0]: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  [GgmlType.MXFP4]: { name: 'MXFP4', blockSize: 32, typeSize: 17 },
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_INFO[type]?.name ?? `unknown(${type})`;
}

/**
 * Bytes taken by a tensor of `dims` (ggml order, dims[0] = row length) in `type`,
 * or undefined for an unknown type or a row length that is not a whole number of blocks.
 */
export function ggmlTensorBytes(type: number, dims: readonly number[]): number | undefined {
  const info = GGML_TYPE_INFO[type];
  if (!info) return undefined;
  const row = dims.length > 0 ? dims[0]! : 1;
  if (row % info.blockSize !== 0) return undefined;
  let rows = 1;
  for (let i = 1; i < dims.length; i++) rows *= dims[i]!;
  return (row / info.blockSize) * info.typeSize * rows;
}

// ---- fp16 <-> fp32 -------------------------------------------------------------------------

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE fp32 -> fp16 bits, round to nearest even (what F16C's _cvtss_sh does in ggml). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  const f = scratchU32[0]!;
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

let f16Table: Float32Array | undefined;

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 0x1f) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  return t;
}

export function f16BitsToF32(h: number): number {
  f16Table ??= buildF16Table();
  return f16Table[h & 0xffff]!;
}

// ---- encoders --------------------------------------------------------------------------------

export type WritableQuant = GgmlType.F32 | GgmlType.F16 | GgmlType.Q8_0 | GgmlType.Q4_0;

export function encodeF32(src: Float32Array): Uint8Array {
  const copy = new Float32Array(src); // little-endian hosts only (x86/arm64)
  return new Uint8Array(copy.buffer);
}

export function encodeF16(src: Float32Array): Uint8Array {
  const out = new Uint8Array(src.length * 2);
  for (let i = 0, o = 0; i < src.length; i++, o += 2) {
    const h = f32ToF16Bits(src[i]!);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
  }
  return out;
}

function checkBlocks(n: number, what: string): void {
  if (n % 32 !== 0) throw new RangeError(`${what}: ${n} elements is not a multiple of the block size 32`);
}

/** Q8_0: per 32 values, fp16 d = amax/127 then 32 int8 q = round(x/d) (roundf: half away from 0). */
export function encodeQ8_0(src: Float32Array): Uint8Array {
  checkBlocks(src.length, 'Q8_0');
  const nb = src.length / 32;
  const out = new Uint8Array(nb * 34);
  const fround = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[base + j]!);
      if (a > amax) amax = a;
    }
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = f32ToF16Bits(d);
    const o = b * 34;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) {
      const v = fround(src[base + j]! * id);
      const q = v >= 0 ? Math.floor(v + 0.5) : -Math.floor(0.5 - v);
      out[o + 2 + j] = q & 0xff;
    }
  }
  return out;
}

/**
 * Q4_0: per 32 values, d = (value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5));
 * bytes: fp16 d, then 16 bytes whose low nibbles are elements 0..15 and high nibbles 16..31.
 */
export function encodeQ4_0(src: Float32Array): Uint8Array {
  checkBlocks(src.length, 'Q4_0');
  const nb = src.length / 32;
  const out = new Uint8Array(nb * 18);
  const fround = Math.fround;
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[base + j]!;
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = fround(max / -8);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = f32ToF16Bits(d);
    const o = b * 18;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) {
      const x0 = fround(fround(src[base + j]! * id) + 8.5);
      const x1 = fround(fround(src[base + 16 + j]! * id) + 8.5);
      const q0 = Math.min(15, Math.trunc(x0));
      const q1 = Math.min(15, Math.trunc(x1));
      out[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

export function encodeTensor(type: WritableQuant, src: Float32Array): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return encodeF32(src);
    case GgmlType.F16:
      return encodeF16(src);
    case GgmlType.Q8_0:
      return encodeQ8_0(src);
    case GgmlType.Q4_0:
      return encodeQ4_0(src);
    default:
      throw new Error(`no encoder for ggml type ${ggmlTypeName(type)}`);
  }
}

// ---- decoders (tests and diagnostics) ----------------------------------------------------------

export function decodeF32(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
  return out;
}

export function decodeF16(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32(bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
  return out;
}

export function decodeQ8_0(bytes: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q8_0');
  const out = new Float32Array(n);
  for (let b = 0; b < n / 32; b++) {
    const o = b * 34;
    const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = ((bytes[o + 2 + j]! << 24) >> 24) * d;
  }
  return out;
}

export function decodeQ4_0(bytes: Uint8Array, n: number): Float32Array {
  checkBlocks(n, 'Q4_0');
  const out = new Float32Array(n);
  for (let b = 0; b < n / 32; b++) {
    const o = b * 18;
    const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j]!;
      out[b * 32 + j] = ((q & 0x0f) - 8) * d;
      out[b * 32 + 16 + j] = ((q >>> 4) - 8) * d;
    }
  }
  return out;
}

export function decodeTensor(type: WritableQuant, bytes: Uint8Array, n: number): Float32Array {
  switch (type) {
    case GgmlType.F32:
      return decodeF32(bytes, n);
    case GgmlType.F16:
      return decodeF16(bytes, n);
    case GgmlType.Q8_0:
      return decodeQ8_0(bytes, n);
    case GgmlType.Q4_0:
      return decodeQ4_0(bytes, n);
    default:
      throw new Error(`no decoder for ggml type ${ggmlTypeName(type)}`);
  }
}
