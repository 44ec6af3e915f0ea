import { z } from 'zod';

/**
 * The `.contract.yaml` format. This zod schema is the one source of truth: the checker validates
 * with it, schemas/contract.schema.json is generated from it, and hover/completion read its
 * descriptions.
 */

export const MATCH_MODES = ['exact', 'fields', 'subset'] as const;
export const DECODING_MODES = ['constrained', 'free'] as const;
export const DEFAULT_MODEL_ID = 'gemma-3-270m-it';
export const DEFAULT_QUANTIZATION = 'Q8_0';

const jsonPointer = z
  .string()
  .regex(/^(\/([^~/]|~[01])*)*$/, 'must be a JSON Pointer such as /label or /items/0/name ("" is the whole output)');

const quantName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a quantization name such as Q8_0, QAT-Q4_0 or F16');

export const ModelSection = z
  .strictObject({
    id: z.string().min(1).default(DEFAULT_MODEL_ID).describe('Model id from the built-in registry or your settings. Default: gemma-3-270m-it, the embedded Gemma 3 270M (instruction tuned).'),
    file: z.string().min(1).optional().describe('A GGUF file to use instead of the registry, relative to this contract. Overrides `id` for every quantization.'),
    quantizations: z.array(quantName).min(1).default([DEFAULT_QUANTIZATION]).describe('Quantizations to run. The first is the reference; the others are compared against it for drift.'),
    temperature: z.number().min(0).max(2).default(0).describe('Sampling temperature. 0 is greedy and deterministic.'),
    maxTokens: z.number().int().min(1).max(8192).default(256).describe('Hard cap on generated tokens. A run that reaches it is reported as truncated.'),
    topK: z.number().int().min(0).optional().describe('Top-k sampling (only used when temperature > 0).'),
    topP: z.number().gt(0).max(1).optional().describe('Nucleus sampling (only used when temperature > 0).'),
    seed: z.number().int().min(0).optional().describe('Sampling seed (only matters when temperature > 0).'),
    decoding: z.enum(DECODING_MODES).default('constrained').describe('`constrained` decodes with a grammar compiled from the output schema; `free` lets the raw model write anything (the baseline to measure before fine-tuning).'),
    contextSize: z.number().int().min(256).max(32768).optional().describe('Context window to allocate, in tokens. Default: enough for the longest prompt plus maxTokens.'),
  })
  .describe('Which local model runs this contract and how it samples.');

export const PromptSection = z
  .strictObject({
    system: z.string().optional().describe('System instructions. Gemma has no system role: they are placed before the user text in the first user turn, exactly as Gemma\'s chat template does.'),
    user: z.string().describe('The user turn. `{{name}}` placeholders are filled from each example\'s `input`.'),
  })
  .describe('The prompt templates.');

export const OutputSection = z
  .strictObject({
    schema: z
      .union([z.record(z.string(), z.unknown()), z.boolean()])
      .describe('The JSON Schema every output must satisfy (drafts 2020-12 and 07). Inline, or `{ $ref: ./file.schema.json }` relative to this contract.'),
    match: z.enum(MATCH_MODES).default('exact').describe('How an output is compared with `expected`: `exact` (deep equality), `fields` (every field written in expected must equal the output\'s; extra output fields are ignored), `subset` (like fields, and expected array items may appear anywhere in the output\'s arrays).'),
    ignore: z.array(jsonPointer).default([]).describe('JSON Pointers whose values are not compared with `expected` (they are still schema-checked).'),
  })
  .describe('The output schema and how outputs are compared with expected values.');

export const ExampleSchema = z
  .strictObject({
    name: z.string().min(1).describe('Unique name of the example; identifies its results, traces and baseline entries.'),
    input: z.record(z.string(), z.unknown()).default({}).describe('Values for the prompt\'s `{{placeholders}}`.'),
    expected: z.json().describe('The output the model must produce. It must validate against the output schema.'),
    description: z.string().optional().describe('Why this example exists (shown on hover).'),
    tags: z.array(z.string()).optional().describe('Free-form labels, for filtering runs.'),
    skip: z.boolean().optional().describe('Keep the example but do not run it.'),
  })
  .describe('An input/expected pair.');

