import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { ModelUnavailableError, runContract, scriptedSource, type ModelSource, type RunProgress } from '../server/src/runtime/engine';
import { ScriptedRunner, type Script, type ScriptedOutput } from '../server/src/runtime/runner';
import { parseTraceText, readTraceFile, TraceWriter } from '../server/src/runtime/trace';
import { ResultCache } from '../server/src/runtime/cache';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pc-engine-'));
}

const SCHEMA = `    type: object
    additionalProperties: false
    required: [label, confidence]
    properties:
      label: { enum: [billing, shipping, other] }
      confidence: { type: number, minimum: 0, maximum: 1 }`;

function contractText(opts: { name?: string; match?: string; ignore?: string; budgets?: string; run?: string; examples?: string; model?: string; user?: string } = {}): string {
  return `contract: ${opts.name ?? 'c'}
model:
  maxTokens: 32
${opts.model ?? ''}
prompt:
  system: You classify complaints as billing, shipping or other. Give label and confidence.
  user: "${opts.user ?? 'Complaint: {{text}}'}"
output:
  schema:
${SCHEMA}
  match: ${opts.match ?? 'exact'}
  ignore: [${opts.ignore ?? ''}]
examples:
${
  opts.examples ??
  `  - name: a
    input: { text: "charged twice" }
    expected: { label: billing, confidence: 0.9 }
  - name: b
    input: { text: "parcel lost" }
    expected: { label: shipping, confidence: 0.9 }`
}
${opts.budgets ?? ''}
${opts.run ?? ''}
`;
}

function load(text: string, dir = tmp()) {
  const file = path.join(dir, 'c.contract.yaml');
  fs.writeFileSync(file, text);
  const check = checkContract(text, { file, host: fsHost(dir) });
  return { check, file, dir };
}

const good = (label: string, c = 0.9) => JSON.stringify({ label, confidence: c });

test('every verdict kind comes out of the engine, with details', async () => {
  const examples = ['pass', 'invalid', 'trunc', 'mismatch', 'wrong', 'err']
    .map((n) => `  - name: ${n}\n    input: { text: "${n}" }\n    expected: { label: billing, confidence: 0.9 }`)
    .join('\n');
  const { check, file } = load(contractText({ examples, budgets: 'budgets: { passRate: 0.1 }' }));
  assert.deepEqual(check.findings.filter((f) => f.severity === 'error'), []);
  const script: Script = {
    c: {
      pass: good('billing'),
      invalid: 'label: billing',
      trunc: { output: '{"label": "bil', stopReason: 'maxTokens' },
      mismatch: '{"label": "refund", "confidence": 2}',
      wrong: good('other'),
      err: { output: '', error: 'native crash' },
    },
  };
  const runner = new ScriptedRunner(script);
  const r = await runContract(check, { source: scriptedSource(runner), file, warmup: 0 });
  const kinds = Object.fromEntries(r.examples.map((e) => [e.name, e.verdict.kind]));
  assert.deepEqual(kinds, { pass: 'pass', invalid: 'invalid-json', trunc: 'truncated', mismatch: 'schema-mismatch', wrong: 'wrong-value', err: 'error' });
  const mismatch = r.examples.find((e) => e.name === 'mismatch')!;
  assert.deepEqual(mismatch.verdict.schemaErrors!.map((e) => e.pointer).sort(), ['/confidence', '/label']);
  assert.deepEqual(r.examples.find((e) => e.name === 'wrong')!.verdict.diffs, [{ pointer: '/label', kind: 'different', expected: 'billing', actual: 'other' }]);
  assert.deepEqual(r.examples.find((e) => e.name === 'pass')!.parsed, { label: 'billing', confidence: 0.9 });
  assert.equal(r.judged, 6);
  assert.equal(r.passed, 1);
  assert.equal(r.status, 'pass'); // passRate budget 0.1 tolerates the failures
  // The runner saw the grammar, the greedy sampler and maxTokens.
  assert.equal(runner.calls[0]!.grammar, 'constrained');
  assert.deepEqual(runner.calls[0]!.sampler, { temperature: 0 });
  assert.equal(runner.calls[0]!.maxTokens, 32);
});

