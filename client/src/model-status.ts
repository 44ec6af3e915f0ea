/**
 * What the status bar says about the model and the server. Pure: no `vscode` import, so the text,
 * tooltip and click action are unit-tested without an editor (test/extension-status.test.ts).
 */
import type { ModelStatus } from '../../server/src/protocol';

export type ServerState = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface StatusView {
  text: string;
  tooltip: string;
  /** `error` and `warning` colour the item (statusBarItem.errorBackground / warningBackground). */
  severity: 'normal' | 'warning' | 'error';
  /** Command run on click. */
  command: string;
}

export const SHOW_STATUS_COMMAND = 'contracts.showModelStatus';

export function threadsText(n: number): string {
  return n === 1 ? '1 thread' : `${n} threads`;
}

export function formatStatus(model: ModelStatus, server: ServerState, detail?: string): StatusView {
  const view = (text: string, tooltip: string, severity: StatusView['severity'] = 'normal'): StatusView => ({ text, tooltip, severity, command: SHOW_STATUS_COMMAND });
  switch (server) {
    case 'starting':
      return view('$(sync~spin) Contracts: starting', 'Prompt Contracts: the language server is starting.');
    case 'restarting':
      return view('$(sync~spin) Contracts: restarting', `Prompt Contracts: the language server stopped and is restarting.${detail ? `\n${detail}` : ''}`, 'warning');
    case 'stopped':
      return view('$(debug-disconnect) Contracts: stopped', 'Prompt Contracts: the language server is stopped. Click to restart it.', 'warning');
    case 'failed':
      return view('$(error) Contracts: server failed', `Prompt Contracts: the language server keeps stopping.${detail ? `\n${detail}` : ''}\nClick for details.`, 'error');
    case 'running':
      break;
  }
  switch (model.state) {
    case 'not-loaded':
      return view('$(circle-large-outline) Model: not loaded', 'Prompt Contracts: the model loads on the first run.');
    case 'downloading': {
      const pct = Math.max(0, Math.min(100, Math.floor(model.percent)));
      return view(`$(cloud-download) Model: downloading ${pct}%`, `Prompt Contracts: downloading ${model.model} (${pct}%).`);
    }
    case 'loading':
      return view('$(sync~spin) Model: loading', `Prompt Contracts: loading ${model.model}.`);
    case 'ready':
      return view(
        `$(check) ${model.model} · ${model.quantization} · ${threadsText(model.threads)}`,
        `Prompt Contracts: ${model.model} (${model.quantization}) is loaded, generating with ${threadsText(model.threads)}.${model.synthetic ? '\nA SYNTHETIC test model with random weights: verdicts and latencies say nothing about Gemma 3.' : ''}`,
        model.synthetic ? 'warning' : 'normal',
      );
    case 'error':
      return view('$(error) Model: error', `Prompt Contracts: ${firstLine(model.message)}\nClick for details.`, 'error');
  }
}

function firstLine(s: string): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
