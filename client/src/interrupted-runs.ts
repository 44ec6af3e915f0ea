/**
 * Runs in flight, remembered in the workspace's state until they end, so that a run cut short by
 * a window reload (or a crash of the window) is told once, by the next window: its results were
 * not kept. The edits are VS Code's to keep (hot exit); the run is ours to explain.
 */
import * as vscode from 'vscode';
import { ClientCommands } from './ids';

const KEY = 'contracts.runsInFlight';

interface InFlight {
  id: string;
  title: string;
  uri: string;
  at: string;
}

export class InterruptedRuns {
  private next = 0;
  /** Entries of this window; the state also holds a previous window's until they are reported. */
  private readonly session = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly state: vscode.Memento) {}

  private closing = false;

  /** Remembers a run; the returned function forgets it (call it however the run ends). */
  begin(title: string, uri: string): () => void {
    const id = `${this.session}:${++this.next}`;
    void this.update((runs) => [...runs, { id, title, uri, at: new Date().toISOString() }]);
    return () => {
      // A run that fails because the window is going away stays remembered: the next window tells.
      if (!this.closing) void this.update((runs) => runs.filter((r) => r.id !== id));
    };
  }

  /** The extension is deactivating (reload, close): runs still in flight count as interrupted. */
  closingWindow(): void {
    this.closing = true;
  }

  /** After activation: tells the user, once, about runs an earlier window started and never finished. */
  async tellOnce(): Promise<void> {
    const mine = `${this.session}:`;
    const lost = this.runs().filter((r) => !r.id.startsWith(mine));
    if (!lost.length) return;
    await this.update((runs) => runs.filter((r) => r.id.startsWith(mine)));
    const what = lost.length === 1 ? `"${lost[0]!.title}" was` : `${lost.length} runs were`;
    const uris = [...new Set(lost.map((r) => r.uri))];
    const choice = await vscode.window.showWarningMessage(
      `Prompt Contracts: ${what} interrupted when the window reloaded or closed; results it had not finished were not kept. Your edits are unaffected.`,
      ...(uris.length === 1 ? ['Run Again'] : []),
    );
    if (choice === 'Run Again') await vscode.commands.executeCommand(ClientCommands.runFile, vscode.Uri.parse(uris[0]!));
  }

  private runs(): InFlight[] {
    const v = this.state.get<unknown>(KEY);
    return Array.isArray(v) ? v.filter((r): r is InFlight => typeof r?.id === 'string' && typeof r.title === 'string' && typeof r.uri === 'string') : [];
  }

  /** Serialised read-modify-write, so that quick begin/end pairs do not lose each other's changes. */
  private chain: Promise<void> = Promise.resolve();
  private update(f: (runs: InFlight[]) => InFlight[]): Promise<void> {
    this.chain = this.chain.then(() => this.state.update(KEY, f(this.runs())), () => this.state.update(KEY, f(this.runs())));
    return this.chain;
  }
}
