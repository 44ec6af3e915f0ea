// The model manager: registry lookups and overrides, resolution order against a fake home (an
// Ollama store and a node-llama-cpp models folder in a temp folder), Ollama manifests, and the
// loader: malformed files rejected without crashing this process, the tiny synthetic model
// loaded and labelled, shared loads and idle unloading.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { GgufValueType } from '../server/src/gguf/reader';
import { kv, writeGguf } from '../server/src/gguf/writer';
import { DEFAULT_SETTINGS, type Settings } from '../server/src/settings';
import {
  autoThreads,
  chooseThreads,
  disposeSharedLlama,
  downloadUrlFor,
  InvalidModelFileError,
  lookupModel,
  mergedRegistry,
  ModelManager,
  ModelNotFoundError,
  ModelTooLargeError,
  nodeLlamaCppFileName,
  normalizeQuantization,
  parseHfUri,
  UnknownModelError,
  type LoaderEvent,
  type ModelStatus,
  type ResolvedModel,
} from '../server/src/runtime/models';
import { findOllamaModel, ollamaManifestPath, parseOllamaManifest, parseOllamaName } from '../server/src/runtime/models/ollama';
import { ensureTestModels, type TestModels } from './support/models';

let tmp: string;
let models: TestModels;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-models-'));
  models = await ensureTestModels();
});