export const BudgetsSection = z
  .strictObject({
    passRate: z.number().min(0).max(1).optional().describe('Minimum share of examples that must pass (0–1).'),
    p50Ms: z.number().positive().optional().describe('Maximum median latency per example, in milliseconds.'),
    p95Ms: z.number().positive().optional().describe('Maximum 95th-percentile latency per example, in milliseconds.'),
    ttftP95Ms: z.number().positive().optional().describe('Maximum 95th-percentile time to first token, in milliseconds.'),
    maxDrift: z.number().min(0).max(1).optional().describe('Maximum share of examples whose output may differ between the reference quantization and a candidate (0–1).'),
  })
  .describe('Thresholds that make `contracts run` fail.');

export const RunSection = z
  .strictObject({
    repeat: z.number().int().min(1).max(1000).default(1).describe('How many times each example is run (after warm-up) to measure latency percentiles.'),
    warmup: z.number().int().min(0).max(100).default(1).describe('Unmeasured runs before timing starts.'),
  })
  .describe('How examples are run.');

export const ContractSchema = z
  .strictObject({
    contract: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be an identifier such as classify-complaint (letters, digits, - _ .)').describe('The contract\'s name, unique in the workspace.'),
    description: z.string().optional().describe('What the model is asked to do, for people.'),
    model: ModelSection.default(() => ModelSection.parse({})),
    prompt: PromptSection,
    output: OutputSection,
    examples: z.array(ExampleSchema).default([]).describe('Example pairs: inputs and the outputs the model must produce.'),
    budgets: BudgetsSection.optional(),
    run: RunSection.optional(),
  })
  .describe('A prompt & schema contract for a small local model.');

export type Contract = z.output<typeof ContractSchema>;
export type ContractInput = z.input<typeof ContractSchema>;
export type Example = z.output<typeof ExampleSchema>;
export type MatchMode = (typeof MATCH_MODES)[number];

let jsonSchemaCache: Record<string, unknown> | undefined;

/** JSON Schema of the contract format, generated from the zod schema (published as schemas/contract.schema.json). */
export function contractJsonSchema(): Record<string, unknown> {
  if (!jsonSchemaCache) {
    const s = z.toJSONSchema(ContractSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
    jsonSchemaCache = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'Prompt contract (.contract.yaml)',
      ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
    };
  }
  return jsonSchemaCache;
}

interface JsonSchemaNode {
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  enum?: unknown[];
  default?: unknown;
  type?: string | string[];
}

/** The format's JSON Schema node for a path such as ['examples', 0, 'input'] (undefined past `output.schema`, `input`, `expected`). */
export function formatNodeAt(path: readonly (string | number)[]): JsonSchemaNode | undefined {
  let node: JsonSchemaNode | undefined = contractJsonSchema() as JsonSchemaNode;
  for (const seg of path) {
    if (!node) return undefined;
    if (typeof seg === 'number') node = node.items ?? node.anyOf?.find((a) => a.items)?.items;
    else node = node.properties?.[seg] ?? node.anyOf?.find((a) => a.properties?.[seg])?.properties?.[seg];
  }
  return node;
}

/** Keys allowed in the mapping at `path`, with their descriptions (for completion and "did you mean"). */
export function formatKeysAt(path: readonly (string | number)[]): { key: string; description: string }[] {
  const node = formatNodeAt(path);
  const props = node?.properties ?? node?.anyOf?.find((a) => a.properties)?.properties;
  if (!props) return [];
  return Object.entries(props).map(([key, v]) => ({ key, description: v.description ?? '' }));
}

