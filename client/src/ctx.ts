/**
 * Owns the language client: start, restart, stop, and restarting with backoff when the server dies
 * (like rust-analyzer's Ctx). Everything else asks it for the server and never holds a client.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  TransportKind,
  type CancellationToken as LspCancellationToken,
  type LanguageClientOptions,
  type Middleware,
  type RequestType,
  type ServerOptions,
} from 'vscode-languageclient/node';
import {
  ClientSideCommands,
  ModelStatusNotification,
  RunProgressNotification,
  WorkspaceTrustNotification,
  type ModelStatus,
  type RunProgressParams,
  type ServerInitializationOptions,
} from '../../server/src/protocol';
import { CONTRACT_FILE_PATTERN, LANGUAGE_ID } from './ids';
import type { ServerState } from './model-status';
import { RestartPolicy } from './restart-policy';

/** Thrown by {@link Ctx.request} while there is no running server. */
export class ServerUnavailableError extends Error {
  constructor(readonly state: ServerState) {
    super(
      state === 'restarting' || state === 'starting'
        ? 'the Prompt Contracts language server is (re)starting; try again in a moment'
        : 'the Prompt Contracts language server is not running; run "Prompt Contracts: Restart Server"',
    );
  }
}

export class Ctx implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private _state: ServerState = 'stopped';
  private _detail: string | undefined;
  private _model: ModelStatus = { state: 'not-loaded' };
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly policy = new RestartPolicy();
  private readonly stateEmitter = new vscode.EventEmitter<void>();
  private readonly progressEmitter = new vscode.EventEmitter<RunProgressParams>();
  private readonly disposables: vscode.Disposable[] = [this.stateEmitter, this.progressEmitter];

  /** State or model status changed. */
  readonly onDidChange = this.stateEmitter.event;
  readonly onRunProgress = this.progressEmitter.event;

  constructor(
    private readonly extension: vscode.ExtensionContext,
    readonly output: vscode.LogOutputChannel,
    private readonly middleware: Middleware = {},
  ) {}

  get state(): ServerState {
    return this._state;
  }
  /** Why the server is restarting or failed, for the status tooltip. */
  get detail(): string | undefined {
    return this._detail;
  }
  get model(): ModelStatus {
    return this._model;
  }
  /** Commands the running server offers through workspace/executeCommand. */
  get serverCommands(): string[] {
    return this.client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  }

  async start(): Promise<void> {
    if (this.client) return;
    this.clearRestartTimer();
    this.setState('starting');
    const client = this.createClient();
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      if (this.client !== client) return;
      this.output.error(`The language server failed to start: ${String((e as Error)?.message ?? e)}`);
      await this.onServerDied(`it failed to start: ${String((e as Error)?.message ?? e)}`);
      return;
    }
    if (this.client !== client) return;
    this.policy.started(Date.now());
    this._detail = undefined;
    this.setState('running');
  }

  async stop(): Promise<void> {
    this.clearRestartTimer();
    const client = this.client;
    this.client = undefined;
    if (client) {
      this.stopping = true;
      try {
        // A server that hangs must not hang the window: give it two seconds.
        await client.stop(2000).catch((e) => this.output.warn(`stopping the language server: ${String(e)}`));
        await client.dispose().catch(() => undefined);
      } finally {
        this.stopping = false;
      }
    }
    this._model = { state: 'not-loaded' };
    this.setState('stopped');
  }

  /** By the user (or on a trust grant): starts a fresh series of restarts. */
  async restart(): Promise<void> {
    this.policy.reset();
    await this.stop();
    await this.start();
  }

  /** Sends a request to the running server; rejects with {@link ServerUnavailableError} when there is none. */
  request<P, R, E>(type: RequestType<P, R, E>, params: P, token?: vscode.CancellationToken): Promise<R> {
    const client = this.client;
    if (!client || this._state !== 'running') return Promise.reject(new ServerUnavailableError(this._state));
    return client.sendRequest(type.method, params, token as LspCancellationToken | undefined) as Promise<R>;
  }

  /** Runs a server command (workspace/executeCommand) on the running server. */
  executeServerCommand(command: string, args: unknown[]): Promise<unknown> {
    const client = this.client;
    if (!client || this._state !== 'running') return Promise.reject(new ServerUnavailableError(this._state));
    return client.sendRequest('workspace/executeCommand', { command, arguments: args });
  }

  /** The user trusted the workspace: the running server may now run examples (a server started later learns it at initialize). */
  workspaceTrusted(): void {
    if (this.client && this._state === 'running') void this.client.sendNotification(WorkspaceTrustNotification, { trusted: true });
  }

  dispose(): void {
    this.clearRestartTimer();
    for (const d of this.disposables) d.dispose();
  }

  private createClient(): LanguageClient {
    const module = this.extension.asAbsolutePath(path.join('dist', 'server.js'));
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
    };
    const initializationOptions: ServerInitializationOptions = { workspaceTrusted: vscode.workspace.isTrusted, clientCommands: Object.values(ClientSideCommands) };
    const clientOptions: LanguageClientOptions = {
      // Files and new unsaved contracts; not the quick fix's `contracts-preview:` diff document,
      // git's `git:` versions or other virtual documents (they would get diagnostics and lenses).
      documentSelector: [
        { language: LANGUAGE_ID, scheme: 'file' },
        { language: LANGUAGE_ID, scheme: 'untitled' },
        { scheme: 'file', pattern: CONTRACT_FILE_PATTERN },
      ],
      outputChannel: this.output,
      initializationOptions,
      middleware: this.middleware,
      errorHandler: {
        error: (_e, _m, count) => ({ action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true }),
        closed: () => {
          // Ours restarts with backoff and says so once; the client's own would retry 4 times, then give up loudly.
          if (!this.stopping) void this.onServerDied('its process exited');
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      initializationFailedHandler: () => false,
    };
    const client = new LanguageClient('contracts', 'Prompt Contracts', serverOptions, clientOptions);
    client.onNotification(ModelStatusNotification, (status) => {
      if (this.client !== client) return;
      this._model = status;
      this.stateEmitter.fire();
    });
    client.onNotification(RunProgressNotification, (p) => {
      if (this.client === client) this.progressEmitter.fire(p);
    });
    return client;
  }

  private async onServerDied(why: string): Promise<void> {
    const dead = this.client;
    this.client = undefined;
    this._model = { state: 'not-loaded' };
    if (dead) void dead.dispose().catch(() => undefined);
    const decision = this.policy.crashed(Date.now());
    if (decision.giveUp) {
      this._detail = `It stopped ${decision.attempt - 1} times in a row (last: ${why}).`;
      this.setState('failed');
      this.output.error(`The language server stopped again (${why}); not restarting it any more. Run "Prompt Contracts: Restart Server" to try again.`);
      void vscode.window
        .showErrorMessage(`Prompt Contracts: the language server keeps stopping (${why}). Contracts are not checked until it is restarted.`, 'Restart Server', 'Show Output')
        .then((choice) => this.onChoice(choice));
      return;
    }
    const seconds = Math.round(decision.delayMs! / 1000);
    this._detail = `Last stop: ${why}. Restarting in ${seconds} s (attempt ${decision.attempt}).`;
    this.output.warn(`The language server stopped (${why}); restarting in ${seconds} s (attempt ${decision.attempt}).`);
    this.setState('restarting');
    if (decision.notify) {
      void vscode.window
        .showWarningMessage(`Prompt Contracts: the language server stopped (${why}); restarting it. Checks resume when it is back.`, 'Show Output')
        .then((choice) => this.onChoice(choice));
    }
    this.clearRestartTimer();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.start();
    }, decision.delayMs);
  }

  private onChoice(choice: string | undefined): void {
    if (choice === 'Restart Server') void this.restart();
    else if (choice === 'Show Output') this.output.show(true);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private setState(s: ServerState): void {
    this._state = s;
    this.stateEmitter.fire();
  }
}
