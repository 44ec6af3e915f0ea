import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../server/src/cli/main';
import type { CommandIO } from '../server/src/cli/check-command';
import { checkContract } from '../server/src/core/check';
import {
  compareOutputs,
  klFull,
  klTopK,
  logSoftmax,
  scoreTopK,
  signedPct,
  summarizeAgreement,
  summarizeCandidate,
  summaryLine,
  type ExampleDrift,
} from '../server/src/core/drift-compare';
import { baselineFileName, buildBaseline, compareWithBaseline, parseBaseline, promptHash, serializeBaseline, sha256, type BuildBaselineInput } from '../server/src/core/drift-baseline';
import { driftFindings, driftHover, driftLenses, sideBySide, type DriftViewData } from '../server/src/core/drift-view';
import { fsHost } from '../server/src/node-host';
import { incompatibility } from '../server/src/runtime/drift/model-facts';

// Pure parts of drift (no model) and `contracts drift` over the per-quantization scripted runner.

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CommandIO = { cwd, stdout: (s) => void (out += s), stderr: (s) => void (err += s), color: false };
  const code = await main(args, io);
  return { code, out, err };
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pc-drift-'));
}

// --- outputs --------------------------------------------------------------------------------------

test('compareOutputs: same JSON (whitespace and key order aside) does not differ; a changed field is named with both values', () => {
  const same = compareOutputs({ output: '{"label":"a","n":1}', verdict: 'pass' }, { output: '{ "n": 1, "label": "a" }', verdict: 'pass' });
  assert.equal(same.comparable, true);
  assert.equal(same.differs, false);
  assert.equal(same.verdictChanged, false);
  const d = compareOutputs({ output: '{"label":"a","n":1}', verdict: 'pass' }, { output: '{"label":"b","n":1,"x":true}', verdict: 'wrong-value' });
  assert.equal(d.differs, true);
  assert.equal(d.verdictChanged, true);
  assert.equal(d.passChange, 'regressed');
  assert.deepEqual(d.diffs, [
    { pointer: '/label', kind: 'different', reference: 'a', candidate: 'b' },
    { pointer: '/x', kind: 'only-in-candidate', candidate: true },
  ]);
});

test('compareOutputs: ignore pointers are not compared; outputs that are not JSON compare as text; skipped sides are not comparable', () => {
  const ig = compareOutputs({ output: '{"label":"a","id":"1"}', verdict: 'pass' }, { output: '{"label":"a","id":"2"}', verdict: 'pass' }, ['/id']);
  assert.equal(ig.differs, false);
  const text = compareOutputs({ output: '{"label":"a"', verdict: 'truncated' }, { output: '{"label":"b"', verdict: 'truncated' });
  assert.equal(text.differs, true);
  assert.equal(text.diffs[0]!.kind, 'text');
  const sameText = compareOutputs({ output: 'xx', verdict: 'invalid-json' }, { output: 'xx', verdict: 'invalid-json' });
  assert.equal(sameText.differs, false);
  const skipped = compareOutputs({ verdict: 'skipped' }, { output: '{}', verdict: 'pass' });
  assert.equal(skipped.comparable, false);
});

// --- KL ---------------------------------------------------------------------------------------------