test('without a passRate budget every example must pass', async () => {
  const { check, file } = load(contractText());
  const r = await runContract(check, { source: scriptedSource(new ScriptedRunner({ c: { a: good('billing'), b: good('other') } })), file, warmup: 0 });
  assert.equal(r.status, 'fail');
  assert.equal(r.budgets[0]!.name, 'passRate');
  assert.equal(r.budgets[0]!.status, 'fail');
});

test('match modes and ignore through the engine', async () => {
  const fieldsIgnore = load(contractText({ match: 'fields', ignore: '/confidence' }));
  const r1 = await runContract(fieldsIgnore.check, { source: scriptedSource(new ScriptedRunner({ c: { a: good('billing', 0.1), b: good('shipping', 0.5) } })), warmup: 0 });
  assert.equal(r1.status, 'pass');
  assert.deepEqual(r1.examples.map((e) => e.verdict.kind), ['pass', 'pass']);
  const exact = load(contractText({ match: 'exact' }));
  const r2 = await runContract(exact.check, { source: scriptedSource(new ScriptedRunner({ c: { a: good('billing', 0.1), b: good('shipping', 0.9) } })), warmup: 0 });
  assert.deepEqual(r2.examples.map((e) => e.verdict.kind), ['wrong-value', 'pass']);
  assert.deepEqual(r2.examples[0]!.verdict.diffs![0], { pointer: '/confidence', kind: 'different', expected: 0.9, actual: 0.1 });
});

test('subset matching of array items through the engine', async () => {
  const text = `contract: tags
prompt: { user: "{{t}}" }
output:
  schema: { type: object, properties: { tags: { type: array, items: { type: string } } } }
  match: subset
examples:
  - name: e
    input: { t: x }
    expected: { tags: [b, a] }
`;
  const { check } = load(text);
  const r = await runContract(check, { source: scriptedSource(new ScriptedRunner({ tags: { e: '{"tags": ["a", "z", "b"]}' } })), warmup: 0 });
  assert.equal(r.examples[0]!.verdict.kind, 'pass');
});

test('contracts with static errors are not run; skipped examples are reported and not counted', async () => {
  const bad = load(contractText({ examples: '  - name: a\n    input: { text: x }\n    expected: { label: nope, confidence: 0.9 }' }));
  const runner = new ScriptedRunner(() => good('billing'));
  const r = await runContract(bad.check, { source: scriptedSource(runner) });
  assert.equal(r.status, 'not-run');
  assert.match(r.reason!, /static error/);
  assert.equal(runner.calls.length, 0);

  const withSkip = load(contractText({ examples: `  - name: a\n    input: { text: x }\n    expected: { label: billing, confidence: 0.9 }\n  - name: s\n    skip: true\n    input: { text: y }\n    expected: { label: billing, confidence: 0.9 }` }));
  const r2 = await runContract(withSkip.check, { source: scriptedSource(runner), warmup: 0 });
  assert.deepEqual(r2.examples.map((e) => e.verdict.kind), ['pass', 'skipped']);
  assert.equal(r2.judged, 1);
  assert.equal(r2.status, 'pass');
});

