/**
 * The custom part of the protocol between the VS Code client and contracts-language-server,
 * declared once and imported by both sides. Each message says which way it travels.
 * Everything else is plain LSP. Settings travel through `workspace/configuration` (section
 * `contracts`, schema in server/src/settings.ts) and `workspace/didChangeConfiguration`.
 */
import { NotificationType, RequestType, type ProgressToken, type TextEdit, type WorkDoneProgressParams } from 'vscode-languageserver-protocol';
import type { VerdictKind } from './core/verdict';

export { CONTRACT_LANGUAGE_ID } from './names';

/** Value of every diagnostic's `source`. */
export const DIAGNOSTIC_SOURCE = 'contracts';

// --- commands (workspace/executeCommand, client → server; code lenses carry them) ---------------

export const Commands = {
  runAll: 'contracts.runAll',
  runExample: 'contracts.runExample',
  /** Runs the comparison of quantizations again (the drift lenses carry it). Not the client's `contracts.compareQuantizations`. */
  recompareQuantizations: 'contracts.recompareQuantizations',
} as const;

/** Argument of `contracts.runAll`. */
export interface RunAllArgs {
  uri: string;
}

/** Argument of `contracts.recompareQuantizations`. */
export interface RecompareQuantizationsArgs {
  uri: string;
}

/** Argument of `contracts.runExample`. */
export interface RunExampleArgs {
  uri: string;
  /** The example's `name`. */
  example: string;
}

// --- commands the client runs (code actions carry them) -------------------------------------------

/**
 * Commands of the VS Code client that the server's code actions may carry, when the client names
 * them in `ServerInitializationOptions.clientCommands`. Never in the server's executeCommandProvider
 * (the language client would register them a second time).
 */
export const ClientSideCommands = {
  /** Shows the diff of an "Accept actual output as expected" edit, asks, then applies it (undoable). */
  acceptActualOutput: 'contracts.acceptActualOutput',
} as const;

/** Argument of `contracts.acceptActualOutput`. */
export interface AcceptActualOutputArgs {
  uri: string;
  /** The document version the edit was computed on; a later version refuses it. */
  version: number;
  /** The example's `name`. */
  example: string;
  /** Replaces the example's `expected` value (or inserts one after `input`). */
  edit: TextEdit;
}

/** Title of the quick fix on a `run-wrong-value` diagnostic (also its code action's title). */
export const ACCEPT_ACTUAL_OUTPUT_TITLE = 'Accept actual output as expected';

// --- running examples ---------------------------------------------------------------------------

export interface RunExamplesParams extends WorkDoneProgressParams {
  /** The contract document. */
  uri: string;
  /** Names of the examples to run; all (except `skip: true`) when absent. */
  examples?: string[];
  /** Run this quantization; absent: the contract's reference (the first of model.quantizations). Every quantization at once is contracts/compareQuantizations. */
  quantization?: string;
  /** Ignore cached verdicts of unchanged examples. */
  noCache?: boolean;
}

/** The verdict of one example (the runtime's verdict kinds). */
export type ExampleStatus = VerdictKind;

export interface ExampleRunResult {
  example: string;
  quantization: string;
  status: ExampleStatus;
  /** The parsed output (when it was JSON). */
  output?: unknown;
  /** The raw generated text. */
  raw?: string;
  /** One line for people. */
  message?: string;
  /** Why it failed: schema errors or differences from `expected`, each at a JSON Pointer into the output. */
  problems?: { pointer: string; message: string }[];
  latencyMs?: number;
  ttftMs?: number;
  tokens?: number;
  /** True when the verdict came from the cache (latency is never served from cache). */
  cached?: boolean;
  /** Decode rate of the first measured run (tokens after the first, per second). */
  tokensPerSecond?: number;
  /** The model it ran on, for people (e.g. "gemma-3-270m-it Q8_0"). */
  model?: string;
  /** A random-weight test model: the verdict says nothing about quality. */
  synthetic?: boolean;
}

export interface RunExamplesResult {
  uri: string;
  contract: string;
  /** Why nothing ran (model unavailable, the contract has errors, cancelled...). */
  reason?: string;
  results: ExampleRunResult[];
  summary: {
    total: number;
    passed: number;
    /** Judged and not passed. */
    failed: number;
    skipped: number;
    p50Ms?: number;
    p95Ms?: number;
  };
}

/**
 * client → server: run examples of a contract. Cancellable: `$/cancelRequest` aborts the run and
 * answers with error RequestCancelled (-32800); cancelling the work-done progress the server shows
 * (`window/workDoneProgress/create`, or the request's `workDoneToken`) also stops it and answers
 * with the results so far and `reason`. Runs of the same model queue, one at a time. Results also
 * land as diagnostics (source `contracts`, codes `run-*`), code lens titles and hovers; the server
 * asks for `workspace/codeLens/refresh` when the client supports it. Refused with
 * `ContractsErrorCodes.WorkspaceUntrusted` in an untrusted workspace.
 */
