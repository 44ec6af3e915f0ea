import type { Connection } from 'vscode-languageserver/node';
import type { ResultsStore } from '../core/results-store';
import type { ContractDocuments } from './documents';
import type { DriftStore } from './drift-store';
import type { ExampleRunner, QuantizationComparer } from './runner';
import type { SettingsStore } from './settings';
import type { Workspace } from './workspace';

/** What every feature handler may use. Owned by the server; nothing here is global. */
export interface ServerContext {
  connection: Connection;
  docs: ContractDocuments;
  settings: SettingsStore;
  workspace: Workspace;
  results: ResultsStore;
  runner: ExampleRunner;
  /** Compares quantizations (absent when a test replaces the runner). */
  comparer?: QuantizationComparer;
  /** The last comparison of each document. */
  drift: DriftStore;
}