test('repeat after warm-up: latency distributions per example and per contract, budgets on p50/p95/ttft', async () => {
  const { check, file } = load(contractText({ budgets: 'budgets: { p50Ms: 25, p95Ms: 35, ttftP95Ms: 5 }', run: 'run: { repeat: 4, warmup: 2 }' }));
  const lat = (ms: number, ttft: number): ScriptedOutput => ({ output: good('billing'), latencyMs: ms, ttftMs: ttft });
  // a: warm-ups (100, 100) then 10, 20, 30, 40; b: 15, 25, 35, 45 (b's last one repeats).
  const runner = new ScriptedRunner({ c: { a: [lat(100, 50), lat(100, 50), lat(10, 1), lat(20, 2), lat(30, 3), lat(40, 4)], b: [lat(15, 1), lat(25, 2), lat(35, 3), lat(45, 9)] } });
  const r = await runContract(check, { source: scriptedSource(new ScriptedRunner({ c: { a: good('billing'), b: good('shipping') } })), file });
  assert.equal(r.examples[0]!.runs.length, 4);
  const r2 = await runContract(check, { source: scriptedSource(runner), file });
  assert.equal(runner.calls.length, 2 + 4 + 4);
  assert.deepEqual(r2.examples[0]!.runs.map((x) => x.totalMs), [10, 20, 30, 40]);
  assert.deepEqual(r2.examples[0]!.latency, { n: 4, min: 10, p50: 20, p95: 40, p99: 40, max: 40 });
  assert.deepEqual(r2.latency, { n: 8, min: 10, p50: 25, p95: 45, p99: 45, max: 45 });
  assert.deepEqual(r2.budgets.map((b) => `${b.name}:${b.status}`), ['passRate:fail', 'p50Ms:pass', 'p95Ms:fail', 'ttftP95Ms:fail']);
  assert.equal(r2.status, 'fail');
});

test('repeats that disagree are reported (temperature > 0)', async () => {
  const { check } = load(contractText({ model: '  temperature: 0.7\n  seed: 3', budgets: 'budgets: { passRate: 0.5 }', run: 'run: { repeat: 3, warmup: 0 }' }));
  const runner = new ScriptedRunner({ c: { a: [good('billing'), good('other'), good('billing')], b: good('shipping') } });
  const r = await runContract(check, { source: scriptedSource(runner) });
  const a = r.examples[0]!;
  assert.deepEqual(a.repeatVerdicts, ['pass', 'wrong-value', 'pass']);
  assert.equal(a.verdict.kind, 'wrong-value');
  assert.match(a.verdict.message, /2\/3 repeats passed/);
  assert.deepEqual(runner.calls[0]!.sampler, { temperature: 0.7, seed: 3 });
});

test('cache: hits on the second run, verdicts recomputed from the current expected, misses after prompt/schema/input edits, --no-cache reruns', async () => {
  const dir = tmp();
  const cacheDir = path.join(dir, 'cache');
  const run = async (text: string, noCache = false) => {
    const { check, file } = load(text, dir);
    const runner = new ScriptedRunner({ c: { a: good('billing'), b: good('other') } });
    const r = await runContract(check, { source: scriptedSource(runner), file, cacheDir, noCache, warmup: 0 });
    return { r, calls: runner.calls.map((c) => c.example) };
  };
  const base = contractText();
  const first = await run(base);
  assert.deepEqual(first.calls, ['a', 'b']);
  assert.deepEqual(first.r.examples.map((e) => e.cached), [false, false]);
  const second = await run(base);
  assert.deepEqual(second.calls, []);
  assert.deepEqual(second.r.examples.map((e) => [e.cached, e.verdict.kind, e.runs.length]), [[true, 'pass', 0], [true, 'wrong-value', 0]]);
  assert.equal(second.r.cachedCount, 2);
  assert.equal(second.r.latency, undefined); // latency is never served from cache
  // An edit to expected only: no rerun, but the verdict follows the new expected value.
  const third = await run(base.replace('expected: { label: shipping, confidence: 0.9 }', 'expected: { label: other, confidence: 0.9 }'));
  assert.deepEqual(third.calls, []);
  assert.deepEqual(third.r.examples.map((e) => e.verdict.kind), ['pass', 'pass']);
  // An edit to an example's input: that example runs again.
  assert.deepEqual((await run(base.replace('parcel lost', 'parcel gone'))).calls, ['b']);
  // An edit to the prompt or the schema: every example runs again.
  assert.deepEqual((await run(base.replace('Complaint:', 'Text:'))).calls, ['a', 'b']);
  assert.deepEqual((await run(base.replace('enum: [billing, shipping, other]', 'enum: [billing, shipping, other, product]'))).calls, ['a', 'b']);
  assert.deepEqual((await run(base.replace('maxTokens: 32', 'maxTokens: 33'))).calls, ['a', 'b']);
  assert.deepEqual((await run(base, true)).calls, ['a', 'b']);
  // Sampling without a seed is not deterministic: never cached.
  const sampled = base.replace('  maxTokens: 32', '  maxTokens: 32\n  temperature: 0.5');
  await run(sampled);
  assert.deepEqual((await run(sampled)).calls, ['a', 'b']);
  // A corrupt entry is a miss.
  for (const sub of fs.readdirSync(cacheDir)) for (const f of fs.readdirSync(path.join(cacheDir, sub))) fs.writeFileSync(path.join(cacheDir, sub, f), '{"key": tor');
  assert.deepEqual((await run(base)).calls, ['a', 'b']);
});

