/**
 * A test-only extension for code-server, whose command line has no --extensionTestsPath: it adds a
 * command that runs the in-host suite and writes the results as JSON to the file given as argument.
 * The Playwright suite installs it next to the .vsix and runs the command from the palette.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { runSuite } from './suite';

export const RUN_SUITE_COMMAND = 'contractsE2E.runInHostSuite';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(RUN_SUITE_COMMAND, async () => {
      const out = process.env.CONTRACTS_E2E_HOST_RESULTS;
      if (!out) throw new Error('CONTRACTS_E2E_HOST_RESULTS is not set');
      try {
        fs.writeFileSync(out, JSON.stringify({ done: true, results: await runSuite() }));
      } catch (e) {
        fs.writeFileSync(out, JSON.stringify({ done: true, error: String((e as Error)?.stack ?? e) }));
      }
    }),
  );
}
