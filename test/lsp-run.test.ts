/**
 * Running examples through the language server: work-done progress, cancellation, queueing,
 * results as diagnostics / lens titles / hovers, stale results, workspace trust.
 *
 * Two tiers: the real server wiring (startServer) in process with the engine's ScriptedRunner for
 * exact verdicts, then the real server over stdio with node-llama-cpp on the tiny SYNTHETIC model
 * (random weights: its verdicts say nothing about quality; these tests check the machinery).
 * Every wait has a deadline; nothing sleeps.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { checkContract } from '../server/src/core/check';
import { labelContract } from './support/contracts';
import { ModelUnavailableError, runContract, scriptedSource, type ModelSource } from '../server/src/runtime/engine';
import { ScriptedRunner, type Script } from '../server/src/runtime/runner';
import { fileUri, LspClient, until } from './support/lsp-client';
import { InProcess, type Lens, type Progress, type RunResult } from './support/in-process-lsp';
import { ensureTestModels } from './support/models';

function tempDir(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-lsp-run-')));
}

function lineOf(text: string, find: string): number {
  const i = text.indexOf(find);
  assert.ok(i >= 0, `no ${JSON.stringify(find)}`);
  return text.slice(0, i).split('\n').length - 1;
}

// --- scripted --------------------------------------------------------------------------------------

const CONTRACT = labelContract({ name: 'triage', examples: `  - name: ok
    input: { complaint: "charged twice", tier: gold }
    expected: { label: billing }
  - name: wrong
    input: { complaint: "parcel late" }
    expected: { label: billing }
  - name: third
    input: { complaint: "parcel lost" }
    expected: { label: shipping }
` });

function scripted(script: Script, info?: { label: string; synthetic: boolean }): { runner: ScriptedRunner; source: () => ModelSource } {
  const runner = new ScriptedRunner(script, { quantization: 'Q8_0', ...(info ?? {}) });
  return { runner, source: () => scriptedSource(runner) };
}

describe('runs through the language server (in process, ScriptedRunner)', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('run example → progress → lens titles, diagnostics merged with the static ones on the same version, hover', async () => {
    const { runner, source } = scripted({
      triage: {
        ok: { output: '{"label":"billing"}', latencyMs: 412, ttftMs: 40, outputTokens: 6 },
        wrong: { output: '{"label":"shipping"}', latencyMs: 380, ttftMs: 35, outputTokens: 6 },
        third: { output: '{"label":"shipping"}', latencyMs: 610, ttftMs: 50, outputTokens: 6 },
      },
    });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'triage.contract.yaml'));
      s.open(uri, CONTRACT);
      const opened = await s.diagnostics(uri, 1);
      assert.deepEqual(opened.diagnostics.map((d) => d.code), ['placeholder-unused-input']);
      assert.deepEqual(await s.titles(uri), ['Run all', 'Run example', 'Run example', 'Run example']);

      const r1 = await s.run(uri, 'ok');
      assert.deepEqual(r1.results.map((r) => [r.example, r.status, r.latencyMs]), [['ok', 'pass', 412]]);
      assert.deepEqual(r1.summary, { total: 1, passed: 1, failed: 0, skipped: 0, p50Ms: 412, p95Ms: 412 });
      assert.deepEqual(await s.titles(uri), ['1/1 pass · p50 412 ms · p95 412 ms · 2 not run', '✓ 412 ms', 'Run example', 'Run example']);

      const r2 = await s.run(uri, 'wrong');
      assert.equal(r2.results[0]!.status, 'wrong-value');
      const lenses = await s.lenses(uri);
      assert.deepEqual(lenses.map((l) => [l.range.start.line, l.command.title, l.command.command, l.command.arguments]), [
        [0, '1/2 pass · p50 380 ms · p95 412 ms · 1 not run', 'contracts.runAll', [{ uri }]],
        [13, '✓ 412 ms', 'contracts.runExample', [{ uri, example: 'ok' }]],
        [16, '✗ label: billing → shipping', 'contracts.runExample', [{ uri, example: 'wrong' }]],
        [19, 'Run example', 'contracts.runExample', [{ uri, example: 'third' }]],
      ]);
      assert.equal(lenses[1]!.command.tooltip, 'Run this example again');

      // Static and run diagnostics in one publication of version 1.
      const d = await s.diagnostics(uri, 1, (ds) => ds.some((x) => x.code === 'run-wrong-value'));
      const wrongLine = lineOf(CONTRACT, '  - name: wrong') + 2;
      const tierLine = lineOf(CONTRACT, 'tier: gold');
      const tierAt = CONTRACT.split('\n')[tierLine]!.indexOf('tier');
      assert.deepEqual(
        d.diagnostics.map((x) => [x.code, x.source, x.severity, x.range.start.line, x.range.start.character, x.range.end.character]),
        [
          ['placeholder-unused-input', 'contracts', 2, tierLine, tierAt, tierAt + 4],
          ['run-wrong-value', 'contracts', 1, wrongLine, 23, 30],
        ],
      );
      assert.equal(d.diagnostics[1]!.message, 'expected billing, got shipping');
      assert.equal(CONTRACT.split('\n')[wrongLine]!.slice(23, 30), 'billing');

      // Progress: server-created work-done progress, begin → reports → end, cancellable; runProgress per example.
      assert.equal(s.created.length, 2);
      const mine = s.progress.filter((p) => p.token === s.created[1]);
      assert.equal(mine[0]!.value.kind, 'begin');
      assert.equal(mine[0]!.value.title, 'Prompt Contracts: Run example "wrong"');
      assert.equal(mine[0]!.value.cancellable, true);
      assert.equal(mine[mine.length - 1]!.value.kind, 'end');
      assert.ok(mine.some((p) => p.value.kind === 'report' && p.value.message === '1/1 · wrong: ✗ label: billing → shipping' && p.value.percentage === 100), JSON.stringify(mine));
      assert.deepEqual(s.runProgress.map((p) => [p.done, p.total, p.last?.example, p.last?.status]), [[1, 1, 'ok', 'pass'], [1, 1, 'wrong', 'wrong-value']]);
      assert.ok(s.lensRefreshes >= 2, 'the client is asked to refresh lenses');

      // Hover on the failing example: the run section after the static one.
      const hover = await s.client.sendRequest<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri }, position: { line: 16, character: 12 } });
      const [staticPart, runPart] = hover.contents.value.split('\n\n---\n\n');
      assert.match(staticPart!, /^\*\*Example `wrong`\*\* · 2 of 3/);
      assert.doesNotMatch(staticPart!, /Last run/);
      assert.match(runPart!, /^\*\*Last run\*\* · ✗ label: billing → shipping\n\nwrong value: \/label: expected "billing", got "shipping"\n\nModel: scripted runner \(no model\)\n\nTimings: first token 35 ms · total 380 ms · 6 tokens · 14\.5 tok\/s/);
      assert.match(runPart!, /Output:\n\n```json\n\{\n {2}"label": "shipping"\n\}\n```$/);

      // Run all: every example, in order; the contract lens sums them up.
      const all = await s.run(uri);
      assert.deepEqual(all.results.map((r) => [r.example, r.status]), [['ok', 'pass'], ['wrong', 'wrong-value'], ['third', 'pass']]);
      assert.deepEqual(await s.titles(uri), ['2/3 pass · p50 412 ms · p95 610 ms', '✓ 412 ms', '✗ label: billing → shipping', '✓ 610 ms']);
      assert.deepEqual(runner.calls.map((c) => c.example), ['ok', 'ok', 'wrong', 'ok', 'wrong', 'third'], 'one warm-up for the first run only; later runs skip it');

      // Edit the example: its result is stale (lens), its diagnostic goes, the others stay.
      const edited = CONTRACT.replace('input: { complaint: "parcel late" }', 'input: { complaint: "parcel very late" }');
      s.replace(uri, 2, edited);
      const d2 = await s.diagnostics(uri, 2);
      assert.deepEqual(d2.diagnostics.map((x) => x.code), ['placeholder-unused-input']);
      assert.deepEqual(await s.titles(uri), ['2/2 pass · p50 412 ms · p95 610 ms · 1 stale', '✓ 412 ms', '✗ label: billing → shipping (stale)', '✓ 610 ms']);
      const staleHover = await s.client.sendRequest<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri }, position: { line: 16, character: 12 } });
      assert.match(staleHover.contents.value, /\*\*Last run\*\* · ✗ label: billing → shipping · \*\*stale\*\*/);
      // Undo: the same inputs again, so the result is current again.
      s.replace(uri, 3, CONTRACT);
      await s.diagnostics(uri, 3, (ds) => ds.some((x) => x.code === 'run-wrong-value'));
      assert.equal((await s.titles(uri))[2], '✗ label: billing → shipping');
    } finally {
      s.dispose();
    }
  });

  test("contracts/runExamples with the client's workDoneToken: progress on that token, none created", async () => {
    const { source } = scripted({ triage: { '*': { output: '{"label":"billing"}', latencyMs: 3 } } });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'token.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.diagnostics(uri, 1);
      const r = await s.client.sendRequest<RunResult>('contracts/runExamples', { uri, examples: ['ok', 'third'], workDoneToken: 'client-1' });
      assert.deepEqual(r.results.map((x) => [x.example, x.status]), [['ok', 'pass'], ['third', 'wrong-value']]);
      assert.deepEqual(s.created, []);
      const mine = s.progress.filter((p) => p.token === 'client-1').map((p) => [p.value.kind, p.value.kind === 'begin' ? p.value.title : p.value.message, p.value.percentage]);
      assert.deepEqual(mine[0], ['begin', 'Prompt Contracts: Run 2 examples of triage', 0]);
      assert.deepEqual(mine.slice(-3), [['report', '1/2 · ok: ✓ 3.0 ms', 50], ['report', '2/2 · third: ✗ label: shipping → billing', 100], ['end', undefined, undefined]]);
    } finally {
      s.dispose();
    }
  });

  test('an edit during a run: the run finishes on its version; its results show stale where the example changed', async () => {
    const { source } = scripted({ triage: { '*': { output: '{"label":"shipping"}', latencyMs: 100, sleepMs: 150 } } });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'edit.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.diagnostics(uri, 1);
      const running = s.run(uri);
      await until('the first example', () => s.runProgress.length >= 1);
      s.replace(uri, 2, CONTRACT.replace('expected: { label: shipping }', 'expected: { label: billing }'));
      await s.diagnostics(uri, 2);
      const r = await running;
      assert.deepEqual(r.results.map((x) => x.status), ['wrong-value', 'wrong-value', 'pass'], 'judged against the version it started from');
      assert.deepEqual((await s.titles(uri)).slice(1), ['✗ label: billing → shipping', '✗ label: billing → shipping', '✓ 100 ms (stale)']);
      const d = await s.diagnostics(uri, 2, (ds) => ds.filter((x) => x.code === 'run-wrong-value').length === 2);
      assert.deepEqual(d.diagnostics.filter((x) => x.code?.toString().startsWith('run-')).map((x) => x.range.start.line), [lineOf(CONTRACT, '- name: ok') + 2, lineOf(CONTRACT, '- name: wrong') + 2]);
    } finally {
      s.dispose();
    }
  });

  test('cancellation: $/cancelRequest answers RequestCancelled at once; the progress cancel answers with what finished', async () => {
    const { runner, source } = scripted({ triage: { ok: { output: '{"label":"billing"}', latencyMs: 5 }, '*': { output: '{"label":"shipping"}', sleepMs: 30_000 } } });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'cancel.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.diagnostics(uri, 1);

      // LSP cancellation: the request's token.
      const cts = new CancellationTokenSource();
      const p = s.client.sendRequest('workspace/executeCommand', { command: 'contracts.runAll', arguments: [{ uri }] }, cts.token);
      await until('the first example', () => s.runProgress.length >= 1);
      await until('the second example to start', () => runner.calls.filter((c) => c.example === 'wrong').length > 0);
      const t0 = performance.now();
      cts.cancel();
      await assert.rejects(p, (e: { code: number; message: string }) => e.code === -32800 && /^the run was cancelled after 1 of 3 examples; finished results are kept$/.test(e.message));
      const cancelMs = performance.now() - t0;
      assert.ok(cancelMs < 1000, `stopped in ${cancelMs.toFixed(0)} ms`);
      assert.deepEqual((await s.titles(uri)).slice(1), ['✓ 5.0 ms', 'Run example', 'Run example']);

      // The work-done progress's cancel button.
      const before = s.created.length;
      const q = s.run(uri, 'wrong');
      const token = await until('the progress token', () => s.created.length > before && s.created[before]);
      await until('the progress to begin', () => s.progress.some((x) => x.token === token && x.value.kind === 'begin'));
      void s.client.sendNotification('window/workDoneProgress/cancel', { token });
      const r = await q;
      assert.equal(r.reason, 'the run was cancelled');
      assert.deepEqual(r.results.map((x) => [x.example, x.status]), [['wrong', 'cancelled']]);
      assert.equal(s.progress.filter((x) => x.token === token).pop()!.value.kind, 'end');
    } finally {
      s.dispose();
    }
  });

  test('two runs at once queue: the second waits, says so, and finishes after the first', async () => {
    const { runner, source } = scripted({ triage: { '*': { output: '{"label":"billing"}', latencyMs: 1, sleepMs: 200 } } });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'queue.contract.yaml'));
      s.open(uri, CONTRACT);
      await s.diagnostics(uri, 1);
      const order: string[] = [];
      const a = s.run(uri, 'ok').then(() => order.push('ok'));
      await until('the first run to start', () => runner.calls.length > 0);
      const b = s.run(uri, 'third').then(() => order.push('third'));
      await Promise.all([a, b]);
      assert.deepEqual(order, ['ok', 'third']);
      assert.deepEqual(runner.calls.map((c) => c.example), ['ok', 'ok', 'third'], 'never two generations at once; the first run warms up');
      assert.ok(s.progress.some((p) => p.value.message === 'waiting for 1 earlier run on scripted runner (no model)'), JSON.stringify(s.progress.map((p) => p.value.message)));
    } finally {
      s.dispose();
    }
  });

  test('a model that cannot be had: an error on `model` with the message; the static diagnostics stay', async () => {
    const failing: ModelSource = {
      engine: 'test',
      resolve: () => Promise.reject(new ModelUnavailableError('model file /nowhere/model.gguf not found')),
      open: () => Promise.reject(new Error('unreachable')),
    };
    const s = new InProcess({ modelSource: () => failing, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'nomodel.contract.yaml'));
      const text = CONTRACT.replace('prompt:', 'model: { id: gemma-3-270m-it }\nprompt:');
      s.open(uri, text);
      await s.diagnostics(uri, 1);
      const r = await s.run(uri, 'ok');
      assert.equal(r.reason, 'model file /nowhere/model.gguf not found');
      const d = await s.diagnostics(uri, 1, (ds) => ds.some((x) => x.code === 'run-not-run'));
      const byLine = d.diagnostics.map((x) => [x.code, x.range.start.line] as const).sort((x, y) => x[1] - y[1]);
      assert.deepEqual(byLine, [['run-not-run', 1], ['placeholder-unused-input', lineOf(text, 'tier: gold')]]);
      assert.equal(d.diagnostics.find((x) => x.code === 'run-not-run')!.message, 'not run: model file /nowhere/model.gguf not found');
      assert.equal((await s.titles(uri))[0], '✗ not run');
    } finally {
      s.dispose();
    }
  });

  test('overhead: what the server adds beyond the engine, per example (zero-cost scripted model)', async () => {
    const n = 100;
    const examples = Array.from({ length: n }, (_, i) => `  - name: e${i}\n    input: { complaint: "c${i}" }\n    expected: { label: ${i % 2 ? 'billing' : 'shipping'} }\n`).join('');
    const text = CONTRACT.slice(0, CONTRACT.indexOf('examples:\n') + 'examples:\n'.length) + examples;
    const { runner, source } = scripted({ triage: { '*': '{"label":"billing"}' } });
    const s = new InProcess({ modelSource: source, settings: { traceDir: '', cacheDir: '' } });
    try {
      await s.initialize(dir);
      const uri = fileUri(path.join(dir, 'overhead.contract.yaml'));
      s.open(uri, text);
      await s.diagnostics(uri, 1);
      const check = checkContract(text, { file: path.join(dir, 'overhead.contract.yaml'), host: { readFile: () => undefined }, coverage: false });
      const direct = scriptedSource(runner);
      await s.run(uri); // warm: first run, module caches
      const engine: number[] = [];
      const server: number[] = [];
      const one: number[] = [];
      for (let i = 0; i < 5; i++) {
        let t = performance.now();
        await runContract(check, { source: direct, warmup: 0 });
        engine.push(performance.now() - t);
        t = performance.now();
        const r = await s.run(uri);
        server.push(performance.now() - t);
        assert.equal(r.summary.total, n);
        t = performance.now();
        await s.run(uri, 'e7');
        one.push(performance.now() - t);
      }
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const perExample = (med(server) - med(engine)) / n;
      console.log(`# server overhead beyond the engine: ${perExample.toFixed(2)} ms per example in a run of ${n} (engine ${med(engine).toFixed(1)} ms, server ${med(server).toFixed(1)} ms); one example of ${n}: ${med(one).toFixed(1)} ms request to response`);
      assert.ok(perExample < 10, `${perExample.toFixed(2)} ms per example`);
    } finally {
      s.dispose();
    }
  });

  test('an untrusted workspace refuses to run until trust is granted', async () => {
    for (const init of [{ trusted: false }, { workspaceTrusted: false }]) {
      let opened = 0;
      const { runner } = scripted({ triage: { '*': '{"label":"billing"}' } });
      const s = new InProcess({
        modelSource: () => {
          opened++;
          return scriptedSource(runner);
        },
        settings: { traceDir: '.contracts/traces', cacheDir: '' },
      });
      try {
        await s.initialize(dir, init);
        const uri = fileUri(path.join(dir, 'untrusted.contract.yaml'));
        s.open(uri, CONTRACT);
        await s.diagnostics(uri, 1);
        await assert.rejects(s.run(uri, 'ok'), (e: { code: number; message: string }) => e.code === 1002 && /^Examples are not run in an untrusted workspace/.test(e.message));
        await assert.rejects(s.client.sendRequest('contracts/runExamples', { uri }), (e: { code: number }) => e.code === 1002);
        assert.equal(opened, 0, 'no model source was even made');
        assert.equal(runner.calls.length, 0);
        assert.equal(fs.existsSync(path.join(dir, '.contracts')), false, 'no traces written');
        void s.client.sendNotification('contracts/workspaceTrust', { trusted: true });
        const r = await s.run(uri, 'ok');
        assert.equal(r.results[0]!.status, 'pass');
        fs.rmSync(path.join(dir, '.contracts'), { recursive: true, force: true });
      } finally {
        s.dispose();
      }
    }
  });
});