test('afterExample: called once per example that ran (after its repeats, not for cached or skipped ones), with the runner and the prompt; what it throws does not stop the run', async () => {
  const dir = tmp();
  const cacheDir = path.join(dir, 'cache');
  const text = contractText({
    examples: `  - name: a
    input: { text: "charged twice" }
    expected: { label: billing, confidence: 0.9 }
  - name: b
    input: { text: "parcel lost" }
    expected: { label: shipping, confidence: 0.9 }
  - name: s
    skip: true
    input: { text: "skipped" }
    expected: { label: other, confidence: 0.9 }`,
  });
  const seen: { name: string; runs: number; calls: number; prompt: boolean; tokens: number }[] = [];
  const runner = new ScriptedRunner({ c: { a: good('billing'), b: good('shipping') } });
  const { check, file } = load(text, dir);
  const r = await runContract(check, {
    source: scriptedSource(runner),
    file,
    cacheDir,
    warmup: 1,
    repeat: 2,
    afterExample: async (e) => {
      assert.equal(e.runner, runner);
      seen.push({ name: e.result.name, runs: e.result.runs.length, calls: runner.calls.length, prompt: e.promptText.includes(e.result.name === 'a' ? 'charged twice' : 'parcel lost'), tokens: e.tokens.length });
      if (e.result.name === 'a') throw new Error('a hook that fails');
    },
  });
  assert.equal(r.status, 'pass');
  // Warm-up (1 call) + 2 repeats of a, then the hook; 2 repeats of b, then the hook.
  assert.deepEqual(seen.map(({ name, runs, calls, prompt }) => ({ name, runs, calls, prompt })), [
    { name: 'a', runs: 2, calls: 3, prompt: true },
    { name: 'b', runs: 2, calls: 5, prompt: true },
  ]);
  assert.ok(seen.every((x) => x.tokens > 0));
  // Every answer cached now: nothing runs, so the hook is not called.
  seen.length = 0;
  const again = await runContract(check, { source: scriptedSource(runner), file, cacheDir, afterExample: async (e) => void seen.push({ name: e.result.name, runs: 0, calls: 0, prompt: true, tokens: 0 }) });
  assert.equal(again.cachedCount, 2);
  assert.deepEqual(seen, []);
});

