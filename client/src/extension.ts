/**
 * Prompt Contracts for VS Code: starts contracts-language-server (dist/server.js, node-ipc), shows the
 * model's state in the status bar and offers the run / report / model commands. The server does the
 * checking; this file only wires the pieces together.
 */
import * as vscode from 'vscode';
import { AcceptOutput } from './accept-output';
import { Commands } from './commands';
import { Ctx } from './ctx';
import { InterruptedRuns } from './interrupted-runs';
import { ResultsMemory } from './results-memory';
import { paramsFromServerCommand } from './run-args';
import { Runs } from './runs';
import { ModelStatusItem } from './status-bar';

let ctx: Ctx | undefined;
let interrupted: InterruptedRuns | undefined;

export async function activate(extension: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Prompt Contracts', { log: true });
  const memory = new ResultsMemory();
  let runs: Runs | undefined;
  let commands: Commands | undefined;
  ctx = new Ctx(extension, output, {
    // Code lenses carry the server's contracts.runExample / contracts.runAll. Sent as
    // contracts/runExamples instead, the run gets progress, cancellation, the selected
    // quantization and its verdict shown; anything else goes to the server unchanged.
    executeCommand: (command, args, next) => {
      const run = paramsFromServerCommand(command, args, commands?.quantization);
      return run && runs ? runs.run(run.params, run.title) : next(command, args);
    },
  });
  interrupted = new InterruptedRuns(extension.workspaceState);
  runs = new Runs(ctx, memory, interrupted);
  commands = new Commands(extension, ctx, runs, memory);
  const status = new ModelStatusItem(ctx, () => commands?.quantization);
  const acceptOutput = new AcceptOutput(output);
  extension.subscriptions.push(
    output,
    ctx,
    commands,
    status,
    commands.onDidSelect(() => status.update()),
    ...commands.register(),
    acceptOutput,
    ...acceptOutput.register(),
    vscode.workspace.onDidGrantWorkspaceTrust(() => ctx?.workspaceTrusted()),
  );
  await ctx.start();
  void interrupted?.tellOnce();
}

export async function deactivate(): Promise<void> {
  interrupted?.closingWindow();
  await ctx?.stop();
  ctx = undefined;
}
