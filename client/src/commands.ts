/**
 * The client's commands. Each gathers editor state, builds its arguments with a pure helper and
 * either asks the server (through Runs / Ctx) or works on its own; none of them throws at the user.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { ServerUnavailableError } from './ctx';
import { ClientCommands, LANGUAGE_ID, ServerOptionalCommands, SETTINGS_SECTION } from './ids';
import { threadsText } from './model-status';
import { exportDataset } from './export-dataset';
import { CompareQuantizationsRequest } from '../../server/src/protocol';
import { summaryLine } from './report';
import { ReportView } from './report-view';
import type { ResultsMemory } from './results-memory';
import type { Runs } from './runs';
import { CONTRACT_EXCLUDE_GLOB, CONTRACT_GLOB, exampleAtLine, isWalkedContract, outlineOf, runExampleParams, runFileParams } from './run-args';

const QUANTIZATION_KEY = 'contracts.quantization';

export class Commands implements vscode.Disposable {
  private readonly selectionEmitter = new vscode.EventEmitter<void>();
  /** The quantization or model file for runs changed. */
  readonly onDidSelect = this.selectionEmitter.event;
  private reportView: ReportView | undefined;

  constructor(
    private readonly ext: vscode.ExtensionContext,
    private readonly ctx: Ctx,
    private readonly runs: Runs,
    private readonly memory: ResultsMemory,
  ) {}

  /** The quantization this window's runs use; undefined: every quantization the contract lists. */
  get quantization(): string | undefined {
    return this.ext.workspaceState.get<string>(QUANTIZATION_KEY) || undefined;
  }

  dispose(): void {
    this.selectionEmitter.dispose();
    this.reportView?.dispose();
  }

  register(): vscode.Disposable[] {
    const c = ClientCommands;
    const reg = (id: string, f: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, f);
    return [
      reg(c.runExampleAtCursor, (uri?: vscode.Uri) => this.runExampleAtCursor(uri)),
      reg(c.runFile, (uri?: vscode.Uri) => this.runFile(uri)),
      reg(c.runWorkspace, () => this.runWorkspace()),
      reg(c.compareQuantizations, (uri?: vscode.Uri) => this.compareQuantizations(uri)),
      reg(c.exportDataset, async (uri?: vscode.Uri) => {
        const doc = await this.contractDocument(uri);
        return doc ? exportDataset(this.ctx, doc) : undefined;
      }),
      reg(c.showReport, () => this.showReport()),
      reg(c.selectModel, (uri?: vscode.Uri) => this.selectModel(uri)),
      reg(c.downloadModel, () => this.downloadModel()),
      reg(c.openTraces, () => this.openTraces()),
      reg(c.restartServer, () => this.ctx.restart()),
      reg(c.showModelStatus, () => this.showModelStatus()),
      reg(c.showOutput, () => this.ctx.output.show(true)),
    ];
  }

  /** The contract document a command is about: its argument (explorer / editor menus), else the active editor. */
  private async contractDocument(uri?: vscode.Uri): Promise<vscode.TextDocument | undefined> {
    if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && (doc.languageId === LANGUAGE_ID || /\.contract\.ya?ml$/.test(doc.fileName))) return doc;
    void vscode.window.showWarningMessage('Prompt Contracts: open a .contract.yaml file first.');
    return undefined;
  }

  private async runExampleAtCursor(uri?: vscode.Uri): Promise<void> {
    const doc = await this.contractDocument(uri);
    if (!doc) return;
    const outline = outlineOf(doc.getText());
    const editor = vscode.window.activeTextEditor;
    let example = editor && editor.document === doc ? exampleAtLine(outline, editor.selection.active.line)?.name : undefined;
    if (!example) {
      if (outline.examples.length === 0) {
        void vscode.window.showWarningMessage(`Prompt Contracts: ${path.basename(doc.fileName)} has no examples to run (or does not parse).`);
        return;
      }
      const pick = await vscode.window.showQuickPick(
        outline.examples.map((e) => ({ label: e.name, description: e.skip ? 'skip: true' : `line ${e.startLine + 1}` })),
        { title: 'Run which example?', placeHolder: 'The cursor is not inside an example' },
      );
      example = pick?.label;
    }
    if (example) await this.runs.run(runExampleParams(doc.uri.toString(), example, this.quantization), `Run example "${example}"`);
  }

  private async runFile(uri?: vscode.Uri): Promise<void> {
    const doc = await this.contractDocument(uri);
    if (doc) await this.runs.run(runFileParams(doc.uri.toString(), this.quantization), `Run all examples in ${path.basename(doc.fileName)}`);
  }

  private async runWorkspace(): Promise<void> {
    if (!this.runs.trusted()) return;
    const found = await vscode.workspace.findFiles(CONTRACT_GLOB, CONTRACT_EXCLUDE_GLOB);
    const files = found.filter((u) => isWalkedContract(vscode.workspace.asRelativePath(u, false))).sort((a, b) => a.fsPath.localeCompare(b.fsPath));
    if (files.length === 0) {
      void vscode.window.showInformationMessage('Prompt Contracts: no .contract.yaml files in this workspace (folders named broken, node_modules and dot folders are skipped).');
      return;
    }
    const results = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Prompt Contracts: Run all examples in the workspace', cancellable: true },
      async (progress, token) => {
        const out = [];
        for (const [i, file] of files.entries()) {
          if (token.isCancellationRequested) break;
          progress.report({ message: `${i + 1}/${files.length} ${vscode.workspace.asRelativePath(file)}`, increment: 100 / files.length });
          // The server runs open documents only: opening one (without showing it) syncs it.
          const doc = await vscode.workspace.openTextDocument(file);
          const res = await this.runs.run(runFileParams(doc.uri.toString(), this.quantization), `Run ${vscode.workspace.asRelativePath(file)}`, { quiet: true, token });
          if (!res) break; // the user was told why
          out.push(res);
        }
        return out;
      },
    );
    if (results.length === 0) return;
    const failing = results.filter((r) => r.summary.failed > 0 || r.results.some((x) => x.status === 'error'));
    const text = `${results.length} contract${results.length === 1 ? '' : 's'} run; ${failing.length ? `${failing.length} with failures: ${failing.map(summaryLine).join('; ')}` : 'every example passed'}.`;
    const show = failing.length ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(`Prompt Contracts: ${text}`, 'Show Report').then((c) => c && this.showReport());
  }

  private async compareQuantizations(uri?: vscode.Uri): Promise<void> {
    const doc = await this.contractDocument(uri);
    if (!doc) return;
    const outline = outlineOf(doc.getText());
    if (outline.quantizations.length < 2) {
      const go = await vscode.window.showInformationMessage(
        `Prompt Contracts: ${path.basename(doc.fileName)} lists ${outline.quantizations.length === 1 ? 'one quantization' : 'no quantizations'} under model.quantizations; the comparison will have one column.`,
        'Run Anyway',
      );
      if (go !== 'Run Anyway') return;
    }
    // The server runs every listed quantization, compares each candidate with the reference and
    // shows the result as lenses, diagnostics and hovers; the summary lines come back here.
    if (!this.runs.trusted()) return;
    const title = `Compare quantizations of ${path.basename(doc.fileName)}`;
    const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Prompt Contracts: ${title}`, cancellable: true }, async (_p, token) => {
      try {
        return await this.ctx.request(CompareQuantizationsRequest, { uri: doc.uri.toString() }, token);
      } catch (e) {
        this.runs.explain(title, e);
        return undefined;
      }
    });
    if (!res) return;
    for (const line of res.lines) this.ctx.output.info(`${path.basename(doc.fileName)}: ${line}`);
    const text = res.lines.length ? res.lines.join(' — ') : res.reason ?? res.status;
    void (res.status === 'exceeded' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(`Prompt Contracts: ${text}`);
  }

  private showReport(): void {
    this.reportView ??= new ReportView(this.ctx, this.memory);
    this.reportView.show();
  }

  private async selectModel(uri?: vscode.Uri): Promise<void> {
    const doc = uri || vscode.window.activeTextEditor ? await this.contractDocument(uri).catch(() => undefined) : undefined;
    const declared = doc ? outlineOf(doc.getText()).quantizations : [];
    const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
    const modelFile = config.get<string>('modelFile') ?? '';
    type Item = vscode.QuickPickItem & { action: () => Thenable<unknown> };
    const current = this.quantization;
    const items: Item[] = [
      {
        label: `${current ? '' : '$(check) '}The contract's reference quantization`,
        description: declared.length ? `${declared[0]} (the first of ${declared.join(', ')}; Compare Quantizations runs them all)` : undefined,
        action: () => this.ext.workspaceState.update(QUANTIZATION_KEY, undefined),
      },
      ...declared.map((q) => ({ label: `${current === q ? '$(check) ' : ''}${q}`, description: 'only this quantization', action: () => this.ext.workspaceState.update(QUANTIZATION_KEY, q) })),
      { label: '', kind: vscode.QuickPickItemKind.Separator, action: async () => undefined },
      {
        label: '$(file) Use a GGUF file…',
        description: modelFile ? `now: ${modelFile}` : 'contracts.modelFile: run every contract with one file',
        action: async () => {
          const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { GGUF: ['gguf'] }, title: 'Model file for every contract' });
          if (picked?.[0]) await config.update('modelFile', picked[0].fsPath, vscode.ConfigurationTarget.Workspace);
        },
      },
    ];
    if (modelFile) items.push({ label: '$(discard) Use the model registry again', description: 'clears contracts.modelFile', action: () => config.update('modelFile', undefined, vscode.ConfigurationTarget.Workspace) });
    const pick = await vscode.window.showQuickPick(items, { title: 'Prompt Contracts: model and quantization for runs from this window' });
    await pick?.action();
    this.selectionEmitter.fire();
  }

  private async downloadModel(): Promise<void> {
    if (!this.runs.trusted()) return;
    if (this.ctx.state !== 'running') {
      this.runs.explain('Download model', new ServerUnavailableError(this.ctx.state));
      return;
    }
    if (!this.ctx.serverCommands.includes(ServerOptionalCommands.downloadModel)) {
      const allow = vscode.workspace.getConfiguration(SETTINGS_SECTION).get<boolean>('allowDownload') !== false;
      void vscode.window.showInformationMessage(
        `Prompt Contracts: this language server has no "download model" command yet. Models are downloaded on the first run${allow ? '' : ' when contracts.allowDownload is on (it is off)'}.`,
      );
      return;
    }
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Prompt Contracts: downloading the model' }, () =>
      this.ctx.executeServerCommand(ServerOptionalCommands.downloadModel, [{ quantization: this.quantization }]).then(
        () => undefined,
        (e) => this.runs.explain('Download model', e),
      ),
    );
  }

  private async openTraces(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showInformationMessage('Prompt Contracts: traces are written inside a workspace folder; open one first.');
      return;
    }
    const traceDir = vscode.workspace.getConfiguration(SETTINGS_SECTION, folder).get<string>('traceDir') || '.contracts/traces';
    const dir = vscode.Uri.joinPath(folder.uri, traceDir);
    let entries: [string, vscode.FileType][] = [];
    try {
      entries = await vscode.workspace.fs.readDirectory(dir);
    } catch {
      // missing folder: no runs yet
    }
    const files = entries.filter(([name, type]) => type === vscode.FileType.File && /\.jsonl?$/.test(name)).map(([name]) => vscode.Uri.joinPath(dir, name));
    if (files.length === 0) {
      void vscode.window.showInformationMessage(`Prompt Contracts: no traces yet in ${traceDir}. Every run appends one JSON line there.`);
      return;
    }
    const stats = await Promise.all(files.map(async (u) => ({ u, mtime: (await vscode.workspace.fs.stat(u)).mtime })));
    stats.sort((a, b) => b.mtime - a.mtime);
    const pick =
      stats.length === 1
        ? stats[0]
        : await vscode.window.showQuickPick(
            stats.map((s) => ({ label: path.basename(s.u.path), description: new Date(s.mtime).toLocaleString(), s })),
            { title: 'Open which trace file?' },
          ).then((p) => p?.s);
    if (pick) await vscode.window.showTextDocument(pick.u, { preview: false });
  }

  private async showModelStatus(): Promise<void> {
    const state = this.ctx.state;
    if (state === 'stopped' || state === 'failed') {
      const detail = this.ctx.detail ? ` ${this.ctx.detail}` : '';
      const c = await vscode.window.showErrorMessage(`Prompt Contracts: the language server is ${state === 'failed' ? 'down' : 'stopped'}.${detail}`, 'Restart Server', 'Show Output');
      if (c === 'Restart Server') await this.ctx.restart();
      else if (c === 'Show Output') this.ctx.output.show(true);
      return;
    }
    const m = this.ctx.model;
    if (m.state === 'error') {
      const c = await vscode.window.showErrorMessage(`Prompt Contracts: the model failed: ${m.message}`, 'Select Model', 'Show Output', 'Restart Server');
      if (c === 'Select Model') await this.selectModel();
      else if (c === 'Show Output') this.ctx.output.show(true);
      else if (c === 'Restart Server') await this.ctx.restart();
      return;
    }
    const text =
      state !== 'running'
        ? `the language server is ${state}.`
        : m.state === 'ready'
          ? `${m.model} (${m.quantization}) is loaded, generating with ${threadsText(m.threads)}.`
          : m.state === 'downloading'
            ? `downloading ${m.model}: ${Math.floor(m.percent)}%.`
            : m.state === 'loading'
              ? `loading ${m.model}.`
              : 'the model is not loaded; it loads on the first run.';
    const q = this.quantization;
    const c = await vscode.window.showInformationMessage(`Prompt Contracts: ${text}${q ? ` Runs from this window use ${q}.` : ''}`, 'Select Model', 'Show Output');
    if (c === 'Select Model') await this.selectModel();
    else if (c === 'Show Output') this.ctx.output.show(true);
  }
}
