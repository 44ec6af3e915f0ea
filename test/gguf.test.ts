// GGUF writer/reader round trips, quantizer layouts and error bounds, and the model-file
// validator. Broken files are only ever read by our own header reader here, never loaded into
// llama.cpp (some of them abort the whole process there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodeF16,
  decodeQ4_0,
  decodeQ8_0,
  encodeF16,
  encodeF32,
  encodeQ4_0,
  encodeQ8_0,
  f16BitsToF32,
  f32ToF16Bits,
  GgmlType,
  ggmlTensorBytes,
} from '../server/src/gguf/quant';
import {
  GgufError,
  GgufValueType,
  isSkippedArray,
  readGgufHeader,
  readGgufHeaderSync,
  validateGemmaGguf,
  validateModelFile,
} from '../server/src/gguf/reader';
import { kv, writeGguf, type GgufValue } from '../server/src/gguf/writer';
import { syntheticGemma3Spec, TOKEN_TYPE, type Gemma3Shape, type GgufVocab } from '../server/src/gguf/synthetic';
import { ensureTestModels } from './support/models';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-test-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const tmpFile = (name: string): string => path.join(tmp, name);

function seeded(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const r = seeded(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

function readTensorBytes(file: string, dataOffset: number, offset: number, size: number): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(size);
    fs.readSync(fd, b, 0, size, dataOffset + offset);
    return new Uint8Array(b);
  } finally {
    fs.closeSync(fd);
  }
}

// ---- fp16 -------------------------------------------------------------------------------------

test('f32ToF16Bits rounds to nearest even and handles the edges', () => {
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(0), 0x0000);
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65519), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00, 'rounds up to infinity');
  assert.equal(f32ToF16Bits(Infinity), 0x7c00);
  assert.equal(f32ToF16Bits(-Infinity), 0xfc00);
  assert.equal(f32ToF16Bits(NaN) & 0x7e00, 0x7e00);
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000, 'half the smallest subnormal ties to even (zero)');
  assert.equal(f32ToF16Bits(3 * 2 ** -26), 0x0001);
  assert.equal(f32ToF16Bits(2 ** -14), 0x0400, 'smallest normal');
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
});

test('every finite fp16 value survives f16 -> f32 -> f16', () => {
  for (let h = 0; h < 0x10000; h++) {
    const exp = (h >>> 10) & 0x1f;
    if (exp === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads
    assert.equal(f32ToF16Bits(f16BitsToF32(h)), h, `0x${h.toString(16)}`);
  }
});

// ---- block quantizers ---------------------------------------------------------------------------

// Golden bytes from ggml's own quantize_row_q8_0_ref / quantize_row_q4_0_ref (ggml-quants.c of
// the llama.cpp that node-llama-cpp 3.22.1 ships), compiled with gcc, on the three blocks below.
// Our encoders also matched those functions byte for byte on 640,032 random values of 10 scales.
const GOLDEN_INPUT = new Float32Array([
  ...Array.from({ length: 32 }, (_, j) => (j - 13) * 0.37),
  ...Array.from({ length: 32 }, (_, j) => (((j % 17) - 8) / 8) * 3),
  ...Array.from({ length: 32 }, (_, j) => Math.sin(j * 1.7) * (j === 5 ? 2.5 : 1.2)),
]);
const GOLDEN_Q8_0 =
  'b62aa4abb2b9c1c8cfd6dde4ebf2f900070e151c232a31383f474e555c636a71787f0c268191a1b1c0d0e0f000102030404f5f6f7f8191a1b1c0d0e0f000102030404f5f0624004cecb9267fcbd1421eb7f54cf8b61b43d3c83b28bbea4b03b41048ddc13332';
const GOLDEN_Q4_0 =
  'a9ba7e6d6d5c5c4c4b4b3a3a2929181808070036f00112233445566778899aabbccddeeffcb348b3c94c56c09b3b84d67d39a3c95d56';

test('Q8_0 and Q4_0 encoders produce ggml reference bytes', () => {
  assert.equal(Buffer.from(encodeQ8_0(GOLDEN_INPUT)).toString('hex'), GOLDEN_Q8_0);
  assert.equal(Buffer.from(encodeQ4_0(GOLDEN_INPUT)).toString('hex'), GOLDEN_Q4_0);
});

test('Q8_0 block layout: fp16 scale then 32 int8', () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // amax 16
  const b = encodeQ8_0(x);
  assert.equal(b.length, 34);
  const d = f16BitsToF32(b[0]! | (b[1]! << 8));
  assert.ok(Math.abs(d - 16 / 127) < 1e-4);
  assert.equal((b[2]! << 24) >> 24, -127);
  assert.equal(b[2 + 16], 0);
  assert.equal((b[2 + 31]! << 24) >> 24, Math.round(15 / (16 / 127)));
});

