/**
 * "Accept actual output as expected" through the language server (in process, ScriptedRunner):
 * the quick fix on a wrong-value run diagnostic, as a preview command for the VS Code client and
 * as a plain edit for any other client; none for a stale result or a schema mismatch; the applied
 * edit re-checks clean and the example then passes. Also `contracts/exportDataset`.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ACCEPT_ACTUAL_OUTPUT_TITLE, ClientSideCommands, type AcceptActualOutputArgs, type ExportDatasetResult } from '../server/src/protocol';
import { scriptedSource } from '../server/src/runtime/engine';
import { ScriptedRunner } from '../server/src/runtime/runner';
import { InProcess, type Range } from './support/in-process-lsp';
import { fileUri, type Diagnostic } from './support/lsp-client';

interface CodeAction {
  title: string;
  kind?: string;
  isPreferred?: boolean;
  diagnostics?: Diagnostic[];
  edit?: { changes: Record<string, { range: Range; newText: string }[]> };
  command?: { title: string; command: string; arguments: [AcceptActualOutputArgs] };
}

const CONTRACT = `contract: triage
prompt:
  system: "Answer with JSON only."
  user: "Classify {{complaint}}: billing or shipping, and whether it is urgent."
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, urgent]
    properties:
      label: { enum: [billing, shipping] }
      urgent: { type: boolean }
  match: exact
examples:
  - name: ok
    input: { complaint: "charged twice" }
    expected: { label: billing, urgent: false }
  - name: wrong
    input: { complaint: "parcel late" }
    expected:
      label: billing
      urgent: false
  - name: broken
    input: { complaint: "parcel lost" }
    expected: { label: shipping, urgent: true }
`;

const SCRIPT = {
  triage: {
    ok: { output: '{"label":"billing","urgent":false}', latencyMs: 100 },
    wrong: { output: '{"label":"shipping","urgent":true}', latencyMs: 100 },
    broken: { output: '{"label":"lost","urgent":true}', latencyMs: 100 },
  },
};

/** The server in process with the scripted runner, no traces and no cache. */
function session(): InProcess {
  const runner = new ScriptedRunner(SCRIPT, { quantization: 'Q8_0' });
  return new InProcess({ modelSource: () => scriptedSource(runner), settings: { traceDir: '', cacheDir: '' } });
}

function apply(text: string, edit: { range: Range; newText: string }): string {
  const doc = TextDocument.create('x', 'yaml', 1, text);
  return TextDocument.applyEdits(doc, [edit]);
}

