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
/** How long a crash's message waits for the runs it cut off (their requests fail as the connection closes). */
const CRASH_TOAST_DELAY_MS = 400;
/** How long a cut-off run waits for a crash to be noticed before it tells the user itself. */
const INTERRUPTED_WAIT_MS = 3000;

interface InterruptedEntry {
  title: string;
  resolve: (told: boolean) => void;
  timer: NodeJS.Timeout;
}

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
  /** Runs cut off by a closed connection, waiting to be named in the crash's message. */
  private readonly interrupted: InterruptedEntry[] = [];
  private crashToastPending: NodeJS.Timeout | undefined;
  private lastCrashAt = 0;
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

  /**
   * A run whose request was cut off by the connection closing. When the server died, the crash's
   * message names the run (one message for one event) and this resolves true; when no crash is
   * noticed within a few seconds (e.g. the user restarted the server), it resolves false and the
   * caller says it itself.
   */
  runInterrupted(title: string): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = { title, resolve, timer: setTimeout(() => this.settleInterrupted(entry, false), INTERRUPTED_WAIT_MS) };
      this.interrupted.push(entry);
      if (this.crashToastPending === undefined && Date.now() - this.lastCrashAt < INTERRUPTED_WAIT_MS) {
        // The crash was noticed first and already told: tell about the run in a message of its own.
        this.settleInterrupted(entry, true);
        void this.tellInterrupted([title]);
      }
    });
  }

  private settleInterrupted(entry: InterruptedEntry, told: boolean): void {
    const i = this.interrupted.indexOf(entry);
    if (i < 0) return;
    this.interrupted.splice(i, 1);
    clearTimeout(entry.timer);
    this.output.info(`interrupted run "${entry.title}": ${told ? 'named in the message about the stopped server' : 'no stopped server noticed; the run tells it'}`);
    entry.resolve(told);
  }

  /** Runs that were cut off by the last crash: one message with a way to run them again. */
  private tellInterrupted(titles: string[]): Thenable<void> {
    const what = titles.map((t) => `"${t}"`).join(', ');
    return vscode.window
      .showWarningMessage(`Prompt Contracts: ${what} did not finish: the language server stopped during the run. Run it again when checks resume.`, 'Show Output')
      .then((choice) => this.onChoice(choice));
  }

  private async onServerDied(why: string): Promise<void> {
    this.lastCrashAt = Date.now();
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
    // Told a moment later, so that runs cut off by this crash (their requests fail as the
    // connection closes, in either order) are named in the same message.
    if (this.crashToastPending) clearTimeout(this.crashToastPending);
    this.crashToastPending = setTimeout(() => {
      this.crashToastPending = undefined;
      const runs = [...this.interrupted];
      for (const r of runs) this.settleInterrupted(r, true);
      const titles = runs.map((r) => `"${r.title}"`).join(', ');
      if (decision.notify) {
        const during = runs.length ? ` during ${titles}, which did not finish` : '';
        void vscode.window
          .showWarningMessage(`Prompt Contracts: the language server stopped (${why})${during}; restarting it. Checks resume when it is back${runs.length ? '; run it again then' : ''}.`, 'Show Output')
          .then((choice) => this.onChoice(choice));
      } else if (runs.length) void this.tellInterrupted(runs.map((r) => r.title));
    }, CRASH_TOAST_DELAY_MS);
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