test('Q4_0 block layout: low nibbles are elements 0-15, high nibbles 16-31, x = (q - 8) * d', () => {
  const x = new Float32Array(32);
  x[0] = -8; // largest magnitude, negative: d = -8 / -8 = 1
  x[16] = 5;
  x[1] = 7;
  x[17] = -3;
  const b = encodeQ4_0(x);
  assert.equal(b.length, 18);
  assert.equal(f16BitsToF32(b[0]! | (b[1]! << 8)), 1);
  assert.equal(b[2]! & 0x0f, 0); // -8 -> q 0
  assert.equal(b[2]! >>> 4, 13); // element 16: 5 -> q 13
  assert.equal(b[3]! & 0x0f, 15); // 7 -> 15
  assert.equal(b[3]! >>> 4, 5); // element 17: -3 -> 5
  const y = decodeQ4_0(b, 32);
  assert.deepEqual([y[0], y[1], y[16], y[17], y[2]], [-8, 7, 5, -3, 0]);
});

test('quantization round trips stay within their error bounds', () => {
  for (const [scale, seed] of [
    [1, 1],
    [1e-3, 2],
    [40, 3],
  ] as const) {
    const x = randomFloats(32 * 4096, seed, scale);

    const f16 = decodeF16(encodeF16(x), x.length);
    for (let i = 0; i < x.length; i++) {
      assert.ok(Math.abs(f16[i]! - x[i]!) <= Math.abs(x[i]!) * 2 ** -11 + 2 ** -25, `F16 ${x[i]} -> ${f16[i]}`);
    }

    const q8 = decodeQ8_0(encodeQ8_0(x), x.length);
    const q4 = decodeQ4_0(encodeQ4_0(x), x.length);
    let se8 = 0;
    let se4 = 0;
    let ss = 0;
    for (let b = 0; b < x.length / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
      const d8 = amax / 127;
      const d4 = amax / 8;
      // the scale is stored as fp16: relative error 2^-11, or 2^-25 absolute in its subnormal range
      const r8 = Math.max(d8 * 2 ** -11, 2 ** -25);
      const r4 = Math.max(d4 * 2 ** -11, 2 ** -25);
      for (let j = 0; j < 32; j++) {
        const i = b * 32 + j;
        const e8 = Math.abs(q8[i]! - x[i]!);
        const e4 = Math.abs(q4[i]! - x[i]!);
        // half a step, plus the fp16 rounding of the scale times up to 127 steps
        assert.ok(e8 <= d8 * 0.5 + 127 * r8 + 1e-12, `Q8_0 error ${e8} > bound (d=${d8})`);
        // a step at most: the side opposite the largest value clamps at 7 steps of 8
        assert.ok(e4 <= d4 + 8 * r4 + 1e-12, `Q4_0 error ${e4} > bound (d=${d4})`);
        se8 += e8 * e8;
        se4 += e4 * e4;
        ss += x[i]! * x[i]!;
      }
    }
    const rel8 = Math.sqrt(se8 / ss);
    const rel4 = Math.sqrt(se4 / ss);
    assert.ok(rel8 < 0.01, `Q8_0 relative RMS error ${rel8}`);
    assert.ok(rel4 < 0.12, `Q4_0 relative RMS error ${rel4}`);
    assert.ok(rel4 > rel8 * 5, 'Q4_0 is much coarser than Q8_0');
  }
});

