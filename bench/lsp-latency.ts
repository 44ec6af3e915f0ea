import * as fs from 'node:fs';
import * as path from 'node:path';
import { largeContract } from './gen';
import { removeTempDir, tempDir } from './support/children';
import type { LspServerSpec } from './support/lsp-client';
import { assertChecksFormat, startServer, uriOf } from './support/session';
import { summarize, type Summary } from './support/stats';

/**
 * Target 1: diagnostics for a 2,000-line contract with 200 examples after a one-character edit,
 * through a language server over stdio: didChange sent → publishDiagnostics for that version read.
 */

export interface LspLatencyResult {
  server: string;
  /** Spawn → initialize answered. */
  startMs: number;
  /** didOpen of the large contract → its first diagnostics. */
  openMs: number;
  latency: Summary;
  samples: number[];
  warmup: number;
  /** Diagnostics on the large contract after the last edit (it is valid: hints at most). */
  finalDiagnostics: number;
  /** What the server said about the deliberately broken contract (proof that it checks the format). */
  sanity: string;
  sync: 'incremental' | 'full';
  peakRssBytes?: number;
}

export interface Edit {
  /** Zero-based line and character of the edit. */
  line: number;
  character: number;
  insert: boolean;
}

/** One-character edits that alternate insert and delete at the end of a description near the middle. */
export function editSequence(text: string, count: number): Edit[] {
  const lines = text.split('\n');
  const examples = lines.filter((l) => l.startsWith('  - name: ')).length;
  const target = `generated example number ${Math.floor(examples / 2)}`;
  const line = lines.findIndex((l) => l.endsWith(target));
  if (line < 0) throw new Error(`no line ending with "${target}" in the large contract`);
  const character = lines[line].length;
  return Array.from({ length: count }, (_, i) => ({ line, character, insert: i % 2 === 0 }));
}

function applyEdit(text: string, e: Edit): string {
  const lines = text.split('\n');
  const l = lines[e.line];
  lines[e.line] = e.insert ? l.slice(0, e.character) + 'x' + l.slice(e.character) : l.slice(0, e.character) + l.slice(e.character + 1);
  return lines.join('\n');
}

export async function measureLspLatency(spec: LspServerSpec, opts: { warmup: number; measured: number; examples?: number }): Promise<LspLatencyResult> {
  const root = tempDir('contracts-bench-lsp-');
  const started = await startServer(spec, root);
  const { client } = started;
  try {
    const sanity = await assertChecksFormat(client, root);
    const file = path.join(root, 'large.contract.yaml');
    let text = largeContract(opts.examples ?? 200);
    fs.writeFileSync(file, text);
    const uri = uriOf(file);
    let version = 1;
    const forVersion = (v: number) => (p: { uri: string; version?: number }) => p.uri === uri && (p.version === undefined || p.version === v);

    const t0 = performance.now();
    const opened = client.nextDiagnostics(forVersion(version), 60_000, 'the large contract (open)');
    client.notify('textDocument/didOpen', { textDocument: { uri, languageId: spec.languageId, version, text } });
    const openPub = await opened;
    const openMs = openPub.at - t0;

    const edits = editSequence(text, opts.warmup + opts.measured);
    const samples: number[] = [];
    let last = openPub;
    for (let i = 0; i < edits.length; i++) {
      const e = edits[i];
      text = applyEdit(text, e);
      version++;
      const change =
        started.sync === 2
          ? { range: { start: { line: e.line, character: e.character }, end: { line: e.line, character: e.character + (e.insert ? 0 : 1) } }, rangeLength: e.insert ? 0 : 1, text: e.insert ? 'x' : '' }
          : { text };
      const got = client.nextDiagnostics(forVersion(version), 30_000, `edit ${i + 1} (version ${version})`);
      const sent = performance.now();
      client.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [change] });
      last = await got;
      if (i >= opts.warmup) samples.push(last.at - sent);
    }
    const { peakRssBytes } = await client.close();
    return {
      server: spec.name,
      startMs: started.startMs,
      openMs,
      latency: summarize(samples),
      samples,
      warmup: opts.warmup,
      finalDiagnostics: last.diagnostics.length,
      sanity,
      sync: started.sync === 2 ? 'incremental' : 'full',
      peakRssBytes,
    };
  } finally {
    await client.close(2000);
    removeTempDir(root);
  }
}