after(async () => {
  await disposeSharedLlama();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const settingsWith = (s: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, ...s });

/** Resolves when `pred` holds for an event, rejects after `ms`. */
function waitForEvent(mm: ModelManager, pred: (e: LoaderEvent) => boolean, ms: number): Promise<LoaderEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no matching model event within ${ms} ms`));
    }, ms);
    const sub = mm.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e);
    });
  });
}

describe('registry', () => {
  test('built-in entries and their URIs', () => {
    const q8 = lookupModel('gemma-3-270m-it', 'Q8_0');
    assert.equal(q8.file.uri, 'hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf');
    assert.equal(q8.origin, 'builtin');
    assert.deepEqual(q8.file.ollama?.[0], 'gemma3:270m');
    const qat = lookupModel('gemma-3-270m-it', 'qat-q4_0');
    assert.equal(qat.quantization, 'QAT-Q4_0');
    assert.equal(qat.file.uri, 'hf:ggml-org/gemma-3-270m-it-qat-GGUF/gemma-3-270m-it-qat-Q4_0.gguf');
    assert.equal(qat.file.sizeBytes, 241_410_624);
    assert.equal(lookupModel('gemma-3-270m', 'Q8_0').file.uri, 'hf:ggml-org/gemma-3-270m-GGUF/gemma-3-270m-Q8_0.gguf');
    assert.equal(lookupModel('gemma-3-270m', 'QAT-Q4_0').file.uri, 'hf:ggml-org/gemma-3-270m-qat-GGUF/gemma-3-270m-qat-Q4_0.gguf');
    assert.equal(lookupModel('gemma-3-270m-it', undefined).quantization, 'Q8_0', 'the default quantization');
    assert.equal(lookupModel('gemma-3-270m-it', 'Q8_0').file.alternates?.[0]?.sizeBytes, 291_546_144);
  });

  test('quantization names are normalised', () => {
    assert.equal(normalizeQuantization('q8_0'), 'Q8_0');
    assert.equal(normalizeQuantization('QAT_Q4_0'), 'QAT-Q4_0');
    assert.equal(normalizeQuantization(' qat-q4_0 '), 'QAT-Q4_0');
    assert.equal(normalizeQuantization('q4-k-m'), 'Q4_K_M');
  });

  test('unknown ids and quantizations say what exists and how to add it', () => {
    assert.throws(() => lookupModel('gemma-9', 'Q8_0'), (e: unknown) => {
      assert.ok(e instanceof UnknownModelError);
      assert.match(e.message, /unknown model id 'gemma-9'/);
      assert.match(e.message, /gemma-3-270m-it/);
      assert.match(e.message, /contracts\.models/);
      return true;
    });
    assert.throws(() => lookupModel('gemma-3-270m-it', 'Q2_K'), /has no quantization 'Q2_K'. Available: Q8_0, QAT-Q4_0/);
  });

  test('the models setting overrides and adds entries', () => {
    const user = { 'gemma-3-270m-it': { Q8_0: '~/m/my-q8.gguf', F16: 'hf:me/r-GGUF/r-F16.gguf' }, 'my-model': { q4_0: './x.gguf' } };
    const o = lookupModel('gemma-3-270m-it', 'Q8_0', user);
    assert.equal(o.origin, 'settings');
    assert.equal(o.file.uri, '~/m/my-q8.gguf');
    assert.equal(lookupModel('gemma-3-270m-it', 'F16', user).file.uri, 'hf:me/r-GGUF/r-F16.gguf');
    assert.equal(lookupModel('gemma-3-270m-it', 'QAT-Q4_0', user).origin, 'builtin', 'other quantizations stay');
    const mine = lookupModel('my-model', undefined, user);
    assert.equal(mine.quantization, 'Q4_0');
    assert.equal(mine.origin, 'settings');
    assert.ok(mergedRegistry(user).some((m) => m.id === 'my-model' && m.fromSettings));
    assert.equal(lookupModel('gemma-3-270m-it', 'Q8_0').origin, 'builtin', 'the built-in registry is not changed');
  });

  test('hf: URIs → download URLs (HF_ENDPOINT honoured)', () => {
    assert.deepEqual(parseHfUri('hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf'), {
      user: 'ggml-org',
      repo: 'gemma-3-270m-it-GGUF',
      file: 'gemma-3-270m-it-Q8_0.gguf',
      branch: 'main',
    });
    assert.equal(parseHfUri('hf:user/repo'), undefined);
    assert.equal(parseHfUri('hf:user/repo/../x.gguf'), undefined);
    assert.equal(
      downloadUrlFor('hf:ggml-org/gemma-3-270m-it-qat-GGUF/gemma-3-270m-it-qat-Q4_0.gguf', {}),
      'https://huggingface.co/ggml-org/gemma-3-270m-it-qat-GGUF/resolve/main/gemma-3-270m-it-qat-Q4_0.gguf',
    );
    assert.equal(downloadUrlFor('hf:u/r/dir/f.gguf#dev', { HF_ENDPOINT: 'http://127.0.0.1:1234' }), 'http://127.0.0.1:1234/u/r/resolve/dev/dir/f.gguf');
  });

  test('file names agree with node-llama-cpp\'s downloader', async () => {
    // its parser is internal (not in the package exports), so load the file directly
    const require = createRequire(__filename);
    const main = require.resolve('node-llama-cpp');
    const mod = (await import(pathToFileURL(path.join(path.dirname(main), 'utils', 'parseModelUri.js')).href)) as {
      parseModelUri(uri: string): { fullFilename?: string } | null;
    };
    const uris = [
      'hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf',
      'hf:ggml-org/gemma-3-270m-it-qat-GGUF/gemma-3-270m-it-qat-Q4_0.gguf',
      'hf:ggml-org/gemma-3-270m-GGUF/gemma-3-270m-Q8_0.gguf',
      'hf:unsloth/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf',
      'hf:user/repo/sub/dir/model.gguf',
      'hf:user/Some-GGUF/Q8/other.gguf#dev',
      'hf:user/x-GGUF/x-Q8_0/x-Q8_0.gguf',
    ];
    for (const u of uris) assert.equal(nodeLlamaCppFileName(u), mod.parseModelUri(u)?.fullFilename, u);
    assert.equal(nodeLlamaCppFileName('hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf'), 'hf_ggml-org_gemma-3-270m-it-Q8_0.gguf');
  });
});

describe('Ollama store', () => {
  const manifest = (digest: string, size?: number): string =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 490 },
      layers: [
        { mediaType: 'application/vnd.ollama.image.model', digest, ...(size !== undefined ? { size } : {}) },
        { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'d'.repeat(64)}`, size: 358 },
      ],
    });

  test('manifest parsing', () => {
    const l = parseOllamaManifest(manifest(`sha256:${'A'.repeat(64)}`, 291_548_159));
    assert.equal(l.sha256, 'a'.repeat(64));
    assert.equal(l.size, 291_548_159);
    assert.throws(() => parseOllamaManifest('{'), /not JSON/);
    assert.throws(() => parseOllamaManifest('{"layers":[{"mediaType":"application/vnd.ollama.image.template","digest":"x"}]}'), /no layer of type application\/vnd\.ollama\.image\.model/);
    assert.throws(() => parseOllamaManifest(manifest('md5:abc')), /not a sha256 digest/);
  });

  test('names map to manifest paths', () => {
    assert.deepEqual(parseOllamaName('gemma3:270m'), { registry: 'registry.ollama.ai', namespace: 'library', model: 'gemma3', tag: '270m' });
    assert.equal(parseOllamaName('gemma3').tag, 'latest');
    assert.deepEqual(parseOllamaName('hf.co/ggml-org/gemma-3-270m-it-GGUF:Q8_0'), { registry: 'hf.co', namespace: 'ggml-org', model: 'gemma-3-270m-it-GGUF', tag: 'Q8_0' });
    assert.equal(ollamaManifestPath('/m', 'gemma3:270m'), path.join('/m', 'manifests', 'registry.ollama.ai', 'library', 'gemma3', '270m'));
    assert.throws(() => parseOllamaName('../x:y'), /not an Ollama model name/);
  });

  test('a blob with a size other than the manifest\'s is an incomplete pull', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ollama-'));
    const hex = 'e'.repeat(64);
    fs.mkdirSync(path.join(dir, 'blobs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'blobs', `sha256-${hex}`), 'short');
    const mp = ollamaManifestPath(dir, 'gemma3:270m');
    fs.mkdirSync(path.dirname(mp), { recursive: true });
    fs.writeFileSync(mp, manifest(`sha256:${hex}`, 1000));
    const r = findOllamaModel(dir, 'gemma3:270m');
    assert.equal(r.found, false);
    assert.match(r.found ? '' : r.reason, /5 bytes, the manifest says 1000/);
    assert.match((findOllamaModel(dir, 'gemma3:1b') as { reason: string }).reason, /not pulled/);
  });
});

