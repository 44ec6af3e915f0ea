/**
 * The real language server as a child process, over stdio (and node-ipc, socket), driven with
 * vscode-jsonrpc. Every wait has a deadline; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createClientSocketTransport,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { largeContract } from '../bench/gen';
import { caret, fileUri, LspClient, REPO, type Diagnostic } from './support/lsp-client';
import { labelContract } from './support/contracts';

const CONTRACT = labelContract({ name: 'demo', examples: `  - name: double charge
    input: { complaint: "charged twice" }
    expected: { label: bill }
  - name: late parcel
    input: { complaint: "parcel late" }
    expected: { label: shipping }
` });

type Pos = { line: number; character: number };
const slim = (ds: Diagnostic[]) => ds.map((d) => [d.code, d.severity, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character]);

function tempDir(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-lsp-')));
}

/** The position just after the first occurrence of `find` (or at the marker inside it). */
function positionOf(text: string, find: string): Pos {
  const i = text.indexOf(find);
  assert.ok(i >= 0, `no ${JSON.stringify(find)}`);
  const before = text.slice(0, i + find.length).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

describe('language server over stdio', () => {
  let dir: string;
  let client: LspClient;
  let uri: string;

  before(async () => {
    dir = tempDir();
    client = LspClient.start();
    const init = await client.initialize(dir);
    assert.equal(init.serverInfo?.name, 'contracts-language-server');
    uri = fileUri(path.join(dir, 'demo.contract.yaml'));
  });

  after(async () => {
    const code = await client.stop();
    assert.equal(code, 0, `the server exits 0 after shutdown + exit; stderr: ${client.stderr}`);
    assert.deepEqual(client.framingErrors, [], 'stdout carries only LSP frames');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('capabilities', async () => {
    const c = LspClient.start();
    try {
      const init = await c.initialize();
      const caps = init.capabilities as Record<string, unknown>;
      assert.deepEqual(caps.textDocumentSync, { openClose: true, change: 2 });
      assert.equal(caps.hoverProvider, true);
      assert.deepEqual(caps.executeCommandProvider, { commands: ['contracts.runAll', 'contracts.runExample', 'contracts.recompareQuantizations'] });
      assert.deepEqual(caps.codeLensProvider, { resolveProvider: false });
    } finally {
      assert.equal(await c.stop(), 0);
    }
  });

  test('diagnostics on open, then after each edit, for that version', async () => {
    const v1 = client.diagnosticsFor(uri, 1);
    client.open(uri, CONTRACT);
    const d1 = await v1;
    assert.deepEqual(slim(d1.diagnostics), [
      ['coverage-enum-unexercised', 3, 10, 22, 10, 29],
      ['example-schema-mismatch', 1, 15, 23, 15, 27],
    ]);
    const mismatch = d1.diagnostics[1]!;
    assert.equal(mismatch.source, 'contracts');
    assert.equal(mismatch.message, 'example `double charge`: /label must be equal to one of the allowed values: "billing", "shipping" (got "bill"); did you mean "billing"?');
    assert.deepEqual(mismatch.data, { pointer: '/label', keyword: 'enum', schemaPath: '#/properties/label/enum' });
    assert.equal((mismatch as { codeDescription?: unknown }).codeDescription, undefined);

    // bill → billing: one incremental edit fixes both findings.
    const v2 = client.diagnosticsFor(uri, 2);
    client.edit(uri, 2, { start: { line: 15, character: 27 }, end: { line: 15, character: 27 } }, 'ing');
    assert.deepEqual(slim((await v2).diagnostics), []);

    // A misspelt key, typed over the `match` line.
    const v3 = client.diagnosticsFor(uri, 3);
    client.edit(uri, 3, { start: { line: 11, character: 2 }, end: { line: 11, character: 7 } }, 'matc');
    const d3 = await v3;
    assert.deepEqual(slim(d3.diagnostics), [['unknown-key', 1, 11, 2, 11, 6]]);
    assert.match(d3.diagnostics[0]!.message, /unknown key `matc` in `output`; did you mean `match`\?/);
  });

  test('a burst of changes is checked once, at its latest version', async () => {
    const burstUri = fileUri(path.join(dir, 'burst.contract.yaml'));
    const opened = client.diagnosticsFor(burstUri, 1);
    client.open(burstUri, CONTRACT);
    await opened;
    const last = client.diagnosticsFor(burstUri, 11);
    const from = client.published.length;
    client.burst(
      Array.from({ length: 10 }, (_, i) => ({
        method: 'textDocument/didChange',
        params: { textDocument: { uri: burstUri, version: i + 2 }, contentChanges: [{ range: { start: { line: 0, character: 14 }, end: { line: 0, character: 14 } }, text: 'x' }] },
      })),
    );
    const d = await last;
    assert.deepEqual(slim(d.diagnostics), [
      ['coverage-enum-unexercised', 3, 10, 22, 10, 29],
      ['example-schema-mismatch', 1, 15, 23, 15, 27],
    ]);
    // A request after the burst: its answer proves the server has handled everything before it.
    await client.request('textDocument/hover', { textDocument: { uri: burstUri }, position: { line: 0, character: 1 } });
    const versions = client.published.slice(from).filter((p) => p.uri === burstUri).map((p) => p.version);
    assert.deepEqual(versions, [11], 'only the latest version is checked and published');
    client.close(burstUri);
  });

  test('hover: format key, JSON Schema keyword, diagnostic, placeholder, example', async () => {
    const doc = caret(CONTRACT.replace('  match: fields', '  ma|tch: fields'));
    const hUri = fileUri(path.join(dir, 'hover.contract.yaml'));
    const opened = client.diagnosticsFor(hUri, 1);
    client.open(hUri, doc.text);
    await opened;
    const hoverAt = (p: Pos) => client.request<{ contents: { kind: string; value: string }; range: { start: Pos; end: Pos } } | null>('textDocument/hover', { textDocument: { uri: hUri }, position: p });

    const key = await hoverAt(doc.position);
    assert.equal(key?.contents.kind, 'markdown');
    assert.match(key!.contents.value, /^\*\*`match`\*\* · `output\.match`\n\nHow an output is compared with `expected`/);
    assert.deepEqual(key!.range, { start: { line: 11, character: 2 }, end: { line: 11, character: 7 } });

    const kw = await hoverAt(positionOf(doc.text, '    additionalProp'));
    assert.match(kw!.contents.value, /^\*\*JSON Schema `additionalProperties`\*\*/);

    const diag = await hoverAt(positionOf(doc.text, 'expected: { label: bi'));
    assert.match(diag!.contents.value, /^\*\*Expected value breaks the output schema\*\* \(`example-schema-mismatch`\): /);

    const ph = await hoverAt(positionOf(doc.text, '{{compl'));
    assert.equal(ph!.contents.value, "**Placeholder `{{complaint}}`**: filled from each example's `input.complaint`.\n\nSupplied by 2 of 2 examples: `double charge`, `late parcel`.");
    assert.deepEqual(ph!.range, { start: { line: 3, character: 18 }, end: { line: 3, character: 31 } });

    const ex = await hoverAt(positionOf(doc.text, '- name: late'));
    assert.equal(ex!.contents.value, '**Example `late parcel`** · 2 of 2\n\nInput:\n- `complaint`: `"parcel late"`\n\nExpected: `{"label":"shipping"}`');

    assert.equal(await hoverAt(positionOf(doc.text, '"charged tw')), null);
    client.close(hUri);
  });

  test('completion: keys, enum values, placeholders, input keys', async () => {
    const cUri = fileUri(path.join(dir, 'completion.contract.yaml'));
    let version = 0;
    const complete = async (marked: string) => {
      const doc = caret(marked);
      version++;
      const got = client.diagnosticsFor(cUri, version);
      if (version === 1) client.open(cUri, doc.text);
      else client.replace(cUri, version, doc.text);
      await got;
      const list = await client.request<{ items: { label: string; kind: number; textEdit: { newText: string; range: { start: Pos; end: Pos } } }[] }>('textDocument/completion', { textDocument: { uri: cUri }, position: doc.position });
      return list.items;
    };
    const match = await complete(CONTRACT.replace('  match: fields', '  match: |'));
    assert.deepEqual(match.map((i) => [i.label, i.kind, i.textEdit.newText]), [['exact', 20, 'exact'], ['fields', 20, 'fields'], ['subset', 20, 'subset']]);
    assert.deepEqual(match[0]!.textEdit.range, { start: { line: 11, character: 9 }, end: { line: 11, character: 9 } });

    const keys = await complete(CONTRACT.replace('  match: fields', '  match: fields\n  |'));
    assert.deepEqual(keys.map((i) => [i.label, i.kind, i.textEdit.newText]), [['ignore', 10, 'ignore: ']]);

    const root = await complete(CONTRACT.replace('contract: demo\n', 'contract: demo\n|\n'));
    assert.deepEqual(root.map((i) => i.label).sort(), ['budgets', 'description', 'model', 'run']);

    const enumValues = await complete(CONTRACT.replace('expected: { label: bill }', 'expected: { label: bi| }'));
    assert.deepEqual(enumValues.map((i) => [i.label, i.textEdit.range.start.character, i.textEdit.range.end.character]), [['billing', 23, 25], ['shipping', 23, 25]]);

    const ph = await complete(CONTRACT.replace('give the label."', 'give the label {{co|."'));
    assert.deepEqual(ph.map((i) => [i.label, i.kind, i.textEdit.newText]), [['complaint', 6, 'complaint}}']]);

    const input = await complete(CONTRACT.replace('input: { complaint: "parcel late" }', 'input: { | }'));
    assert.deepEqual(input.map((i) => [i.label, i.textEdit.newText]), [['complaint', 'complaint: ']]);
    client.close(cUri);
  });

  test('document symbols and code lenses', async () => {
    const sUri = fileUri(path.join(dir, 'symbols.contract.yaml'));
    const opened = client.diagnosticsFor(sUri, 1);
    client.open(sUri, CONTRACT);
    await opened;
    type Sym = { name: string; kind: number; range: { start: Pos; end: Pos }; selectionRange: { start: Pos; end: Pos }; children?: Sym[] };
    const syms = await client.request<Sym[]>('textDocument/documentSymbol', { textDocument: { uri: sUri } });
    const shape = (s: Sym): unknown => [s.name, s.kind, s.range.start.line, s.range.end.line, s.selectionRange.start.line, s.selectionRange.start.character, (s.children ?? []).map(shape)];
    assert.deepEqual(syms.map(shape), [
      ['demo', 2, 0, 19, 0, 10, [
        ['prompt', 3, 1, 4, 1, 0, [['system', 15, 2, 2, 2, 2, []], ['user', 15, 3, 3, 3, 2, []]]],
        ['output', 3, 4, 12, 4, 0, []],
        ['examples', 18, 12, 19, 12, 0, [['double charge', 19, 13, 16, 13, 10, []], ['late parcel', 19, 16, 19, 16, 10, []]]],
      ]],
    ]);

    const lenses = await client.request<{ range: { start: Pos }; command: { title: string; command: string; arguments: unknown[] } }[]>('textDocument/codeLens', { textDocument: { uri: sUri } });
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.range.start.character, l.command.title, l.command.command, l.command.arguments]),
      [
        [0, 0, 'Run all', 'contracts.runAll', [{ uri: sUri }]],
        [13, 4, 'Run example', 'contracts.runExample', [{ uri: sUri, example: 'double charge' }]],
        [16, 4, 'Run example', 'contracts.runExample', [{ uri: sUri, example: 'late parcel' }]],
      ],
    );
    client.close(sUri);
  });

  test('a contract with static errors is not run: the answer says why, and unknown examples are rejected', async () => {
    const rUri = fileUri(path.join(dir, 'run.contract.yaml'));
    const opened = client.diagnosticsFor(rUri, 1);
    client.open(rUri, CONTRACT);
    const diags = (await opened).diagnostics.filter((d: { severity?: number }) => d.severity === 1);
    assert.ok(diags.length > 0, 'the fixture contract must have a static error');
    for (const [command, args] of [['contracts.runAll', { uri: rUri }], ['contracts.runExample', { uri: rUri, example: 'late parcel' }]] as const) {
      const res = (await client.request('workspace/executeCommand', { command, arguments: [args] })) as { results: unknown[]; reason?: string };
      assert.deepEqual(res.results, []);
      assert.match(res.reason ?? '', /static error/);
    }
    const direct = (await client.request('contracts/runExamples', { uri: rUri })) as { results: unknown[]; reason?: string };
    assert.deepEqual(direct.results, []);
    assert.match(direct.reason ?? '', /static error/);
    await assert.rejects(client.request('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri: rUri, example: 'nope' }] }), (e: { code: number; message: string }) => e.code === -32602 && /no example named "nope"/.test(e.message));
    client.close(rUri);
  });

  test('$ref: open documents win over the disk, edits re-check dependents, the workspace folder bounds reads', async () => {
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    const schemaFile = path.join(dir, 'label.schema.json');
    fs.writeFileSync(schemaFile, JSON.stringify({ type: 'object', additionalProperties: false, required: ['label'], properties: { label: { enum: ['billing', 'shipping'] } } }));
    const outside = path.join(path.dirname(dir), `outside-${path.basename(dir)}.schema.json`);
    fs.writeFileSync(outside, '{}');
    try {
      const text = CONTRACT.replace(/ {4}type: object\n[\s\S]*?(?= {2}match)/, '    $ref: ../label.schema.json\n').replace('label: bill', 'label: billing');
      const refUri = fileUri(path.join(dir, 'sub', 'ref.contract.yaml'));
      const v1 = client.diagnosticsFor(refUri, 1);
      client.open(refUri, text);
      assert.deepEqual(slim((await v1).diagnostics), []);

      // The schema file, opened with unsaved edits that drop `billing`: the contract is re-checked.
      const schemaUri = fileUri(schemaFile);
      const recheck = client.nextDiagnostics((p) => p.uri === refUri && p.diagnostics.length > 0, 10_000, 'the contract re-checked against the open schema');
      client.open(schemaUri, JSON.stringify({ type: 'object', additionalProperties: false, required: ['label'], properties: { label: { enum: ['shipping'] } } }), 1, 'json');
      assert.deepEqual(slim((await recheck).diagnostics), [['example-schema-mismatch', 1, 11, 23, 11, 30]]);

      // Closing it: the disk version applies again.
      const back = client.nextDiagnostics((p) => p.uri === refUri && p.diagnostics.length === 0, 10_000, 'the contract re-checked against the file on disk');
      client.close(schemaUri);
      await back;

      const v2 = client.diagnosticsFor(refUri, 2);
      client.replace(refUri, 2, text.replace('../label.schema.json', `../../${path.basename(outside)}`));
      const d2 = await v2;
      assert.deepEqual(d2.diagnostics.map((d) => d.code), ['schema-ref-outside']);
      assert.match(d2.diagnostics[0]!.message, new RegExp(`only files inside ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} are read`));
      client.close(refUri);
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });

  test('inputs that break parsers: the server reports them and keeps answering', async () => {
    const lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) lol.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const cases: [string, string, string][] = [
      ['deep', 'contract: deep\nnest: ' + '['.repeat(10_000) + ']'.repeat(10_000) + '\n', 'yaml-'],
      ['deep-map', 'contract: deep\nnest: ' + '{a: '.repeat(10_000) + '1' + '}'.repeat(10_000) + '\n', 'yaml-'],
      ['bomb', 'contract: bomb\n' + lol.join('\n') + '\n', 'yaml-alias-limit'],
      ['binary', 'contract: x\n\u0000\u0001\u0002\ufffd binary \u0000 junk\u00ff', 'file-binary'],
    ];
    for (const [name, text, code] of cases) {
      const u = fileUri(path.join(dir, `${name}.contract.yaml`));
      const got = client.diagnosticsFor(u, 1, 30_000);
      client.open(u, text);
      const d = await got;
      assert.ok(d.diagnostics.length > 0, `${name}: never an empty "no problems"`);
      assert.ok(String(d.diagnostics[0]!.code).startsWith(code), `${name}: ${JSON.stringify(slim(d.diagnostics))}`);
      for (const p of [{ line: 0, character: 3 }, { line: 1, character: 30 }, { line: 5, character: 1 }]) {
        await client.request('textDocument/hover', { textDocument: { uri: u }, position: p });
        await client.request('textDocument/completion', { textDocument: { uri: u }, position: p });
      }
      await client.request('textDocument/documentSymbol', { textDocument: { uri: u } });
      await client.request('textDocument/codeLens', { textDocument: { uri: u } });
      client.close(u);
    }
    // Still alive and correct.
    const okUri = fileUri(path.join(dir, 'after.contract.yaml'));
    const ok = client.diagnosticsFor(okUri, 1);
    client.open(okUri, CONTRACT);
    assert.equal((await ok).diagnostics.length, 2);
    const h = await client.request<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri: okUri }, position: { line: 0, character: 2 } });
    assert.match(h.contents.value, /^\*\*`contract`\*\*/);
    client.close(okUri);
  });

  test('closing a contract clears its diagnostics', async () => {
    const u = fileUri(path.join(dir, 'closing.contract.yaml'));
    const opened = client.diagnosticsFor(u, 1);
    client.open(u, CONTRACT);
    await opened;
    const cleared = client.nextDiagnostics((p) => p.uri === u && p.diagnostics.length === 0 && p.version === undefined);
    client.close(u);
    await cleared;
  });

  test('documents that are not contracts are not checked', async () => {
    const u = fileUri(path.join(dir, 'notes.yaml'));
    client.open(u, 'contract: [', 1, 'yaml');
    const probe = fileUri(path.join(dir, 'probe.contract.yaml'));
    const done = client.diagnosticsFor(probe, 1);
    client.open(probe, CONTRACT);
    await done;
    assert.equal(client.published.filter((p) => p.uri === u).length, 0);
    client.close(u);
    client.close(probe);
  });
});

