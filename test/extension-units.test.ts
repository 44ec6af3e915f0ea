/** The client's pure helpers: status text, restart backoff, run arguments, reports, error messages. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeRequestError, isCancellation } from '../client/src/errors';
import { formatStatus } from '../client/src/model-status';
import { summaryLine, verdictLine } from '../client/src/report';
import { distribution } from '../server/src/core/stats';
import { RestartPolicy } from '../client/src/restart-policy';
import { ResultsMemory } from '../client/src/results-memory';
import { exampleAtLine, isWalkedContract, outlineOf, paramsFromServerCommand, runExampleParams, runFileParams } from '../client/src/run-args';
import { ContractsErrorCodes, type ExampleRunResult, type RunExamplesResult } from '../server/src/protocol';

test('status text: every model state, and the server states first', () => {
  const run = (m: Parameters<typeof formatStatus>[0]) => formatStatus(m, 'running');
  assert.equal(run({ state: 'not-loaded' }).text, '$(circle-large-outline) Model: not loaded');
  assert.equal(run({ state: 'downloading', model: 'gemma-3-270m-it', percent: 34.7 }).text, '$(cloud-download) Model: downloading 34%');
  assert.equal(run({ state: 'downloading', model: 'm', percent: 140 }).text, '$(cloud-download) Model: downloading 100%');
  assert.equal(run({ state: 'loading', model: 'gemma-3-270m-it' }).text, '$(sync~spin) Model: loading');
  const ready = run({ state: 'ready', model: 'gemma-3-270m-it', quantization: 'Q8_0', threads: 1 });
  assert.equal(ready.text, '$(check) gemma-3-270m-it · Q8_0 · 1 thread');
  assert.equal(run({ state: 'ready', model: 'm', quantization: 'Q4_0', threads: 2 }).text, '$(check) m · Q4_0 · 2 threads');
  const synthetic = run({ state: 'ready', model: 'tiny', quantization: 'Q8_0', threads: 1, synthetic: true });
  assert.equal(synthetic.severity, 'warning');
  assert.match(synthetic.tooltip, /SYNTHETIC/);
  const err = run({ state: 'error', message: 'no such file: /x.gguf\nstack…' });
  assert.equal(err.text, '$(error) Model: error');
  assert.equal(err.severity, 'error');
  assert.match(err.tooltip, /no such file: \/x\.gguf\nClick for details/);
  assert.equal(err.command, 'contracts.showModelStatus');
  // While the server is not running, the model state is stale: the server state wins.
  assert.equal(formatStatus(ready.text ? { state: 'ready', model: 'm', quantization: 'Q8_0', threads: 1 } : { state: 'not-loaded' }, 'restarting', 'Restarting in 2 s').severity, 'warning');
  assert.match(formatStatus({ state: 'not-loaded' }, 'failed', 'It stopped 8 times').tooltip, /It stopped 8 times/);
  assert.match(formatStatus({ state: 'not-loaded' }, 'stopped').text, /stopped/);
});

test('restart policy: exponential backoff, told once per series, gives up, a healthy run resets', () => {
  const p = new RestartPolicy({ baseMs: 1000, maxMs: 8000, healthyAfterMs: 60_000, maxAttempts: 5 });
  let now = 0;
  const delays: (number | undefined)[] = [];
  const notified: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    p.started((now += 100));
    const d = p.crashed((now += 100));
    delays.push(d.delayMs);
    notified.push(d.notify);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
  assert.deepEqual(notified, [true, false, false, false, false]);
  const gaveUp = p.crashed((now += 100));
  assert.equal(gaveUp.giveUp, true);
  assert.equal(gaveUp.delayMs, undefined);
  p.reset();
  assert.deepEqual(p.crashed((now += 100)), { delayMs: 1000, notify: true, giveUp: false, attempt: 1 });
  // Up for longer than healthyAfterMs: the next crash starts a new series (and is told again).
  p.started((now += 100));
  assert.equal(p.crashed((now += 120_000)).notify, true);
});

const CONTRACT = `contract: demo
model:
  quantizations: [Q8_0, QAT-Q4_0]
prompt:
  user: "{{x}}"
output:
  schema: { type: object }
examples:
  - name: first
    input: { x: a }
    expected: {}
  - name: second
    skip: true
    input: { x: b }
`;

test('outline: examples with their lines, quantizations, skip', () => {
  const o = outlineOf(CONTRACT);
  assert.equal(o.contract, 'demo');
  assert.deepEqual(o.quantizations, ['Q8_0', 'QAT-Q4_0']);
  assert.deepEqual(o.examples, [
    { name: 'first', startLine: 8, endLine: 10, skip: false },
    { name: 'second', startLine: 11, endLine: 13, skip: true },
  ]);
  assert.equal(exampleAtLine(o, 9)?.name, 'first');
  assert.equal(exampleAtLine(o, 13)?.name, 'second');
  assert.equal(exampleAtLine(o, 3), undefined);
  // Broken YAML never throws.
  assert.deepEqual(outlineOf('examples: [\n  - name: x').examples, []);
  assert.deepEqual(outlineOf('').examples, []);
});

test('run arguments: protocol params, lens commands, workspace walk', () => {
  assert.deepEqual(runExampleParams('file:///a', 'first'), { uri: 'file:///a', examples: ['first'] });
  assert.deepEqual(runExampleParams('file:///a', 'first', 'Q8_0'), { uri: 'file:///a', examples: ['first'], quantization: 'Q8_0' });
  assert.deepEqual(runFileParams('file:///a'), { uri: 'file:///a' });
  assert.deepEqual(runFileParams('file:///a', 'Q4_0', true), { uri: 'file:///a', quantization: 'Q4_0', noCache: true });
  assert.deepEqual(paramsFromServerCommand('contracts.runExample', [{ uri: 'file:///a', example: 'first' }])?.params, { uri: 'file:///a', examples: ['first'] });
  assert.deepEqual(paramsFromServerCommand('contracts.runAll', [{ uri: 'file:///a' }], 'Q8_0')?.params, { uri: 'file:///a', quantization: 'Q8_0' });
  assert.equal(paramsFromServerCommand('contracts.runExample', [{ uri: 'file:///a' }]), undefined);
  assert.equal(paramsFromServerCommand('contracts.other', [{ uri: 'file:///a' }]), undefined);
  assert.equal(paramsFromServerCommand('contracts.runAll', []), undefined);
  assert.ok(isWalkedContract('a/b.contract.yaml'));
  assert.ok(isWalkedContract('c.contract.yml'));
  assert.ok(!isWalkedContract('samples/broken/x.contract.yaml'));
  assert.ok(!isWalkedContract('node_modules/p/x.contract.yaml'));
  assert.ok(!isWalkedContract('.git/x.contract.yaml'));
  assert.ok(!isWalkedContract('a/b.yaml'));
});

const r = (example: string, quantization: string, status: ExampleRunResult['status'], latencyMs?: number, extra: Partial<ExampleRunResult> = {}): ExampleRunResult => ({
  example,
  quantization,
  status,
  ...(latencyMs !== undefined ? { latencyMs } : {}),
  ...extra,
});

test('verdict and summary lines', () => {
  assert.equal(verdictLine(r('double charge', 'Q8_0', 'pass', 312.4)), '✓ double charge · pass · 312 ms · Q8_0');
  assert.equal(
    verdictLine(r('late', 'Q4_0', 'wrong-value', 401, { problems: [{ pointer: '/label', message: 'expected "shipping", got "billing"' }] })),
    '✗ late · wrong-value · 401 ms · Q4_0 — /label: expected "shipping", got "billing"',
  );
  assert.equal(verdictLine(r('x', 'Q8_0', 'pass', undefined, { cached: true })), '✓ x · pass · cached · Q8_0');
  assert.equal(verdictLine(r('x', 'Q8_0', 'error', undefined, { message: 'model failed to load' })), '⚠ x · error · no latency · Q8_0 — model failed to load');
  const res: RunExamplesResult = {
    uri: 'file:///c.contract.yaml',
    contract: 'classify',
    results: [r('a', 'Q8_0', 'pass', 100), r('b', 'Q8_0', 'schema-mismatch', 300), r('c', 'Q8_0', 'skipped'), r('d', 'Q8_0', 'error')],
    summary: { total: 4, passed: 1, failed: 1, skipped: 1, p50Ms: 100, p95Ms: 300 },
  };
  assert.equal(summaryLine(res), 'classify: 1/3 passed · 1 failed · 1 errored · 1 skipped · p50 100 ms · p95 300 ms');
  assert.equal(summaryLine({ ...res, results: [], reason: 'the contract has errors' }), 'classify: nothing ran — the contract has errors');
  // The client's p50/p95 (results-memory's summary) are the core's nearest-rank percentiles.
  assert.equal(distribution([5, 1, 3])!.p50, 3);
  assert.equal(distribution([1, 2, 3, 4])!.p95, 4);
  assert.equal(distribution([]), undefined);
});

test('results memory merges runs of the same contract', () => {
  const m = new ResultsMemory();
  const base = { uri: 'file:///c', contract: 'c', summary: { total: 0, passed: 0, failed: 0, skipped: 0 } };
  m.record({ ...base, results: [r('a', 'Q8_0', 'wrong-value', 100), r('b', 'Q8_0', 'pass', 50)] });
  m.record({ ...base, results: [r('a', 'Q8_0', 'pass', 90)] });
  const got = m.get('file:///c')!;
  assert.deepEqual(got.results.map((x) => `${x.example}:${x.status}`), ['a:pass', 'b:pass']);
  assert.deepEqual(got.summary, { total: 2, passed: 2, failed: 0, skipped: 0, p50Ms: 50, p95Ms: 90 });
});

test('request errors read as one sentence that keeps the server message', () => {
  const unavailable = { code: ContractsErrorCodes.RuntimeUnavailable, message: 'Running examples is not available yet: …' };
  assert.equal(describeRequestError('Run example "a"', unavailable), 'Run example "a": Running examples is not available yet: …');
  assert.match(describeRequestError('Run all', { code: -32601, message: 'Unhandled method contracts/runExamples' }), /does not implement it yet \(Unhandled method contracts\/runExamples\)/);
  assert.match(describeRequestError('Run all', { code: -32097, message: 'closed' }), /stopped before answering/);
  assert.equal(describeRequestError('Run all', new Error('boom')), 'Run all failed: boom');
  assert.ok(isCancellation({ code: -32800 }));
  assert.ok(!isCancellation(new Error('x')));
});
