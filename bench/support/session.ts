import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { smallContract } from '../gen';
import { LspClient, type LspServerSpec } from './lsp-client';

export const uriOf = (file: string): string => pathToFileURL(file).href;

/** A contract that breaks the contract format in a way both servers report (`contract` must be a string). */
export function sanityText(): string {
  return smallContract(0).replace(/^contract: .*$/m, 'contract: [not, a, name]');
}

export interface Started {
  client: LspClient;
  /** TextDocumentSyncKind the server asked for: 1 full, 2 incremental. */
  sync: number;
  startMs: number;
}

/** Starts a server on a workspace folder and waits until it has pulled its settings (when it pulls any). */
export async function startServer(spec: LspServerSpec, root: string): Promise<Started> {
  const t0 = performance.now();
  const client = new LspClient(spec, root);
  const init = await client.initialize(uriOf(root));
  const s = init.capabilities.textDocumentSync;
  const sync = typeof s === 'number' ? s : (s?.change ?? 1);
  return { client, sync, startMs: performance.now() - t0 };
}

/**
 * Proves the server validates contracts against the format: a contract with a wrong `contract`
 * value must get at least one diagnostic. Throws otherwise (a benchmark of a server that checks
 * nothing would be meaningless).
 */
export async function assertChecksFormat(client: LspClient, root: string, timeoutMs = 30_000): Promise<string> {
  // Opened, never written: the folder may be a corpus that other tools read.
  const uri = uriOf(path.join(root, 'sanity.contract.yaml'));
  const text = sanityText();
  const got = client.nextDiagnostics((p) => p.uri === uri && p.diagnostics.length > 0, timeoutMs, 'the sanity contract');
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: client.spec.languageId, version: 1, text } });
  const pub = await got;
  client.notify('textDocument/didClose', { textDocument: { uri } });
  return pub.diagnostics[0].message;
}
