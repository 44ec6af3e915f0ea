import type { Contract } from './contract-schema';
import { renderTemplate } from './placeholders';

/**
 * Fine-tuning data from a contract, in the conversational format that Hugging Face TRL's SFT
 * trainer reads directly: one JSON object per line with a `messages` list of
 * `{ role: system|user|assistant, content }`. The prompt is rendered exactly as the runtime renders
 * it (the system text trimmed, the user text trimmed), and the answer is the expected value as
 * compact JSON with its keys in the schema's `properties` order — the order constrained decoding
 * writes them in — so the model learns the very text it will be asked to produce.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface DatasetRow {
  messages: ChatMessage[];
}

export interface ExportOptions {
  /** Only these examples (by name); all runnable examples when absent. */
  examples?: string[];
  /** Also include `skip: true` examples. */
  includeSkipped?: boolean;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reorders object keys as the schema's `properties` list them (recursively; unknown keys last). */
export function orderLikeSchema(value: unknown, schema: unknown): unknown {
  if (Array.isArray(value)) {
    const items = isObj(schema) ? schema.items : undefined;
    return value.map((v, i) => orderLikeSchema(v, isObj(schema) && Array.isArray(schema.prefixItems) && i < schema.prefixItems.length ? schema.prefixItems[i] : items));
  }
  if (!isObj(value)) return value;
  const props = isObj(schema) && isObj(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(props)) if (k in value) out[k] = orderLikeSchema(value[k], props[k]);
  for (const k of Object.keys(value)) if (!(k in out)) out[k] = value[k];
  return out;
}

export function chatMessages(prompt: Contract['prompt'], input: Record<string, unknown>, answer?: unknown, schema?: unknown): ChatMessage[] {
  const system = prompt.system === undefined ? '' : renderTemplate(prompt.system, input).trim();
  const user = renderTemplate(prompt.user, input).trim();
  const messages: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  messages.push({ role: 'user', content: user });
  if (answer !== undefined) messages.push({ role: 'assistant', content: JSON.stringify(orderLikeSchema(answer, schema)) });
  return messages;
}

export function exportDataset(contract: Contract, opts: ExportOptions = {}): DatasetRow[] {
  const wanted = opts.examples ? new Set(opts.examples) : undefined;
  return contract.examples
    .filter((e) => (wanted ? wanted.has(e.name) : opts.includeSkipped || !e.skip))
    .map((e) => ({ messages: chatMessages(contract.prompt, e.input, e.expected, contract.output.schema) }));
}

export function toJsonl(rows: readonly DatasetRow[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}
