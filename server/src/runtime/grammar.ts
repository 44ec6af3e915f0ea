import type { PreparedSchema } from '../core/output-schema';
import { GrammarError, toGbnfJsonSchema, type ConvertedGrammar } from '../core/grammar-schema';

export * from '../core/grammar-schema';

// --- compiling with node-llama-cpp ----------------------------------------------------------------

/** What the runner needs to constrain decoding. */
export interface GrammarPlan {
  mode: 'constrained' | 'free';
  converted?: ConvertedGrammar;
  /** Hash that identifies the decoding constraint ("free" when none): part of the cache key. */
  hash: string;
}

export function planGrammar(prepared: Pick<PreparedSchema, 'schema' | 'externals'> | undefined, free: boolean): GrammarPlan {
  if (free) return { mode: 'free', hash: 'free' };
  if (!prepared) throw new GrammarError('the output schema did not compile, so no grammar can be built', '/');
  const converted = toGbnfJsonSchema(prepared);
  return { mode: 'constrained', converted, hash: converted.hash };
}

const ROOT_TAIL = ' "\\n\\n\\n\\n" [\\n]*';

/**
 * node-llama-cpp's JSON-schema grammar ends its root rule with four required newlines and then any
 * number of newlines (`root ::= value "\n\n\n\n" [\n]*`), which LlamaChat cuts with a stop trigger.
 * Generating with it directly lets a model emit newlines until maxTokens. Removing the tail makes
 * end-of-generation the only token allowed once the JSON value is complete.
 * Returns undefined when the grammar does not have that shape (a future version).
 */
export function endAtValue(gbnf: string): string | undefined {
  const nl = gbnf.indexOf('\n');
  const first = nl < 0 ? gbnf : gbnf.slice(0, nl);
  if (!first.startsWith('root ::= ') || !first.endsWith(ROOT_TAIL)) return undefined;
  return first.slice(0, -ROOT_TAIL.length) + (nl < 0 ? '' : gbnf.slice(nl));
}

/**
 * Puts object keys back in the order of `original` (matched by key name, recursively). The order
 * of `properties` is the order in which the grammar makes the model write them; the checker's
 * prepared schema is built with a stack and comes out with keys reversed.
 */
export function restoreKeyOrder(value: unknown, original: unknown): unknown {
  if (Array.isArray(value)) return value.map((v, i) => restoreKeyOrder(v, Array.isArray(original) ? original[i] : undefined));
  if (!isObj(value)) return value;
  const out: Record<string, unknown> = {};
  const orig = isObj(original) ? original : {};
  for (const k of Object.keys(orig)) if (Object.prototype.hasOwnProperty.call(value, k)) out[k] = restoreKeyOrder(value[k], orig[k]);
  for (const k of Object.keys(value)) if (!(k in out)) out[k] = restoreKeyOrder(value[k], undefined);
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