test('all-zero blocks quantize to zero', () => {
  const z = new Float32Array(64);
  // (Q4_0 gives -0: its scale is max / -8, as in ggml)
  assert.ok(decodeQ8_0(encodeQ8_0(z), 64).every((v) => v === 0));
  assert.ok(decodeQ4_0(encodeQ4_0(z), 64).every((v) => v === 0));
});

test('quantizers reject rows that are not whole blocks', () => {
  assert.throws(() => encodeQ8_0(new Float32Array(33)), /multiple of the block size/);
  assert.throws(() => encodeQ4_0(new Float32Array(16)), /multiple of the block size/);
  assert.equal(ggmlTensorBytes(GgmlType.Q8_0, [48, 2]), undefined);
  assert.equal(ggmlTensorBytes(GgmlType.Q8_0, [64, 3]), 2 * 34 * 3);
  assert.equal(ggmlTensorBytes(GgmlType.Q4_0, [64, 3]), 2 * 18 * 3);
  assert.equal(ggmlTensorBytes(GgmlType.F16, [5, 7]), 70);
});

// ---- writer / reader ------------------------------------------------------------------------------

test('writer -> reader round trip of every metadata type, tensor infos and data', async () => {
  const file = tmpFile('roundtrip.gguf');
  const strings = ['', 'plain', 'ünïcödé', '中文', '🤖 emoji', '<start_of_turn>', 'a\u0000b'];
  const metadata: Record<string, GgufValue> = {
    'general.architecture': kv.str('test'),
    'test.u8': kv.u8(255),
    'test.i8': kv.i8(-128),
    'test.u16': kv.u16(65535),
    'test.i16': kv.i16(-32768),
    'test.u32': kv.u32(4294967295),
    'test.i32': kv.i32(-2147483648),
    'test.u64': kv.u64(2 ** 53 - 1),
    'test.u64.big': kv.u64(2n ** 64n - 1n),
    'test.i64': kv.i64(-(2 ** 40)),
    'test.f32': kv.f32(1e-6),
    'test.f64': kv.f64(Math.PI),
    'test.bool.t': kv.bool(true),
    'test.bool.f': kv.bool(false),
    'test.str.empty': kv.str(''),
    'test.str': kv.str('héllo wörld ✓'),
    'test.arr.str': kv.arr(GgufValueType.STRING, strings),
    'test.arr.f32': kv.arr(GgufValueType.FLOAT32, [1.5, -2.25, 0]),
    'test.arr.i32': kv.arr(GgufValueType.INT32, Int32Array.from([1, -2, 3])),
    'test.arr.u8': kv.arr(GgufValueType.UINT8, [0, 1, 255]),
    'test.arr.bool': kv.arr(GgufValueType.BOOL, [true, false, true]),
    'test.arr.empty': kv.arr(GgufValueType.UINT32, []),
    'test.arr.long': kv.arr(GgufValueType.STRING, Array.from({ length: 5000 }, (_, i) => `t${i}`)),
    'test.arr.long.num': kv.arr(GgufValueType.FLOAT32, new Float32Array(3000)),
  };
  const f32 = randomFloats(3 * 5, 10);
  const f16src = randomFloats(7 * 2, 11);
  const q8src = randomFloats(64 * 3, 12);
  const q4src = randomFloats(32 * 5, 13);
  const tensors = [
    { name: 'a.f32', dims: [5, 3], type: GgmlType.F32, data: encodeF32(f32) },
    { name: 'b.f16', dims: [7, 2], type: GgmlType.F16, data: () => encodeF16(f16src) },
    // chunked producer: one row at a time
    {
      name: 'c.q8',
      dims: [64, 3],
      type: GgmlType.Q8_0,
      data: function* () {
        for (let r = 0; r < 3; r++) yield encodeQ8_0(q8src.subarray(r * 64, (r + 1) * 64));
      },
    },
    {
      name: 'd.q4',
      dims: [32, 5],
      type: GgmlType.Q4_0,
      data: async function* () {
        yield encodeQ4_0(q4src);
      },
    },
  ];
  const res = await writeGguf(file, { metadata, tensors });
  assert.equal(fs.statSync(file).size, res.bytes);
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
    [],
    'no temp file left behind',
  );

  const h = readGgufHeaderSync(file, { maxArrayLength: 4096 });
  assert.equal(h.version, 3);
  assert.equal(h.fileSize, res.bytes);
  assert.equal(h.dataOffset, res.dataOffset);
  assert.equal(h.dataOffset % 32, 0);
  const m = h.metadata;
  assert.equal(m['test.u8'], 255);
  assert.equal(m['test.i8'], -128);
  assert.equal(m['test.u16'], 65535);
  assert.equal(m['test.i16'], -32768);
  assert.equal(m['test.u32'], 4294967295);
  assert.equal(m['test.i32'], -2147483648);
  assert.equal(m['test.u64'], 2 ** 53 - 1);
  assert.equal(m['test.u64.big'], 2n ** 64n - 1n);
  assert.equal(m['test.i64'], -(2 ** 40));
  assert.equal(m['test.f32'], Math.fround(1e-6));
  assert.equal(m['test.f64'], Math.PI);
  assert.equal(m['test.bool.t'], true);
  assert.equal(m['test.bool.f'], false);
  assert.equal(m['test.str.empty'], '');
  assert.equal(m['test.str'], 'héllo wörld ✓');
  assert.deepEqual(m['test.arr.str'], strings);
  assert.deepEqual(Array.from(m['test.arr.f32'] as Float32Array), [1.5, -2.25, 0]);
  assert.deepEqual(Array.from(m['test.arr.i32'] as Int32Array), [1, -2, 3]);
  assert.deepEqual(Array.from(m['test.arr.u8'] as Uint8Array), [0, 1, 255]);
  assert.deepEqual(m['test.arr.bool'], [true, false, true]);
  assert.equal((m['test.arr.empty'] as Uint32Array).length, 0);
  assert.deepEqual(m['test.arr.long'], { kind: 'skipped-array', itemType: GgufValueType.STRING, length: 5000 });
  assert.equal((m['test.arr.long.num'] as Float32Array).length, 3000);
  assert.equal(h.metadataTypes['test.f64'], GgufValueType.FLOAT64);
  assert.equal(h.metadataTypes['test.arr.str'], GgufValueType.ARRAY);
  assert.equal(h.arrayItemTypes['test.arr.str'], GgufValueType.STRING);

  assert.deepEqual(
    h.tensors.map((t) => [t.name, t.dims, t.type]),
    tensors.map((t) => [t.name, t.dims, t.type]),
  );
  for (const t of h.tensors) assert.equal(t.offset % 32, 0, `${t.name} aligned`);
  const get = (name: string): Uint8Array => {
    const t = h.tensors.find((x) => x.name === name)!;
    return readTensorBytes(file, h.dataOffset, t.offset, t.size!);
  };
  assert.deepEqual(Array.from(new Float32Array(get('a.f32').slice().buffer)), Array.from(f32));
  assert.deepEqual(decodeF16(get('b.f16'), 14), decodeF16(encodeF16(f16src), 14));
  assert.deepEqual(get('c.q8'), encodeQ8_0(q8src));
  assert.deepEqual(get('d.q4'), encodeQ4_0(q4src));
  const last = h.tensors[h.tensors.length - 1]!;
  assert.equal(h.fileSize, h.dataOffset + last.offset + Math.ceil(last.size! / 32) * 32);

  const small = readGgufHeaderSync(file, { maxArrayLength: 2 });
  assert.ok(isSkippedArray(small.metadata['test.arr.str']));
  const all = await readGgufHeader(file, { maxArrayLength: Infinity });
  assert.equal((all.metadata['test.arr.long'] as string[])[4999], 't4999');
});

