/** The HTML report (server/src/core/report-html.ts): charts, marks, budgets, drift, escaping, CSP. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { binAxis, contentSecurityPolicy, driftMatrix, fieldFailures, histogram, niceStep, renderReportBody, renderReportHtml, type ReportContract, type ReportExample, type ReportModel } from '../server/src/core/report-html';

const ex = (name: string, quantization: string, status: ReportExample['status'], more: Partial<ReportExample> = {}): ReportExample => ({ name, quantization, status, ...more });

/** Q8_0: latencies 10, 12, 14, 31 ms; Q4_0: 20 ms. Two failures on /label, one on /urgent, one invalid JSON. */
function contract(over: Partial<ReportContract> = {}): ReportContract {
  return {
    name: 'triage',
    file: 'samples/triage.contract.yaml',
    status: 'fail',
    quantizations: ['Q8_0', 'Q4_0'],
    examples: [
      ex('a', 'Q8_0', 'pass', { latencyMs: [10], ttftMs: [2], tokensPerSecond: 100, output: '{"label":"x","urgent":false}', model: 'gemma-3-270m-it Q8_0' }),
      ex('b', 'Q8_0', 'wrong-value', { latencyMs: [12], ttftMs: [3], tokensPerSecond: 90, output: '{"label":"y","urgent":false}', problems: [{ pointer: '/label', message: 'expected "x", got "y"' }] }),
      ex('c', 'Q8_0', 'schema-mismatch', { latencyMs: [14], ttftMs: [3], tokensPerSecond: 80, output: '{"label":"z","urgent":1}', problems: [{ pointer: '/label', message: 'must be equal to one of the allowed values' }, { pointer: '/urgent', message: 'must be boolean' }] }),
      ex('d', 'Q8_0', 'invalid-json', { latencyMs: [31], ttftMs: [9], tokensPerSecond: 70, output: '{"label":' }),
      ex('a', 'Q4_0', 'pass', { latencyMs: [20], ttftMs: [4], tokensPerSecond: 120, output: '{"label":"x","urgent":false}' }),
      ex('b', 'Q4_0', 'pass', { cached: true, output: '{"label":"x","urgent":false}' }),
    ],
    ...over,
  };
}

const model = (...contracts: ReportContract[]): ReportModel => ({ title: 'Prompt Contracts report', contracts });

