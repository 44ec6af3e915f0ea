/**
 * `contracts.acceptActualOutput`, the command the server's "Accept actual output as expected" quick
 * fix carries: shows the edit as a diff (the document against a virtual copy with the edit
 * applied), asks in a modal, then applies it with `workspace.applyEdit` — one undoable edit, not
 * saved. The edit itself comes from the server (server/src/core/accept-output.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ClientSideCommands, type AcceptActualOutputArgs } from '../../server/src/protocol';

/** Scheme of the virtual "after" side of the diff. */
export const PREVIEW_SCHEME = 'contracts-preview';

export const APPLY = 'Apply';

function isArgs(a: unknown): a is AcceptActualOutputArgs {
  const x = a as AcceptActualOutputArgs | undefined;
  return typeof x?.uri === 'string' && typeof x.version === 'number' && typeof x.example === 'string' && typeof x.edit?.newText === 'string' && typeof x.edit.range?.start?.line === 'number';
}

export class AcceptOutput implements vscode.Disposable {
  private readonly previews = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private next = 0;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  register(): vscode.Disposable[] {
    return [
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, {
        onDidChange: this.changed.event,
        provideTextDocumentContent: (uri) => this.previews.get(uri.toString()) ?? '',
      }),
      vscode.commands.registerCommand(ClientSideCommands.acceptActualOutput, (args: unknown) => this.accept(args)),
    ];
  }

  dispose(): void {
    this.changed.dispose();
  }

  private async accept(args: unknown): Promise<boolean> {
    if (!isArgs(args)) {
      void vscode.window.showErrorMessage('Prompt Contracts: "Accept actual output as expected" needs the quick fix\'s arguments; use it from the lightbulb on a wrong-value diagnostic.');
      return false;
    }
    const uri = vscode.Uri.parse(args.uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    if (doc.version !== args.version) return this.outdated(args);
    const r = args.edit.range;
    const range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
    const text = doc.getText();
    const proposed = text.slice(0, doc.offsetAt(range.start)) + args.edit.newText + text.slice(doc.offsetAt(range.end));
    const name = path.basename(uri.path);
    // Same file name (and so the same language) on the right side; a counter keeps each preview apart.
    const preview = uri.with({ scheme: PREVIEW_SCHEME, query: `accept=${++this.next}` });
    this.previews.set(preview.toString(), proposed);
    let choice: string | undefined;
    try {
      await vscode.commands.executeCommand('vscode.diff', uri, preview, `${name} ↔ "${args.example}" with its actual output as expected`, { preview: true });
      choice = await vscode.window.showInformationMessage(
        `Accept the actual output of "${args.example}" as its expected value?`,
        { modal: true, detail: `The diff shows the change to ${name}. It is applied to the editor as one edit: Undo reverts it.` },
        APPLY,
      );
    } finally {
      await this.closePreview(preview);
      this.previews.delete(preview.toString());
    }
    if (choice !== APPLY) return false;
    if (doc.isClosed || doc.version !== args.version) return this.outdated(args);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, range, args.edit.newText);
    const ok = await vscode.workspace.applyEdit(edit);
    if (!ok) {
      void vscode.window.showErrorMessage(`Prompt Contracts: the edit to ${name} could not be applied.`);
      return false;
    }
    this.output.info(`${name}: "${args.example}" now expects its last actual output.`);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(range.start, range.start), preview: false });
    return true;
  }

  private outdated(args: AcceptActualOutputArgs): false {
    void vscode.window.showWarningMessage(`Prompt Contracts: the contract changed after the quick fix for "${args.example}" was offered; run the example again to accept its output.`);
    return false;
  }

  private async closePreview(preview: vscode.Uri): Promise<void> {
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === preview.toString());
    if (tabs.length) await vscode.window.tabGroups.close(tabs).then(undefined, () => undefined);
  }
}