test('writer honours a custom alignment and records it', async () => {
  const file = tmpFile('align64.gguf');
  await writeGguf(file, {
    metadata: { 'general.architecture': kv.str('test') },
    tensors: [
      { name: 'x', dims: [3], type: GgmlType.F32, data: encodeF32(new Float32Array([1, 2, 3])) },
      { name: 'y', dims: [5], type: GgmlType.F32, data: encodeF32(new Float32Array(5)) },
    ],
    alignment: 64,
  });
  const h = readGgufHeaderSync(file);
  assert.equal(h.alignment, 64);
  assert.equal(h.metadata['general.alignment'], 64);
  assert.equal(h.dataOffset % 64, 0);
  assert.deepEqual(
    h.tensors.map((t) => t.offset),
    [0, 64],
  );
});

test('writer leaves nothing behind when a tensor producer is wrong', async () => {
  const file = tmpFile('bad-producer.gguf');
  await assert.rejects(
    writeGguf(file, {
      metadata: { 'general.architecture': kv.str('test') },
      tensors: [{ name: 'x', dims: [32], type: GgmlType.Q8_0, data: () => new Uint8Array(10) }],
    }),
    /producer gave 10 bytes, expected 34/,
  );
  assert.equal(fs.existsSync(file), false);
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.startsWith('bad-producer')),
    [],
  );
});

