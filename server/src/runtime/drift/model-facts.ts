import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { metadataArrayLength, readGgufHeader } from '../../gguf/reader';

/**
 * What drift needs to know about a model file before loading it: whether two quantizations are
 * the same file, whether their vocabularies agree (teacher forcing feeds one model's token ids to
 * the other), and a content identity for baselines that holds across machines and checkouts.
 */

export interface ModelFacts {
  path: string;
  /** Real path (links resolved); two quantizations with the same real path are the same file. */
  realPath: string;
  sizeBytes: number;
  architecture?: string;
  vocabularySize?: number;
  /** sha256 of the token strings (NUL-separated): equal vocabularies have equal hashes. */
  vocabularyHash?: string;
  /** Why the header could not be read (the file is still usable by whatever loads it). */
  headerError?: string;
}

const factsCache = new Map<string, Promise<ModelFacts>>();
const hashCache = new Map<string, Promise<string>>();

function statKey(path: string): string | undefined {
  try {
    const st = fs.statSync(path);
    return `${path}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** Facts of a model file (cached per path, size and mtime). Never throws: a file that cannot be read yields what could be read. */
export function modelFacts(path: string): Promise<ModelFacts> {
  const key = statKey(path) ?? `missing:${path}`;
  let p = factsCache.get(key);
  if (!p) {
    p = readFacts(path);
    factsCache.set(key, p);
  }
  return p;
}

async function readFacts(path: string): Promise<ModelFacts> {
  let realPath = path;
  let sizeBytes = 0;
  try {
    realPath = fs.realpathSync(path);
    sizeBytes = fs.statSync(realPath).size;
  } catch (e) {
    return { path, realPath, sizeBytes, headerError: (e as Error).message };
  }
  try {
    const h = await readGgufHeader(realPath, { maxArrayLength: Infinity });
    const arch = h.metadata['general.architecture'];
    const tokens = h.metadata['tokenizer.ggml.tokens'];
    const facts: ModelFacts = { path, realPath, sizeBytes, ...(typeof arch === 'string' ? { architecture: arch } : {}) };
    const n = metadataArrayLength(tokens);
    if (n !== undefined) facts.vocabularySize = n;
    if (Array.isArray(tokens)) {
      const hash = createHash('sha256');
      for (const t of tokens) hash.update(String(t)).update('\0');
      facts.vocabularyHash = hash.digest('hex');
    }
    return facts;
  } catch (e) {
    return { path, realPath, sizeBytes, headerError: (e as Error).message };
  }
}

/** Why teacher forcing cannot compare these two models, or undefined when it can. */
export function incompatibility(ref: ModelFacts, cand: ModelFacts, names: { reference: string; candidate: string }): string | undefined {
  if (ref.headerError || cand.headerError) return `the header of ${ref.headerError ? names.reference : names.candidate} could not be read (${ref.headerError ?? cand.headerError})`;
  if (ref.architecture !== cand.architecture) return `${names.candidate} is a ${cand.architecture ?? 'unknown'} model and ${names.reference} a ${ref.architecture ?? 'unknown'} model: token-level agreement needs the same architecture`;
  if (ref.vocabularySize !== cand.vocabularySize) return `${names.candidate} has a vocabulary of ${cand.vocabularySize ?? '?'} tokens and ${names.reference} one of ${ref.vocabularySize ?? '?'}: token-level agreement needs the same vocabulary`;
  if (ref.vocabularyHash !== cand.vocabularyHash) return `${names.candidate} and ${names.reference} have different vocabularies (same size, different tokens): token-level agreement needs the same vocabulary`;
  return undefined;
}

/** sha256 of a file's content (streamed; cached per path, size and mtime). */
export function fileSha256(path: string): Promise<string> {
  const key = statKey(path) ?? `missing:${path}`;
  let p = hashCache.get(key);
  if (!p) {
    p = new Promise<string>((resolve, reject) => {
      const hash = createHash('sha256');
      fs.createReadStream(path)
        .on('data', (b) => hash.update(b))
        .on('error', reject)
        .on('end', () => resolve(hash.digest('hex')));
    });
    hashCache.set(key, p);
    p.catch(() => hashCache.delete(key));
  }
  return p;
}
