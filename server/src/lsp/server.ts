import {
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { EMPTY_RESULTS, type ResultsStore } from '../core/results-store';
import { RunExamplesRequest } from '../protocol';
import { COMMANDS, executeCommand, runExamples } from './commands';
import { completion, COMPLETION_TRIGGERS } from './completion';
import type { ServerContext } from './context';
import { DiagnosticsScheduler } from './diagnostics';
import { ContractDocuments, isContract } from './documents';
import { hover } from './hover';
import { lenses } from './lenses';
import { UNAVAILABLE_RUNNER, type ExampleRunner } from './runner';
import { SettingsStore } from './settings';
import { symbols } from './symbols';
import type { ArrivedVersions } from './transport';
import { uriToPath, Workspace } from './workspace';

export interface ServerOptions {
  /** Versions seen on the wire before they are handled (lets stale checks skip themselves). */
  arrived?: ArrivedVersions;
  runner?: ExampleRunner;
  results?: ResultsStore;
}

export const SERVER_NAME = 'contracts-language-server';
export const SERVER_VERSION = '0.1.0';

/** Wires every handler of the language server to the connection. The one place where that happens. */
export function startServer(connection: Connection, opts: ServerOptions = {}): ServerContext {
  const workspace = new Workspace();
  const settings = new SettingsStore(connection);
  const docs = new ContractDocuments(() => settings.current, workspace);
  const ctx: ServerContext = { connection, docs, settings, workspace, results: opts.results ?? EMPTY_RESULTS, runner: opts.runner ?? UNAVAILABLE_RUNNER };
  const diagnostics = new DiagnosticsScheduler(connection, docs, opts.arrived, () => settings.current.debounceMs);
  let dynamicConfiguration = false;
  let dynamicWatchers = false;
  let folderEvents = false;

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
    return {
      serverInfo: { name: SERVER_NAME, version: SERVER_VERSION },
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: COMPLETION_TRIGGERS, resolveProvider: false },
        documentSymbolProvider: { label: 'Contract' },
        codeLensProvider: { resolveProvider: false },
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
  connection.onExecuteCommand((p, token) => executeCommand(ctx, p, token));
  connection.onRequest(RunExamplesRequest, (p, token) => runExamples(ctx, p, token));

  docs.documents.listen(connection);
  connection.listen();
  return ctx;
}