// ---- resolution order --------------------------------------------------------------------------

interface FakeHome {
  home: string;
  workspace: string;
  explicit: string;
  settingsFile: string;
  settingsModelsFile: string;
  ollamaBlob: string;
  ollamaManifest: string;
  nlcFile: string;
}

function sha256File(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** A home with every kind of place holding a (synthetic) model: each place has its own file. */
function makeFakeHome(): FakeHome {
  const home = fs.mkdtempSync(path.join(tmp, 'home-'));
  const workspace = path.join(home, 'ws');
  fs.mkdirSync(path.join(workspace, 'contracts'), { recursive: true });
  const explicit = path.join(workspace, 'contracts', 'pinned.gguf');
  fs.copyFileSync(models.tiny.F16, explicit);
  const settingsFile = path.join(workspace, 'settings-model.gguf');
  fs.copyFileSync(models.tiny.Q4_0, settingsFile);
  const settingsModelsFile = path.join(home, 'mine', 'q8.gguf');
  fs.mkdirSync(path.dirname(settingsModelsFile), { recursive: true });
  fs.copyFileSync(models.tiny.Q8_0, settingsModelsFile);
  // Ollama: blob named by its sha256, manifest for gemma3:270m
  const ollamaDir = path.join(home, '.ollama', 'models');
  const hex = sha256File(models.tiny.Q8_0);
  const ollamaBlob = path.join(ollamaDir, 'blobs', `sha256-${hex}`);
  fs.mkdirSync(path.dirname(ollamaBlob), { recursive: true });
  fs.copyFileSync(models.tiny.Q8_0, ollamaBlob);
  const ollamaManifest = ollamaManifestPath(ollamaDir, 'gemma3:270m');
  fs.mkdirSync(path.dirname(ollamaManifest), { recursive: true });
  fs.writeFileSync(
    ollamaManifest,
    JSON.stringify({
      schemaVersion: 2,
      layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: fs.statSync(ollamaBlob).size }],
    }),
  );
  const nlcFile = path.join(home, '.node-llama-cpp', 'models', 'hf_ggml-org_gemma-3-270m-it-Q8_0.gguf');
  fs.mkdirSync(path.dirname(nlcFile), { recursive: true });
  fs.copyFileSync(models.tiny.Q8_0, nlcFile);
  return { home, workspace, explicit, settingsFile, settingsModelsFile, ollamaBlob, ollamaManifest, nlcFile };
}