function randomLogits(n: number, seed: number, scale: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function topKOf(lp: Float64Array, k: number): { token: number; logProb: number }[] {
  return [...lp.keys()]
    .sort((a, b) => lp[b]! - lp[a]!)
    .slice(0, k)
    .map((token) => ({ token, logProb: lp[token]! }));
}

test('klTopK: exactly 0 for identical distributions; a lower bound on the full KL that tightens as K grows and equals it at K = vocabulary', () => {
  const p = logSoftmax(randomLogits(500, 1, 6));
  const noise = randomLogits(500, 2, 0.3);
  const q = logSoftmax(p.map((x, i) => x + noise[i]!));
  const top = topKOf(p, 8);
  assert.equal(klTopK({ refTop: top, candOnRefTop: top.map((t) => p[t.token]!) }).kl, 0);
  assert.equal(klFull({ refLogProbs: p, candLogProbs: p }), 0);
  const full = klFull({ refLogProbs: p, candLogProbs: q });
  assert.ok(full > 0);
  let prev = 0;
  for (const k of [1, 4, 16, 64, 256, 500]) {
    const t = topKOf(p, k);
    const { kl, captured } = klTopK({ refTop: t, candOnRefTop: t.map((x) => q[x.token]!) });
    assert.ok(kl <= full + 1e-12, `K=${k}: ${kl} > ${full}`);
    assert.ok(kl >= prev - 1e-12, `K=${k} is not tighter than a smaller K`);
    prev = kl;
    if (k === 500) {
      assert.ok(Math.abs(kl - full) < 1e-9, `K = vocabulary gives ${kl}, full ${full}`);
      assert.ok(Math.abs(captured - 1) < 1e-9);
    }
  }
});

test('summarizeAgreement: top-1 share and mean KL over positions', () => {
  const p = logSoftmax(randomLogits(50, 3, 4));
  const top = topKOf(p, 4);
  const s = scoreTopK({ refTop: top, candOnRefTop: top.map((t) => p[t.token]!), refArgmax: top[0]!.token, candArgmax: top[0]!.token });
  const a = summarizeAgreement([s, { kl: 0.5, agree: false, captured: 0.5 }], 'topk', 4);
  assert.equal(a.positions, 2);
  assert.equal(a.top1, 0.5);
  assert.equal(a.meanKl, 0.25);
  assert.equal(a.maxKl, 0.5);
  assert.equal(a.minCaptured, Math.min(0.5, s.captured!));
});

// --- summaries ---------------------------------------------------------------------------------------

function ex(name: string, index: number, ref: string, cand: string, refVerdict: ExampleDrift['reference']['verdict'] = 'pass', candVerdict = refVerdict): ExampleDrift {
  const reference = { output: ref, verdict: refVerdict };
  const candidate = { output: cand, verdict: candVerdict };
  return { name, index, reference, candidate, comparison: compareOutputs(reference, candidate) };
}

test('summarizeCandidate: drift rate, pass-rate change, latency/size changes and the maxDrift budget (equal is not exceeded)', () => {
  const examples = [ex('a', 0, '{"l":"x"}', '{"l":"y"}', 'pass', 'wrong-value'), ex('b', 1, '{"l":"x"}', '{"l":"x"}'), ex('c', 2, '{"l":"x"}', '{"l":"x"}'), ex('d', 3, '{"l":"x"}', '{"l":"x"}')];
  const dist = (p50: number, p95: number) => ({ n: 4, min: p50, p50, p95, p99: p95, max: p95 });
  const s = summarizeCandidate({ reference: 'F16', candidate: 'Q4_0', examples, referenceLatency: dist(100, 200), candidateLatency: dist(80, 138), referenceSizeBytes: 1000, candidateSizeBytes: 550, maxDrift: 0.25 });
  assert.equal(s.compared, 4);
  assert.equal(s.differing, 1);
  assert.equal(s.driftRate, 0.25);
  assert.equal(s.budget?.exceeded, false);
  assert.equal(s.regressed, 1);
  assert.equal(s.passRate?.change, -0.25);
  assert.equal(summaryLine(s), 'Q4_0 vs F16: 1/4 differ · −31% p95 · −45% size');
  const over = summarizeCandidate({ reference: 'F16', candidate: 'Q4_0', examples, maxDrift: 0.2 });
  assert.equal(over.budget?.exceeded, true);
  assert.match(over.latency.unmeasured ?? '', /cache/);
});

test('summaryLine: the documented shape, with top-1 and KL; KL shown as a bound when the top tokens hold too little probability', () => {
  const s = summarizeCandidate({ reference: 'F16', candidate: 'Q4_0', examples: [ex('a', 0, '1', '2'), ...Array.from({ length: 11 }, (_, i) => ex(`e${i}`, i + 1, '1', '1')), ex('z', 12, '3', '4')].slice(0, 12) });
  s.agreement = { method: 'topk', k: 8, positions: 1000, top1Agree: 971, top1: 0.971, meanKl: 0.012, maxKl: 0.3, meanCaptured: 0.999, minCaptured: 0.9 };
  s.latency = { p95: { reference: 100, candidate: 69, relative: -0.31 } };
  s.size = { reference: 100, candidate: 55, relative: -0.45 };
  assert.equal(summaryLine(s), 'Q4_0 vs F16: 1/12 differ · top-1 97.1% · KL 0.012 · −31% p95 · −45% size');
  s.agreement.meanCaptured = 0.002;
  assert.match(summaryLine(s), /KL ≥0\.012/);
  assert.equal(signedPct(0), '±0%');
  assert.equal(signedPct(0.042), '+4.2%');
});

// --- baselines ---------------------------------------------------------------------------------------------

const CONTRACT_TEXT = `contract: tri
model:
  quantizations: [F16, Q4_0]
prompt:
  system: Route.
  user: "Message: {{m}}"
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, urgent]
    properties:
      label: { enum: [billing, shipping] }
      urgent: { type: boolean }
examples:
  - name: one
    input: { m: "charged twice" }
    expected: { label: billing, urgent: false }
  - name: two
    input: { m: "parcel late" }
    expected: { label: shipping, urgent: false }
budgets:
  maxDrift: 0.25
`;

function checkOf(text: string, file = '/ws/tri.contract.yaml') {
  return checkContract(text, { file, host: fsHost('/ws') });
}

const MODEL = { file: 'm-F16.gguf', sha256: 'a'.repeat(64), sizeBytes: 10, label: 'm F16', synthetic: false };
const MACHINE = { cpu: 'cpu', cores: 2, platform: 'linux-x64' };

function baselineInput(outputs: [string, string], over: Partial<BuildBaselineInput> = {}): BuildBaselineInput {
  const c = checkOf(CONTRACT_TEXT).contract!;
  return {
    contract: c,
    renderedPromptHashes: ['1'.repeat(64), '2'.repeat(64)],
    schemaHash: '3'.repeat(64),
    reference: 'F16',
    runs: { F16: { decoding: 'constrained', passRate: 1, latency: { p50: 10, p95: 20, n: 2 }, examples: outputs.map((o, i) => ({ name: c.examples[i]!.name, index: i, output: o, verdict: 'pass' as const, latencyP50: 10 })) } },
    models: { F16: MODEL },
    machine: MACHINE,
    tool: '0.1.0',
    createdAt: '2026-11-27T00:00:00.000Z',
    ...over,
  };
}

test('baseline: written, read back and compared: unchanged → 0 changed; a changed answer names its fields; latency compared on the same model and machine', () => {
  const b = buildBaseline(baselineInput(['{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}']));
  const text = serializeBaseline(b);
  const p = parseBaseline(text);
  assert.ok(p.ok, p.ok ? '' : p.message);
  const c = checkOf(CONTRACT_TEXT).contract!;
  const cur = (outputs: [string, string], model = MODEL, machine = MACHINE) => ({
    contract: c,
    renderedPromptHashes: ['1'.repeat(64), '2'.repeat(64)],
    schemaHash: '3'.repeat(64),
    machine,
    runs: [{ quantization: 'F16', model, run: { decoding: 'constrained' as const, passRate: 1, latency: { p50: 8, p95: 15, n: 2 }, examples: outputs.map((o, i) => ({ name: c.examples[i]!.name, index: i, output: o, verdict: 'pass' as const })) } }],
  });
  const same = compareWithBaseline(p.ok ? p.baseline : b, cur(['{"urgent":false,"label":"billing"}', '{"label":"shipping","urgent":false}']));
  assert.equal(same.quantizations[0]!.changed, 0);
  assert.equal(same.quantizations[0]!.compared, 2);
  assert.equal(same.promptChanged, false);
  assert.equal(same.quantizations[0]!.latency?.p95?.relative, -0.25);
  const changed = compareWithBaseline(b, cur(['{"label":"billing","urgent":true}', '{"label":"shipping","urgent":false}']));
  assert.equal(changed.quantizations[0]!.changed, 1);
  assert.deepEqual(changed.quantizations[0]!.examples[0]!.diffs, [{ pointer: '/urgent', kind: 'different', reference: false, candidate: true }]);
  const other = compareWithBaseline(b, cur(['{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}'], { ...MODEL, sha256: 'b'.repeat(64) }));
  assert.equal(other.quantizations[0]!.sameModel, false);
  assert.equal(other.quantizations[0]!.latency?.p95, undefined);
  assert.match(other.quantizations[0]!.notes[0]!, /another model file/);
  const elsewhere = compareWithBaseline(b, cur(['{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}'], MODEL, { ...MACHINE, cpu: 'other cpu' }));
  assert.match(elsewhere.quantizations[0]!.latency?.unmeasured ?? '', /another machine/);
  const edited = checkOf(CONTRACT_TEXT.replace('system: Route.', 'system: Route it.')).contract!;
  assert.equal(compareWithBaseline(b, { ...cur(['{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}']), contract: edited }).promptChanged, true);
  assert.notEqual(promptHash(edited), promptHash(c));
});

test('baseline: corrupt, hand-edited, newer or foreign files give a message, never a throw', () => {
  const good = JSON.parse(serializeBaseline(buildBaseline(baselineInput(['{}', '{}'])))) as Record<string, unknown>;
  const cases: [string, RegExp][] = [
    ['{"format": "prompt-contracts-baseline", "vers', /corrupt: it is not valid JSON/],
    ['[]', /not a Prompt Contracts baseline/],
    [JSON.stringify({ ...good, version: 7 }), /newer Prompt Contracts \(format version 7/],
    [JSON.stringify({ ...good, hashes: { prompt: 'x', schema: 'y' } }), /does not match its format \(edited by hand or damaged\): \/hashes\/prompt/],
    [JSON.stringify({ ...good, reference: 'Q2_K' }), /names "Q2_K" as its reference/],
    [JSON.stringify({ ...good, quantizations: { F16: { ...(good.quantizations as { F16: Record<string, unknown> }).F16, examples: [{ name: 'x', promptHash: '1'.repeat(64), output: null, verdict: 'great', latencyMs: null }] } } }), /\/quantizations\/F16\/examples\/0\/verdict/],
  ];
  for (const [text, re] of cases) {
    const p = parseBaseline(text);
    assert.equal(p.ok, false);
    if (!p.ok) {
      assert.match(p.message, re);
      assert.match(p.message, /--update-baseline/);
    }
  }
  assert.equal(baselineFileName('specialist-triage.contract.yaml'), 'specialist-triage.baseline.json');
  assert.equal(sha256('').length, 64);
});

// --- editor view --------------------------------------------------------------------------------------------

function viewData(): DriftViewData {
  const e0 = ex('one', 0, '{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}', 'pass', 'wrong-value');
  const e1 = ex('two', 1, '{"label":"shipping","urgent":false}', '{"label":"shipping","urgent":false}');
  e0.agreement = { method: 'topk', k: 8, positions: 9, top1Agree: 8, top1: 8 / 9, meanKl: 0.02, maxKl: 0.1, meanCaptured: 0.9999, minCaptured: 0.999 };
  const summary = summarizeCandidate({ reference: 'F16', candidate: 'Q4_0', examples: [e0, e1], maxDrift: 0.25 });
  return { reference: { quantization: 'F16' }, candidates: [{ quantization: 'Q4_0', status: 'compared', summary, examples: [e0, e1] }] };
}

test('drift view: a lens per candidate on model.quantizations, field findings on expected, an error on budgets.maxDrift, hover side by side', () => {
  const check = checkOf(CONTRACT_TEXT);
  const text = CONTRACT_TEXT;
  const data = viewData();
  const lenses = driftLenses(check, data);
  assert.equal(lenses.length, 1);
  assert.equal(lenses[0]!.title, '⇄ Q4_0 vs F16: 1/2 differ · top-1 88.9%');
  assert.equal(text.slice(lenses[0]!.start, lenses[0]!.end), 'quantizations');
  const findings = driftFindings(check, data);
  const field = findings.find((f) => f.code === 'drift-example')!;
  assert.equal(field.severity, 'information');
  assert.equal(text.slice(field.start, field.end), 'billing');
  assert.equal(field.message, 'Q4_0 vs F16: /label: billing → shipping (verdict pass → wrong-value)');
  const over = findings.find((f) => f.code === 'drift-exceeded')!;
  assert.equal(over.severity, 'error');
  assert.equal(text.slice(over.start, over.end), '0.25');
  const at = text.indexOf('charged twice');
  const hover = driftHover(check, data, at)!;
  assert.match(hover, /\| field \| F16 \| Q4_0 \|/);
  assert.match(hover, /\| \*\*\/label\*\* \| \*\*billing\*\* \| \*\*shipping\*\* \|/);
  assert.match(hover, /\| \/urgent \| false \| false \|/);
  assert.match(hover, /verdict pass → wrong-value · top-1 88\.9% of 9 tokens, KL 0\.020/);
  assert.equal(driftHover(check, data, text.indexOf('Route.')), undefined);
});

test('drift view: same-file warning, baseline changes as information, an unreadable baseline as a warning; results for renamed examples are dropped', () => {
  const check = checkOf(CONTRACT_TEXT);
  const same: DriftViewData = { reference: { quantization: 'F16' }, candidates: [{ quantization: 'Q4_0', status: 'same-file', message: 'F16 and Q4_0 resolve to the same file /m.gguf; drift would be zero by construction', examples: [] }] };
  const f = driftFindings(check, same);
  assert.equal(f[0]!.code, 'drift-same-file');
  assert.equal(f[0]!.severity, 'warning');
  const b = buildBaseline(baselineInput(['{"label":"billing","urgent":false}', '{"label":"shipping","urgent":false}']));
  const c = check.contract!;
  const comparison = compareWithBaseline(b, { contract: c, renderedPromptHashes: ['1'.repeat(64), '2'.repeat(64)], schemaHash: '3'.repeat(64), machine: MACHINE, runs: [{ quantization: 'F16', model: MODEL, run: { decoding: 'constrained', examples: [{ name: 'one', index: 0, output: '{"label":"billing","urgent":true}', verdict: 'wrong-value' }] } }] });
  const bf = driftFindings(check, undefined, { status: 'compared', comparison });
  assert.equal(bf.length, 1);
  assert.equal(bf[0]!.code, 'baseline-changed');
  assert.equal(CONTRACT_TEXT.slice(bf[0]!.start, bf[0]!.end), 'false');
  assert.match(bf[0]!.message, /changed since baseline \(F16\): \/urgent: false → true \(verdict pass → wrong-value\)/);
  const bad = driftFindings(check, undefined, { status: 'invalid', file: 'tri.baseline.json', message: 'the baseline is corrupt' });
  assert.equal(bad[0]!.code, 'baseline-invalid');
  const renamed = viewData();
  renamed.candidates[0]!.examples.forEach((e) => (e.name = `${e.name}-old`));
  assert.equal(driftFindings(check, renamed).filter((x) => x.code === 'drift-example').length, 0);
  assert.match(sideBySide([{ title: 'a', output: 'not json' }, { title: 'b', output: '{}' }]), /```json\nnot json/);
});

// --- contracts drift, scripted ----------------------------------------------------------------------------------

function scriptedWorkspace(q4: Record<string, string>, maxDrift = 0.25): string {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'tri.contract.yaml'), CONTRACT_TEXT.replace('maxDrift: 0.25', `maxDrift: ${maxDrift}`));
  const ref = { one: '{"label":"billing","urgent":false}', two: '{"label":"shipping","urgent":false}' };
  fs.writeFileSync(path.join(dir, 'script.json'), JSON.stringify({ quantizations: { F16: { tri: ref }, Q4_0: { tri: { ...ref, ...q4 } } } }));
  return dir;
}

test('contracts drift (scripted): exit 0 within maxDrift, 1 above it; text names the fields; json/junit/sarif carry the same', async () => {
  const dir = scriptedWorkspace({ one: '{"label":"shipping","urgent":false}' }, 0.5);
  const ok = await cli(['drift', '--runner', 'scripted:script.json', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /⇄ Q4_0 vs F16: 1\/2 differ/);
  assert.match(ok.out, /≠ one {2}\(verdict pass → wrong-value\) {2}tri\.contract\.yaml:16/);
  assert.match(ok.out, /\/label: billing → shipping/);
  assert.match(ok.out, /no token agreement: token-level agreement needs a model/);
  assert.match(ok.out, /maxDrift 50\.0%: ok/);
  const over = await cli(['drift', '--runner', 'scripted:script.json', '--cache-dir', '.c', '--trace-dir', '.t'], scriptedWorkspace({ one: '{"label":"shipping","urgent":false}' }, 0.25));
  assert.equal(over.code, 1);
  assert.match(over.out, /DRIFT ABOVE BUDGET/);
  assert.match(over.out, /EXCEEDED \(50\.0%\)/);
  const json = await cli(['drift', '--runner', 'scripted:script.json', '-f', 'json', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  const doc = JSON.parse(json.out) as { contracts: { drift: { candidates: { summary: { differing: number } }[] }; findings: { code: string }[] }[] };
  assert.equal(doc.contracts[0]!.drift.candidates[0]!.summary.differing, 1);
  assert.ok(doc.contracts[0]!.findings.some((f) => f.code === 'drift-example'));
  const junit = await cli(['drift', '--runner', 'scripted:script.json', '-f', 'junit', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.match(junit.out, /<testcase classname="tri.contract.yaml" name="Q4_0 vs F16"/);
  const sarif = await cli(['drift', '--runner', 'scripted:script.json', '-f', 'sarif', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  const log = JSON.parse(sarif.out) as { runs: { results: { ruleId: string; level: string }[] }[] };
  assert.ok(log.runs[0]!.results.some((r) => r.ruleId === 'drift-example' && r.level === 'note'));
});

test('contracts drift: usage errors exit 2; a contract with one quantization is nothing to compare (exit 0)', async () => {
  const dir = scriptedWorkspace({});
  for (const args of [['--method', 'nope'], ['--ref', 'F16', '--cand', 'F16'], ['--cand', 'bad name'], ['--top-k', '0'], ['--bogus'], ['--runner', 'x']]) {
    const r = await cli(['drift', ...args], dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
  fs.writeFileSync(path.join(dir, 'tri.contract.yaml'), CONTRACT_TEXT.replace('quantizations: [F16, Q4_0]', 'quantizations: [F16]'));
  const one = await cli(['drift', '--runner', 'scripted:script.json', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(one.code, 0, one.out);
  assert.match(one.out, /NOTHING TO COMPARE/);
  assert.match(one.out, /lists only F16/);
  const cand = await cli(['drift', '--runner', 'scripted:script.json', '--cand', 'Q4_0', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.match(cand.out, /⇄ Q4_0 vs F16: 0\/2 differ/);
  const missing = await cli(['drift', '--runner', 'scripted:script.json', '--cand', 'Q2_K', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.out, /Q2_K cannot be had: the script has no answers for Q2_K/);
});

test('contracts drift: a corrupt or hand-edited baseline is a clear message (no crash, no figures from it); a missing one is not an error', async () => {
  const dir = scriptedWorkspace({});
  const none = await cli(['drift', '--runner', 'scripted:script.json', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(none.code, 0);
  assert.match(none.out, /baseline: none \(tri\.baseline\.json; contracts run --update-baseline writes it\)/);
  fs.writeFileSync(path.join(dir, 'tri.baseline.json'), '{"format": "prompt-contracts-baseline", "version": 1, "contr');
  const corrupt = await cli(['drift', '--runner', 'scripted:script.json', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(corrupt.code, 0);
  assert.match(corrupt.out, /baseline tri\.baseline\.json: the baseline is corrupt: it is not valid JSON/);
  assert.doesNotMatch(corrupt.out, /changed since baseline/);
  fs.writeFileSync(path.join(dir, 'tri.baseline.json'), JSON.stringify({ format: 'prompt-contracts-baseline', version: 1, contract: 'tri', quantizations: 'lots' }));
  const edited = await cli(['drift', '--runner', 'scripted:script.json', '-f', 'sarif', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  const log = JSON.parse(edited.out) as { runs: { results: { ruleId: string; message: { text: string } }[] }[] };
  const r = log.runs[0]!.results.find((x) => x.ruleId === 'baseline-invalid');
  assert.ok(r);
  assert.match(r.message.text, /tri\.baseline\.json: the baseline does not match its format \(edited by hand or damaged\)/);
});

test('model facts: another architecture, vocabulary size or vocabulary makes token agreement impossible, and says why', () => {
  const base = { path: '/a', realPath: '/a', sizeBytes: 1, architecture: 'gemma3', vocabularySize: 262144, vocabularyHash: 'x' };
  const names = { reference: 'Q8_0', candidate: 'Q4_0' };
  assert.equal(incompatibility(base, { ...base, path: '/b', realPath: '/b' }, names), undefined);
  assert.match(incompatibility(base, { ...base, architecture: 'llama' }, names)!, /Q4_0 is a llama model and Q8_0 a gemma3 model: token-level agreement needs the same architecture/);
  assert.match(incompatibility(base, { ...base, vocabularySize: 32000 }, names)!, /Q4_0 has a vocabulary of 32000 tokens and Q8_0 one of 262144/);
  assert.match(incompatibility(base, { ...base, vocabularyHash: 'y' }, names)!, /different vocabularies \(same size, different tokens\)/);
  assert.match(incompatibility(base, { ...base, headerError: 'not a GGUF file' }, names)!, /header of Q4_0 could not be read \(not a GGUF file\)/);
});
