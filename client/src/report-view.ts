/**
 * "Show Report": one webview panel for the workspace, reused, drawing the same HTML as
 * `contracts run --report` (server/src/core/report-html.ts) from this window's results. It redraws as
 * each example finishes (run progress) and as each run ends. The page carries its own strict CSP;
 * its only script swaps in a newer body, so scrolling and open sections survive an update.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { renderReportBody, renderReportHtml } from '../../server/src/core/report-html';
import type { ExampleRunResult } from '../../server/src/protocol';
import type { Ctx } from './ctx';
import { contractFacts, nameFromUri, withLive, workspaceReportModel } from './report-model';
import type { ResultsMemory } from './results-memory';

export const REPORT_VIEW_TYPE = 'contracts.report';

export class ReportView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** The webview's script said it is listening (reset whenever the whole page is set). */
  private ready = false;
  /** An update came while the panel was hidden: the whole page is set when it shows again. */
  private stale = false;
  private pending: ReturnType<typeof setTimeout> | undefined;
  /** Examples of runs still going, per contract URI. */
  private readonly live = new Map<string, ExampleRunResult[]>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    ctx: Ctx,
    private readonly memory: ResultsMemory,
  ) {
    this.subscriptions = [
      ctx.onRunProgress((p) => {
        if (!p.last) return;
        const list = this.live.get(p.uri) ?? [];
        this.live.set(p.uri, [...list.filter((r) => r.example !== p.last!.example || r.quantization !== p.last!.quantization), p.last]);
        this.update();
      }),
      new vscode.Disposable(
        memory.onDidRecord((res) => {
          this.live.delete(res.uri);
          this.update();
        }).dispose,
      ),
    ];
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      this.setPage();
      return;
    }
    // Beside the contract, which keeps the focus: run it again and watch the report move.
    const panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, 'Prompt Contracts Report', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      // Only for the script that swaps in a newer body; nothing is loaded from disk or the network.
      enableScripts: true,
      localResourceRoots: [],
      enableFindWidget: true,
    });
    this.panel = panel;
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
    });
    panel.onDidChangeViewState(() => {
      if (panel.visible && this.stale) this.setPage();
    });
    panel.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type === 'ready') this.ready = true;
    });
    this.setPage();
  }

  private model() {
    const finished = this.memory.all();
    const results = withLive(finished, this.live, (uri) => contractFacts(this.documentText(uri) ?? '').contract ?? nameFromUri(uri));
    return workspaceReportModel(
      results,
      (uri) => {
        const text = this.documentText(uri);
        const facts = text !== undefined ? contractFacts(text) : {};
        return { ...facts, file: vscode.workspace.asRelativePath(vscode.Uri.parse(uri), true) };
      },
      new Date(),
    );
  }

  /** The server runs open documents only, so a contract with results is (almost always) open. */
  private documentText(uri: string): string | undefined {
    return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri)?.getText();
  }

  private setPage(): void {
    if (!this.panel) return;
    this.ready = false;
    this.stale = false;
    this.panel.webview.html = renderReportHtml(this.model(), { nonce: randomBytes(16).toString('hex'), cspSource: this.panel.webview.cspSource, live: true });
  }

  /** Coalesces bursts of finished examples into one redraw. */
  private update(): void {
    if (!this.panel || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const panel = this.panel;
      if (!panel) return;
      if (!panel.visible) this.stale = true;
      else if (!this.ready) this.setPage();
      else void panel.webview.postMessage({ type: 'report', body: renderReportBody(this.model()) });
    }, 150);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const s of this.subscriptions) s.dispose();
    this.panel?.dispose();
  }
}
