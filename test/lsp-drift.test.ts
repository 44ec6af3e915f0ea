/**
 * Drift in the editor, over stdio with the real server and the tiny trained specialist (F16, Q8_0,
 * Q4_0 of the same weights): `contracts/compareQuantizations` → a lens per candidate on
 * `model.quantizations`, a hover with both outputs, and nothing left after an edit.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileUri, LspClient } from './support/lsp-client';
import { ensureSpecialistTestModels } from './support/models';

const ROOT = path.join(__dirname, '..');
let client: LspClient;
let dir: string;
let text: string;

before(async () => {
  const models = await ensureSpecialistTestModels();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsp-drift-'));
  text = fs
    .readFileSync(path.join(ROOT, 'samples', 'specialist-triage.contract.yaml'), 'utf8')
    .replace(/  file: .*\n/, `  file: ${JSON.stringify(models.F16.replace('-F16.gguf', '-{quant}.gguf'))}\n`);
  client = LspClient.start({ settings: { threads: 1, useCache: false, allowDownload: false, idleUnloadSeconds: 0 } });
  client.connection.onRequest('workspace/codeLens/refresh', () => null);
  const init = await client.initialize(dir, { workspace: { configuration: true, codeLens: { refreshSupport: true } }, window: { workDoneProgress: true } });
  advertised = (init as { capabilities: { executeCommandProvider?: { commands: string[] } } }).capabilities.executeCommandProvider?.commands ?? [];
});

after(async () => {
  const code = await client.stop(15_000);
  assert.equal(code, 0, client.stderr.slice(-2000));
  assert.deepEqual(client.framingErrors, []);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Lens {
  range: { start: { line: number } };
  command: { title: string; command: string; arguments?: unknown[] };
}

let advertised: string[] = [];

test('compare quantizations: lenses per candidate on model.quantizations, hover with both outputs, dropped after an edit', { timeout: 240_000 }, async () => {
  const uri = fileUri(path.join(dir, 'triage.contract.yaml'));
  const opened = client.diagnosticsFor(uri, 1);
  client.open(uri, text);
  assert.deepEqual((await opened).diagnostics.filter((d: { severity?: number }) => d.severity === 1), []);

  const res = await client.request<{ status: string; lines: string[] }>('contracts/compareQuantizations', { uri }, 200_000);
  assert.equal(res.status, 'ok', JSON.stringify(res));
  assert.equal(res.lines.length, 2);
  assert.match(res.lines[0]!, /^⇄ Q8_0 vs F16: 0\/12 differ · top-1 100(\.0)?%/);
  assert.match(res.lines[1]!, /^⇄ Q4_0 vs F16: 0\/12 differ/);

  const lenses = await client.request<Lens[]>('textDocument/codeLens', { textDocument: { uri } });
  const quantLine = text.split('\n').findIndex((l) => l.includes('quantizations:'));
  const drift = lenses.filter((l) => l.command.title.startsWith('⇄'));
  assert.deepEqual(drift.map((l) => l.range.start.line), [quantLine, quantLine]);

  const exampleLine = text.split('\n').findIndex((l) => l.includes('- name: german billing'));
  const hover = await client.request<{ contents: { value: string } } | null>('textDocument/hover', { textDocument: { uri }, position: { line: exampleLine, character: 12 } });
  assert.ok(hover && /F16/.test(hover.contents.value) && /Q4_0/.test(hover.contents.value), hover?.contents.value);

  // A drift lens is clickable: it carries the server's command (not the client's
  // contracts.compareQuantizations), which runs the comparison again.
  for (const l of drift) {
    assert.equal(l.command.command, 'contracts.recompareQuantizations');
    assert.deepEqual(l.command.arguments, [{ uri }]);
  }
  assert.ok(advertised.includes('contracts.recompareQuantizations'), `executeCommandProvider: ${advertised.join(', ')}`);
  assert.ok(!advertised.includes('contracts.compareQuantizations'), 'the client registers that one itself');
  const again = await client.request<{ status: string; lines: string[] }>('workspace/executeCommand', { command: drift[0]!.command.command, arguments: drift[0]!.command.arguments }, 200_000);
  assert.equal(again.status, 'ok', JSON.stringify(again));
  assert.deepEqual(again.lines.map((l) => l.split(' differ')[0]), res.lines.map((l) => l.split(' differ')[0]));
  const relensed = await client.request<Lens[]>('textDocument/codeLens', { textDocument: { uri } });
  assert.equal(relensed.filter((l) => l.command.title.startsWith('⇄')).length, 2);
  const bad = await client.request<unknown>('workspace/executeCommand', { command: 'contracts.recompareQuantizations', arguments: [] }).then(
    () => 'resolved',
    (e: { code?: number; message?: string }) => `${e.code}: ${e.message}`,
  );
  assert.match(String(bad), /-32602: contracts\.recompareQuantizations needs an argument \{ uri \}/);

  client.replace(uri, 2, text.replace('Route a support message', 'Route a customer message'));
  await client.diagnosticsFor(uri, 2);
  const after = await client.request<Lens[]>('textDocument/codeLens', { textDocument: { uri } });
  assert.deepEqual(after.filter((l) => l.command.title.startsWith('⇄')), [], 'a comparison is never shown for a text it was not made from');
});
