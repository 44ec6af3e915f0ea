/**
 * Fault cases of the editor integration, against the real language server over stdio: a 5 MB
 * contract (diagnostics arrive, the server does not crash, a later edit still answers within a
 * deadline) and 100 contracts opened at once (each gets its diagnostics, memory stays bounded).
 * Times and the server's peak RSS (VmHWM) are printed as test diagnostics. Waits have deadlines;
 * nothing sleeps. (The third case, a window reload during a run, is in test/e2e/code-server.test.ts.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { largeContract, smallContract } from '../bench/gen';
import { fileUri, LspClient } from './support/lsp-client';

function tempDir(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-faults-')));
}

/** Peak resident set of a process (Linux's VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) / 1024;
}

function positionOf(text: string, find: string): { line: number; character: number } {
  const i = text.indexOf(find);
  assert.ok(i >= 0, find);
  const before = text.slice(0, i).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

test('a 5 MB contract: diagnostics arrive, the server survives, and a later edit answers within a deadline', async (t) => {
  const dir = tempDir();
  const client = LspClient.start();
  try {
    await client.initialize(dir);
    // 16,000 examples; the last one has a key the format does not know, so its diagnostic proves the whole file was checked.
    const text = largeContract(16_000).trimEnd() + '\n    colour: blue\n';
    const bytes = Buffer.byteLength(text);
    assert.ok(bytes > 5_000_000 && bytes < 6_000_000, `${bytes} bytes`);
    const uri = fileUri(path.join(dir, 'huge.contract.yaml'));
    const sent = performance.now();
    const opened = client.diagnosticsFor(uri, 1, 180_000);
    client.open(uri, text);
    const first = await opened;
    const openMs = first.at - sent;
    const lastLine = text.split('\n').length - 2;
    assert.ok(
      first.diagnostics.some((d) => d.code === 'unknown-key' && d.range.start.line === lastLine),
      JSON.stringify(first.diagnostics.slice(0, 5)),
    );
    assert.ok(!first.diagnostics.some((d) => d.code === 'internal-error' || d.code === 'file-too-large'), JSON.stringify(first.diagnostics.slice(0, 5)));

    // A wrong value in the middle of the file: reported on its line, within the deadline.
    const at = positionOf(text, 'label: billing\n      confidence: 0.9\n      reason: "generated reason 8000"');
    const editSent = performance.now();
    const edited = client.diagnosticsFor(uri, 2, 60_000);
    client.edit(uri, 2, { start: { line: at.line, character: at.character + 7 }, end: { line: at.line, character: at.character + 14 } }, 'nope');
    const second = await edited;
    const editMs = second.at - editSent;
    assert.ok(second.diagnostics.some((d) => d.code === 'example-schema-mismatch' && d.range.start.line === at.line), JSON.stringify(second.diagnostics.slice(0, 5)));

    // Other requests still answer (hover on the edited value).
    const hover = await client.request<{ contents: unknown } | null>('textDocument/hover', { textDocument: { uri }, position: { line: at.line, character: at.character + 2 } }, 60_000);
    assert.ok(hover, 'a hover answer');
    const rss = peakRssMb(client.child.pid!);
    t.diagnostic(`5 MB contract (${(bytes / 1048576).toFixed(2)} MiB, 16,000 examples): open → diagnostics ${Math.round(openMs)} ms; edit → diagnostics ${Math.round(editMs)} ms; server peak RSS ${Math.round(rss)} MB`);
    // Generous bounds for a busy 2-core machine; they catch a hang or a blow-up, not a regression of a few percent.
    assert.ok(editMs < 60_000, `edit → diagnostics ${editMs} ms`);
    assert.ok(rss < 1024, `peak RSS ${rss} MB`);
    assert.equal(client.child.exitCode, null, 'still running');
    assert.deepEqual(client.framingErrors, []);
  } finally {
    await client.stop(30_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('100 contracts opened at once: every one gets its diagnostics, one edit still answers fast, memory stays bounded', async (t) => {
  const dir = tempDir();
  const client = LspClient.start();
  try {
    await client.initialize(dir);
    const samples = path.join(__dirname, '..', 'samples');
    const sampleTexts = fs.readdirSync(samples).filter((f) => f.endsWith('.contract.yaml') && !f.includes('schema')).map((f) => fs.readFileSync(path.join(samples, f), 'utf8'));
    // Every tenth one has an error on a known line, the rest are the benchmark's small contracts and the samples.
    const docs = Array.from({ length: 100 }, (_, i) => {
      const base = i % 10 === 0 ? smallContract(i).replace('  match: fields\n', '  match: fields\n  colour: blue\n') : i % 3 === 0 ? sampleTexts[i % sampleTexts.length]! : smallContract(i);
      return { uri: fileUri(path.join(dir, `c${String(i).padStart(3, '0')}.contract.yaml`)), text: base, broken: i % 10 === 0 };
    });
    const rssBefore = peakRssMb(client.child.pid!);
    const sent = performance.now();
    const waits = docs.map((d) => client.diagnosticsFor(d.uri, 1, 120_000));
    client.burst(docs.map((d) => ({ method: 'textDocument/didOpen', params: { textDocument: { uri: d.uri, languageId: 'contract-yaml', version: 1, text: d.text } } })));
    const published = await Promise.all(waits);
    const allMs = Math.max(...published.map((p) => p.at)) - sent;
    docs.forEach((d, i) => {
      const codes = published[i]!.diagnostics.map((x) => x.code);
      assert.ok(!codes.includes('internal-error'), `${d.uri}: ${codes.join(', ')}`);
      assert.equal(codes.includes('unknown-key'), d.broken, `${d.uri}: ${codes.join(', ')}`);
    });

    // The server is not stuck behind the others: an edit of one contract answers within a deadline.
    const target = docs[55]!;
    const editSent = performance.now();
    const edited = client.diagnosticsFor(target.uri, 2, 30_000);
    client.replace(target.uri, 2, `${target.text}\nextra: 1\n`);
    const d2 = await edited;
    const editMs = d2.at - editSent;
    assert.ok(d2.diagnostics.some((x) => x.code === 'unknown-key'), JSON.stringify(d2.diagnostics));

    // Closing them all clears their diagnostics; the server keeps nothing of them.
    const cleared = docs.map((d) => client.nextDiagnostics((p) => p.uri === d.uri && p.diagnostics.length === 0, 60_000, `cleared ${d.uri}`));
    client.burst(docs.map((d) => ({ method: 'textDocument/didClose', params: { textDocument: { uri: d.uri } } })));
    await Promise.all(cleared);
    const rss = peakRssMb(client.child.pid!);
    t.diagnostic(`100 contracts opened at once: all diagnostics after ${Math.round(allMs)} ms; an edit after that → diagnostics ${Math.round(editMs)} ms; server peak RSS ${Math.round(rss)} MB (${Math.round(rssBefore)} MB after initialize)`);
    assert.ok(editMs < 10_000, `edit → diagnostics ${editMs} ms`);
    assert.ok(rss < 512, `peak RSS ${rss} MB`);
    assert.ok(rss - rssBefore < 256, `100 contracts added ${rss - rssBefore} MB`);
    assert.equal(client.child.exitCode, null);
    assert.deepEqual(client.framingErrors, []);
  } finally {
    await client.stop(30_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