export const RunExamplesRequest = new RequestType<RunExamplesParams, RunExamplesResult, void>('contracts/runExamples');

/** server → client: progress of a `contracts/runExamples` run, after each example. */
export interface RunProgressParams {
  uri: string;
  done: number;
  total: number;
  /** The example that just finished. */
  last?: ExampleRunResult;
}
export const RunProgressNotification = new NotificationType<RunProgressParams>('contracts/runProgress');

// --- model status -------------------------------------------------------------------------------

export type ModelStatus =
  | { state: 'not-loaded' }
  /** `percent` is 0 while the size is unknown. */
  | { state: 'downloading'; model: string; percent: number; downloadedBytes?: number; totalBytes?: number }
  | { state: 'loading'; model: string; quantization?: string; synthetic?: boolean }
  | { state: 'ready'; model: string; quantization: string; threads: number; synthetic?: boolean }
  | { state: 'error'; message: string };

/** server → client: the embedded model's state changed (for a status bar item). */
export const ModelStatusNotification = new NotificationType<ModelStatus>('contracts/modelStatus');

// --- workspace trust -----------------------------------------------------------------------------

/**
 * `initializationOptions` the server reads. In an untrusted workspace (either flag false) the
 * server checks contracts but never loads or downloads a model, nor writes traces or cache
 * files: runs answer with `ContractsErrorCodes.WorkspaceUntrusted`. Absent: trusted.
 */
export interface ServerInitializationOptions {
  trusted?: boolean;
  /** The name the VS Code client sends. */
  workspaceTrusted?: boolean;
  /**
   * `ClientSideCommands` the client implements. Without `contracts.acceptActualOutput` the quick
   * fix carries its edit directly (applied at once, as any LSP client does).
   */
  clientCommands?: string[];
}

export interface WorkspaceTrustParams {
  trusted: boolean;
}

/** client → server: the workspace's trust changed (e.g. the user granted it). Untrusting stops runs and unloads models. */
export const WorkspaceTrustNotification = new NotificationType<WorkspaceTrustParams>('contracts/workspaceTrust');

// --- comparing quantizations (drift) ---------------------------------------------------------------

export interface CompareQuantizationsParams {
  /** The contract document. */
  uri: string;
  /** Ignore cached outputs (and so measure latency). */
  noCache?: boolean;
  /** Report progress on this token instead of one the server creates. */
  workDoneToken?: ProgressToken;
}

export interface CompareQuantizationsResult {
  uri: string;
  /** ok | exceeded | not-run | error | cancelled */
  status: string;
  /** One line per candidate, as its code lens reads (`⇄ Q4_0 vs Q8_0: 2/12 differ · …`). */
  lines: string[];
  reason?: string;
}

/**
 * client → server: runs every quantization the contract lists, compares each candidate with the
 * reference (answers, teacher-forced token agreement, latency, size) and against the committed
 * baseline; cancellable, with work-done progress. The results show as a lens on
 * `model.quantizations`, information diagnostics on drifting examples, an error when
 * `budgets.maxDrift` is exceeded, and hovers with both outputs — until the document changes.
 */
export const CompareQuantizationsRequest = new RequestType<CompareQuantizationsParams, CompareQuantizationsResult, void>('contracts/compareQuantizations');

// --- fine-tuning dataset ---------------------------------------------------------------------------

export interface ExportDatasetParams {
  /** The contract document (open in the editor). */
  uri: string;
  /** Also export examples whose current run result failed (with their expected answers). Default true. */
  includeFailing?: boolean;
}

export interface ExportDatasetResult {
  uri: string;
  contract: string;
  /** TRL conversational JSONL (server/src/core/dataset.ts), one row per exported example. */
  jsonl: string;
  rows: number;
  /** Examples whose current (not stale) run result failed, exported or not. */
  failing: string[];
}

/**
 * client → server: the contract's examples as fine-tuning data (the same export the training
 * scripts use). Reads only the open document and its run results, writes nothing: the client
 * saves the text where the user says, so it is answered in an untrusted workspace too. Fails with
 * InvalidParams when the contract has errors.
 */
export const ExportDatasetRequest = new RequestType<ExportDatasetParams, ExportDatasetResult, void>('contracts/exportDataset');

// --- settings ---------------------------------------------------------------------------------

/**
 * The server pulls section `contracts` with `workspace/configuration` and re-pulls on
 * `workspace/didChangeConfiguration`; its schema, defaults and parser are in settings.ts.
 */
export { SETTINGS_SECTION } from './names';
export type { Settings } from './settings';

// --- errors -------------------------------------------------------------------------------------

/** Error codes of ResponseErrors this server answers with (outside JSON-RPC's and LSP's reserved ranges). */
export const ContractsErrorCodes = {
  /** Running examples is not wired into this server yet. */
  RuntimeUnavailable: 1001,
  /** The workspace is not trusted: examples are not run there (see ServerInitializationOptions). */
  WorkspaceUntrusted: 1002,
} as const;
