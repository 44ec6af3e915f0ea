// Finds a model the user already pulled with Ollama. Ollama stores content-addressed blobs:
// `<models>/manifests/registry.ollama.ai/library/<name>/<tag>` is a JSON manifest whose layer
// with mediaType `application/vnd.ollama.image.model` names the GGUF blob
// `<models>/blobs/sha256-<hex>` (the digest is the sha256 of the file).
import * as fs from 'node:fs';
import * as path from 'node:path';

export const OLLAMA_MODEL_MEDIA_TYPE = 'application/vnd.ollama.image.model';
const DEFAULT_REGISTRY = 'registry.ollama.ai';

/** Ollama's models folder: `$OLLAMA_MODELS`, else `~/.ollama/models`. */
export function ollamaModelsDir(home: string, env: NodeJS.ProcessEnv): string {
  const fromEnv = env['OLLAMA_MODELS'];
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv.trim()) : path.join(home, '.ollama', 'models');
}

export interface OllamaName {
  registry: string;
  namespace: string;
  model: string;
  tag: string;
}

/** `gemma3:270m` → registry.ollama.ai/library/gemma3/270m; `user/model:tag` and `host/ns/model:tag` too. */
export function parseOllamaName(name: string): OllamaName {
  const [repoPart, tag = 'latest'] = splitTag(name.trim());
  const parts = repoPart.split('/').filter((p) => p !== '');
  const model = parts.pop() ?? '';
  const namespace = parts.pop() ?? 'library';
  const registry = parts.pop() ?? DEFAULT_REGISTRY;
  if (!model || [registry, namespace, model, tag].some((p) => p === '.' || p === '..' || p.includes('\\'))) {
    throw new Error(`not an Ollama model name: ${name}`);
  }
  return { registry, namespace, model, tag };
}

function splitTag(s: string): [string, string | undefined] {
  const colon = s.lastIndexOf(':');
  const slash = s.lastIndexOf('/');
  return colon > slash ? [s.slice(0, colon), s.slice(colon + 1) || undefined] : [s, undefined];
}

export function ollamaManifestPath(modelsDir: string, name: string): string {
  const n = parseOllamaName(name);
  return path.join(modelsDir, 'manifests', n.registry, n.namespace, n.model, n.tag);
}

export interface OllamaModelLayer {
  digest: string;
  /** lowercase hex sha256 from the digest */
  sha256: string;
  size: number | undefined;
}

/** Finds the model layer in a manifest's JSON text. Throws with a reason when there is none. */
export function parseOllamaManifest(text: string): OllamaModelLayer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`the manifest is not JSON (${(e as Error).message})`);
  }
  const layers = (json as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) throw new Error('the manifest has no "layers" list');
  const layer = layers.find(
    (l): l is { digest: unknown; size?: unknown } =>
      typeof l === 'object' && l !== null && (l as { mediaType?: unknown }).mediaType === OLLAMA_MODEL_MEDIA_TYPE,
  );
  if (!layer) throw new Error(`the manifest has no layer of type ${OLLAMA_MODEL_MEDIA_TYPE}`);
  const m = typeof layer.digest === 'string' ? /^sha256[:-]([0-9a-fA-F]{64})$/.exec(layer.digest) : null;
  if (!m) throw new Error(`the model layer's digest is not a sha256 digest: ${JSON.stringify(layer.digest)}`);
  const size = typeof layer.size === 'number' && Number.isSafeInteger(layer.size) && layer.size >= 0 ? layer.size : undefined;
  return { digest: layer.digest as string, sha256: m[1]!.toLowerCase(), size };
}

export type OllamaLookup =
  | { found: true; path: string; manifestPath: string; layer: OllamaModelLayer; sizeBytes: number }
  | { found: false; manifestPath: string; reason: string };

/** Looks `name` up in the Ollama store at `modelsDir`; never throws for a missing or bad store. */
export function findOllamaModel(modelsDir: string, name: string): OllamaLookup {
  let manifestPath: string;
  try {
    manifestPath = ollamaManifestPath(modelsDir, name);
  } catch (e) {
    return { found: false, manifestPath: modelsDir, reason: (e as Error).message };
  }
  let text: string;
  try {
    text = fs.readFileSync(manifestPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { found: false, manifestPath, reason: code === 'ENOENT' ? 'not pulled' : `cannot read the manifest (${code ?? (e as Error).message})` };
  }
  let layer: OllamaModelLayer;
  try {
    layer = parseOllamaManifest(text);
  } catch (e) {
    return { found: false, manifestPath, reason: (e as Error).message };
  }
  const blob = path.join(modelsDir, 'blobs', `sha256-${layer.sha256}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(blob);
  } catch {
    return { found: false, manifestPath, reason: `the manifest names blob ${blob}, which is missing` };
  }
  if (!st.isFile()) return { found: false, manifestPath, reason: `${blob} is not a file` };
  if (layer.size !== undefined && st.size !== layer.size) {
    return { found: false, manifestPath, reason: `blob ${blob} has ${st.size} bytes, the manifest says ${layer.size} (incomplete pull?)` };
  }
  return { found: true, path: blob, manifestPath, layer, sizeBytes: st.size };
}