describe('Accept actual output as expected (language server, in process)', () => {
  let dir: string;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-accept-')));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the VS Code client gets a preview command; applying its edit makes the example pass on the next run', async () => {
    const s = session();
    try {
      const init = await s.initialize(dir, { clientCommands: [ClientSideCommands.acceptActualOutput] });
      assert.deepEqual(init.capabilities.codeActionProvider, { codeActionKinds: ['quickfix'], resolveProvider: false });
      const uri = fileUri(path.join(dir, 'triage.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.diagnostics(uri, 1);
      await s.run(uri);
      const diags = (await s.diagnostics(uri, 1, (ds) => ds.some((d) => d.code === 'run-wrong-value') && ds.some((d) => d.code === 'run-schema-mismatch'))).diagnostics;
      const wrong = diags.filter((d) => d.code === 'run-wrong-value');
      assert.equal(wrong.length, 2, JSON.stringify(diags));

      const actions = await s.actions<CodeAction>(uri, wrong[0]!.range, wrong);
      assert.ok(actions);
      assert.equal(actions.length, 1);
      const [a] = actions;
      assert.equal(a!.title, ACCEPT_ACTUAL_OUTPUT_TITLE);
      assert.equal(a!.kind, 'quickfix');
      assert.equal(a!.isPreferred, true);
      assert.equal(a!.edit, undefined, 'the client previews before applying: no edit to apply at once');
      assert.equal(a!.command!.command, ClientSideCommands.acceptActualOutput);
      const args = a!.command!.arguments[0];
      assert.equal(args.uri, uri);
      assert.equal(args.version, 1);
      assert.equal(args.example, 'wrong');
      assert.deepEqual(a!.diagnostics!.map((d) => d.message), wrong.map((d) => d.message));

      const edited = apply(CONTRACT, args.edit);
      assert.equal(edited, CONTRACT.replace('    expected:\n      label: billing\n      urgent: false\n', '    expected:\n      label: shipping\n      urgent: true\n'));

      // A schema mismatch offers nothing (its output cannot be an expected value).
      const mismatch = diags.find((d) => d.code === 'run-schema-mismatch')!;
      assert.deepEqual(await s.actions(uri, mismatch.range, [mismatch]), []);

      // No diagnostic in the context (the cursor elsewhere): nothing.
      assert.deepEqual(await s.actions(uri, wrong[0]!.range, []), []);

      // Apply: the result is stale, the wrong-value diagnostics go, and the next run passes.
      s.replace(uri, 2, edited);
      const after2 = (await s.diagnostics(uri, 2)).diagnostics;
      assert.ok(!after2.some((d) => d.code === 'run-wrong-value'), JSON.stringify(after2));
      assert.ok(!after2.some((d) => d.severity === 1 && !d.code?.toString().startsWith('run-')), 'no static errors after the edit');
      assert.deepEqual(await s.actions(uri, wrong[0]!.range, wrong), [], 'a stale result offers nothing');
      const res = await s.run(uri);
      assert.equal(res.results.find((r) => r.example === 'wrong')!.status, 'pass');
    } finally {
      s.dispose();
    }
  });

  test('any other LSP client gets the edit itself', async () => {
    const s = session();
    try {
      await s.initialize(dir, {});
      const uri = fileUri(path.join(dir, 'plain.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.run(uri);
      const wrong = (await s.diagnostics(uri, 1, (ds) => ds.some((d) => d.code === 'run-wrong-value'))).diagnostics.filter((d) => d.code === 'run-wrong-value');
      const [a] = (await s.actions<CodeAction>(uri, wrong[0]!.range, wrong))!;
      assert.equal(a!.command, undefined);
      const edits = a!.edit!.changes[uri]!;
      assert.equal(edits.length, 1);
      assert.match(apply(CONTRACT, edits[0]!), /- name: wrong\n {4}input: \{ complaint: "parcel late" \}\n {4}expected:\n {6}label: shipping\n {6}urgent: true\n/);
    } finally {
      s.dispose();
    }
  });

  test('contracts/exportDataset: every runnable example, or without the ones the current results fail', async () => {
    const s = session();
    try {
      await s.initialize(dir, {});
      const uri = fileUri(path.join(dir, 'export.contract.yaml'));
      const text = CONTRACT;
      s.open(uri, text);
      await s.diagnostics(uri, 1);
      const before = await s.client.sendRequest<ExportDatasetResult>('contracts/exportDataset', { uri });
      assert.equal(before.contract, 'triage');
      assert.equal(before.rows, 3);
      assert.deepEqual(before.failing, [], 'nothing ran yet');
      const lines = before.jsonl.trim().split('\n').map((l) => JSON.parse(l) as { messages: { role: string; content: string }[] });
      assert.deepEqual(lines[1]!.messages, [
        { role: 'system', content: 'Answer with JSON only.' },
        { role: 'user', content: 'Classify parcel late: billing or shipping, and whether it is urgent.' },
        { role: 'assistant', content: '{"label":"billing","urgent":false}' },
      ]);
      await s.run(uri);
      const all = await s.client.sendRequest<ExportDatasetResult>('contracts/exportDataset', { uri });
      assert.deepEqual(all.failing, ['wrong', 'broken']);
      assert.equal(all.rows, 3);
      assert.equal(all.jsonl, before.jsonl, 'failing examples keep their expected answers');
      const passing = await s.client.sendRequest<ExportDatasetResult>('contracts/exportDataset', { uri, includeFailing: false });
      assert.equal(passing.rows, 1);
      assert.equal(passing.jsonl, before.jsonl.split('\n')[0] + '\n');

      s.replace(uri, 2, text.replace('required: [label, urgent]', 'required: [label, urgent, nope]'));
      await s.diagnostics(uri, 2);
      await assert.rejects(s.client.sendRequest('contracts/exportDataset', { uri }), /error/);
    } finally {
      s.dispose();
    }
  });
});