// --- the real server over stdio, the tiny SYNTHETIC model ---------------------------------------------

const TINY = labelContract({ name: 'tiny', head: `model:
  maxTokens: 24
`, examples: `  - name: as billing
    input: { complaint: "my parcel was charged twice" }
    expected: { label: billing }
  - name: as shipping
    input: { complaint: "my parcel was charged twice" }
    expected: { label: shipping }
` });

const LONG = `contract: long
model:
  maxTokens: 40
prompt:
  user: "Write a long story about {{topic}}; give the story."
output:
  schema:
    type: object
    additionalProperties: false
    required: [story]
    properties:
      story: { type: string, minLength: 1000 }
examples:
  - name: one
    input: { topic: "a parcel" }
    expected: { story: "${'x'.repeat(1000)}" }
  - name: two
    input: { topic: "a refund" }
    expected: { story: "${'y'.repeat(1000)}" }
  - name: three
    input: { topic: "a parcel" }
    expected: { story: "${'z'.repeat(1000)}" }
`;

const CAPS = { workspace: { configuration: true, codeLens: { refreshSupport: true } }, window: { workDoneProgress: true } };

describe('runs through the language server over stdio (tiny SYNTHETIC model, node-llama-cpp)', () => {
  let dir: string;
  let client: LspClient;
  let tinyQ8: string;
  let refreshes = 0;
  const progressSeen: Progress[] = [];
  const progress = () => progressSeen;

  before(async () => {
    tinyQ8 = (await ensureTestModels()).tiny.Q8_0;
    dir = tempDir();
    client = LspClient.start({ settings: { modelFile: tinyQ8, threads: 1, useCache: false, allowDownload: false, idleUnloadSeconds: 0 } });
    client.connection.onRequest('workspace/codeLens/refresh', () => {
      refreshes++;
      return null;
    });
    // vscode-jsonrpc hands $/progress to its own handlers, not to the catch-all the client records.
    client.connection.onNotification('$/progress', (p: Progress) => void progressSeen.push(p));
    await client.initialize(dir, CAPS);
  });

  after(async () => {
    const code = await client.stop(15_000);
    assert.equal(code, 0, `the server exits 0 after shutdown + exit; stderr: ${client.stderr.slice(-2000)}`);
    assert.deepEqual(client.framingErrors, [], 'stdout carries only LSP frames, node-llama-cpp loaded or not');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('run example → progress → verdict lens with latency → diagnostic inside the example → hover with output, timings, SYNTHETIC → stale after an edit', async () => {
    const uri = fileUri(path.join(dir, 'tiny.contract.yaml'));
    const opened = client.diagnosticsFor(uri, 1);
    client.open(uri, TINY);
    assert.deepEqual((await opened).diagnostics, []);

    const lensTitles = async () => (await client.request<Lens[]>('textDocument/codeLens', { textDocument: { uri } })).map((l) => l.command.title);
    const runExample = (example: string) => client.request<RunResult>('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri, example }] }, 120_000);

    // Cold: starts llama.cpp and loads the model.
    const cold0 = performance.now();
    const cold = await runExample('as billing');
    const coldMs = performance.now() - cold0;
    assert.equal(cold.results.length, 1);
    assert.equal(cold.results[0]!.synthetic, true);
    assert.match(cold.results[0]!.model!, /SYNTHETIC/);
    const statuses = client.notifications.filter((n) => n.method === 'contracts/modelStatus').map((n) => (n.params as { state: string }).state);
    assert.ok(statuses.includes('loading') && statuses.includes('ready'), `model status notifications: ${statuses.join(', ')}`);

    // Warm: time from the command to the lens that shows the verdict (the client re-asks for lenses when told to refresh).
    const from = client.published.length;
    const t0 = performance.now();
    const run = runExample('as shipping');
    let titles: string[] = [];
    for (let seen = refreshes; ; ) {
      const now = await until('a lens refresh request', () => refreshes > seen && refreshes, 60_000);
      seen = now;
      titles = await lensTitles();
      if (titles[2] !== 'Run example') break;
    }
    const lensMs = performance.now() - t0;
    const result = await run;
    const doneMs = performance.now() - t0;
    const [first, second] = [cold.results[0]!, result.results[0]!];
    console.log(`# tiny SYNTHETIC Q8_0, 1 thread: cold run example ${coldMs.toFixed(0)} ms; warm run example → lens ${lensMs.toFixed(0)} ms (response ${doneMs.toFixed(0)} ms, engine-measured latency ${second.latencyMs?.toFixed(0)} ms)`);

    // With one input and two expected labels, the constrained (enum) output passes one and is a wrong value for the other.
    const statusSet = [first.status, second.status].sort();
    assert.ok(['pass', 'wrong-value'].every((x) => statusSet.includes(x)) || statusSet.every((x) => x === 'truncated' || x === 'invalid-json'), `verdicts: ${statusSet}`);
    for (const [i, r] of [first, second].entries()) {
      const t = titles[i + 1]!;
      if (r.status === 'pass') assert.match(t, /^✓ \d+(\.\d)? ms$/);
      else if (r.status === 'wrong-value') assert.match(t, /^✗ label: (billing → shipping|shipping → billing)$/);
      else assert.match(t, /^✗ /);
    }
    assert.match(titles[0]!, /^1\/2 pass · p50 \d+(\.\d)? ms · p95 \d+(\.\d)? ms$/);

    // Progress: created, begun (cancellable), reported, ended; runProgress for the example.
    const tokens = new Set(progress().map((p) => p.token));
    assert.ok(tokens.size >= 2);
    for (const t of tokens) {
      const kinds = progress().filter((p) => p.token === t).map((p) => p.value.kind);
      assert.equal(kinds[0], 'begin');
      assert.equal(kinds[kinds.length - 1], 'end');
    }
    assert.ok(progress().some((p) => p.value.kind === 'report' && /^1\/1 · as shipping: [✓✗]/.test(p.value.message ?? '')));
    assert.ok(client.notifications.some((n) => n.method === 'contracts/runProgress' && (n.params as { last?: { example: string } }).last?.example === 'as shipping'));

    // The failing verdict's diagnostic lies inside that example (wrong value: on the `label` value of its expected).
    const failing = [first, second].find((r) => r.status !== 'pass')!;
    const d = await until('run diagnostics', () => client.published.slice(from).reverse().find((p) => p.uri === uri && p.version === 1 && p.diagnostics.some((x) => String(x.code).startsWith('run-'))));
    const runDiags = d.diagnostics.filter((x) => String(x.code).startsWith('run-'));
    assert.equal(runDiags.length, 1, JSON.stringify(runDiags));
    const start = lineOf(TINY, `  - name: ${failing.example}`);
    const end = start + 2;
    const line = runDiags[0]!.range.start.line;
    assert.ok(line >= start && line <= end, `diagnostic on line ${line}, example spans ${start}-${end}`);
    if (failing.status === 'wrong-value') {
      assert.equal(line, end);
      assert.match(runDiags[0]!.message, /^expected (billing|shipping), got (billing|shipping) \[SYNTHETIC model/);
      assert.equal(TINY.split('\n')[line]!.slice(runDiags[0]!.range.start.character, runDiags[0]!.range.end.character), failing.example === 'as billing' ? 'billing' : 'shipping');
    }

    // Hover on the name: the output, timings and the SYNTHETIC label.
    const hover = await client.request<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri }, position: { line: start, character: 12 } });
    const h = hover.contents.value;
    assert.match(h, /\*\*Last run\*\* · [✓✗]/);
    assert.match(h, /Model: SYNTHETIC [^\n]*Q8_0[^\n]* — random weights/);
    assert.match(h, /Timings: first token \d+(\.\d)? ms · total \d+(\.\d)? ms · \d+ tokens?( · \d+\.\d tok\/s)?/);
    assert.match(h, /Output:\n\n```json\n\{\n {2}"label": "(billing|shipping)"\n\}\n```/);

    // Edit the example: its lens turns stale, its diagnostic goes away in the new version.
    const edited = TINY.replace(`  - name: ${failing.example}\n    input: { complaint: "my parcel was charged twice" }`, `  - name: ${failing.example}\n    input: { complaint: "my parcel was charged three times" }`);
    assert.notEqual(edited, TINY);
    const v2 = client.diagnosticsFor(uri, 2);
    client.replace(uri, 2, edited);
    assert.deepEqual((await v2).diagnostics, []);
    const after = await lensTitles();
    assert.match(after[failing === first ? 1 : 2]!, / \(stale\)$/);
    assert.doesNotMatch(after[failing === first ? 2 : 1]!, /stale/);
    client.close(uri);
  });

  test('cancel a run midway ($/cancelRequest): it stops within a token or so with RequestCancelled; finished examples keep their result', async () => {
    const uri = fileUri(path.join(dir, 'long.contract.yaml'));
    const opened = client.diagnosticsFor(uri, 1);
    client.open(uri, LONG);
    assert.deepEqual((await opened).diagnostics, []);
    const cts = new CancellationTokenSource();
    const runProgress = () => client.notifications.filter((n) => n.method === 'contracts/runProgress' && (n.params as { uri: string }).uri === uri);
    const p = client.connection.sendRequest('workspace/executeCommand', { command: 'contracts.runAll', arguments: [{ uri }] }, cts.token);
    // Midway: the first example is judged, the second is generating (40 tokens each, the grammar wants 1,000 characters).
    await until('the first example', () => runProgress().length >= 1, 60_000);
    const t0 = performance.now();
    cts.cancel();
    await assert.rejects(p, (e: { code: number; message: string }) => e.code === -32800 && e.message === 'the run was cancelled after 1 of 3 examples; finished results are kept');
    const ms = performance.now() - t0;
    console.log(`# cancel midway → RequestCancelled: ${ms.toFixed(0)} ms`);
    assert.ok(ms < 2000, `stopped in ${ms.toFixed(0)} ms`);
    const titles = (await client.request<Lens[]>('textDocument/codeLens', { textDocument: { uri } })).map((l) => l.command.title);
    assert.match(titles[1]!, /^✗ /, 'the finished example shows its verdict');
    assert.deepEqual(titles.slice(2), ['Run example', 'Run example'], 'the cancelled ones show nothing');
    client.close(uri);
  });

  test('two runs at once queue, in order', async () => {
    const uri = fileUri(path.join(dir, 'queue.contract.yaml'));
    const opened = client.diagnosticsFor(uri, 1);
    client.open(uri, TINY);
    await opened;
    const from = progress().length;
    const order: string[] = [];
    const a = client.request<RunResult>('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri, example: 'as billing' }] }, 60_000).then((r) => (order.push('as billing'), r));
    await until('the first run to start', () => progress().slice(from).some((x) => /^running on /.test(x.value.message ?? '')), 30_000);
    const b = client.request<RunResult>('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri, example: 'as shipping' }] }, 60_000).then((r) => (order.push('as shipping'), r));
    const [ra, rb] = await Promise.all([a, b]);
    assert.deepEqual(order, ['as billing', 'as shipping']);
    assert.ok(progress().slice(from).some((x) => /^waiting for 1 earlier run on SYNTHETIC/.test(x.value.message ?? '')), JSON.stringify(progress().slice(from).map((x) => x.value.message)));
    assert.notEqual(ra.results[0]!.status, 'cancelled');
    assert.notEqual(rb.results[0]!.status, 'cancelled');
    client.close(uri);
  });

  test('a model file that cannot be loaded: the run answers with the reason, an error on `model`, a model status error; static diagnostics stay', async () => {
    const bad = path.join(dir, 'broken.gguf');
    fs.writeFileSync(bad, 'GGUF but not really');
    const c = LspClient.start({ settings: { modelFile: bad, threads: 1, allowDownload: false } });
    try {
      await c.initialize(dir, CAPS);
      const uri = fileUri(path.join(dir, 'bad-model.contract.yaml'));
      const text = TINY.replace('input: { complaint: "my parcel was charged twice" }', 'input: { complaint: "my parcel was charged twice", extra: 1 }');
      const opened = c.diagnosticsFor(uri, 1);
      c.open(uri, text);
      assert.deepEqual((await opened).diagnostics.map((x) => x.code), ['placeholder-unused-input']);
      const next = c.nextDiagnostics((p) => p.uri === uri && p.diagnostics.some((x) => x.code === 'run-not-run'), 30_000);
      const r = await c.request<RunResult>('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri, example: 'as billing' }] }, 30_000);
      assert.match(r.reason ?? '', /broken\.gguf/);
      const d = await next;
      assert.deepEqual(d.diagnostics.map((x) => [x.code, x.range.start.line] as const).sort((x, y) => x[1] - y[1]), [['run-not-run', lineOf(text, 'model:')], ['placeholder-unused-input', lineOf(text, 'extra: 1')]]);
      assert.equal(d.diagnostics.find((x) => x.code === 'run-not-run')!.message, `not run: ${r.reason}`);
      const status = await until('a model status error', () => c.notifications.find((n) => n.method === 'contracts/modelStatus' && (n.params as { state: string }).state === 'error'));
      assert.match((status.params as { message: string }).message, /broken\.gguf/);
    } finally {
      assert.equal(await c.stop(), 0);
    }
  });

  test('untrusted workspace: refuses to run, loads nothing, writes nothing', async () => {
    const c = LspClient.start({ settings: { modelFile: tinyQ8, threads: 1 } });
    try {
      const wsDir = tempDir();
      const r = await c.request('initialize', { processId: process.pid, rootUri: fileUri(wsDir), workspaceFolders: [{ uri: fileUri(wsDir), name: 'ws' }], capabilities: CAPS, initializationOptions: { trusted: false } });
      assert.ok(r);
      c.notify('initialized', {});
      const uri = fileUri(path.join(wsDir, 'u.contract.yaml'));
      const opened = c.diagnosticsFor(uri, 1);
      c.open(uri, TINY);
      await opened;
      await assert.rejects(c.request('workspace/executeCommand', { command: 'contracts.runAll', arguments: [{ uri }] }), (e: { code: number; message: string }) => e.code === 1002 && /untrusted workspace/.test(e.message));
      assert.equal(c.notifications.filter((n) => n.method === 'contracts/modelStatus').length, 0, 'no model status: nothing was loaded');
      assert.deepEqual(fs.readdirSync(wsDir), [], 'no traces or cache written');
      fs.rmSync(wsDir, { recursive: true, force: true });
    } finally {
      assert.equal(await c.stop(), 0);
    }
  });
});