// ---- validator ----------------------------------------------------------------------------------

const MICRO_SHAPE: Gemma3Shape = {
  nEmbd: 32,
  nLayer: 2,
  nHead: 2,
  nHeadKv: 1,
  headDim: 32,
  nFf: 64,
  nVocab: 300,
  slidingWindow: 512,
  contextLength: 2048,
  ropeFreqBase: 1e6,
  ropeFreqBaseSwa: 1e4,
  rmsEps: 1e-6,
};

function microVocab(n: number): GgufVocab {
  const tokens = Array.from({ length: n }, (_, i) => (i < 4 ? ['<pad>', '<eos>', '<bos>', '<unk>'][i]! : `tok${i}`));
  const tokenTypes = new Int32Array(n).fill(TOKEN_TYPE.NORMAL);
  tokenTypes[0] = tokenTypes[1] = tokenTypes[2] = TOKEN_TYPE.CONTROL;
  tokenTypes[3] = TOKEN_TYPE.UNKNOWN;
  return { tokens, scores: Float32Array.from({ length: n }, (_, i) => -i), tokenTypes, chatTemplate: '{{ bos_token }}' };
}

/** A small gemma3 file (never loaded into llama.cpp) with `edit` applied to its metadata. */
async function writeMicroGemma(name: string, edit: (md: Array<[string, GgufValue]>) => Array<[string, GgufValue]> = (m) => m): Promise<string> {
  const file = tmpFile(name);
  const spec = syntheticGemma3Spec({
    shape: MICRO_SHAPE,
    quant: 'Q8_0',
    seed: 7,
    vocab: microVocab(MICRO_SHAPE.nVocab),
    name: 'micro',
    shapeLabel: 'micro',
  });
  await writeGguf(file, { metadata: edit(spec.metadata), tensors: spec.tensors });
  return file;
}

test('validator accepts a well-formed gemma3 file and reports it as synthetic', async () => {
  const file = await writeMicroGemma('micro-ok.gguf');
  const v = await validateModelFile(file);
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.architecture, 'gemma3');
  assert.equal(v.synthetic, true);
});

test('validator: bad magic, text files, empty files and missing files', async () => {
  const notGguf = tmpFile('not.gguf');
  fs.writeFileSync(notGguf, Buffer.from('NOTAGGUF file contents here'));
  const p1 = await validateModelFile(notGguf);
  assert.equal(p1.ok, false);
  assert.equal(p1.problems[0]!.code, 'NOT_GGUF');
  assert.match(p1.problems[0]!.message, /not a GGUF file/);

  const html = tmpFile('error-page.gguf');
  fs.writeFileSync(html, '<!DOCTYPE html><html>404</html>');
  assert.match((await validateGemmaGguf(html))[0]!, /not a GGUF file.*text file/);

  const empty = tmpFile('empty.gguf');
  fs.writeFileSync(empty, '');
  assert.match((await validateGemmaGguf(empty))[0]!, /not a GGUF file.*empty/);

  const missing = await validateModelFile(tmpFile('does-not-exist.gguf'));
  assert.equal(missing.problems[0]!.code, 'NOT_FOUND');
});

