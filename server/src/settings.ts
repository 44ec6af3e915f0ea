import { z } from 'zod';

/**
 * Every user setting, once. The server parses what the client sends with this schema (bad values
 * become a warning and fall back to defaults), and package.json's `contributes.configuration` is
 * generated from it (scripts/gen-package-settings.ts; a test fails when they drift).
 */
import { SETTINGS_SECTION } from './names';

export { SETTINGS_SECTION };

const ModelEntry = z.record(z.string(), z.string()).describe('Quantization name → GGUF file path or `hf:` URI.');

export const SettingsSchema = z.object({
  maxFileBytes: z.number().int().min(1024).default(8 * 1024 * 1024).describe('Contracts larger than this many bytes are not checked (a diagnostic says so).'),
  coverageHints: z.boolean().default(true).describe('Show information-level coverage hints (enum values no example expects, fields the prompt never names).'),
  debounceMs: z.number().int().min(0).max(5000).default(0).describe('Delay before re-checking after an edit. Checks always run on the latest version only; 0 checks as soon as the editor is idle.'),
  models: z.record(z.string(), ModelEntry).default({}).describe('Extra or overriding model registry entries: model id → { quantization: file path or hf: URI }.'),
  modelFile: z.string().default('').describe('A GGUF file to run every contract with, overriding the registry (absolute, or relative to the workspace).'),
  modelsDir: z.string().default('').describe('Where downloaded models are stored. Empty: node-llama-cpp\'s default (~/.node-llama-cpp/models).'),
  allowDownload: z.boolean().default(true).describe('Download a registry model on first use when it is not found locally (never in an untrusted workspace).'),
  gpu: z.enum(['auto', 'off']).default('off').describe('`auto` uses Metal/CUDA/Vulkan when node-llama-cpp has a prebuilt binary for it; `off` runs on the CPU.'),
  threads: z.number().int().min(0).max(256).default(0).describe('CPU threads for generation. 0: the number of physical cores (never more, oversubscription is catastrophically slow).'),
  idleUnloadSeconds: z.number().int().min(0).default(300).describe('Unload the model after this many idle seconds (0 keeps it loaded).'),
  traceDir: z.string().default('.contracts/traces').describe('Folder, relative to the workspace, where every run appends a JSON line trace.'),
  cacheDir: z.string().default('.contracts/cache').describe('Folder, relative to the workspace, for cached verdicts of unchanged examples.'),
  useCache: z.boolean().default(true).describe('Reuse cached verdicts for unchanged examples (latency is never served from cache).'),
});

export type Settings = z.output<typeof SettingsSchema>;

export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});

/** Parses settings at the boundary: invalid fields fall back to their defaults and are reported. */
export function parseSettings(raw: unknown): { settings: Settings; problems: string[] } {
  const input = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const problems: string[] = [];
  const clean: Record<string, unknown> = {};
  const shape = SettingsSchema.shape as Record<string, z.ZodType>;
  for (const [key, value] of Object.entries(input)) {
    const field = shape[key];
    if (!field) continue;
    const r = field.safeParse(value);
    if (r.success) clean[key] = value;
    else problems.push(`${SETTINGS_SECTION}.${key}: ${r.error.issues[0]?.message ?? 'invalid'} (using the default)`);
  }
  return { settings: SettingsSchema.parse(clean), problems };
}
