/**
 * Running examples from the editor: the request with a cancellable progress notification, the
 * verdicts afterwards, and the errors explained. Lens clicks and palette commands all end here.
 */
import * as vscode from 'vscode';
import { RunExamplesRequest, type RunExamplesParams, type RunExamplesResult } from '../../server/src/protocol';
import { ClientCommands } from './ids';
import type { Ctx } from './ctx';
import { ServerUnavailableError } from './ctx';
import { describeRequestError, isCancellation, isConnectionLost } from './errors';
import { allPassed, summaryLine, verdictLine } from './report';
import type { InterruptedRuns } from './interrupted-runs';
import type { ResultsMemory } from './results-memory';

export class Runs {
  constructor(
    private readonly ctx: Ctx,
    private readonly memory: ResultsMemory,
    private readonly inFlight?: InterruptedRuns,
  ) {}

  /** Whether runs are allowed here; explains itself when not. */
  trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window
      .showWarningMessage('Prompt Contracts: examples are not run in Restricted Mode (the workspace is not trusted). Contracts are still checked.', 'Manage Workspace Trust')
      .then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
    return false;
  }

  /** Runs and reports; resolves to undefined when it failed or was cancelled (the user was told). */
  async run(params: RunExamplesParams, title: string, opts: { quiet?: boolean; token?: vscode.CancellationToken } = {}): Promise<RunExamplesResult | undefined> {
    if (!this.trusted()) return undefined;
    const work = async (progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken) => {
      let done = 0;
      const sub = this.ctx.onRunProgress((p) => {
        if (p.uri !== params.uri) return;
        const increment = p.total > 0 ? ((p.done - done) / p.total) * 100 : undefined;
        done = p.done;
        progress.report({ message: `${p.done}/${p.total}${p.last ? ` — ${verdictLine(p.last)}` : ''}`, ...(increment !== undefined ? { increment } : {}) });
      });
      const end = this.inFlight?.begin(title, params.uri);
      try {
        const res = await this.ctx.request(RunExamplesRequest, params, token);
        this.memory.record(res);
        this.present(res, opts.quiet === true);
        return res;
      } catch (e) {
        this.explain(title, e);
        return undefined;
      } finally {
        sub.dispose();
        end?.();
      }
    };
    if (opts.token) return work({ report: () => undefined }, opts.token);
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Prompt Contracts: ${title}`, cancellable: true }, work);
  }

  present(res: RunExamplesResult, quiet: boolean): void {
    for (const r of res.results) this.ctx.output.info(`${res.contract}: ${verdictLine(r)}`);
    if (res.reason) this.ctx.output.info(`${res.contract}: ${res.reason}`);
    if (quiet) return;
    const show = (text: string) =>
      (allPassed(res) ? vscode.window.showInformationMessage(text, 'Show Report') : vscode.window.showWarningMessage(text, 'Show Report')).then(
        (c) => c && vscode.commands.executeCommand(ClientCommands.showReport),
      );
    const [only] = res.results;
    void show(res.results.length === 1 && only ? `${res.contract}: ${verdictLine(only)}` : summaryLine(res));
  }

  explain(title: string, e: unknown): void {
    if (isCancellation(e)) {
      void vscode.window.showInformationMessage(`Prompt Contracts: ${title} was cancelled.`);
      return;
    }
    const message = e instanceof ServerUnavailableError ? `${title}: ${e.message}.` : describeRequestError(title, e);
    this.ctx.output.error(message);
    if (isConnectionLost(e)) {
      // The server died during the run: the crash's message names this run (told once), unless no
      // crash follows (a restart by the user), then it is told here.
      void this.ctx.runInterrupted(title).then((told) => told || this.showError(message, e));
      return;
    }
    this.showError(message, e);
  }

  private showError(message: string, e: unknown): void {
    const actions = e instanceof ServerUnavailableError ? ['Restart Server', 'Show Output'] : ['Show Output'];
    void vscode.window.showErrorMessage(`Prompt Contracts: ${message}`, ...actions).then((c) => {
      if (c === 'Restart Server') void vscode.commands.executeCommand(ClientCommands.restartServer);
      else if (c === 'Show Output') this.ctx.output.show(true);
    });
  }
}