test('validator: truncated files, in the tensor data and inside the header', async () => {
  const full = await writeMicroGemma('micro-full.gguf');
  const bytes = fs.readFileSync(full);

  const cutData = tmpFile('micro-cut-data.gguf');
  fs.writeFileSync(cutData, bytes.subarray(0, bytes.length - 1000));
  const v1 = await validateModelFile(cutData);
  assert.deepEqual(
    v1.problems.map((p) => p.code),
    ['TRUNCATED'],
  );
  assert.match(v1.problems[0]!.message, /truncated.*blk\.1\.|truncated.*output_norm/);

  const cutHeader = tmpFile('micro-cut-header.gguf');
  fs.writeFileSync(cutHeader, bytes.subarray(0, 700));
  const v2 = await validateModelFile(cutHeader);
  assert.equal(v2.problems[0]!.code, 'TRUNCATED');
  assert.match(v2.problems[0]!.message, /truncated/);
});

test('validator: another architecture is reported by name', async () => {
  const file = tmpFile('tiny-llama.gguf');
  await writeGguf(file, {
    metadata: {
      'general.architecture': kv.str('llama'),
      'llama.context_length': kv.u32(128),
      'llama.embedding_length': kv.u32(32),
      'llama.block_count': kv.u32(1),
      'llama.feed_forward_length': kv.u32(64),
      'llama.attention.head_count': kv.u32(1),
      'llama.attention.layer_norm_rms_epsilon': kv.f32(1e-5),
      'tokenizer.ggml.model': kv.str('llama'),
      'tokenizer.ggml.tokens': kv.arr(GgufValueType.STRING, ['<unk>', '<s>', '</s>', 'a']),
    },
    tensors: [
      { name: 'token_embd.weight', dims: [32, 4], type: GgmlType.F32, data: encodeF32(new Float32Array(128)) },
      { name: 'output_norm.weight', dims: [32], type: GgmlType.F32, data: encodeF32(new Float32Array(32).fill(1)) },
    ],
  });
  const v = await validateModelFile(file);
  assert.equal(v.ok, false);
  assert.equal(v.architecture, 'llama');
  assert.deepEqual(
    v.problems.map((p) => p.code),
    ['UNSUPPORTED_ARCHITECTURE'],
  );
  assert.match(v.problems[0]!.message, /unsupported architecture 'llama'/);
});

test('validator: a missing gemma3.feed_forward_length (which aborts llama.cpp) is caught', async () => {
  const file = await writeMicroGemma('micro-no-ffn.gguf', (md) => md.filter(([k]) => k !== 'gemma3.feed_forward_length'));
  const v = await validateModelFile(file);
  assert.equal(v.ok, false);
  const p = v.problems.find((x) => x.code === 'MISSING_KEY');
  assert.ok(p, JSON.stringify(v.problems));
  assert.match(p.message, /gemma3\.feed_forward_length is missing.*crash/);
});

test('validator: every required gemma3 key is checked', async () => {
  for (const key of [
    'gemma3.context_length',
    'gemma3.embedding_length',
    'gemma3.block_count',
    'gemma3.attention.head_count',
    'gemma3.attention.head_count_kv',
    'gemma3.attention.key_length',
    'gemma3.attention.value_length',
    'gemma3.attention.layer_norm_rms_epsilon',
    'gemma3.rope.freq_base',
    'gemma3.attention.sliding_window',
  ]) {
    const file = await writeMicroGemma(`micro-no-${key}.gguf`, (md) => md.filter(([k]) => k !== key));
    const msgs = await validateGemmaGguf(file);
    assert.ok(
      msgs.some((m) => m.includes(`${key} is missing`)),
      `${key}: ${JSON.stringify(msgs)}`,
    );
  }
  const zero = await writeMicroGemma('micro-zero-ffn.gguf', (md) =>
    md.map(([k, v]): [string, GgufValue] => (k === 'gemma3.feed_forward_length' ? [k, kv.u32(0)] : [k, v])),
  );
  assert.ok((await validateGemmaGguf(zero)).some((m) => /feed_forward_length is 0/.test(m)));
  const wrongType = await writeMicroGemma('micro-str-eps.gguf', (md) =>
    md.map(([k, v]): [string, GgufValue] => (k === 'gemma3.attention.layer_norm_rms_epsilon' ? [k, kv.str('1e-6')] : [k, v])),
  );
  assert.ok((await validateGemmaGguf(wrongType)).some((m) => /layer_norm_rms_epsilon has type STRING/.test(m)));
});

