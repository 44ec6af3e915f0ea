// Model resolution: which GGUF file a (model id, quantization) or an explicit file means here.
// Order: an explicit file (contract `model.file`, CLI `--model`) → the `modelFile` setting →
// the `models` setting → models the user already has (Ollama's store, node-llama-cpp's models
// folder) → a download, only when allowed. Partial downloads are never picked up.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateModelFile, type ModelValidation } from '../../gguf/reader';
import type { Settings } from '../../settings';
import { downloadFile, DownloadError, partialPathFor, type DownloadProgress } from './download';
import { findOllamaModel, ollamaModelsDir } from './ollama';
import {
  downloadUrlFor,
  expandPath,
  huggingFaceEndpoint,
  isRemoteUri,
  lookupModel,
  nodeLlamaCppFileName,
  normalizeQuantization,
  type RegistryFile,
} from './registry';

export interface ModelSpec {
  /** registry id (built-in or from the `models` setting), e.g. gemma-3-270m-it */
  id: string;
  /** e.g. Q8_0, QAT-Q4_0; default: the model's default quantization */
  quantization?: string;
  /** a GGUF path, or an hf:/https URI, that overrides the registry (contract model.file, CLI --model); `{quant}` in it is replaced by the quantization */
  file?: string;
  /** folder a relative `file` is relative to (the contract's folder); default: the workspace root */
  fileBaseDir?: string;
}

export type ModelSource = 'explicit' | 'settings' | 'ollama' | 'node-llama-cpp' | 'download';

export interface ResolvedModel {
  path: string;
  id: string;
  /** the quantization asked for; for a file named directly, the one its header says */
  quantization: string;
  /** the quantization from the file's header (general.file_type), e.g. Q8_0, Q4_0 */
  fileType: string;
  source: ModelSource;
  /** the hf:/https URI the file comes (or would come) from, when there is one */
  uri?: string;
  sizeBytes: number;
  /** true for the random-weight test models (metadata prompt_contracts.synthetic = true) */
  synthetic: boolean;
  /** for people; starts with SYNTHETIC for synthetic models */
  label: string;
  /** stable cache key: `sha256:<hex>` for content-addressed files (Ollama), else `file:<path>:<size>:<mtimeMs>` */
  identity: string;
  /** sha256 of the file when it is known (Ollama digest, or verified by the download) */
  sha256?: string;
  /** where resolution looked before finding it (for logs) */
  looked: LookedAt[];
}

export interface LookedAt {
  place: string;
  path: string;
  result: string;
}

