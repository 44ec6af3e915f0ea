/**
 * Run results → findings, lens titles and hover text (server/src/core/run-findings.ts), and the
 * store's staleness keys (results-store.ts). Results come from the real engine and judge with the
 * ScriptedRunner, so every verdict kind is the engine's own.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { checkContract, type CheckResult } from '../server/src/core/check';
import { labelContract } from './support/contracts';
import { RunResults, type ExampleRun, type ExampleRunView } from '../server/src/core/results-store';
import { contractLensTitle, dotted, exampleLensTitle, fieldRange, plain, runFindings, runHoverAt, runHoverMarkdown } from '../server/src/core/run-findings';
import { toExampleRun } from '../server/src/lsp/run-service';
import { runContract, scriptedSource } from '../server/src/runtime/engine';
import { ScriptedRunner, type Script } from '../server/src/runtime/runner';

const host = { readFile: () => undefined };
const URI = 'file:///ws/triage.contract.yaml';

const CONTRACT = labelContract({ name: 'triage', head: `description: Route complaints.
`, properties: `      urgent: { type: boolean }
`, tail: `budgets:
  p95Ms: 500
`, examples: `  - name: ok
    input: { complaint: "charged twice" }
    expected: { label: billing }
  - name: wrong
    input: { complaint: "parcel late" }
    expected: { label: billing }
  - name: schema
    input: { complaint: "urgent parcel" }
    expected:
      label: shipping
      urgent: true
  - name: notjson
    input: { complaint: "a" }
    expected: { label: billing }
  - name: cut
    input: { complaint: "b" }
    expected: { label: billing }
  - name: boom
    input: { complaint: "c" }
    expected: { label: billing }
  - name: later
    skip: true
    input: { complaint: "d" }
    expected: { label: billing }
` });

const SCRIPT: Script = {
  triage: {
    ok: { output: '{"label":"billing"}', latencyMs: 412, ttftMs: 40, outputTokens: 6 },
    wrong: { output: '{"label":"shipping"}', latencyMs: 380, ttftMs: 35, outputTokens: 6 },
    schema: { output: '{"label":"shipping","urgent":"yes"}', latencyMs: 610, ttftMs: 50, outputTokens: 11 },
    notjson: { output: 'Sure! {"label":', latencyMs: 100, outputTokens: 5 },
    cut: { output: '{"label":"bil', stopReason: 'maxTokens', latencyMs: 200, outputTokens: 5 },
    boom: { output: '', error: 'the native runtime fell over' },
  },
};

function check(text: string): CheckResult {
  return checkContract(text, { file: '/ws/triage.contract.yaml', host, coverage: false });
}

/** Runs the contract with a scripted runner and files the results as the language server does. */
async function runInto(store: RunResults, c: CheckResult, opts: { script?: Script; synthetic?: boolean; cacheDir?: string; signal?: AbortSignal } = {}) {
  const runner = new ScriptedRunner(opts.script ?? SCRIPT, opts.synthetic ? { label: 'SYNTHETIC tiny gemma3 Q8_0', synthetic: true, quantization: 'Q8_0' } : { quantization: 'Q8_0' });
  const keys = store.keysOf(c);
  const result = await runContract(c, { source: scriptedSource(runner), warmup: 0, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  for (const e of result.examples) {
    if (e.verdict.kind === 'cancelled' || e.verdict.kind === 'skipped') continue;
    store.record(URI, toExampleRun(e, keys.examples.get(e.name)!, result));
  }
  return result;
}

/** The line and text a finding covers. */
function at(c: CheckResult, f: { start: number; end: number }): [number, string] {
  return [c.lines.position(f.start).line, c.text.slice(f.start, f.end)];
}

function lineOf(text: string, find: string): number {
  const i = text.indexOf(find);
  assert.ok(i >= 0, find);
  return text.slice(0, i).split('\n').length - 1;
}

describe('run findings', () => {
  test('every verdict kind: lens titles, findings on the right node, the contract lens with its budget', async () => {
    const store = new RunResults();
    const c = check(CONTRACT);
    assert.deepEqual(c.findings.filter((f) => f.severity === 'error'), []);
    await runInto(store, c);
    const runs = store.runsOf(URI, c)!;
    const titles = Object.fromEntries(c.examples.map((e) => [e.name, exampleLensTitle(runs.examples.get(e.name!))]));
    assert.deepEqual(titles, {
      ok: '✓ 412 ms',
      wrong: '✗ label: billing → shipping',
      schema: '✗ schema: urgent must be boolean',
      notjson: '✗ invalid JSON',
      cut: '✗ truncated',
      boom: '⚠ error: the model failed: the native runtime fell over',
      later: 'Run example',
    });
    // 6 judged (the error too), 1 passed; latencies 100, 200, 380, 412, 610 → p50 380, p95 610 (nearest rank).
    assert.equal(contractLensTitle(c, runs), '1/6 pass · p50 380 ms · p95 610 ms · ✗ p95 > 500 ms');

    const fs_ = runFindings(c, runs);
    assert.ok(fs_.every((f) => f.severity === 'error' && f.code.startsWith('run-')));
    const shown = fs_.map((f) => [f.code, ...at(c, f), f.message]);
    assert.deepEqual(shown, [
      ['run-wrong-value', lineOf(CONTRACT, '  - name: wrong') + 2, 'billing', 'expected billing, got shipping'],
      ['run-schema-mismatch', lineOf(CONTRACT, '      urgent: true'), 'true', 'the output at /urgent must be boolean'],
      ['run-invalid-json', lineOf(CONTRACT, 'name: notjson'), 'notjson', runs.examples.get('notjson')!.run.message],
      ['run-truncated', lineOf(CONTRACT, 'name: cut'), 'cut', 'stopped at maxTokens (256) before the JSON was complete'],
      ['run-error', lineOf(CONTRACT, 'name: boom'), 'boom', 'the model failed: the native runtime fell over'],
    ]);
    assert.match(runs.examples.get('notjson')!.run.message, /^the output is not valid JSON: .*\(it starts with text before the JSON: "Sure! "\)$/);
  });

  test('a SYNTHETIC model is named in every finding', async () => {
    const store = new RunResults();
    const c = check(CONTRACT);
    await runInto(store, c, { synthetic: true });
    const f = runFindings(c, store.runsOf(URI, c)).find((x) => x.code === 'run-wrong-value')!;
    assert.equal(f.message, 'expected billing, got shipping [SYNTHETIC model: random weights, says nothing about quality]');
  });

  test('stale: edits to the prompt, schema, model, run section, settings or the example itself; not to other examples or descriptions', async () => {
    let context: unknown = { modelFile: 'a.gguf' };
    const store = new RunResults(() => context);
    const c = check(CONTRACT);
    await runInto(store, c);
    const staleOf = (text: string) => {
      const runs = store.runsOf(URI, check(text))!;
      return [...runs.examples].filter(([, v]) => v.stale).map(([n]) => n);
    };
    const all = ['ok', 'wrong', 'schema', 'notjson', 'cut', 'boom'];
    assert.deepEqual(staleOf(CONTRACT), []);
    assert.deepEqual(staleOf(CONTRACT.replace('description: Route complaints.', 'description: Route them.')), []);
    assert.deepEqual(staleOf(CONTRACT.replace('give the label', 'give a label')), all);
    assert.deepEqual(staleOf(CONTRACT.replace('urgent: { type: boolean }', 'urgent: { type: boolean, description: x }')), all);
    assert.deepEqual(staleOf(CONTRACT.replace('  match: fields', '  match: exact')), all);
    assert.deepEqual(staleOf(CONTRACT.replace('budgets:', 'model: { maxTokens: 64 }\nbudgets:')), all);
    assert.deepEqual(staleOf(CONTRACT.replace('budgets:', 'run: { repeat: 3 }\nbudgets:')), all);
    // Budgets are judged when shown, from the current version: not part of a result.
    assert.deepEqual(staleOf(CONTRACT.replace('p95Ms: 500', 'p95Ms: 700')), []);
    assert.deepEqual(staleOf(CONTRACT.replace('input: { complaint: "parcel late" }', 'input: { complaint: "parcel very late" }')), ['wrong']);
    assert.deepEqual(staleOf(CONTRACT.replace('  - name: wrong\n    input: { complaint: "parcel late" }\n    expected: { label: billing }', '  - name: wrong\n    input: { complaint: "parcel late" }\n    expected: { label: shipping }')), ['wrong']);
    context = { modelFile: 'b.gguf' };
    assert.deepEqual(staleOf(CONTRACT), all);
    context = { modelFile: 'a.gguf' };

    // Stale results: marked in the lens, no findings, counted apart in the contract lens.
    const edited = check(CONTRACT.replace('input: { complaint: "parcel late" }', 'input: { complaint: "parcel very late" }'));
    const runs = store.runsOf(URI, edited)!;
    assert.equal(exampleLensTitle(runs.examples.get('wrong')), '✗ label: billing → shipping (stale)');
    assert.equal(runFindings(edited, runs).filter((f) => f.data?.example === 'wrong').length, 0);
    assert.equal(runFindings(edited, runs).length, 4);
    assert.equal(contractLensTitle(edited, runs), '1/5 pass · p50 200 ms · p95 610 ms · ✗ p95 > 500 ms · 1 stale');

    // A renamed example's result is dropped; moved examples keep theirs, placed where they are now.
    const renamed = check(CONTRACT.replace('name: wrong', 'name: wrong2'));
    assert.equal(store.runsOf(URI, renamed)!.examples.has('wrong2'), false);
    const moved = check(CONTRACT.replace('examples:\n', 'examples:\n  - name: first\n    input: { complaint: "z" }\n    expected: { label: billing }\n'));
    const mf = runFindings(moved, store.runsOf(URI, moved)).find((f) => f.code === 'run-wrong-value')!;
    assert.deepEqual(at(moved, mf), [lineOf(moved.text, '  - name: wrong') + 2, 'billing']);
  });

  test('cached verdicts keep the latency of the run they came from, marked (cached)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-run-findings-'));
    try {
      const store = new RunResults();
      const c = check(CONTRACT);
      await runInto(store, c, { cacheDir: dir });
      await runInto(store, c, { cacheDir: dir });
      const runs = store.runsOf(URI, c)!;
      const ok = runs.examples.get('ok')!;
      assert.equal(ok.run.cached, true);
      assert.equal(ok.run.timingFromEarlierRun, true);
      assert.equal(exampleLensTitle(ok), '✓ 412 ms (cached)');
      assert.equal(exampleLensTitle(runs.examples.get('wrong')), '✗ label: billing → shipping (cached)');
      // Latencies from earlier runs are not measurements of this run: the contract lens leaves them out.
      assert.equal(contractLensTitle(c, runs), '1/6 pass');
      assert.match(runHoverMarkdown(ok), /Timings \(from an earlier run with the same inputs\): first token 40 ms · total 412 ms/);
      assert.match(runHoverMarkdown(ok), /cached output \(not generated again\)/);
      // A cached verdict without an earlier measurement says so.
      const fresh = new RunResults();
      await runInto(fresh, c, { cacheDir: dir });
      assert.equal(exampleLensTitle(fresh.runsOf(URI, c)!.examples.get('ok')), '✓ (cached)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a cancelled run keeps earlier results; its own cancelled examples file nothing', async () => {
    const store = new RunResults();
    const c = check(CONTRACT);
    await runInto(store, c);
    const controller = new AbortController();
    const slow: Script = { triage: { ...SCRIPT.triage, ok: { output: '{"label":"shipping"}', sleepMs: 10_000 } } };
    const p = runInto(store, c, { script: slow, signal: controller.signal });
    setImmediate(() => controller.abort());
    const r = await p;
    assert.equal(r.status, 'cancelled');
    assert.ok(r.examples.every((e) => e.verdict.kind === 'cancelled' || e.verdict.kind === 'skipped'));
    assert.equal(exampleLensTitle(store.runsOf(URI, c)!.examples.get('ok')), '✓ 412 ms');
    assert.equal(exampleLensTitle({ run: { ...store.latest(URI, 'ok')!, verdict: 'cancelled' }, stale: false }), '– cancelled');
    assert.equal(exampleLensTitle({ run: { ...store.latest(URI, 'ok')!, verdict: 'skipped' }, stale: false }), '– skipped');
  });

  test('hover: verdict, message, model (SYNTHETIC), timings, pretty output; raw output when it is not JSON', async () => {
    const store = new RunResults();
    const c = check(CONTRACT);
    await runInto(store, c, { synthetic: true });
    const runs = store.runsOf(URI, c)!;
    const wrong = runHoverMarkdown(runs.examples.get('wrong')!);
    const at = wrong.match(/ran (\S+)$/m)![1]!;
    assert.equal(
      wrong,
      [
        '**Last run** · ✗ label: billing → shipping',
        'wrong value: /label: expected "billing", got "shipping"',
        'Model: SYNTHETIC tiny gemma3 Q8_0 — random weights: this verdict exercises the runtime and says nothing about the contract',
        `Timings: first token 35 ms · total 380 ms · 6 tokens · 14.5 tok/s · prompt ${runs.examples.get('wrong')!.run.timing!.promptTokens} tokens`,
        `ran ${at}`,
        'Output:\n\n```json\n{\n  "label": "shipping"\n}\n```',
      ].join('\n\n'),
    );
    assert.ok(!Number.isNaN(Date.parse(at)));
    const bad = runHoverMarkdown(runs.examples.get('notjson')!);
    assert.match(bad, /Output \(raw, stopped: eog\):\n\n```text\nSure! \{"label":\n```$/);
    const stale = runHoverMarkdown({ ...runs.examples.get('ok')!, stale: true });
    assert.match(stale, /^\*\*Last run\*\* · ✓ 412 ms · \*\*stale\*\*\n\nThe prompt, the schema, the model settings or this example changed since it ran/);
    // Output with backtick runs keeps its fence intact.
    const ticks = runHoverMarkdown({ run: { ...runs.examples.get('notjson')!.run, output: 'a ```` b' }, stale: false });
    assert.match(ticks, /`````text\na ```` b\n`````$/);

    // Where the hover shows it: the example's item, its name, its expected value; not its input.
    const offsetOf = (s: string) => c.text.indexOf(s);
    assert.match(runHoverAt(c, offsetOf('name: wrong') + 7, runs)!.markdown, /^\*\*Last run\*\* · ✗ label: billing → shipping/);
    assert.ok(runHoverAt(c, offsetOf('      urgent: true') + 8, runs));
    assert.equal(runHoverAt(c, offsetOf('"parcel late"') + 2, runs), undefined);
    assert.equal(runHoverAt(c, offsetOf('name: later') + 7, runs), undefined);
  });

  test('a wrong value of every kind lands on its field of expected, or on the nearest key that exists', () => {
    const text = `contract: lists
prompt: { user: "List {{x}}" }
output:
  schema: { type: object }
  match: exact
examples:
  - name: e
    input: { x: 1 }
    expected:
      tags: [a, b]
      owner:
        name: Ann
`;
    const c = check(text);
    const run = (diffs: ExampleRun['diffs']): ExampleRunView => ({
      run: { example: 'e', key: new RunResults().keysOf(c).examples.get('e')!, verdict: 'wrong-value', message: 'wrong value', diffs, cached: false, latencies: [], ttfts: [], model: { label: 'm', quantization: 'Q8_0', synthetic: false }, at: '2025-01-01T00:00:00.000Z' },
      stale: false,
    });
    const place = (diffs: ExampleRun['diffs']) => runFindings(c, { examples: new Map([['e', run(diffs)]]) }).map((f) => [...at(c, f), f.message]);
    const L = (s: string) => lineOf(text, s);
    assert.deepEqual(place([{ pointer: '/tags/1', kind: 'different', expected: 'b', actual: 'c' }]), [[L('tags: [a, b]'), 'b', 'expected b, got c']]);
    assert.deepEqual(place([{ pointer: '/owner/name', kind: 'missing', expected: 'Ann' }]), [[L('name: Ann'), 'Ann', 'the output has no owner.name (expected Ann)']]);
    assert.deepEqual(place([{ pointer: '/owner/age', kind: 'unexpected', actual: 41 }]), [[L('owner:'), 'owner', 'the output has owner.age = 41, which expected does not (match: exact)']]);
    assert.deepEqual(place([{ pointer: '/color', kind: 'unexpected', actual: 'red' }]), [[L('expected:'), 'expected', 'the output has color = red, which expected does not (match: exact)']]);
    assert.deepEqual(place([{ pointer: '/tags/0', kind: 'unmatched-item', expected: 'a' }]), [[L('tags: [a, b]'), 'a', 'no item of the output\'s array matches this one (a)']]);
    assert.deepEqual(place([{ pointer: '', kind: 'different', expected: { tags: [] }, actual: 3 }]), [[L('expected:'), 'expected', 'expected {"tags":[]}, got 3']]);
    assert.equal(exampleLensTitle(run([{ pointer: '/owner/name', kind: 'missing', expected: 'Ann' }, { pointer: '/tags/1', kind: 'different', expected: 'b', actual: 'c' }])), '✗ owner.name: missing (+1)');
    assert.equal(exampleLensTitle(run([{ pointer: '/tags/1', kind: 'different', expected: 'b', actual: 'c' }])), '✗ tags[1]: b → c');
    // A pointer into an output array item that expected does not have: the array's key.
    const r = fieldRange(c, 0, '/tags/5')!;
    assert.equal(text.slice(r[0], r[1]), 'tags');
    const o = fieldRange(c, 0, '/owner')!;
    assert.equal(text.slice(o[0], o[1]), 'owner');
  });

  test('a model that could not be had: one finding on `model` (or the first key) while the model settings are unchanged', () => {
    const store = new RunResults();
    const c = check(CONTRACT);
    store.recordFailure(URI, { key: store.keysOf(c).contract, reason: 'no such file: /nope.gguf', at: '2025-01-01T00:00:00.000Z' });
    const f = runFindings(c, store.runsOf(URI, c));
    assert.deepEqual(f.map((x) => [x.code, ...at(c, x), x.message]), [['run-not-run', 0, 'contract', 'not run: no such file: /nope.gguf']]);
    assert.equal(contractLensTitle(c, store.runsOf(URI, c)), '✗ not run');
    const withModel = check(CONTRACT.replace('budgets:', 'model: { maxTokens: 64 }\nbudgets:'));
    assert.equal(runFindings(withModel, store.runsOf(URI, withModel)).length, 0, 'stale once the model section changed');
    store.recordFailure(URI, { key: store.keysOf(withModel).contract, reason: 'boom', at: '2025-01-01T00:00:00.000Z' });
    assert.deepEqual(runFindings(withModel, store.runsOf(URI, withModel)).map((x) => at(withModel, x)[1]), ['model']);
  });

  test('plain values and dotted paths', () => {
    assert.equal(plain('billing'), 'billing');
    assert.equal(plain(''), '""');
    assert.equal(plain('two\nlines'), '"two\\nlines"');
    assert.equal(plain({ a: [1, 2] }), '{"a":[1,2]}');
    assert.equal(plain('x'.repeat(50), 10), 'xxxxxxxxx…');
    assert.equal(dotted(''), 'output');
    assert.equal(dotted('/items/0/name'), 'items[0].name');
    assert.equal(dotted('/a~1b/c~0d'), 'a/b.c~d');
  });
});