test('validator: a missing tokenizer is reported', async () => {
  const file = await writeMicroGemma('micro-no-tok.gguf', (md) => md.filter(([k]) => !k.startsWith('tokenizer.ggml.')));
  const v = await validateModelFile(file);
  assert.ok(
    v.problems.some((p) => p.code === 'MISSING_TOKENIZER'),
    JSON.stringify(v.problems),
  );
  const noTokens = await writeMicroGemma('micro-no-tokens.gguf', (md) => md.filter(([k]) => k !== 'tokenizer.ggml.tokens'));
  assert.ok((await validateGemmaGguf(noTokens)).some((m) => /no tokenizer vocabulary/.test(m)));
});

test('validator: wrong tensor shapes and missing tensors are reported', async () => {
  const file = tmpFile('micro-bad-shape.gguf');
  const spec = syntheticGemma3Spec({ shape: MICRO_SHAPE, quant: 'Q8_0', seed: 7, vocab: microVocab(300), name: 'micro', shapeLabel: 'micro' });
  const tensors = spec.tensors
    .filter((t) => t.name !== 'blk.1.ffn_up.weight')
    .map((t) => (t.name === 'blk.0.attn_k.weight' ? { ...t, dims: [32, 64], data: () => encodeQ8_0(new Float32Array(32 * 64)) } : t));
  await writeGguf(file, { metadata: spec.metadata, tensors });
  const msgs = await validateGemmaGguf(file);
  assert.ok(msgs.some((m) => /blk\.1\.ffn_up\.weight is missing/.test(m)), JSON.stringify(msgs));
  assert.ok(msgs.some((m) => /blk\.0\.attn_k\.weight has shape \[32, 64\], expected \[32, 32\]/.test(m)), JSON.stringify(msgs));
});

test('reader: corrupt lengths fail fast with a GgufError, without huge allocations', () => {
  const header = (version: number, nTensors: bigint, nKv: bigint): Buffer => {
    const b = Buffer.alloc(24);
    b.write('GGUF', 0, 'latin1');
    b.writeUInt32LE(version, 4);
    b.writeBigUInt64LE(nTensors, 8);
    b.writeBigUInt64LE(nKv, 16);
    return b;
  };
  const hugeKey = Buffer.alloc(8);
  hugeKey.writeBigUInt64LE(0xffffffffffffn);
  const f1 = tmpFile('corrupt-key.gguf');
  fs.writeFileSync(f1, Buffer.concat([header(3, 0n, 1n), hugeKey, Buffer.alloc(64)]));
  assert.throws(() => readGgufHeaderSync(f1), (e: unknown) => e instanceof GgufError && e.code === 'CORRUPT');

  const f2 = tmpFile('corrupt-count.gguf');
  fs.writeFileSync(f2, Buffer.concat([header(3, 2n ** 40n, 0n), Buffer.alloc(64)]));
  assert.throws(() => readGgufHeaderSync(f2), (e: unknown) => e instanceof GgufError && e.code === 'CORRUPT');

  // an array claiming 2^40 strings
  const key = Buffer.alloc(8 + 3 + 4 + 4 + 8);
  key.writeBigUInt64LE(3n, 0);
  key.write('arr', 8, 'latin1');
  key.writeUInt32LE(GgufValueType.ARRAY, 11);
  key.writeUInt32LE(GgufValueType.STRING, 15);
  key.writeBigUInt64LE(2n ** 40n, 19);
  const f3 = tmpFile('corrupt-array.gguf');
  fs.writeFileSync(f3, Buffer.concat([header(3, 0n, 1n), key, Buffer.alloc(64)]));
  assert.throws(() => readGgufHeaderSync(f3), (e: unknown) => e instanceof GgufError && e.code === 'CORRUPT');

  const f4 = tmpFile('v1.gguf');
  fs.writeFileSync(f4, header(1, 0n, 0n));
  assert.throws(() => readGgufHeaderSync(f4), (e: unknown) => e instanceof GgufError && e.code === 'UNSUPPORTED_VERSION');
  const f5 = tmpFile('big-endian.gguf');
  fs.writeFileSync(f5, header(0x03000000, 0n, 0n));
  assert.throws(() => readGgufHeaderSync(f5), /big-endian/);
});