describe('resolution', () => {
  let h: FakeHome;
  before(() => {
    h = makeFakeHome();
  });

  const resolveWith = async (settings: Partial<Settings>, spec: { id?: string; quantization?: string; file?: string; fileBaseDir?: string }, opts: { allowDownload?: boolean } = {}, env: NodeJS.ProcessEnv = {}): Promise<ResolvedModel> => {
    const mm = new ModelManager({ settings: settingsWith(settings), workspaceRoot: h.workspace, home: h.home, env });
    try {
      return await mm.resolve({ id: spec.id ?? 'gemma-3-270m-it', quantization: spec.quantization ?? 'Q8_0', ...(spec.file ? { file: spec.file } : {}), ...(spec.fileBaseDir ? { fileBaseDir: spec.fileBaseDir } : {}) }, opts);
    } finally {
      await mm.dispose();
    }
  };

  test('explicit file > modelFile setting > models setting > Ollama > node-llama-cpp folder > (refused) download', async () => {
    const all: Partial<Settings> = {
      modelFile: 'settings-model.gguf',
      models: { 'gemma-3-270m-it': { Q8_0: '~/mine/q8.gguf' } },
      allowDownload: false,
    };
    const contractDir = path.join(h.workspace, 'contracts');

    const explicit = await resolveWith(all, { file: 'pinned.gguf', fileBaseDir: contractDir });
    assert.equal(explicit.source, 'explicit');
    assert.equal(explicit.path, h.explicit);
    assert.equal(explicit.quantization, 'F16', 'a file named directly reports its own quantization');

    const fromModelFile = await resolveWith(all, {});
    assert.equal(fromModelFile.source, 'settings');
    assert.equal(fromModelFile.path, h.settingsFile);

    const fromModels = await resolveWith({ ...all, modelFile: '' }, {});
    assert.equal(fromModels.source, 'settings');
    assert.equal(fromModels.path, h.settingsModelsFile, '~ is expanded against the injected home');

    const fromOllama = await resolveWith({ allowDownload: false }, {});
    assert.equal(fromOllama.source, 'ollama');
    assert.equal(fromOllama.path, h.ollamaBlob);
    assert.equal(fromOllama.identity, `sha256:${sha256File(h.ollamaBlob)}`, 'Ollama blobs are content-addressed');
    assert.equal(fromOllama.uri, 'hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf');

    fs.renameSync(h.ollamaManifest, `${h.ollamaManifest}.off`);
    try {
      const fromNlc = await resolveWith({ allowDownload: false }, {});
      assert.equal(fromNlc.source, 'node-llama-cpp');
      assert.equal(fromNlc.path, h.nlcFile);
      assert.match(fromNlc.identity, /^file:.*:\d+:\d+$/);

      fs.renameSync(h.nlcFile, `${h.nlcFile}.partial`);
      try {
        await assert.rejects(resolveWith({ allowDownload: true }, {}, { allowDownload: false }), (e: unknown) => {
          assert.ok(e instanceof ModelNotFoundError);
          const msg = e.message;
          assert.match(msg, /gemma-3-270m-it Q8_0 \(hf:ggml-org\/gemma-3-270m-it-GGUF\/gemma-3-270m-it-Q8_0\.gguf\)/);
          assert.match(msg, /not allowed for this run/);
          assert.ok(msg.includes(h.ollamaManifest), 'names the Ollama manifest it looked for');
          assert.ok(msg.includes(h.nlcFile), 'names the node-llama-cpp file it looked for');
          assert.match(msg, /incomplete download/);
          assert.match(msg, /--model FILE/);
          assert.match(msg, /contracts\.modelFile/);
          assert.match(msg, /model\.file/);
          assert.ok(e.looked.length >= 3);
          return true;
        });
        await assert.rejects(resolveWith({ allowDownload: false }, {}), /contracts\.allowDownload is false/);
      } finally {
        fs.renameSync(`${h.nlcFile}.partial`, h.nlcFile);
      }
    } finally {
      fs.renameSync(`${h.ollamaManifest}.off`, h.ollamaManifest);
    }
  });

  test('OLLAMA_MODELS and the modelsDir setting move the stores', async () => {
    const other = fs.mkdtempSync(path.join(tmp, 'stores-'));
    const ollamaDir = path.join(other, 'ollama');
    fs.cpSync(path.join(h.home, '.ollama', 'models'), ollamaDir, { recursive: true });
    const empty = fs.mkdtempSync(path.join(tmp, 'emptyhome-'));
    const mm = new ModelManager({ settings: settingsWith({ allowDownload: false }), workspaceRoot: empty, home: empty, env: { OLLAMA_MODELS: ollamaDir } });
    try {
      const r = await mm.resolve({ id: 'gemma-3-270m-it', quantization: 'Q8_0' });
      assert.equal(r.source, 'ollama');
      assert.ok(r.path.startsWith(ollamaDir));
    } finally {
      await mm.dispose();
    }
    const modelsDir = path.join(other, 'my-models');
    fs.mkdirSync(modelsDir);
    fs.copyFileSync(models.tiny.Q4_0, path.join(modelsDir, 'hf_ggml-org_gemma-3-270m-it-qat-Q4_0.gguf'));
    const mm2 = new ModelManager({ settings: settingsWith({ allowDownload: false, modelsDir }), workspaceRoot: empty, home: empty, env: {} });
    try {
      const r = await mm2.resolve({ id: 'gemma-3-270m-it', quantization: 'QAT-Q4_0' });
      assert.equal(r.source, 'node-llama-cpp');
      assert.equal(r.quantization, 'QAT-Q4_0');
      assert.equal(r.fileType, 'Q4_0');
    } finally {
      await mm2.dispose();
    }
  });

  test('an Ollama model of another quantization is skipped, with the reason', async () => {
    const home = fs.mkdtempSync(path.join(tmp, 'qhome-'));
    const ollamaDir = path.join(home, '.ollama', 'models');
    const hex = sha256File(models.tiny.Q8_0);
    fs.mkdirSync(path.join(ollamaDir, 'blobs'), { recursive: true });
    fs.copyFileSync(models.tiny.Q8_0, path.join(ollamaDir, 'blobs', `sha256-${hex}`));
    const mp = ollamaManifestPath(ollamaDir, 'gemma3:270m-it-qat');
    fs.mkdirSync(path.dirname(mp), { recursive: true });
    fs.writeFileSync(mp, JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}` }] }));
    const mm = new ModelManager({ settings: settingsWith({ allowDownload: false }), workspaceRoot: home, home, env: {} });
    try {
      await assert.rejects(mm.resolve({ id: 'gemma-3-270m-it', quantization: 'QAT-Q4_0' }), (e: unknown) => {
        assert.ok(e instanceof ModelNotFoundError);
        assert.match(e.message, /Ollama gemma3:270m-it-qat: .* \(is Q8_0, not QAT-Q4_0\)/);
        return true;
      });
    } finally {
      await mm.dispose();
    }
  });

  test('updateSettings applies to the next resolution', async () => {
    const mm = new ModelManager({ settings: settingsWith({ allowDownload: false }), workspaceRoot: h.workspace, home: h.home, env: {} });
    try {
      assert.equal((await mm.resolve({ id: 'gemma-3-270m-it', quantization: 'Q8_0' })).source, 'ollama');
      mm.updateSettings(settingsWith({ allowDownload: false, modelFile: h.settingsFile }));
      const r = await mm.resolve({ id: 'gemma-3-270m-it', quantization: 'Q8_0' });
      assert.equal(r.source, 'settings');
      assert.equal(r.path, h.settingsFile);
    } finally {
      await mm.dispose();
    }
  });

  test('a missing or malformed explicit file is an error, not a fallback', async () => {
    await assert.rejects(resolveWith({}, { file: 'nope.gguf' }), (e: unknown) => e instanceof ModelNotFoundError && /does not exist/.test(e.message));
    const bad = path.join(h.workspace, 'bad.gguf');
    fs.writeFileSync(bad, '<html>404</html>');
    await assert.rejects(resolveWith({}, { file: bad }), (e: unknown) => {
      assert.ok(e instanceof InvalidModelFileError);
      assert.match(e.message, /not a GGUF file/);
      return true;
    });
  });

  test('synthetic models are labelled SYNTHETIC wherever they come from', async () => {
    for (const r of [await resolveWith({}, { file: h.explicit }), await resolveWith({ allowDownload: false }, {})]) {
      assert.equal(r.synthetic, true);
      assert.match(r.label, /^SYNTHETIC tiny gemma3 \S+ \(random weights, not Gemma 3\)$/);
    }
  });
});

// ---- loading -----------------------------------------------------------------------------------

async function makeBadFiles(dir: string): Promise<Record<'badMagic' | 'truncated' | 'llamaArch' | 'noFeedForward', string>> {
  const src = fs.readFileSync(models.tiny.Q8_0);
  const badMagic = path.join(dir, 'bad-magic.gguf');
  fs.writeFileSync(badMagic, Buffer.concat([Buffer.from('PK\x03\x04'), src.subarray(4, 4096)]));
  const truncated = path.join(dir, 'truncated.gguf');
  fs.writeFileSync(truncated, src.subarray(0, Math.floor(src.length * 0.6)));
  // the same header with one key renamed: llama.cpp would assert on this file and abort
  const key = Buffer.from('gemma3.feed_forward_length');
  const at = src.indexOf(key);
  assert.ok(at > 0);
  const patched = Buffer.from(src);
  patched[at + key.length - 1] = 'X'.charCodeAt(0);
  const noFeedForward = path.join(dir, 'no-ffn.gguf');
  fs.writeFileSync(noFeedForward, patched);
  const llamaArch = path.join(dir, 'llama-arch.gguf');
  await writeGguf(llamaArch, {
    metadata: [
      ['general.architecture', kv.str('llama')],
      ['llama.context_length', kv.u32(128)],
      ['llama.embedding_length', kv.u32(32)],
      ['llama.block_count', kv.u32(1)],
      ['tokenizer.ggml.model', kv.str('llama')],
      ['tokenizer.ggml.tokens', kv.arr(GgufValueType.STRING, ['<unk>', '<s>', '</s>', 'a'])],
    ],
    tensors: [{ name: 'token_embd.weight', dims: [32, 4], type: 0, data: new Uint8Array(32 * 4 * 4) }],
  });
  return { badMagic, truncated, llamaArch, noFeedForward };
}

function fakeResolved(p: string, label: string): ResolvedModel {
  const st = fs.statSync(p);
  return {
    path: p,
    id: 'test',
    quantization: 'Q8_0',
    fileType: 'Q8_0',
    source: 'explicit',
    sizeBytes: st.size,
    synthetic: false,
    label,
    identity: `file:${p}:${st.size}:${Math.trunc(st.mtimeMs)}`,
    looked: [],
  };
}

describe('loader', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(tmp, 'load-'));
  });

  test('rejects bad magic, truncated, llama-architecture and key-missing files before llama.cpp sees them', async () => {
    const bad = await makeBadFiles(dir);
    const mm = new ModelManager({ settings: settingsWith(), workspaceRoot: dir, home: dir, env: {} });
    const events: LoaderEvent[] = [];
    mm.onEvent((e) => events.push(e));
    const expect: Record<keyof typeof bad, RegExp> = {
      badMagic: /not a GGUF file.*zip archive/,
      truncated: /truncated/,
      llamaArch: /unsupported architecture 'llama'/,
      noFeedForward: /gemma3\.feed_forward_length is missing/,
    };
    try {
      for (const [name, file] of Object.entries(bad) as Array<[keyof typeof bad, string]>) {
        // through the loader directly (as if the file changed after resolution)…
        await assert.rejects(mm.acquire(fakeResolved(file, name)), (e: unknown) => {
          assert.ok(e instanceof InvalidModelFileError, `${name}: ${String(e)}`);
          assert.match(e.message, expect[name]);
          assert.ok(e.message.includes(file));
          return true;
        });
        // …and through resolution of an explicit file
        await assert.rejects(mm.resolve({ id: 'x', file }), (e: unknown) => e instanceof InvalidModelFileError && expect[name].test(e.message));
      }
      assert.equal(events.filter((e) => e.type === 'loading').length, 0, 'llama.cpp was never asked to load them');
      const s = mm.status();
      assert.equal(s.state, 'error');
    } finally {
      await mm.dispose();
    }
  });

  test('a model larger than the free memory is refused with a clear error', async () => {
    const mm = new ModelManager({ settings: settingsWith(), workspaceRoot: dir, home: dir, env: {}, freeMemory: () => 50 * 1024 * 1024 });
    try {
      const r = await mm.resolve({ id: 'x', file: models.tiny.Q8_0 });
      await assert.rejects(mm.acquire(r), (e: unknown) => {
        assert.ok(e instanceof ModelTooLargeError);
        assert.match(e.message, /^SYNTHETIC .* needs about \d+ MB of memory to load but only 50 MB is available/);
        return true;
      });
    } finally {
      await mm.dispose();
    }
  });

  test('loads the tiny synthetic model once for concurrent acquires, reports it as synthetic, unloads when idle', async () => {
    const logs: string[] = [];
    const mm = new ModelManager({
      // fractional seconds keep the test short; the setting itself is whole seconds
      settings: settingsWith({ idleUnloadSeconds: 0.3, threads: 0 }),
      workspaceRoot: dir,
      home: dir,
      env: {},
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    const events: LoaderEvent[] = [];
    const states: ModelStatus['state'][] = [];
    mm.onEvent((e) => events.push(e));
    mm.onStatus((s) => states.push(s.state));
    try {
      const r = await mm.resolve({ id: 'gemma-3-270m-it', file: models.tiny.Q8_0 });
      assert.equal(r.synthetic, true);
      assert.match(r.label, /^SYNTHETIC tiny gemma3 Q8_0/);
      const t0 = performance.now();
      const [a, b] = await Promise.all([mm.acquire(r), mm.acquire(r)]);
      const loadMs = performance.now() - t0;
      assert.equal(a.model, b.model, 'one load shared');
      assert.equal(events.filter((e) => e.type === 'loaded').length, 1);
      assert.equal(a.threads, chooseThreads(0, a.llama.cpuMathCores).threads);
      assert.equal(a.llama.maxThreads, a.threads);
      assert.equal(a.resolved.synthetic, true);
      assert.ok((a.model.tokenize('<start_of_turn>user\nhi', true) as number[]).includes(105), 'the tokenizer works');
      const s = mm.status();
      assert.equal(s.state, 'ready');
      assert.ok(s.state === 'ready' && s.synthetic && /^SYNTHETIC/.test(s.model));
      assert.ok(states.includes('loading') && states.includes('ready'));
      logs.push(`info cold acquire ${loadMs.toFixed(0)} ms`);

      // a third acquire while loaded costs nothing
      const c = await mm.acquire(r);
      assert.equal(c.model, a.model);
      assert.equal(c.loadMs, 0);

      // releasing all three starts the idle timer; the unload is awaited as an event, with a deadline
      const unloaded = waitForEvent(mm, (e) => e.type === 'unloaded', 10_000);
      a.release();
      a.release(); // idempotent
      b.release();
      assert.equal(mm.loadedModels()[0]?.refs, 1);
      c.release();
      const e = await unloaded;
      assert.equal(e.type === 'unloaded' && e.reason, 'idle');
      assert.equal(a.model.disposed, true);
      assert.equal(mm.status().state, 'not-loaded');
      assert.equal(mm.loadedModels().length, 0);

      // and loads again on demand
      const d = await mm.acquire(r);
      assert.notEqual(d.model, a.model);
      assert.equal(events.filter((x) => x.type === 'loaded').length, 2);
      d.release();
    } finally {
      await mm.dispose();
    }
    assert.ok(!logs.some((l) => l.startsWith('error')), logs.join('\n'));
  });

  test('acquire during the idle wait cancels the unload', async () => {
    const mm = new ModelManager({ settings: settingsWith({ idleUnloadSeconds: 0.2 }), workspaceRoot: dir, home: dir, env: {} });
    const events: LoaderEvent[] = [];
    mm.onEvent((e) => events.push(e));
    try {
      const r = await mm.resolve({ id: 'x', file: models.tiny.Q4_0 });
      const a = await mm.acquire(r);
      a.release();
      const b = await mm.acquire(r);
      assert.equal(b.model, a.model);
      // wait past the idle time while holding the handle: no unload may happen
      const released = waitForEvent(mm, (e) => e.type === 'released' && e.refs === 0, 5_000);
      const unloaded = waitForEvent(mm, (e) => e.type === 'unloaded', 5_000);
      setTimeout(() => b.release(), 500).unref();
      await released;
      await unloaded;
      const lastRelease = events.map((e) => e.type === 'released' && e.refs === 0).lastIndexOf(true);
      assert.ok(events.findIndex((e) => e.type === 'unloaded') > lastRelease, 'no unload while a handle was held');
      assert.equal(events.filter((e) => e.type === 'loaded').length, 1);
      assert.equal(events.filter((e) => e.type === 'unloaded').length, 1);
      assert.equal(b.model.disposed, true);
    } finally {
      await mm.dispose();
    }
  });
});

describe('threads', () => {
  test('auto: 1 thread on 1–2 cores, one core left free above that, at most 4', () => {
    assert.deepEqual([1, 2, 3, 4, 6, 8, 16].map(autoThreads), [1, 1, 2, 3, 4, 4, 4]);
  });
  test('an explicit setting is kept but never above the cores', () => {
    assert.deepEqual(chooseThreads(2, 8), { threads: 2 });
    const c = chooseThreads(4, 2);
    assert.equal(c.threads, 2);
    assert.match(c.note ?? '', /has 2 physical cores/);
    assert.equal(chooseThreads(0, 2).threads, 1);
  });
});
