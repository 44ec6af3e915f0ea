// The built-in model registry (model id + quantization → where to get the GGUF file) merged
// with the user's `models` setting, plus the URI helpers every other part of the model manager
// uses: hf: URIs → download URLs and → the file names node-llama-cpp's downloader saves them as.
import * as os from 'node:os';
import * as path from 'node:path';

/** One downloadable GGUF file. */
export interface RegistryFile {
  /** `hf:user/repo/path/file.gguf`, an https:// URL, or (user entries only) a local path */
  uri: string;
  /** exact size in bytes, when known: a download of another size is rejected */
  sizeBytes?: number;
  /** lowercase hex sha256 of the whole file, when known: a download with another hash is rejected */
  sha256?: string;
  /** Ollama model names (`name:tag`) whose model blob may be this quantization (checked from the header) */
  ollama?: string[];
  /**
   * Other published files with the same weights and quantization. Used only when the user
   * already has one of them on disk; never downloaded.
   */
  alternates?: RegistryFile[];
}

export interface RegistryModel {
  id: string;
  /** for people: "Gemma 3 270M (instruction tuned)" */
  title: string;
  defaultQuantization: string;
  files: Record<string, RegistryFile>;
  /** true for entries that came (at least partly) from the user's settings */
  fromSettings?: boolean;
}

/** Where a registry lookup ended up. */
export interface RegistryLookup {
  id: string;
  quantization: string;
  file: RegistryFile;
  /** 'settings' when the user's `models` setting supplied this quantization */
  origin: 'builtin' | 'settings';
  title: string;
}

// Sizes and hashes: it-qat-Q4_0 241,410,624 bytes (NOTES.md); the sha256 values and the ggml-org
// it-Q8_0 size (291,545,600) were each found in two independent public pinning records (a Nix
// fetchurl hash and a release provenance table; two CI model pins). unsloth's it-Q8_0
// (291,546,144) and it-Q4_K_M (253,115,424) sizes are from NOTES.md.
const BUILTIN: readonly RegistryModel[] = [
  {
    id: 'gemma-3-270m-it',
    title: 'Gemma 3 270M (instruction tuned)',
    defaultQuantization: 'Q8_0',
    files: {
      Q8_0: {
        uri: 'hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf',
        sizeBytes: 291_545_600,
        sha256: '0ef57d2c838458a1952664260dcba38e5bdda37494f3af732f06e4add24068e3',
        ollama: ['gemma3:270m', 'gemma3:270m-it-q8_0'],
        alternates: [{ uri: 'hf:unsloth/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf', sizeBytes: 291_546_144 }],
      },
      'QAT-Q4_0': {
        uri: 'hf:ggml-org/gemma-3-270m-it-qat-GGUF/gemma-3-270m-it-qat-Q4_0.gguf',
        sizeBytes: 241_410_624,
        sha256: '3626e245220ca4a1c5911eb4010b3ecb7bdbf5bc53c79403c21355354d1e2dc6',
        ollama: ['gemma3:270m-it-qat'],
      },
      Q4_K_M: {
        uri: 'hf:unsloth/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q4_K_M.gguf',
        sizeBytes: 253_115_424,
      },
    },
  },
  {
    id: 'gemma-3-270m',
    title: 'Gemma 3 270M (pretrained base model)',
    defaultQuantization: 'Q8_0',
    files: {
      Q8_0: { uri: 'hf:ggml-org/gemma-3-270m-GGUF/gemma-3-270m-Q8_0.gguf' },
      'QAT-Q4_0': { uri: 'hf:ggml-org/gemma-3-270m-qat-GGUF/gemma-3-270m-qat-Q4_0.gguf' },
    },
  },
];

/** The built-in registry (a copy: callers may not change it). */
export function builtinRegistry(): RegistryModel[] {
  return BUILTIN.map(cloneModel);
}

function cloneModel(m: RegistryModel): RegistryModel {
  const files: Record<string, RegistryFile> = {};
  for (const [q, f] of Object.entries(m.files)) files[q] = cloneFile(f);
  return { ...m, files };
}