test('the synthetic tiny fixtures validate cleanly and read quickly', async () => {
  const models = await ensureTestModels();
  for (const [quant, file] of Object.entries(models.tiny)) {
    const t0 = performance.now();
    const v = await validateModelFile(file);
    const ms = performance.now() - t0;
    assert.deepEqual(v.problems, [], quant);
    assert.equal(v.synthetic, true);
    const h = v.header!;
    assert.match(String(h.metadata['general.name']), /SYNTHETIC.*not Gemma 3/);
    assert.deepEqual(h.metadata['tokenizer.ggml.tokens'], { kind: 'skipped-array', itemType: GgufValueType.STRING, length: 262144 });
    const embd = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    const expected = quant === 'F16' ? GgmlType.F16 : GgmlType.Q8_0; // Q4_0 files keep token_embd at Q8_0
    assert.equal(embd.type, expected, quant);
    assert.ok(ms < 1000, `header read + validation took ${ms.toFixed(0)} ms`);
  }
});

test('the same seed gives the same weights at every quantization', async () => {
  const models = await ensureTestModels();
  const read = (file: string, name: string): { type: number; bytes: Uint8Array; n: number } => {
    const h = readGgufHeaderSync(file);
    const t = h.tensors.find((x) => x.name === name)!;
    return { type: t.type, bytes: readTensorBytes(file, h.dataOffset, t.offset, t.size!), n: t.dims.reduce((a, b) => a * b, 1) };
  };
  const name = 'blk.1.ffn_down.weight';
  const f16 = read(models.tiny.F16, name);
  const q8 = read(models.tiny.Q8_0, name);
  const q4 = read(models.tiny.Q4_0, name);
  assert.deepEqual([f16.type, q8.type, q4.type], [GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0]);
  const ref = decodeF16(f16.bytes, f16.n);
  // Quantizing the F16 values again reproduces the other files' bytes exactly only if the
  // source values were the same (up to F16 rounding); check the error instead of the bytes.
  const d8 = decodeQ8_0(q8.bytes, q8.n);
  const d4 = decodeQ4_0(q4.bytes, q4.n);
  let e8 = 0;
  let e4 = 0;
  let ss = 0;
  for (let i = 0; i < ref.length; i++) {
    e8 += (d8[i]! - ref[i]!) ** 2;
    e4 += (d4[i]! - ref[i]!) ** 2;
    ss += ref[i]! ** 2;
  }
  assert.ok(Math.sqrt(e8 / ss) < 0.01, `Q8_0 vs F16 ${Math.sqrt(e8 / ss)}`);
  assert.ok(Math.sqrt(e4 / ss) < 0.12, `Q4_0 vs F16 ${Math.sqrt(e4 / ss)}`);
  assert.ok(Math.sqrt(e4 / ss) > 0.02, 'Q4_0 really is quantized');
});

test('validator: an unchanged file is validated once per process; a rewritten one (same path) is validated again', async () => {
  const file = await writeMicroGemma('micro-cached.gguf');
  const a = await validateModelFile(file);
  assert.equal(a.ok, true);
  assert.equal(await validateModelFile(file), a, 'same identity → the kept answer');
  // Cut in place: the size changes, so the kept answer must not be used.
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
  const b = await validateModelFile(file);
  assert.notEqual(b, a);
  assert.equal(b.ok, false);
  assert.equal(b.problems[0]!.code, 'TRUNCATED');
  // Same size, new bytes (a corrupt magic) and a new mtime: validated again.
  const cut = fs.readFileSync(file);
  cut.write('XXXX', 0);
  fs.writeFileSync(file, cut);
  fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal((await validateModelFile(file)).problems[0]!.code, 'NOT_GGUF');
});