test('cancellation: an abort between examples stops the run; an abort from onToken stops within one token', async () => {
  const { check } = load(contractText());
  const ac = new AbortController();
  const events: RunProgress[] = [];
  const runner = new ScriptedRunner({ c: { a: good('billing'), b: good('shipping') } });
  const r = await runContract(check, {
    source: scriptedSource(runner),
    warmup: 0,
    signal: ac.signal,
    onProgress: (e) => {
      events.push(e);
      if (e.kind === 'example' && e.result.name === 'a') ac.abort();
    },
  });
  assert.equal(r.status, 'cancelled');
  assert.deepEqual(r.examples.map((e) => e.verdict.kind), ['pass', 'cancelled']);
  assert.deepEqual(runner.calls.map((c) => c.example), ['a']);
  assert.equal(events[events.length - 1]!.kind, 'done');

  // Runner level: abort at token 3 → the runner stops at that token.
  const ac2 = new AbortController();
  const seen: number[] = [];
  const g = await new ScriptedRunner({ c: { a: { output: 'abcdefghij', outputTokens: 10 } } }).generate({
    contract: 'c',
    example: 'a',
    promptText: 'p',
    tokens: [1],
    reusablePrefix: 0,
    grammar: { mode: 'free', hash: 'free' },
    maxTokens: 10,
    sampler: { temperature: 0 },
    signal: ac2.signal,
    onToken: (i) => {
      seen.push(i);
      if (i === 3) ac2.abort();
    },
  });
  assert.equal(g.stopReason, 'abort');
  assert.deepEqual(seen, [0, 1, 2, 3]);
});

test('two runs on one model queue: they never overlap, and the second reports that it waits', async () => {
  const { check } = load(contractText());
  let active = 0;
  let maxActive = 0;
  const runner = new ScriptedRunner(() => ({ output: good('billing'), sleepMs: 20 }));
  const source = scriptedSource(runner);
  const tracked: ModelSource = {
    engine: source.engine,
    resolve: (r) => source.resolve(r),
    async open(resolved, o) {
      active++;
      maxActive = Math.max(maxActive, active);
      const lease = await source.open(resolved, o);
      return { runner: lease.runner, release: () => void active-- };
    },
  };
  const events: string[] = [];
  const [r1, r2] = await Promise.all([
    runContract(check, { source: tracked, warmup: 0, onProgress: (e) => events.push(`1:${e.kind}`) }),
    runContract(check, { source: tracked, warmup: 0, onProgress: (e) => events.push(`2:${e.kind}`) }),
  ]);
  assert.equal(maxActive, 1);
  assert.ok(events.includes('2:queued'), events.join(' '));
  assert.ok(events.indexOf('1:done') < events.indexOf('2:started'), events.join(' '));
  assert.deepEqual([r1.passed, r2.passed], [1, 1]);
});

test('a model that cannot be had: model-unavailable with the source\'s message', async () => {
  const { check } = load(contractText());
  const source: ModelSource = {
    engine: 'x',
    resolve: async () => {
      throw new ModelUnavailableError('gemma-3-270m-it Q8_0 not found (looked in /somewhere); pass --model FILE');
    },
    open: async () => {
      throw new Error('unreachable');
    },
  };
  const r = await runContract(check, { source });
  assert.equal(r.status, 'model-unavailable');
  assert.match(r.reason!, /--model FILE/);
});

test('traces: one JSON line per run (warm-ups marked), an unwritable folder warns and verdicts still come back', async () => {
  const dir = tmp();
  const traceDir = path.join(dir, 'traces');
  const { check, file } = load(contractText({ run: 'run: { repeat: 2, warmup: 1 }' }), dir);
  const r = await runContract(check, { source: scriptedSource(new ScriptedRunner(() => good('billing'))), file, traceDir });
  assert.deepEqual(r.warnings, []);
  const files = fs.readdirSync(traceDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^\d{4}-\d{2}-\d{2}\.jsonl$/);
  const { records, skipped } = readTraceFile(path.join(traceDir, files[0]!));
  assert.deepEqual(skipped, []);
  assert.equal(records.length, 1 + 2 * 2);
  assert.equal(records[0]!.warmup, true);
  const rec = records[1]!;
  assert.equal(rec.contract, 'c');
  assert.equal(rec.example, 'a');
  assert.equal(rec.verdict, 'pass');
  assert.match(rec.prompt, /^<bos><start_of_turn>user\nYou classify/);
  assert.deepEqual(rec.parsed, { label: 'billing', confidence: 0.9 });
  assert.equal(rec.model.synthetic, false);
  assert.ok(rec.timings && rec.timings.totalMs > 0);

  // A trace folder below a file cannot be created.
  const blocker = path.join(dir, 'not-a-dir');
  fs.writeFileSync(blocker, 'x');
  const r2 = await runContract(check, { source: scriptedSource(new ScriptedRunner(() => good('billing'))), file, traceDir: path.join(blocker, 'traces'), warmup: 0 });
  assert.deepEqual(r2.examples.map((e) => e.verdict.kind), ['pass', 'wrong-value']);
  assert.equal(r2.warnings.length, 1);
  assert.match(r2.warnings[0]!, /cannot write traces to .*not-a-dir\/traces.*ENOTDIR.*verdicts are still reported/);
});

