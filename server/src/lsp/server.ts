import {
  CodeLensRefreshRequest,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { RunResults, type ResultsStore } from '../core/results-store';
import { runFindings } from '../core/run-findings';
import { ClientSideCommands, CompareQuantizationsRequest, ExportDatasetRequest, RunExamplesRequest, WorkspaceTrustNotification, type ServerInitializationOptions } from '../protocol';
import { CODE_ACTION_KINDS, codeActions, type CodeActionClient } from './code-actions';
import { exportDatasetRequest } from './export-dataset';
import type { ModelSource } from '../runtime/engine';
import type { Settings } from '../settings';
import { COMMANDS, compareQuantizations, executeCommand, runExamples } from './commands';
import { DriftStore } from './drift-store';
import { completion, COMPLETION_TRIGGERS } from './completion';
import type { ServerContext } from './context';
import { DiagnosticsScheduler } from './diagnostics';
import { ContractDocuments, isContract } from './documents';
import { hover } from './hover';
import { lenses } from './lenses';
import type { ExampleRunner } from './runner';
import { modelContext, RunService } from './run-service';
import { SettingsStore } from './settings';
import { symbols } from './symbols';
import type { ArrivedVersions } from './transport';
import { uriToPath, Workspace } from './workspace';

export interface ServerOptions {
  /** Versions seen on the wire before they are handled (lets stale checks skip themselves). */
  arrived?: ArrivedVersions;
  /** Replaces the run service (and so the model runtime) entirely. */
  runner?: ExampleRunner;
  /** Replaces the store that hovers, lenses and diagnostics read. */
  results?: ResultsStore;
  /** Where the run service gets its model (tests: the engine's `scriptedSource`). Default: node-llama-cpp. */
  modelSource?: (settings: Settings) => ModelSource;
}

export const SERVER_NAME = 'contracts-language-server';
export const SERVER_VERSION = '0.1.0';

/** Wires every handler of the language server to the connection. The one place where that happens. */
export function startServer(connection: Connection, opts: ServerOptions = {}): ServerContext {
  const workspace = new Workspace();
  const settings = new SettingsStore(connection);
  const docs = new ContractDocuments(() => settings.current, workspace);
  const store = new RunResults(() => modelContext(settings.current));
  const results = opts.results ?? store;
  const drift = new DriftStore();
  const runs = opts.runner ? undefined : new RunService({ connection, results: store, drift, ...(opts.modelSource ? { source: opts.modelSource } : {}), changed: (uri) => resultsChanged(uri) });
  const ctx: ServerContext = { connection, docs, settings, workspace, results, runner: opts.runner ?? runs!, ...(runs ? { comparer: runs } : {}), drift };
  const diagnostics = new DiagnosticsScheduler(connection, docs, opts.arrived, () => settings.current.debounceMs, (a) => [...runFindings(a.result, results.runsOf?.(a.uri, a.result)), ...(drift.viewOf(a.uri, a.result)?.findings ?? [])]);
  let dynamicConfiguration = false;
  let dynamicWatchers = false;
  let folderEvents = false;
  let lensRefresh = false;
  const actionClient: CodeActionClient = { previewsAcceptOutput: false };

  /** Asks the client to re-request code lenses; one request in flight, the rest folded into the next. */
  let refreshing = false;
  let refreshAgain = false;
  const refreshLenses = () => {
    if (!lensRefresh) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    const next = () => {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        refreshLenses();
      }
    };
    try {
      connection.sendRequest(CodeLensRefreshRequest.type).then(next, next);
    } catch {
      refreshing = false; // the connection is closing
    }
  };
  const resultsChanged = (uri: string) => {
    diagnostics.refresh(uri);
    refreshLenses();
  };

  /** Log instead of failing the request: a feature bug must not take the server down. */
  const guard =
    <P, R>(name: string, f: (params: P) => R) =>
    (params: P): R | null => {
      try {
        return f(params);
      } catch (e) {
        connection.console.error(`${name} failed: ${(e as Error)?.stack ?? String(e)}`);
        return null;
      }
    };

  connection.onInitialize((params): InitializeResult => {
    workspace.init(params);
    const caps = params.capabilities;
    settings.canPull = caps.workspace?.configuration === true;
    dynamicConfiguration = caps.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    dynamicWatchers = caps.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    folderEvents = caps.workspace?.workspaceFolders === true;
    lensRefresh = caps.workspace?.codeLens?.refreshSupport === true;
    const init = (params.initializationOptions ?? {}) as ServerInitializationOptions;
    runs?.setTrusted(init.trusted !== false && init.workspaceTrusted !== false);
    actionClient.previewsAcceptOutput = Array.isArray(init.clientCommands) && init.clientCommands.includes(ClientSideCommands.acceptActualOutput);
    return {
      serverInfo: { name: SERVER_NAME, version: SERVER_VERSION },
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: COMPLETION_TRIGGERS, resolveProvider: false },
        documentSymbolProvider: { label: 'Contract' },
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: CODE_ACTION_KINDS, resolveProvider: false },
        executeCommandProvider: { commands: COMMANDS },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
    };
  });

  connection.onInitialized(() => {
    if (dynamicConfiguration) void connection.client.register(DidChangeConfigurationNotification.type, { section: 'contracts' });
    if (dynamicWatchers) void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*.{json,yaml,yml}' }] });
    if (folderEvents) connection.workspace.onDidChangeWorkspaceFolders((e) => {
      workspace.change(e);
      docs.invalidateAll();
      diagnostics.scheduleAll();
    });
    void applySettings();
  });

  const applySettings = async (pushed?: unknown) => {
    if (await settings.refresh(pushed)) {
      docs.invalidateAll();
      diagnostics.scheduleAll();
      refreshLenses(); // the model settings are part of every result's key
    }
  };

  connection.onDidChangeConfiguration((p) => void applySettings(p));

  /** A file that contracts read through `$ref` changed: re-check the contracts that read it. */
  const dependencyChanged = (path: string | undefined) => {
    if (!path) return;
    for (const uri of docs.invalidateDependents(path)) diagnostics.schedule(uri);
  };

  connection.onDidChangeWatchedFiles((p) => {
    for (const change of p.changes) dependencyChanged(uriToPath(change.uri));
  });

  docs.documents.onDidOpen((e) => docs.opened(e.document));
  docs.documents.onDidChangeContent((e) => {
    if (isContract(e.document)) diagnostics.schedule(e.document.uri);
    dependencyChanged(uriToPath(e.document.uri));
  });
  docs.documents.onDidClose((e) => {
    docs.closed(e.document.uri);
    if (isContract(e.document)) diagnostics.clear(e.document.uri);
    dependencyChanged(uriToPath(e.document.uri));
  });

  connection.onHover(guard('hover', (p) => hover(ctx, p)));
  connection.onCompletion(guard('completion', (p) => completion(ctx, p)));
  connection.onDocumentSymbol(guard('documentSymbol', (p) => symbols(ctx, p)));
  connection.onCodeLens(guard('codeLens', (p) => lenses(ctx, p)));
  connection.onCodeAction(guard('codeAction', (p) => codeActions(ctx, p, actionClient)));
  connection.onRequest(ExportDatasetRequest, (p) => exportDatasetRequest(ctx, p));
  connection.onExecuteCommand((p, token) => executeCommand(ctx, p, token));
  connection.onRequest(RunExamplesRequest, (p, token) => runExamples(ctx, p, token));
  connection.onRequest(CompareQuantizationsRequest, (p, token) => compareQuantizations(ctx, p, token));
  connection.onNotification(WorkspaceTrustNotification, (p) => runs?.setTrusted(p?.trusted === true));

  docs.documents.listen(connection);
  connection.listen();
  return ctx;
}
