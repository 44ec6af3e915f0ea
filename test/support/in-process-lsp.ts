/** An in-process language server (startServer) and a client for it, shared by the LSP suites. */
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from '../../server/src/lsp/server';
import type { ModelSource } from '../../server/src/runtime/engine';
import { fileUri, until, type Diagnostic, type PublishDiagnostics } from './lsp-client';

export type Range = { start: Pos; end: Pos };
export type Pos = { line: number; character: number };
export interface Lens {
  range: { start: Pos };
  command: { title: string; command: string; arguments: unknown[]; tooltip?: string };
}
export interface RunResult {
  uri: string;
  contract: string;
  reason?: string;
  results: { example: string; status: string; latencyMs?: number; model?: string; synthetic?: boolean; cached?: boolean }[];
  summary: { total: number; passed: number; failed: number; skipped: number };
}
export interface Progress {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string; percentage?: number; cancellable?: boolean };
}

/** The real server wiring (startServer) in process, over a pair of streams, with a JSON-RPC client that records what the server sends. */
export class InProcess {
  readonly client: MessageConnection;
  readonly published: PublishDiagnostics[] = [];
  readonly progress: Progress[] = [];
  readonly runProgress: { uri: string; done: number; total: number; last?: { example: string; status: string } }[] = [];
  readonly modelStatus: unknown[] = [];
  readonly created: (string | number)[] = [];
  lensRefreshes = 0;
  private readonly server;

  constructor(opts: { modelSource?: () => ModelSource; settings?: Record<string, unknown> }) {
    const up = new PassThrough();
    const down = new PassThrough();
    const serverConnection = createConnection(ProposedFeatures.all, new StreamMessageReader(up), new StreamMessageWriter(down));
    this.server = startServer(serverConnection, opts.modelSource ? { modelSource: opts.modelSource } : {});
    this.client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
    this.client.onNotification('textDocument/publishDiagnostics', (p: Omit<PublishDiagnostics, 'at'>) => void this.published.push({ ...p, at: performance.now() }));
    this.client.onNotification('$/progress', (p: Progress) => void this.progress.push(p));
    this.client.onNotification('contracts/runProgress', (p: InProcess['runProgress'][number]) => void this.runProgress.push(p));
    this.client.onNotification('contracts/modelStatus', (p: unknown) => void this.modelStatus.push(p));
    this.client.onNotification(() => undefined);
    this.client.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) => p.items.map((i) => (i.section === 'contracts' ? (opts.settings ?? {}) : null)));
    this.client.onRequest('window/workDoneProgress/create', (p: { token: string | number }) => {
      this.created.push(p.token);
      return null;
    });
    this.client.onRequest('workspace/codeLens/refresh', () => {
      this.lensRefreshes++;
      return null;
    });
    this.client.onRequest('client/registerCapability', () => null);
    this.client.listen();
  }

  async initialize(dir: string, initializationOptions?: unknown): Promise<{ capabilities: Record<string, unknown> }> {
    const r = await this.client.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: null,
      rootUri: fileUri(dir),
      workspaceFolders: [{ uri: fileUri(dir), name: 'ws' }],
      capabilities: { workspace: { configuration: true, codeLens: { refreshSupport: true } }, window: { workDoneProgress: true } },
      ...(initializationOptions !== undefined ? { initializationOptions } : {}),
    });
    await this.client.sendNotification('initialized', {});
    return r;
  }

  diagnostics(uri: string, version: number, pred: (d: Diagnostic[]) => boolean = () => true, ms = 10_000): Promise<PublishDiagnostics> {
    const from = 0;
    return until(`diagnostics of ${uri} v${version}`, () => [...this.published.slice(from)].reverse().find((p) => p.uri === uri && p.version === version && pred(p.diagnostics)), ms);
  }

  lenses(uri: string): Promise<Lens[]> {
    return this.client.sendRequest('textDocument/codeLens', { textDocument: { uri } });
  }

  async titles(uri: string): Promise<string[]> {
    return (await this.lenses(uri)).map((l) => l.command.title);
  }

  run(uri: string, example?: string): Promise<RunResult> {
    return this.client.sendRequest('workspace/executeCommand', example === undefined ? { command: 'contracts.runAll', arguments: [{ uri }] } : { command: 'contracts.runExample', arguments: [{ uri, example }] });
  }

  open(uri: string, text: string, version = 1): void {
    void this.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'contract-yaml', version, text } });
  }

  actions<T = unknown>(uri: string, range: Range, diagnostics: Diagnostic[]): Promise<T[] | null> {
    return this.client.sendRequest('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics } });
  }

  replace(uri: string, version: number, text: string): void {
    void this.client.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  dispose(): void {
    this.client.dispose();
    this.server.connection.dispose();
  }
}