describe('settings', () => {
  test('coverage hints follow the setting; bad values are a warning, not a crash', async () => {
    const dir = tempDir();
    const client = LspClient.start({ settings: { coverageHints: false, debounceMs: -5 } });
    try {
      await client.initialize(dir);
      const uri = fileUri(path.join(dir, 's.contract.yaml'));
      const quiet = client.nextDiagnostics((p) => p.uri === uri && p.diagnostics.length === 1, 10_000, 'diagnostics without coverage hints');
      client.open(uri, CONTRACT);
      assert.deepEqual(slim((await quiet).diagnostics), [['example-schema-mismatch', 1, 15, 23, 15, 27]]);
      const deadline = Date.now() + 10_000;
      while (!client.notifications.some((n) => n.method === 'window/showMessage') && Date.now() < deadline) {
        await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 0 } });
      }
      const msg = client.notifications.find((n) => n.method === 'window/showMessage')?.params as { type: number; message: string } | undefined;
      assert.equal(msg?.type, 2);
      assert.match(msg!.message, /contracts\.debounceMs: .*\(using the default\)/);

      client.settings = { coverageHints: true };
      const loud = client.nextDiagnostics((p) => p.uri === uri && p.diagnostics.length === 2, 10_000, 'diagnostics with coverage hints');
      client.notify('workspace/didChangeConfiguration', { settings: null });
      assert.deepEqual(slim((await loud).diagnostics)[0], ['coverage-enum-unexercised', 3, 10, 22, 10, 29]);

      // debounceMs delays the check after an edit.
      client.settings = { debounceMs: 120 };
      client.notify('workspace/didChangeConfiguration', { settings: null });
      await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 0 } });
      let debounced = 0;
      for (let v = 2; debounced < 100 && v < 6; v++) {
        // Settings arrive asynchronously: retry until an edit shows the delay.
        const got = client.diagnosticsFor(uri, v);
        const sent = performance.now();
        client.edit(uri, v, { start: { line: 0, character: 14 }, end: { line: 0, character: 14 } }, 'x');
        debounced = (await got).at - sent;
      }
      assert.ok(debounced >= 100, `diagnostics ${debounced.toFixed(0)} ms after the edit`);
    } finally {
      assert.equal(await client.stop(), 0);
      assert.deepEqual(client.framingErrors, []);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stdout is for protocol frames only', () => {
  test('console.log and stray stdout writes in the server go to stderr', async () => {
    // A module loaded before the server that writes to stdout once the server is up.
    // It polls (no fixed delay) until the server has taken stdout over, then makes noise.
    const noisy = `data:text/javascript,const w=process.stdout.write;const t=setInterval(()=>{if(process.stdout.write===w)return;clearInterval(t);console.log("noise from console.log");process.stdout.write("raw noise\\n");console.warn("warned")},1)`;
    const client = LspClient.start({ nodeArgs: ['--import', noisy] });
    try {
      await client.initialize();
      const uri = 'untitled:Untitled-1';
      const got = client.diagnosticsFor(uri, 1);
      client.open(uri, CONTRACT);
      assert.equal((await got).diagnostics.length, 2);
    } finally {
      await client.stop();
    }
    assert.deepEqual(client.framingErrors, []);
    assert.ok(client.frames > 2);
    assert.match(client.stderr, /raw noise/);
    const logged = client.notifications.filter((n) => n.method === 'window/logMessage').map((n) => (n.params as { message: string }).message);
    assert.ok(logged.some((m) => m.includes('noise from console.log')) || client.stderr.includes('noise from console.log'), 'console.log reached the client log or stderr');
  });
});

