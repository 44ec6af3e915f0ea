import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashOf } from './grammar';
import type { StopReason } from '../core/verdict';
import { writeFileAtomic } from '../node-host';

/**
 * Cache of generations of unchanged examples. It stores what the model wrote, not the verdict:
 * verdicts are always recomputed from the current `expected`, `match`, `ignore` and schema, so an
 * edit to an expected value is judged again without running the model. Latencies are never cached.
 *
 * The key covers everything that can change the generated text: model identity and quantization,
 * the rendered prompt, the grammar (hash of the converted schema, or "free"), sampler settings,
 * maxTokens, the inference engine and this package's version. Only deterministic generations are
 * stored (temperature 0, or a fixed seed).
 */

export interface CacheKeyParts {
  modelIdentity: string;
  quantization: string;
  prompt: string;
  grammarHash: string;
  sampler: { temperature: number; topK?: number; topP?: number; seed?: number };
  maxTokens: number;
  engine: string;
  runtimeVersion: string;
}

export interface CachedGeneration {
  text: string;
  stopReason: StopReason;
  outputTokens: number;
  promptTokens: number;
  /** ISO time of the run that produced it. */
  createdAt: string;
  model: string;
}

export function cacheKey(parts: CacheKeyParts): string {
  return hashOf({ v: 1, ...parts });
}

export function isDeterministic(sampler: { temperature: number; seed?: number }): boolean {
  return sampler.temperature === 0 || sampler.seed !== undefined;
}

export class ResultCache {
  /** Problems met while writing (the run goes on without caching). */
  readonly warnings: string[] = [];

  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): CachedGeneration | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const v = JSON.parse(text) as { key?: string; generation?: CachedGeneration };
      const g = v.generation;
      if (v.key !== key || !g || typeof g.text !== 'string' || typeof g.stopReason !== 'string') return undefined;
      return g;
    } catch {
      return undefined; // a corrupt entry is a miss; the next run overwrites it
    }
  }

  /** Folders made by this instance (a put makes its folder once, not on every entry). */
  private readonly made = new Set<string>();

  /** Writes atomically (writeFileAtomic). */
  put(key: string, generation: CachedGeneration): boolean {
    const file = this.file(key);
    const dir = path.dirname(file);
    const text = JSON.stringify({ key, generation }) + '\n';
    try {
      if (!this.made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        this.made.add(dir);
      }
      try {
        writeFileAtomic(file, text);
      } catch (e) {
        // The folder went away since it was made (cleaned by hand mid-run): make it again, once.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        fs.mkdirSync(dir, { recursive: true });
        writeFileAtomic(file, text);
      }
      return true;
    } catch (e) {
      const msg = `cannot write the results cache in ${this.dir}: ${(e as Error).message}`;
      if (!this.warnings.includes(msg)) this.warnings.push(msg);
      return false;
    }
  }
}