export interface ResolveContext {
  settings: Settings;
  workspaceRoot: string;
  home: string;
  env: NodeJS.ProcessEnv;
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

export interface ResolveOptions {
  /** default: the allowDownload setting; the setting being false always wins */
  allowDownload?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  downloadRetries?: number;
}

const HOW_TO_POINT_AT_A_FILE =
  'To use a GGUF file you already have: pass --model FILE to the CLI, set contracts.modelFile in the settings, or set model.file in the contract.';

/** The model could not be found anywhere it was looked for, and was not (or could not be) downloaded. */
export class ModelNotFoundError extends Error {
  constructor(
    message: string,
    readonly spec: ModelSpec,
    readonly looked: LookedAt[],
    readonly uri?: string,
  ) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}

/** A file was found but is not a GGUF that can be loaded as Gemma 3 (corrupt, truncated, other architecture). */
export class InvalidModelFileError extends Error {
  constructor(
    readonly filePath: string,
    readonly problems: string[],
    readonly origin: string,
  ) {
    super(`${origin} ${filePath} cannot be used: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more problems)` : ''}`);
    this.name = 'InvalidModelFileError';
  }
}

/** node-llama-cpp's models folder: the `modelsDir` setting, else `~/.node-llama-cpp/models`. */
export function modelsDirFor(ctx: Pick<ResolveContext, 'settings' | 'workspaceRoot' | 'home'>): string {
  const s = ctx.settings.modelsDir.trim();
  return s ? expandPath(s, ctx.workspaceRoot, ctx.home) : path.join(ctx.home, '.node-llama-cpp', 'models');
}

export async function resolveModel(spec: ModelSpec, ctx: ResolveContext, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const looked: LookedAt[] = [];

  // 1. a file named directly
  if (spec.file && spec.file.trim() !== '') {
    // `{quant}` picks one file per quantization: model.file: ./my-model-{quant}.gguf
    const f = spec.file.trim().replaceAll('{quant}', spec.quantization ?? '');
    if (isRemoteUri(f)) return resolveUri({ uri: f }, spec, 'explicit', f, ctx, opts, looked);
    const p = expandPath(f, spec.fileBaseDir ?? ctx.workspaceRoot, ctx.home);
    return describeExplicit(p, spec, 'explicit', 'model.file / --model', looked);
  }
  if (ctx.settings.modelFile.trim() !== '') {
    const f = ctx.settings.modelFile.trim();
    if (isRemoteUri(f)) return resolveUri({ uri: f }, spec, 'settings', `${f} (contracts.modelFile)`, ctx, opts, looked);
    return describeExplicit(expandPath(f, ctx.workspaceRoot, ctx.home), spec, 'settings', 'contracts.modelFile', looked);
  }

  // 2. the registry, with the user's `models` setting merged in
  const entry = lookupModel(spec.id, spec.quantization, ctx.settings.models);
  const resolvedSpec: ModelSpec = { ...spec, id: entry.id, quantization: entry.quantization };
  if (entry.origin === 'settings' && !isRemoteUri(entry.file.uri)) {
    const p = expandPath(entry.file.uri, ctx.workspaceRoot, ctx.home);
    return describeExplicit(p, resolvedSpec, 'settings', `contracts.models["${entry.id}"]["${entry.quantization}"]`, looked, entry.title);
  }
  const what = `${entry.id} ${entry.quantization} (${entry.file.uri})`;
  return resolveUri(entry.file, resolvedSpec, entry.origin === 'settings' ? 'settings' : 'registry', what, ctx, opts, looked, entry.title);
}

async function describeExplicit(
  p: string,
  spec: ModelSpec,
  source: ModelSource,
  origin: string,
  looked: LookedAt[],
  title?: string,
): Promise<ResolvedModel> {
  looked.push({ place: origin, path: p, result: fs.existsSync(p) ? 'found' : 'missing' });
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new ModelNotFoundError(
      `The model file ${p} (from ${origin}) does not exist. Fix the path, or remove it to use the registry model '${spec.id}'.`,
      spec,
      looked,
    );
  }
  if (!st.isFile()) throw new InvalidModelFileError(p, ['it is not a file'], `The model (from ${origin})`);
  const v = await validateModelFile(p);
  if (!v.ok) throw new InvalidModelFileError(p, v.problems.map((x) => x.message), `The model file (from ${origin})`);
  return describe(p, st, v, { spec, source, title, looked, quantFromFile: source === 'explicit' || spec.quantization === undefined });
}

async function resolveUri(
  file: RegistryFile,
  spec: ModelSpec,
  origin: 'explicit' | 'settings' | 'registry',
  what: string,
  ctx: ResolveContext,
  opts: ResolveOptions,
  looked: LookedAt[],
  title?: string,
): Promise<ResolvedModel> {
  const quant = spec.quantization ? normalizeQuantization(spec.quantization) : undefined;
  const quantFromFile = origin === 'explicit' || quant === undefined;

  // 3a. Ollama's store (only for registry entries that name Ollama models)
  if (file.ollama && file.ollama.length > 0) {
    const dir = ollamaModelsDir(ctx.home, ctx.env);
    for (const name of file.ollama) {
      const r = findOllamaModel(dir, name);
      if (!r.found) {
        looked.push({ place: `Ollama ${name}`, path: r.manifestPath, result: r.reason });
        continue;
      }
      const v = await validateModelFile(r.path);
      if (!v.ok) {
        looked.push({ place: `Ollama ${name}`, path: r.path, result: `unusable: ${v.problems[0]?.message ?? 'invalid'}` });
        continue;
      }
      const ft = fileTypeName(v.header?.metadata['general.file_type']);
      if (quant && !sameQuantization(quant, ft)) {
        looked.push({ place: `Ollama ${name}`, path: r.path, result: `is ${ft}, not ${quant}` });
        continue;
      }
      looked.push({ place: `Ollama ${name}`, path: r.path, result: 'found' });
      return describe(r.path, fs.statSync(r.path), v, {
        spec,
        source: 'ollama',
        uri: file.uri,
        title,
        looked,
        sha256: r.layer.sha256,
        quantFromFile,
      });
    }
  }

  // 3b. node-llama-cpp's models folder, by the names its downloader gives these URIs
  const modelsDir = modelsDirFor(ctx);
  const candidates = [file, ...(file.alternates ?? [])];
  let partialSeen: string | undefined;
  for (const c of candidates) {
    let name: string;
    try {
      name = nodeLlamaCppFileName(c.uri);
    } catch {
      continue;
    }
    const p = path.join(modelsDir, name);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      st = undefined;
    }
    if (!st || !st.isFile()) {
      const partial = fs.existsSync(partialPathFor(p)) ? partialPathFor(p) : fs.existsSync(`${p}.ipull`) ? `${p}.ipull` : undefined;
      if (partial && !partialSeen) partialSeen = partial;
      looked.push({ place: 'node-llama-cpp models folder', path: p, result: partial ? `not found (an incomplete download ${path.basename(partial)} is there)` : 'not found' });
      continue;
    }
    const v = await validateModelFile(p);
    if (!v.ok) {
      looked.push({ place: 'node-llama-cpp models folder', path: p, result: `unusable: ${v.problems[0]?.message ?? 'invalid'}` });
      continue;
    }
    looked.push({ place: 'node-llama-cpp models folder', path: p, result: 'found' });
    return describe(p, st, v, { spec, source: 'node-llama-cpp', uri: c.uri, title, looked, quantFromFile });
  }

  // 4. download
  const uri = file.uri;
  const dest = path.join(modelsDir, nodeLlamaCppFileName(uri));
  const settingAllows = ctx.settings.allowDownload;
  const callAllows = opts.allowDownload ?? true;
  if (!settingAllows || !callAllows) {
    const why = !settingAllows ? 'downloading is turned off (contracts.allowDownload is false)' : 'downloading is not allowed for this run (untrusted workspace or offline mode)';
    throw new ModelNotFoundError(notFoundMessage(`Model ${what} is not on this machine and ${why}.`, looked, uri, modelsDir, partialSeen), spec, looked, uri);
  }
  let url: string;
  try {
    url = downloadUrlFor(uri, ctx.env);
  } catch (e) {
    throw new ModelNotFoundError(notFoundMessage(`Model ${what} is not on this machine and ${(e as Error).message}.`, looked, uri, modelsDir, partialSeen), spec, looked, uri);
  }
  ctx.log('info', `downloading ${uri} to ${dest}`);
  const token = ctx.env['HF_TOKEN'] || ctx.env['HUGGING_FACE_HUB_TOKEN'];
  const headers: Record<string, string> = token && url.startsWith(huggingFaceEndpoint(ctx.env)) ? { Authorization: `Bearer ${token}` } : {};
  let result;
  try {
    result = await downloadFile({
      url,
      dest,
      headers,
      ...(file.sizeBytes !== undefined ? { expectedSize: file.sizeBytes } : {}),
      ...(file.sha256 ? { sha256: file.sha256 } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.downloadRetries !== undefined ? { retries: opts.downloadRetries } : {}),
      log: (level, message) => ctx.log(level, message),
    });
  } catch (e) {
    if (e instanceof DownloadError && e.code === 'ABORTED') throw e;
    const reason = e instanceof Error ? e.message : String(e);
    looked.push({ place: 'download', path: url, result: `failed: ${reason}` });
    throw new ModelNotFoundError(
      notFoundMessage(`Model ${what} is not on this machine and downloading it failed: ${reason}`, looked, uri, modelsDir, undefined),
      spec,
      looked,
      uri,
    );
  }
  looked.push({ place: 'download', path: url, result: `downloaded to ${dest}` });
  const v = await validateModelFile(result.path);
  if (!v.ok) throw new InvalidModelFileError(result.path, v.problems.map((x) => x.message), `The file downloaded from ${uri}`);
  return describe(result.path, fs.statSync(result.path), v, { spec, source: 'download', uri, title, looked, sha256: result.sha256, quantFromFile });
}

function notFoundMessage(head: string, looked: LookedAt[], uri: string, modelsDir: string, partial: string | undefined): string {
  const lines = [head];
  if (looked.length > 0) {
    lines.push('Looked in:');
    for (const l of looked) lines.push(`  - ${l.place}: ${l.path} (${l.result})`);
  }
  lines.push(HOW_TO_POINT_AT_A_FILE);
  lines.push(
    `Or fetch it once while online: allow downloads (contracts.allowDownload), or run \`npx node-llama-cpp pull --dir ${modelsDir} ${uri}\`.` +
      (partial ? ` An incomplete download (${partial}) will be resumed.` : ''),
  );
  return lines.join('\n');
}

interface DescribeInput {
  spec: ModelSpec;
  source: ModelSource;
  uri?: string;
  title?: string;
  looked: LookedAt[];
  sha256?: string;
  quantFromFile: boolean;
}

function describe(p: string, st: fs.Stats, v: ModelValidation, d: DescribeInput): ResolvedModel {
  const md = v.header?.metadata ?? {};
  const fileType = fileTypeName(md['general.file_type']);
  const quantization = d.quantFromFile || !d.spec.quantization ? fileType : normalizeQuantization(d.spec.quantization);
  const synthetic = v.synthetic;
  let label: string;
  if (synthetic) {
    const shape = typeof md['prompt_contracts.synthetic.shape'] === 'string' ? (md['prompt_contracts.synthetic.shape'] as string) : 'random';
    label = `SYNTHETIC ${shape} gemma3 ${fileType} (random weights, not Gemma 3)`;
  } else if (d.title && d.source !== 'explicit') {
    label = `${d.title} ${quantization}`;
  } else {
    const name = typeof md['general.name'] === 'string' && (md['general.name'] as string).trim() !== '' ? (md['general.name'] as string).trim() : path.basename(p);
    label = `${name} ${fileType}`;
  }
  const identity = d.sha256 && d.source === 'ollama' ? `sha256:${d.sha256}` : `file:${p}:${st.size}:${Math.trunc(st.mtimeMs)}`;
  return {
    path: p,
    id: d.spec.id,
    quantization,
    fileType,
    source: d.source,
    ...(d.uri ? { uri: d.uri } : {}),
    sizeBytes: st.size,
    synthetic,
    label,
    identity,
    ...(d.sha256 ? { sha256: d.sha256 } : {}),
    looked: d.looked,
  };
}

// llama_ftype (general.file_type) → quantization name
const FILE_TYPES: Readonly<Record<number, string>> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
};

export function fileTypeName(v: unknown): string {
  return typeof v === 'number' ? (FILE_TYPES[v] ?? `type ${v}`) : 'unknown';
}

/** `QAT-Q4_0` is a Q4_0 file; otherwise the names must match. */
function sameQuantization(requested: string, fileType: string): boolean {
  return requested.replace(/^QAT-/, '') === fileType;
}

/** The defaults for home and env (tests inject their own). */
export function defaultResolveEnvironment(): { home: string; env: NodeJS.ProcessEnv } {
  return { home: os.homedir(), env: process.env };
}