async function driveOver(connection: MessageConnection, dir: string): Promise<Diagnostic[]> {
  const uri = fileUri(path.join(dir, 't.contract.yaml'));
  const got = new Promise<Diagnostic[]>((resolve) =>
    connection.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diagnostic[] }) => {
      if (p.uri === uri) resolve(p.diagnostics);
    }),
  );
  connection.onRequest('workspace/configuration', () => [null]);
  connection.onRequest('client/registerCapability', () => null);
  connection.listen();
  await connection.sendRequest('initialize', { processId: process.pid, rootUri: fileUri(dir), capabilities: {} });
  await connection.sendNotification('initialized', {});
  await connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'contract-yaml', version: 1, text: CONTRACT } });
  const diagnostics = await Promise.race([got, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no diagnostics within 20 s')), 20_000))]);
  await connection.sendRequest('shutdown');
  await connection.sendNotification('exit');
  return diagnostics;
}

describe('other transports', () => {
  test('--node-ipc', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/src/lsp/main.ts'), '--node-ipc'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    try {
      assert.deepEqual(slim(await driveOver(connection, dir)).map((d) => d[0]), ['coverage-enum-unexercised', 'example-schema-mismatch']);
      assert.equal(await exited, 0);
      assert.equal(stdout, '');
    } finally {
      connection.dispose();
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--socket=PORT', async () => {
    const dir = tempDir();
    const port = 20_000 + (process.pid % 20_000);
    const transport = await createClientSocketTransport(port);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/src/lsp/main.ts'), `--socket=${port}`], { cwd: REPO, stdio: 'pipe' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const [reader, writer] = await transport.onConnected();
      const connection = createMessageConnection(reader, writer);
      assert.deepEqual(slim(await driveOver(connection, dir)).map((d) => d[0]), ['coverage-enum-unexercised', 'example-schema-mismatch']);
      assert.equal(await exited, 0);
      connection.dispose();
    } finally {
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--check', () => {
  test('prints exactly what `contracts check` prints, in every format, with the same exit code', () => {
    const dir = tempDir();
    try {
      fs.mkdirSync(path.join(dir, 'contracts'));
      fs.writeFileSync(path.join(dir, 'contracts', 'broken.contract.yaml'), CONTRACT.replace('  match: fields', '  matc: fields'));
      fs.writeFileSync(path.join(dir, 'contracts', 'fine.contract.yaml'), CONTRACT.replace('label: bill', 'label: billing'));
      fs.writeFileSync(path.join(dir, 'contracts', 'yaml.contract.yaml'), 'contract: [\n');
      const env = { ...process.env, NO_COLOR: '1' };
      const runs: [string[], string[]][] = [
        [['check', 'contracts'], ['--check', 'contracts']],
        [['check', '--format', 'json', 'contracts'], ['--check', '--format', 'json', 'contracts']],
        [['check', '-f', 'sarif', 'contracts/broken.contract.yaml'], ['--check', '-f', 'sarif', 'contracts/broken.contract.yaml']],
        [['check', '--format=junit', '--no-coverage', 'contracts'], ['--check', '--format=junit', '--no-coverage', 'contracts']],
        [['check', 'contracts/fine.contract.yaml'], ['--check', 'contracts/fine.contract.yaml']],
        [['check', 'missing-folder'], ['--check', 'missing-folder']],
        [['check', '--bogus'], ['--check', '--bogus']],
        [['check', '--help'], ['--check', '--help']],
      ];
      for (const [cliArgs, lspArgs] of runs) {
        const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/src/cli/main.ts'), ...cliArgs], { cwd: dir, env, encoding: 'utf8' });
        const lsp = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'server/src/lsp/main.ts'), ...lspArgs], { cwd: dir, env, encoding: 'utf8' });
        assert.equal(cli.error, undefined);
        assert.ok(cli.stdout.length + cli.stderr.length > 0, `${cliArgs.join(' ')} printed something`);
        assert.equal(lsp.stdout, cli.stdout, `stdout of ${lspArgs.join(' ')}`);
        assert.equal(lsp.stderr, cli.stderr, `stderr of ${lspArgs.join(' ')}`);
        assert.equal(lsp.status, cli.status, `exit code of ${lspArgs.join(' ')}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('latency', () => {
  test('diagnostics after a one-character edit of a 2,000-line contract with 200 examples', async (t) => {
    const dir = tempDir();
    const client = LspClient.start();
    try {
      await client.initialize(dir);
      const text = largeContract(200);
      assert.ok(text.split('\n').length >= 2000);
      const uri = fileUri(path.join(dir, 'large.contract.yaml'));
      const opened = client.diagnosticsFor(uri, 1, 60_000);
      client.open(uri, text);
      await opened;
      const at = positionOf(text, 'generated example number 100');
      const samples: number[] = [];
      const warmup = 20;
      for (let i = 0, v = 2; i < warmup + 100; i++, v++) {
        const insert = i % 2 === 0;
        const got = client.diagnosticsFor(uri, v, 30_000);
        const sent = performance.now();
        client.edit(uri, v, { start: at, end: insert ? at : { line: at.line, character: at.character + 1 } }, insert ? 'x' : '');
        const d = await got;
        if (i >= warmup) samples.push(d.at - sent);
      }
      samples.sort((a, b) => a - b);
      const median = samples[samples.length >> 1]!;
      const p95 = samples[Math.ceil(samples.length * 0.95) - 1]!;
      t.diagnostic(`didChange → publishDiagnostics over ${samples.length} edits: median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, min ${samples[0]!.toFixed(1)} ms, max ${samples[samples.length - 1]!.toFixed(1)} ms`);
      // The target is 30 ms on a quiet machine; this bound only catches regressions by an order of magnitude on a busy one.
      assert.ok(median < 300, `median ${median.toFixed(1)} ms`);
    } finally {
      await client.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