test('a torn trace line (killed writer) is skipped on read, and the next writer starts a fresh line', () => {
  const dir = tmp();
  const w = new TraceWriter(dir);
  const rec = (example: string) => ({ time: '2025-01-02T03:04:05.000Z', contract: 'c', example, repeat: 0, model: { path: 'm', id: 'm', quantization: 'Q8_0', synthetic: true, label: 'SYNTHETIC m' }, decoding: 'constrained' as const, prompt: 'p', output: '{}', verdict: 'pass', message: 'pass', stopReason: 'eog' });
  assert.ok(w.append(rec('one')));
  const file = w.fileFor(new Date('2025-01-02T03:04:05.000Z'));
  fs.appendFileSync(file, '{"time":"2025-01-02T03:04:06.000Z","contract":"c","exam'); // killed mid-write
  assert.deepEqual(parseTraceText(fs.readFileSync(file, 'utf8')).records.map((r) => r.example), ['one']);
  const w2 = new TraceWriter(dir);
  assert.ok(w2.append(rec('two')));
  const read = readTraceFile(file);
  assert.deepEqual(read.records.map((r) => r.example), ['one', 'two']);
  assert.deepEqual(read.skipped, [2]);
});

test('prefix reuse hints: every example shares the static prefix tokens', async () => {
  const { check } = load(contractText());
  const runner = new ScriptedRunner(() => good('billing'));
  await runContract(check, { source: scriptedSource(runner), warmup: 0 });
  const prefix = '<bos><start_of_turn>user\nYou classify complaints as billing, shipping or other. Give label and confidence.\n\nComplaint: ';
  assert.deepEqual(runner.calls.map((c) => c.reusablePrefix), [prefix.length, prefix.length]);
});

test('a failing warm-up run is not reported; the measured runs decide', async () => {
  const { check } = load(contractText());
  const runner = new ScriptedRunner({ c: { a: [{ output: '', error: 'cold start hiccup' }, good('billing')], b: good('shipping') } });
  const r = await runContract(check, { source: scriptedSource(runner), warmup: 1 });
  assert.deepEqual(r.examples.map((e) => e.verdict.kind), ['pass', 'pass']);
  assert.equal(r.status, 'pass');
  assert.equal(runner.calls.length, 3);
});

test('results cache: a cache folder removed in the middle of a run is made again; an unwritable one is a warning, not a failure', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-cache-'));
  const cache = new ResultCache(path.join(dir, 'cache'));
  const gen = { text: '{"a":1}', stopReason: 'eog' } as unknown as Parameters<ResultCache['put']>[1];
  const key = 'ab' + '0'.repeat(62);
  assert.equal(cache.put(key, gen), true);
  fs.rmSync(path.join(dir, 'cache'), { recursive: true, force: true });
  assert.equal(cache.put(key, gen), true, 'made again');
  assert.equal(cache.get(key)?.text, '{"a":1}');
  fs.rmSync(path.join(dir, 'cache'), { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, 'cache'), 'a file where the folder should be');
  const blocked = new ResultCache(path.join(dir, 'cache'));
  assert.equal(blocked.put(key, gen), false);
  assert.match(blocked.warnings[0]!, /cannot write the results cache/);
  fs.rmSync(dir, { recursive: true, force: true });
});