function cloneFile(f: RegistryFile): RegistryFile {
  return {
    ...f,
    ...(f.ollama ? { ollama: [...f.ollama] } : {}),
    ...(f.alternates ? { alternates: f.alternates.map(cloneFile) } : {}),
  };
}

/**
 * Canonical spelling of a quantization name: upper case, `_` inside, `-` only after QAT
 * (`q8_0` → `Q8_0`, `qat-q4_0` / `QAT_Q4_0` → `QAT-Q4_0`, `f16` → `F16`).
 */
export function normalizeQuantization(q: string): string {
  const up = q.trim().toUpperCase();
  const m = /^QAT[-_]?(.+)$/.exec(up);
  return m ? `QAT-${m[1]!.replace(/-/g, '_')}` : up.replace(/-/g, '_');
}

// Files that came from the user's settings (identity set, so lookups can say where an entry came from).
const userFiles = new WeakSet<RegistryFile>();

/** Built-in registry merged with the user's `models` setting (model id → { quantization → file or URI }). */
export function mergedRegistry(userModels: Record<string, Record<string, string>> = {}): RegistryModel[] {
  const out = builtinRegistry();
  const byId = new Map(out.map((m) => [m.id, m]));
  for (const [id, quants] of Object.entries(userModels)) {
    let model = byId.get(id);
    if (!model) {
      const first = Object.keys(quants)[0];
      model = { id, title: id, defaultQuantization: first ? normalizeQuantization(first) : 'Q8_0', files: {} };
      out.push(model);
      byId.set(id, model);
    }
    model.fromSettings = true;
    for (const [q, uri] of Object.entries(quants)) {
      if (typeof uri !== 'string' || uri.trim() === '') continue;
      const file: RegistryFile = { uri: uri.trim() };
      model.files[normalizeQuantization(q)] = file;
      userFiles.add(file);
    }
  }
  return out;
}

export class UnknownModelError extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly quantization: string,
  ) {
    super(message);
    this.name = 'UnknownModelError';
  }
}

/** Finds `id` + `quantization` in the merged registry; throws UnknownModelError listing what exists. */
export function lookupModel(id: string, quantization: string | undefined, userModels: Record<string, Record<string, string>> = {}): RegistryLookup {
  const registry = mergedRegistry(userModels);
  const model = registry.find((m) => m.id === id) ?? registry.find((m) => m.id.toLowerCase() === id.toLowerCase());
  if (!model) {
    const known = registry.map((m) => m.id).join(', ');
    throw new UnknownModelError(
      `unknown model id '${id}'. Known ids: ${known}. Add it to the contracts.models setting ({ "${id}": { "Q8_0": "path/to/file.gguf" } }) or name a file with model.file.`,
      id,
      quantization ?? '',
    );
  }
  const quant = normalizeQuantization(quantization ?? model.defaultQuantization);
  const file = model.files[quant];
  if (!file) {
    throw new UnknownModelError(
      `model '${model.id}' has no quantization '${quant}'. Available: ${Object.keys(model.files).join(', ')}. Add one with the contracts.models setting ({ "${model.id}": { "${quant}": "path/to/file.gguf" } }).`,
      model.id,
      quant,
    );
  }
  return { id: model.id, quantization: quant, file, origin: userFiles.has(file) ? 'settings' : 'builtin', title: model.title };
}

// ---- URIs --------------------------------------------------------------------------------------

export interface HfUri {
  user: string;
  repo: string;
  /** path of the file inside the repository */
  file: string;
  branch: string;
}

/** True for `hf:`/`huggingface:` URIs and http(s) URLs: things that are downloaded, not paths. */
export function isRemoteUri(s: string): boolean {
  return /^(hf|huggingface):/i.test(s) || /^https?:\/\//i.test(s);
}

