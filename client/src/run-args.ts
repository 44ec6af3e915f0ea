/**
 * Arguments of the client's run commands, built from the contract text and the cursor. Pure: the
 * command handlers in commands.ts only gather editor state and call these.
 */
import { isMap, isSeq, isScalar, LineCounter, parseDocument } from 'yaml';
import { Commands, type RunExamplesParams } from '../../server/src/protocol';

export interface ExampleAt {
  name: string;
  /** 0-based lines of the example's item in `examples:` (first and last, inclusive). */
  startLine: number;
  endLine: number;
  skip: boolean;
}

export interface ContractOutline {
  contract?: string;
  quantizations: string[];
  examples: ExampleAt[];
}

/** The examples and quantizations of a contract, as far as the text can be parsed (never throws). */
export function outlineOf(text: string): ContractOutline {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const out: ContractOutline = { quantizations: [], examples: [] };
  const root = doc.contents;
  if (!isMap(root)) return out;
  const contract = root.get('contract');
  if (typeof contract === 'string') out.contract = contract;
  const model = root.get('model');
  if (isMap(model)) {
    const q = model.get('quantizations');
    if (isSeq(q)) for (const item of q.items) if (isScalar(item) && typeof item.value === 'string') out.quantizations.push(item.value);
  }
  const examples = root.get('examples');
  if (!isSeq(examples)) return out;
  for (const item of examples.items) {
    if (!isMap(item) || !item.range) continue;
    const name = item.get('name');
    if (typeof name !== 'string') continue;
    const startLine = lc.linePos(item.range[0]).line - 1;
    // range[1] is the end of the value; a trailing newline belongs to the next line.
    const endOffset = Math.max(item.range[0], item.range[1] - 1);
    const endLine = lc.linePos(endOffset).line - 1;
    out.examples.push({ name, startLine, endLine, skip: isScalar(item.get('skip', true)) && (item.get('skip', true) as { value: unknown }).value === true });
  }
  return out;
}

/** The example whose item contains the 0-based line (the `- name:` line of a `- ` item included). */
export function exampleAtLine(outline: ContractOutline, line: number): ExampleAt | undefined {
  return outline.examples.find((e) => e.startLine <= line && line <= e.endLine);
}

/** `undefined` quantization means "every quantization of the contract" (the protocol's default). */
export function runExampleParams(uri: string, example: string, quantization?: string): RunExamplesParams {
  return quantization ? { uri, examples: [example], quantization } : { uri, examples: [example] };
}

export function runFileParams(uri: string, quantization?: string, noCache = false): RunExamplesParams {
  const p: RunExamplesParams = { uri };
  if (quantization) p.quantization = quantization;
  if (noCache) p.noCache = true;
  return p;
}

/** Glob of contract files for "run all in workspace"; {@link isWalkedContract} filters what it finds. */
export const CONTRACT_GLOB = '**/*.contract.{yaml,yml}';
export const CONTRACT_EXCLUDE_GLOB = '**/{node_modules,broken}/**';

/**
 * Whether a workspace-relative path is a contract the CLI would check when walking a folder
 * (`contracts check`): it skips node_modules, folders named `broken` and dot folders.
 */
export function isWalkedContract(relativePath: string): boolean {
  const parts = relativePath.split(/[\\/]/);
  const file = parts.pop() ?? '';
  if (!/\.contract\.ya?ml$/.test(file)) return false;
  return parts.every((p) => p !== 'node_modules' && p !== 'broken' && !p.startsWith('.'));
}

/**
 * The run that a server command (a code lens: `contracts.runExample` / `contracts.runAll`) asks for,
 * so the client can send it as `contracts/runExamples` with progress and cancellation. Undefined
 * for other commands or arguments it does not understand (those go to the server as they are).
 */
export function paramsFromServerCommand(command: string, args: unknown[], quantization?: string): { params: RunExamplesParams; title: string } | undefined {
  const arg = args[0] as { uri?: unknown; example?: unknown } | undefined;
  if (!arg || typeof arg.uri !== 'string') return undefined;
  if (command === Commands.runExample && typeof arg.example === 'string') {
    return { params: runExampleParams(arg.uri, arg.example, quantization), title: `Run example "${arg.example}"` };
  }
  if (command === Commands.runAll) return { params: runFileParams(arg.uri, quantization), title: 'Run all examples' };
  return undefined;
}
