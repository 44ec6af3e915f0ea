/** The editor's side of the report (client/src/report-model.ts): facts from the contract text, live results, the model it draws. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderReportHtml } from '../server/src/core/report-html';
import type { ExampleRunResult, RunExamplesResult } from '../server/src/protocol';
import { contractFacts, nameFromUri, reportExampleOf, withLive, workspaceReportModel } from '../client/src/report-model';
import { ResultsMemory } from '../client/src/results-memory';

const ROOT = path.resolve(__dirname, '..');
const URI = 'file:///w/samples/specialist-triage.contract.yaml';

const r = (example: string, quantization: string, status: ExampleRunResult['status'], more: Partial<ExampleRunResult> = {}): ExampleRunResult => ({ example, quantization, status, ...more });

test('contract facts: budgets, ignore pointers and quantization order from the text; nonsense gives nothing', () => {
  const f = contractFacts(fs.readFileSync(path.join(ROOT, 'samples', 'specialist-triage.contract.yaml'), 'utf8'));
  assert.equal(f.contract, 'specialist-triage');
  assert.deepEqual(f.quantizations, ['F16', 'Q8_0', 'Q4_0']);
  assert.deepEqual(f.budgets, { passRate: 0.6, p95Ms: 500, maxDrift: 0.25 });
  assert.deepEqual(contractFacts('output:\n  ignore: [/id]\nbudgets: { p95Ms: "fast" }\n'), { ignore: ['/id'] });
  assert.deepEqual(contractFacts(': : [\n'), {});
  assert.deepEqual(contractFacts(''), {});
  assert.equal(nameFromUri(URI), 'specialist-triage');
  assert.equal(nameFromUri('file:///w/a%20b.contract.yml'), 'a b');
});

test('a cached verdict carries no latency into the report', () => {
  assert.deepEqual(reportExampleOf(r('a', 'Q8_0', 'pass', { cached: true, latencyMs: 5, ttftMs: 1 })).latencyMs, []);
  assert.deepEqual(reportExampleOf(r('a', 'Q8_0', 'pass', { latencyMs: 5, ttftMs: 1, raw: '{}' })), { name: 'a', quantization: 'Q8_0', status: 'pass', latencyMs: [5], ttftMs: [1], cached: false, output: '{}' });
});

test('a record tells its listeners; live results of a run still going are drawn over the finished ones', () => {
  const memory = new ResultsMemory();
  const seen: string[] = [];
  const sub = memory.onDidRecord((res) => seen.push(res.uri));
  const finished: RunExamplesResult = { uri: URI, contract: 'specialist-triage', results: [r('a', 'F16', 'pass', { latencyMs: 10, raw: '{"label":"x"}' })], summary: { total: 1, passed: 1, failed: 0, skipped: 0 } };
  memory.record(finished);
  assert.deepEqual(seen, [URI]);
  sub.dispose();
  memory.record(finished);
  assert.deepEqual(seen, [URI], 'a disposed listener is not called');

  const live = new Map([
    [URI, [r('a', 'F16', 'wrong-value', { latencyMs: 12, raw: '{"label":"y"}', problems: [{ pointer: '/label', message: 'x' }] }), r('a', 'Q4_0', 'pass', { latencyMs: 8, raw: '{"label":"x"}' })]],
    ['file:///w/other.contract.yaml', [r('b', 'Q8_0', 'pass', { latencyMs: 3 })]],
  ]);
  const all = withLive(memory.all(), live, nameFromUri);
  assert.deepEqual(all.map((x) => x.contract), ['other', 'specialist-triage']);
  const triage = all.find((x) => x.uri === URI)!;
  assert.deepEqual(triage.results.map((x) => `${x.quantization} ${x.example} ${x.status}`), ['F16 a wrong-value', 'Q4_0 a pass']);
  assert.equal(triage.summary.failed, 1);

  const facts = contractFacts(fs.readFileSync(path.join(ROOT, 'samples', 'specialist-triage.contract.yaml'), 'utf8'));
  const model = workspaceReportModel(all, (uri) => (uri === URI ? { ...facts, file: 'samples/specialist-triage.contract.yaml' } : undefined), new Date(0));
  const html = renderReportHtml(model, { nonce: 'n', cspSource: 'vscode-webview://x', live: true });
  assert.match(html, /<section class="contract" data-contract="specialist-triage"/);
  assert.match(html, /data-mark="budget-p95" data-value="500"/);
  assert.match(html, /data-field="\/label" data-total="1"/);
  // two quantizations of specialist-triage: its drift matrix, F16 first as the contract lists it
  assert.match(html, /data-row="F16" data-col="Q4_0" data-share="1"/);
  assert.match(html, /<script nonce="n">/);
  assert.match(html, /style-src vscode-webview:\/\/x 'nonce-n'/);
});
