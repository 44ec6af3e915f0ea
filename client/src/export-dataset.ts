/**
 * "Export Fine-Tuning Dataset": the server's `contracts/exportDataset` (the core's TRL chat JSONL)
 * saved where the user says. Allowed in an untrusted workspace: nothing is loaded or run, and the
 * only file written is the one the user picks in the save dialog.
 */
import * as vscode from 'vscode';
import { ExportDatasetRequest, type ExportDatasetResult } from '../../server/src/protocol';
import type { Ctx } from './ctx';
import { describeRequestError } from './errors';
import { datasetFileName, failingQuestion } from './export-args';

const TITLE = 'Export fine-tuning dataset';

export async function exportDataset(ctx: Ctx, doc: vscode.TextDocument): Promise<vscode.Uri | undefined> {
  const uri = doc.uri.toString();
  let res: ExportDatasetResult;
  try {
    res = await ctx.request(ExportDatasetRequest, { uri, includeFailing: true });
    if (res.failing.length) {
      const choice = await vscode.window.showInformationMessage(
        failingQuestion(res.failing),
        { modal: true, detail: 'Included, they teach the model the answers it got wrong; left out, they stay honest tests of the fine-tuned model.' },
        'Include',
        'Leave Out',
      );
      if (!choice) return undefined;
      if (choice === 'Leave Out') res = await ctx.request(ExportDatasetRequest, { uri, includeFailing: false });
    }
  } catch (e) {
    void vscode.window.showErrorMessage(`Prompt Contracts: ${describeRequestError(TITLE, e)}`);
    return undefined;
  }
  if (!res.rows) {
    void vscode.window.showInformationMessage(`Prompt Contracts: ${res.contract} has no examples ${res.failing.length ? 'left ' : ''}to export.`);
    return undefined;
  }
  const folder = doc.uri.scheme === 'file' ? vscode.Uri.joinPath(doc.uri, '..') : vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, datasetFileName(doc.uri.path)) } : {}),
    filters: { 'JSON Lines': ['jsonl'] },
    title: `${TITLE}: ${res.rows} row${res.rows === 1 ? '' : 's'} of ${res.contract}`,
    saveLabel: 'Export',
  });
  if (!target) return undefined;
  try {
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(res.jsonl));
  } catch (e) {
    void vscode.window.showErrorMessage(`Prompt Contracts: could not write ${target.fsPath}: ${(e as Error)?.message ?? String(e)}`);
    return undefined;
  }
  ctx.output.info(`${TITLE}: ${res.rows} rows of ${res.contract} → ${target.fsPath}`);
  void vscode.window.showInformationMessage(`Prompt Contracts: wrote ${res.rows} row${res.rows === 1 ? '' : 's'} to ${vscode.workspace.asRelativePath(target)}.`, 'Open').then((c) => {
    if (c === 'Open') void vscode.window.showTextDocument(target);
  });
  return target;
}