/** The markup of one chart: from its <svg data-chart=…> to its </svg>. */
function chart(html: string, name: string): string {
  const start = html.indexOf(`<svg class="chart" data-chart="${name}"`);
  assert.ok(start >= 0, `chart ${name} is drawn`);
  return html.slice(start, html.indexOf('</svg>', start) + 6);
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test('nice steps and bins: a known input lands in the bins worked out by hand', () => {
  assert.equal(niceStep(1.75), 2);
  assert.equal(niceStep(0.3), 0.5);
  assert.equal(niceStep(7), 10);
  assert.equal(niceStep(100), 100);
  const axis = binAxis([10, 12, 14, 31])!;
  // span 21 / 12 bins → step 2; 10..32
  assert.deepEqual(axis, { lo: 10, hi: 32, step: 2 });
  const bins = histogram([10, 12, 14, 31], axis);
  assert.equal(bins.length, 11);
  assert.deepEqual(bins.filter((b) => b.count).map((b) => [b.start, b.count]), [[10, 1], [12, 1], [14, 1], [30, 1]]);
  // the maximum sits in the last bin, not past it
  const edge = binAxis([0, 10])!;
  assert.equal(histogram([0, 10], edge).reduce((n, b) => n + b.count, 0), 2);
});

test('latency histogram: one bar per non-empty bin per quantization, p50/p95 marks at the nearest-rank values', () => {
  const html = renderReportHtml(model(contract()), { nonce: 'n0nce' });
  const svg = chart(html, 'latency');
  // Q8_0: 10, 12, 14, 31 → 4 bins; Q4_0: 20 → 1 bin (the cached result has no latency)
  const q8 = svg.slice(svg.indexOf('data-quantization="Q8_0"'), svg.indexOf('data-quantization="Q4_0"'));
  const q4 = svg.slice(svg.indexOf('data-quantization="Q4_0"'));
  assert.equal(count(q8, /<rect /g), 4);
  assert.equal(count(q4, /<rect /g), 1);
  // nearest rank: p50 of [10,12,14,31] is 12, p95 is 31
  assert.match(q8, /data-mark="p50" data-value="12"/);
  assert.match(q8, /data-mark="p95" data-value="31"/);
  assert.match(q4, /data-mark="p50" data-value="20"/);
  // the p95 mark is drawn where the axis puts 31 ms: right of the p50 mark
  const xOf = (mark: string) => Number(new RegExp(`data-mark="${mark}" data-value="[\\d.]+" x1="([\\d.]+)"`).exec(q8)![1]);
  assert.ok(xOf('p95') > xOf('p50'));
  assert.match(svg, /role="img"/);
  assert.match(svg, /aria-label="[^"]*Q8_0: n=4, p50 12\.0 ms, p95 31\.0 ms/);
  // no budget set: no budget line
  assert.doesNotMatch(svg, /data-mark="budget-/);
  assert.match(chart(html, 'ttft'), /data-mark="p95" data-value="9"/);
  assert.match(chart(html, 'tokens'), /data-mark="median"/);
});

test('budget lines appear only with a budget', () => {
  const html = renderReportHtml(model(contract({ budgets: { p95Ms: 25, ttftP95Ms: 5, passRate: 0.5 } })), { nonce: 'x' });
  assert.match(chart(html, 'latency'), /class="budget" data-mark="budget-p95" data-value="25"/);
  assert.doesNotMatch(chart(html, 'latency'), /budget-p50/);
  assert.match(chart(html, 'ttft'), /data-mark="budget-p95" data-value="5"/);
  assert.match(html, /pass rate ≥ 50\.0%/);
  const both = chart(renderReportHtml(model(contract({ budgets: { p50Ms: 11, p95Ms: 25 } })), { nonce: 'x' }), 'latency');
  assert.match(both, /data-mark="budget-p50" data-value="11"/);
  assert.match(both, /data-mark="budget-p95" data-value="25"/);
  // a budget far off the measurements is drawn at the edge, not stretched into the scale
  const far = chart(renderReportHtml(model(contract({ budgets: { p95Ms: 5000 } })), { nonce: 'x' }), 'latency');
  assert.match(far, /data-mark="budget-p95" data-value="5000"/);
  assert.match(far, /off scale/);
});

test('fields chart: failing fields stacked by verdict kind, most failures first, with the examples behind each bar', () => {
  const c = contract();
  const fields = fieldFailures(c);
  assert.deepEqual(fields.map((f) => [f.field, f.total]), [['/label', 2], ['', 1], ['/urgent', 1]]);
  const html = renderReportHtml(model(c), { nonce: 'x' });
  const svg = chart(html, 'fields');
  assert.equal(count(svg, /<g data-field=/g), 3);
  const label = svg.slice(svg.indexOf('data-field="/label"'), svg.indexOf('</g>', svg.indexOf('data-field="/label"')));
  assert.match(label, /data-kind="wrong-value" data-count="1"/);
  assert.match(label, /data-kind="schema-mismatch" data-count="1"/);
  assert.match(label, /<title>[^<]*wrong-value: b \(Q8_0\)[^<]*schema-mismatch: c \(Q8_0\)/);
  assert.match(html, /<details id="c0-field-0" data-field="\/label"><summary><code>\/label<\/code> — 2 failing/);
  assert.match(html, /\(whole output\)/);
  // array items are one field
  const arrays = fieldFailures({ name: 'x', examples: [ex('p', 'Q8_0', 'wrong-value', { problems: [{ pointer: '/items/0/label', message: '' }] }), ex('q', 'Q8_0', 'wrong-value', { problems: [{ pointer: '/items/3/label', message: '' }] })] });
  assert.deepEqual(arrays.map((f) => [f.field, f.total]), [['/items/*/label', 2]]);
  // nothing failing: no bars, a sentence
  const allPass = renderReportHtml(model(contract({ examples: [ex('a', 'Q8_0', 'pass', { latencyMs: [5] })] })), { nonce: 'x' });
  assert.doesNotMatch(allPass, /<svg class="chart" data-chart="fields"/);
  assert.match(allPass, /No failing example/);
});

test('drift matrix: only with more than one quantization, cells are the share of examples whose outputs differ', () => {
  const c = contract();
  const m = driftMatrix(c)!;
  assert.deepEqual(m.quantizations, ['Q8_0', 'Q4_0']);
  const cell = m.cells.find((x) => x.row === 'Q8_0' && x.col === 'Q4_0')!;
  // a: same; b: y vs x (differs); c, d have no Q4_0 result
  assert.equal(cell.compared, 2);
  assert.deepEqual(cell.differing, ['b']);
  const html = renderReportHtml(model(c), { nonce: 'x' });
  const svg = chart(html, 'drift');
  assert.match(svg, /data-row="Q8_0" data-col="Q4_0" data-share="0.5"/);
  assert.match(svg, /Q8_0 vs Q4_0: 1\/2 examples differ: b/);
  // ignore pointers are honoured
  assert.equal(driftMatrix({ ...c, ignore: ['/label'] })!.cells.find((x) => x.row === 'Q8_0' && x.col === 'Q4_0')!.differing.length, 0);
  // one quantization: no matrix
  const one = contract({ quantizations: ['Q8_0'], examples: c.examples.filter((e) => e.quantization === 'Q8_0') });
  assert.equal(driftMatrix(one), undefined);
  assert.doesNotMatch(renderReportHtml(model(one), { nonce: 'x' }), /data-chart="drift"/);
  // maxDrift: the cell above it is framed
  assert.match(chart(renderReportHtml(model(contract({ budgets: { maxDrift: 0.2 } })), { nonce: 'x' }), 'drift'), /class="cell-over"/);
});

test('every string from a contract is escaped: a <script> in an example name stays text', () => {
  const evil = '<script>alert(1)</script>';
  const c = contract({
    name: `x"><img src=x onerror=alert(1)>`,
    file: `a'b.contract.yaml`,
    reason: '</details><script>bad()</script>',
    examples: [
      ex(evil, 'Q8_0', 'wrong-value', { latencyMs: [5], problems: [{ pointer: '/<b>', message: '<i>m</i>' }], output: '"<script>"', model: '<svg onload=x>' }),
      ex(evil, `Q4<0`, 'pass', { latencyMs: [6], output: '"y"' }),
    ],
  });
  const html = renderReportHtml(model(c), { nonce: 'abc', live: true });
  assert.doesNotMatch(html, /<script>alert/);
  assert.doesNotMatch(html, /<script>bad/);
  assert.doesNotMatch(html, /<img /);
  assert.doesNotMatch(html, /<svg onload/);
  assert.doesNotMatch(html, /<b>|<i>m/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /x&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
  // the only script is ours, with the nonce
  assert.deepEqual(html.match(/<script[^>]*>/g), ['<script nonce="abc">']);
});

test('the page is self-contained: a strict CSP with a nonce, nothing external anywhere', () => {
  const html = renderReportHtml(model(contract({ budgets: { p95Ms: 25 } })), { nonce: 'n1' });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
  assert.ok(csp);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-n1'/);
  assert.match(csp, /style-src 'nonce-n1'/);
  assert.match(csp, /img-src data:/);
  assert.doesNotMatch(csp, /https?:|\*/);
  assert.doesNotMatch(html, /https?:\/\/|\/\/[a-z]|src="(?!data:)|href=|@import|url\(/i);
  assert.match(html, /<style nonce="n1">/);
  // no script at all unless live updates are asked for
  assert.doesNotMatch(html, /<script/);
  // no inline style attributes (the CSP would block them)
  assert.doesNotMatch(html, / style="/);
  // follows the editor's theme, with fallbacks for a browser
  assert.match(html, /var\(--vscode-editor-foreground, #[0-9a-f]+\)/);
  assert.match(html, /prefers-color-scheme: dark/);
  // the webview's source is allowed for styles and images, and only there
  assert.equal(contentSecurityPolicy('n', 'vscode-webview://abc'), "default-src 'none'; style-src vscode-webview://abc 'nonce-n'; img-src vscode-webview://abc data:; script-src 'nonce-n'; base-uri 'none'; form-action 'none'");
  // a random nonce when none is given
  const a = /nonce-([a-f0-9]+)/.exec(renderReportHtml(model()))![1];
  const b = /nonce-([a-f0-9]+)/.exec(renderReportHtml(model()))![1];
  assert.ok(a && a.length >= 16 && a !== b);
});

test('a synthetic model is labelled as such; cached results carry no latency; an empty report says what to do', () => {
  const c = contract({ examples: [ex('a', 'Q8_0', 'pass', { latencyMs: [5], model: 'synthetic-gemma3-tiny Q8_0 (SYNTHETIC)', synthetic: true }), ex('b', 'Q8_0', 'pass', { cached: true, latencyMs: [999] })] });
  const html = renderReportBody(model(c));
  assert.match(html, /synthetic-gemma3-tiny Q8_0 \(SYNTHETIC\)/);
  assert.match(html, /SYNTHETIC model: random weights/);
  // the cached result's 999 ms is not a measurement
  assert.doesNotMatch(chart(html, 'latency'), /999/);
  assert.match(html, /1 result from the cache/);
  assert.match(renderReportBody(model()), /No runs yet/);
  // a contract that did not run
  assert.match(renderReportBody(model({ name: 'n', status: 'not-run', reason: 'model unavailable', examples: [] })), /model unavailable[\s\S]*No example results/);
  // nothing measured: the chart says so instead of drawing empty axes
  const cachedOnly = renderReportBody(model(contract({ examples: [ex('a', 'Q8_0', 'pass', { cached: true })] })));
  assert.match(cachedOnly, /<figure data-chart="latency" data-empty="true">/);
});