/** Parses `hf:user/repo/path/to/file.gguf[#branch]`. Returns undefined for anything else. */
export function parseHfUri(uri: string): HfUri | undefined {
  const m = /^(?:hf|huggingface):(?:\/\/)?(.*)$/i.exec(uri.trim());
  if (!m) return undefined;
  let rest = m[1]!;
  let branch = 'main';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    branch = rest.slice(hash + 1) || 'main';
    rest = rest.slice(0, hash);
  }
  const [user, repo, ...fileParts] = rest.split('/');
  if (!user || !repo || fileParts.length === 0 || fileParts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return { user, repo, file: fileParts.join('/'), branch };
}

/** Base URL of the Hugging Face hub: `HF_ENDPOINT` / `MODEL_ENDPOINT` as node-llama-cpp honours them. */
export function huggingFaceEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const e = env['HF_ENDPOINT'] || env['MODEL_ENDPOINT'] || 'https://huggingface.co/';
  return e.endsWith('/') ? e : `${e}/`;
}

/** `hf:user/repo/file` → `https://huggingface.co/user/repo/resolve/main/file`; URLs pass through. */
export function downloadUrlFor(uri: string, env: NodeJS.ProcessEnv = process.env): string {
  if (/^https?:\/\//i.test(uri)) return uri;
  const hf = parseHfUri(uri);
  if (!hf) throw new Error(`not a downloadable model URI: ${uri} (expected hf:user/repo/file.gguf or an https:// URL)`);
  const file = hf.file.split('/').map(encodeURIComponent).join('/');
  return `${huggingFaceEndpoint(env)}${encodeURIComponent(hf.user)}/${encodeURIComponent(hf.repo)}/resolve/${encodeURIComponent(hf.branch)}/${file}`;
}

// node-llama-cpp runs file names through `filenamify` (reserved characters → '!').
function filenamify(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[<>:"/\\|?*\u0000-\u001f]/g, '!').replace(/^\.+$/, '!');
}

/**
 * The name node-llama-cpp's downloader (createModelDownloader / resolveModelFile, 3.x) saves a
 * file URI as, so that a model pulled with `npx node-llama-cpp pull <uri>` is found and one we
 * download is found by node-llama-cpp: `hf_<user>_[<repo>_][<branch>_][<dirs>_]<file>`, the repo
 * left out when the file name starts with the repo name minus `-GGUF`.
 * `hf:ggml-org/gemma-3-270m-it-GGUF/gemma-3-270m-it-Q8_0.gguf` → `hf_ggml-org_gemma-3-270m-it-Q8_0.gguf`.
 * For https URLs: the last path segment.
 */
export function nodeLlamaCppFileName(uri: string): string {
  const hf = parseHfUri(uri);
  if (!hf) {
    const u = new URL(uri);
    const last = decodeURIComponent(u.pathname.split('/').pop() ?? '');
    const gguf = last.toLowerCase().indexOf('.gguf');
    return filenamify(gguf >= 0 ? last.slice(0, gguf + 5) : last || 'model.gguf');
  }
  const parts = hf.file.split('/');
  const fileName = filenamify(parts.pop()!);
  let dirs = parts;
  const prefix = ['hf', filenamify(hf.user)];
  const base = (s: string): string => s.toLowerCase().replace(/\.gguf$/, '');
  const repoMatches = hf.repo.toLowerCase().endsWith('-gguf') && base(fileName).startsWith(hf.repo.slice(0, -5).toLowerCase());
  if (!repoMatches || hf.branch !== 'main') prefix.push(filenamify(hf.repo));
  if (hf.branch !== 'main') prefix.push(filenamify(hf.branch));
  if (dirs.length > 0 && base(fileName) === dirs[dirs.length - 1]!.toLowerCase()) dirs = dirs.slice(0, -1);
  if (dirs.length > 0) prefix.push(filenamify(dirs.join('__')));
  return `${prefix.join('_')}_${fileName}`;
}

/** Expands a leading `~` and makes a path absolute against `base`. */
export function expandPath(p: string, base: string, home: string = os.homedir()): string {
  const t = p.trim();
  const expanded = t === '~' ? home : t.startsWith('~/') || t.startsWith('~\\') ? path.join(home, t.slice(2)) : t;
  return path.resolve(base, expanded);
}
