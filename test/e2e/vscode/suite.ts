/**
 * The end-to-end scenarios, run inside VS Code's extension host through the `vscode` API. The same
 * module runs under @vscode/test-electron (`npm run test:vscode`, index.ts) and, through a small helper
 * extension (host-extension.ts), inside code-server, where the Playwright suite runs it to prove it works.
 * Each scenario waits on diagnostics / lenses with a deadline; none sleeps.
 */
import * as vscode from 'vscode';
import { ClientCommands, LANGUAGE_ID } from '../../../client/src/ids';
import { CLEAN_SAMPLE, lastExample, markersOf, RUN_SAMPLE } from '../expectations';

export const EXTENSION_ID = 'prompt-contracts.prompt-contracts';

export interface ScenarioResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

interface Scenario {
  name: string;
  run(folder: vscode.Uri): Promise<void>;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(250, delay * 2)) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    // Polling interval; the probe decides when we are done.
    await new Promise((r) => setTimeout(r, delay));
  }
}

function fail(message: string): never {
  throw new Error(message);
}

async function lensesOf(uri: vscode.Uri): Promise<vscode.CodeLens[]> {
  return (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
}

const scenarios: Scenario[] = [
  {
    name: 'the extension is active and registers its commands',
    async run() {
      const ext = vscode.extensions.getExtension(EXTENSION_ID) ?? fail(`${EXTENSION_ID} is not installed`);
      await ext.activate();
      const commands = new Set(await vscode.commands.getCommands(true));
      const missing = Object.values(ClientCommands).filter((c) => !commands.has(c));
      if (missing.length) fail(`commands not registered: ${missing.join(', ')}`);
    },
  },
  {
    name: 'a clean sample is a contract-yaml document with lenses and no diagnostics',
    async run(folder) {
      const uri = vscode.Uri.joinPath(folder, CLEAN_SAMPLE);
      const doc = await vscode.workspace.openTextDocument(uri);
      if (doc.languageId !== LANGUAGE_ID) fail(`language is ${doc.languageId}, not ${LANGUAGE_ID}`);
      // Lenses come from the server's analysis of the document: once they are there, so are its diagnostics.
      await until('code lenses', async () => ((await lensesOf(uri)).length ? true : undefined));
      // Static findings only: `run-*` diagnostics report example runs, which this window may have made.
      const diags = vscode.languages.getDiagnostics(uri).filter((d) => d.severity <= vscode.DiagnosticSeverity.Warning && !String(typeof d.code === 'object' ? d.code.value : d.code).startsWith('run-'));
      if (diags.length) fail(`unexpected problems: ${diags.map((d) => `${String(d.code)}@${d.range.start.line + 1}`).join(', ')}`);
    },
  },
  {
    name: 'every broken sample reports its code on each marked line',
    async run(folder) {
      const dir = vscode.Uri.joinPath(folder, 'broken');
      const files = (await vscode.workspace.fs.readDirectory(dir)).map(([n]) => n).filter((n) => n.endsWith('.contract.yaml')).sort();
      if (files.length === 0) fail('no broken samples in the workspace');
      const problems: string[] = [];
      for (const name of files) {
        const uri = vscode.Uri.joinPath(dir, name);
        const doc = await vscode.workspace.openTextDocument(uri);
        const markers = markersOf(doc.getText());
        const hit = () => {
          const diags = vscode.languages.getDiagnostics(uri);
          const codeOf = (d: vscode.Diagnostic) => (typeof d.code === 'object' ? d.code.value : d.code);
          return markers.every((m) => diags.some((d) => d.range.start.line === m.line && codeOf(d) === m.code && d.source === 'contracts')) ? true : undefined;
        };
        try {
          await until(`${name}: ${markers.map((m) => `${m.code}@${m.line + 1}`).join(', ')}`, hit, 20_000);
        } catch (e) {
          const got = vscode.languages.getDiagnostics(uri).map((d) => `${String(typeof d.code === 'object' ? d.code.value : d.code)}@${d.range.start.line + 1}`);
          problems.push(`${(e as Error).message}; got ${got.join(', ') || 'nothing'}`);
        }
      }
      if (problems.length) fail(problems.join('\n'));
    },
  },
  {
    name: 'the Run example lens runs the example and returns a verdict with a latency',
    async run(folder) {
      const uri = vscode.Uri.joinPath(folder, RUN_SAMPLE);
      const doc = await vscode.workspace.openTextDocument(uri);
      // The last example: the UI suite runs the first, and a cached verdict has no latency.
      const example = lastExample(doc.getText());
      // By command and argument: after a run the lens title shows the verdict instead of "Run example".
      const lens = await until(`a Run example lens on "${example.name}"`, async () =>
        (await lensesOf(uri)).find((l) => l.command?.command === 'contracts.runExample' && (l.command.arguments?.[0] as { example?: unknown } | undefined)?.example === example.name),
      );
      const command = lens.command ?? fail('lens without a command');
      // The client answers lens commands itself (a contracts/runExamples request) and returns the result;
      // undefined means the run failed and the user was shown why.
      const result = (await vscode.commands.executeCommand(command.command, ...(command.arguments ?? []))) as { results?: { example: string; status: string; latencyMs?: number; cached?: boolean }[] } | undefined;
      if (!result?.results) fail('runtime not wired yet: the Run example lens command failed (the Prompt Contracts output says why)');
      const verdict = result.results.find((r) => r.example === example.name) ?? fail(`no verdict for "${example.name}": ${JSON.stringify(result)}`);
      if (!(typeof verdict.latencyMs === 'number' && verdict.latencyMs > 0)) fail(`verdict without a latency: ${JSON.stringify(verdict)}`);
    },
  },
];

export async function runSuite(only?: (name: string) => boolean): Promise<ScenarioResult[]> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? fail('no workspace folder is open');
  const results: ScenarioResult[] = [];
  for (const s of scenarios) {
    if (only && !only(s.name)) continue;
    const t0 = Date.now();
    try {
      await s.run(folder);
      results.push({ name: s.name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      results.push({ name: s.name, ok: false, ms: Date.now() - t0, error: (e as Error)?.message ?? String(e) });
    }
  }
  return results;
}

export function formatResults(results: ScenarioResult[]): string {
  return results.map((r) => `${r.ok ? 'ok' : 'not ok'} - ${r.name} (${r.ms} ms)${r.error ? `\n  ${r.error.replace(/\n/g, '\n  ')}` : ''}`).join('\n');
}
