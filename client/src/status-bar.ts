/** The model status item: shows {@link formatStatus} of the context's state. */
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { formatStatus } from './model-status';

export class ModelStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('contracts.modelStatus', vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly ctx: Ctx,
    private readonly quantization: () => string | undefined,
  ) {
    this.item.name = 'Prompt Contracts: Model';
    this.sub = ctx.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  update(): void {
    const view = formatStatus(this.ctx.model, this.ctx.state, this.ctx.detail);
    const q = this.quantization();
    this.item.text = view.text;
    this.item.tooltip = q ? `${view.tooltip}\nRuns from this window use ${q}.` : view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.severity === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : view.severity === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
