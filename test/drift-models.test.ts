import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../server/src/cli/main';
import type { CommandIO } from '../server/src/cli/check-command';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { runDrift, type CandidateDrift, type ContractDrift, type DriftOptions } from '../server/src/runtime/drift';
import { checkAgainstBaseline, writeBaseline } from '../server/src/runtime/drift/baseline-file';
import { llamaDriftModels, type LlamaDriftModels } from '../server/src/runtime/drift/llama';
import { DEFAULT_SETTINGS } from '../server/src/settings';
import { ensureSpecialistTestModels, ensureTestModels } from './support/models';

// Drift on real models: the SYNTHETIC tiny gemma3 (random weights, the same weights at F16, Q8_0
// and Q4_0, so the drift between them is real quantization drift) and the tiny specialist this
// project trained (samples/specialist-triage.contract.yaml).

const ROOT = path.resolve(__dirname, '..');
let tiny: Record<'F16' | 'Q8_0' | 'Q4_0', string>;
let specialist: Record<'F16' | 'Q8_0' | 'Q4_0', string>;
let models: LlamaDriftModels;
const dirs: string[] = [];

const newModels = () => llamaDriftModels({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: ROOT });

before(async () => {
  tiny = (await ensureTestModels()).tiny;
  specialist = await ensureSpecialistTestModels();
  models = newModels();
});

after(async () => {
  await models?.dispose();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-drift-models-'));
  dirs.push(d);
  return d;
}

const quantPattern = (file: string, quant: string) => path.join(path.dirname(file), path.basename(file).replace(quant, '{quant}'));

function contractText(o: { file: string; quantizations: string[]; system?: string; maxTokens?: number; maxDrift?: number; examples?: number }): string {
  const msgs = ['I was charged twice for order 4521', 'Where is my parcel, it is late', 'The blender stopped working', 'What are your opening hours?', 'URGENT: refund me now', 'The courier lost my package'];
  return `contract: syn
model:
  file: ${JSON.stringify(o.file)}
  quantizations: [${o.quantizations.join(', ')}]
  maxTokens: ${o.maxTokens ?? 10}
prompt:
  system: ${JSON.stringify(o.system ?? 'Route the message. Answer with JSON only.')}
  user: "Message: {{m}}"
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, urgent]
    properties:
      label: { enum: [billing, shipping, product, other] }
      urgent: { type: boolean }
examples:
${msgs
  .slice(0, o.examples ?? 6)
  .map((m, i) => `  - name: ex${i}\n    input: { m: ${JSON.stringify(m)} }\n    expected: { label: billing, urgent: false }`)
  .join('\n')}
${o.maxDrift !== undefined ? `budgets:\n  maxDrift: ${o.maxDrift}\n` : ''}`;
}

function writeContract(dir: string, text: string, name = 'syn.contract.yaml'): { file: string; check: ReturnType<typeof checkContract> } {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return { file, check: checkContract(text, { file, host: fsHost(dir) }) };
}

async function drift(text: string, over: Partial<DriftOptions> = {}, dir = tmp()): Promise<ContractDrift> {
  const { file, check } = writeContract(dir, text);
  assert.equal(check.findings.filter((f) => f.severity === 'error').length, 0, JSON.stringify(check.findings));
  return runDrift(check, { source: models.source, scorers: models.scorers, lifecycle: models.lifecycle, file, cacheDir: path.join(dir, '.cache'), warmup: 0, ...over });
}

function cand(d: ContractDrift, q: string): CandidateDrift {
  const c = d.candidates.find((x) => x.quantization === q);
  assert.ok(c, `no candidate ${q}: ${d.reason ?? ''}`);
  assert.equal(c.status, 'compared', c.message);
  return c;
}

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CommandIO = { cwd, stdout: (s) => void (out += s), stderr: (s) => void (err += s), color: false };
  const code = await main(args, io);
  // The command ends the process-wide llama.cpp instance (as the CLI does on exit), which disposes
  // every model loaded through it: start over with a new manager.
  await models.dispose().catch(() => undefined);
  models = newModels();
  return { code, out, err };
}

test('a file compared with itself (a copy): zero drift, 100% top-1 agreement, KL exactly 0 (top-K and full vocabulary)', async () => {
  const dir = tmp();
  fs.copyFileSync(tiny.F16, path.join(dir, 'm-A.gguf'));
  fs.copyFileSync(tiny.F16, path.join(dir, 'm-B.gguf'));
  const text = contractText({ file: './m-{quant}.gguf', quantizations: ['A', 'B'], examples: 3, maxTokens: 6 });
  for (const method of ['topk', 'exact'] as const) {
    const d = await drift(text, { method, ...(method === 'exact' ? { examples: ['ex0'] } : {}) }, dir);
    const c = cand(d, 'B');
    const s = c.summary!;
    assert.equal(s.differing, 0);
    assert.ok(s.agreement && s.agreement.positions > 0, s.agreementUnavailable);
    assert.equal(s.agreement.top1, 1);
    assert.equal(s.agreement.meanKl, 0);
    assert.equal(s.agreement.maxKl, 0);
  }
});

test('SYNTHETIC tiny: KL(F16→Q4_0) > KL(F16→Q8_0) > 0 on the same examples, top-1 agreement lower for Q4_0; the top-K KL is a lower bound of the full one', async (t) => {
  const file = quantPattern(tiny.F16, 'F16');
  const d = await drift(contractText({ file, quantizations: ['F16', 'Q8_0', 'Q4_0'] }));
  const q8 = cand(d, 'Q8_0').summary!;
  const q4 = cand(d, 'Q4_0').summary!;
  t.diagnostic(`topk: Q8_0 ${q8.differing}/${q8.compared} differ, top-1 ${q8.agreement!.top1.toFixed(3)}, KL ${q8.agreement!.meanKl.toExponential(2)}; Q4_0 ${q4.differing}/${q4.compared}, top-1 ${q4.agreement!.top1.toFixed(3)}, KL ${q4.agreement!.meanKl.toExponential(2)}; positions ${q8.agreement!.positions}`);
  assert.equal(q8.agreement!.positions, q4.agreement!.positions);
  assert.ok(q8.agreement!.meanKl > 0);
  assert.ok(q4.agreement!.meanKl > q8.agreement!.meanKl);
  assert.ok(q4.agreement!.top1 < q8.agreement!.top1);
  assert.ok(q4.driftRate! >= q8.driftRate!);

  const exact = await drift(contractText({ file, quantizations: ['F16', 'Q8_0', 'Q4_0'], maxTokens: 5 }), { method: 'exact', examples: ['ex0', 'ex1'] });
  const e8 = cand(exact, 'Q8_0').summary!.agreement!;
  const e4 = cand(exact, 'Q4_0').summary!.agreement!;
  t.diagnostic(`exact (${e8.positions} positions): Q8_0 KL ${e8.meanKl.toExponential(2)}, Q4_0 KL ${e4.meanKl.toExponential(2)}`);
  assert.ok(e8.meanKl > 0);
  assert.ok(e4.meanKl > e8.meanKl);
  const small = await drift(contractText({ file, quantizations: ['F16', 'Q8_0', 'Q4_0'], maxTokens: 5 }), { examples: ['ex0', 'ex1'] });
  for (const q of ['Q8_0', 'Q4_0']) {
    const bound = cand(small, q).summary!.agreement!;
    const full = cand(exact, q).summary!.agreement!;
    assert.equal(bound.positions, full.positions);
    assert.equal(bound.top1Agree, full.top1Agree, `${q}: the greedy tokens are the same in both methods`);
    assert.ok(bound.meanKl <= full.meanKl * (1 + 1e-6), `${q}: top-K ${bound.meanKl} > full ${full.meanKl}`);
  }
});

test("teacher forcing right after each generation, in the runner's own context, gives exactly the figures of a pass in a context of its own (SYNTHETIC tiny F16 vs Q4_0)", async () => {
  const dir = tmp();
  const text = contractText({ file: quantPattern(tiny.F16, 'F16'), quantizations: ['F16', 'Q4_0'], examples: 4 });
  // First run: every example is generated, and teacher-forced right after in the runner's context.
  const inRun = await drift(text, {}, dir);
  // Second run: every output comes from the cache, so nothing is generated and teacher forcing
  // takes a context of its own (prompt evaluated, warm-up pass).
  const apart = await drift(text, {}, dir);
  assert.equal(inRun.runs.F16!.cachedCount, 0);
  assert.equal(apart.runs.F16!.cachedCount, 4);
  assert.equal(apart.runs.Q4_0!.cachedCount, 4);
  const a = cand(inRun, 'Q4_0');
  const b = cand(apart, 'Q4_0');
  assert.deepEqual(a.cost!.setupMs, { reference: 0, candidate: 0 }, 'no context of its own, no warm-up');
  assert.ok(b.cost!.setupMs.reference > 0 && b.cost!.setupMs.candidate > 0);
  const x = a.summary!.agreement!;
  const y = b.summary!.agreement!;
  assert.ok(x.positions > 0);
  assert.equal(x.positions, y.positions);
  assert.equal(x.top1Agree, y.top1Agree);
  assert.equal(x.meanKl, y.meanKl);
  assert.equal(x.maxKl, y.maxKl);
  for (let i = 0; i < a.examples.length; i++) assert.deepEqual(a.examples[i]!.agreement, b.examples[i]!.agreement, `example ${i}`);
});

test('memory: when the models do not fit together they run one after another, with the same figures', async () => {
  const file = quantPattern(specialist.F16, 'F16');
  const text = contractText({ file, quantizations: ['F16', 'Q4_0'], examples: 3, maxTokens: 12 });
  const together = await drift(text);
  let unloads = 0;
  const apart = await drift(text, { freeMemory: () => 1024, lifecycle: { unloadAll: async () => void (unloads++, await models.lifecycle.unloadAll()) } });
  assert.equal(together.memory?.plan, 'together');
  assert.equal(apart.memory?.plan, 'one-after-another');
  assert.match(apart.memory!.reason, /^not enough free memory/);
  assert.ok(unloads >= 2);
  assert.ok(apart.memory!.peakRssBytes > 0);
  const a = cand(together, 'Q4_0').summary!;
  const b = cand(apart, 'Q4_0').summary!;
  assert.equal(b.differing, a.differing);
  assert.equal(b.agreement!.top1Agree, a.agreement!.top1Agree);
  assert.equal(b.agreement!.meanKl, a.agreement!.meanKl);
});

test('baseline: an unchanged prompt shows no change since the baseline, an edited one does (SYNTHETIC tiny)', async () => {
  const dir = tmp();
  const file = quantPattern(tiny.Q8_0, 'Q8_0');
  const text = contractText({ file, quantizations: ['Q8_0', 'Q4_0'], maxTokens: 8 });
  const first = await drift(text, {}, dir);
  const { file: contractFile, check } = writeContract(dir, text);
  const written = await writeBaseline(check, contractFile, first.runs, 'Q8_0', 'test');
  assert.equal(path.basename(written.file), 'syn.baseline.json');
  assert.deepEqual(Object.keys(written.baseline.quantizations).sort(), ['Q4_0', 'Q8_0']);
  assert.match(written.baseline.quantizations.Q8_0!.model.sha256, /^[0-9a-f]{64}$/);

  const again = await drift(text, {}, dir);
  const same = await checkAgainstBaseline(check, contractFile, Object.values(again.runs));
  assert.equal(same.status, 'compared');
  if (same.status === 'compared') {
    assert.equal(same.comparison.promptChanged, false);
    for (const q of same.comparison.quantizations) {
      assert.equal(q.changed, 0, `${q.quantization}: ${JSON.stringify(q.examples.filter((e) => e.status !== 'same'))}`);
      assert.equal(q.sameModel, true);
    }
  }

  const editedText = contractText({ file, quantizations: ['Q8_0', 'Q4_0'], maxTokens: 8, system: 'Read the customer message and route it to a team.' });
  const edited = writeContract(dir, editedText);
  const after = await drift(editedText, {}, dir);
  const changed = await checkAgainstBaseline(edited.check, edited.file, Object.values(after.runs));
  assert.equal(changed.status, 'compared');
  if (changed.status === 'compared') {
    assert.equal(changed.comparison.promptChanged, true);
    const q8 = changed.comparison.quantizations.find((q) => q.quantization === 'Q8_0')!;
    assert.ok(q8.changed > 0, 'an edited prompt changes some answers of a random-weight model');
    const e = q8.examples.find((x) => x.status === 'changed')!;
    assert.equal(e.promptChanged, true);
    assert.ok(e.diffs.length > 0);
  }
});

test('contracts drift exits 1 above maxDrift and 0 within it (SYNTHETIC tiny F16 vs Q4_0)', async () => {
  const file = quantPattern(tiny.F16, 'F16');
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'low.contract.yaml'), contractText({ file, quantizations: ['F16', 'Q4_0'], maxDrift: 0.1 }));
  const over = await cli(['drift', 'low.contract.yaml', '--no-agreement', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(over.code, 1, over.out + over.err);
  assert.match(over.out, /⇄ Q4_0 vs F16: [1-6]\/6 differ/);
  assert.match(over.out, /maxDrift 10\.0%: EXCEEDED/);
  assert.match(over.out, /SYNTHETIC/);
  fs.writeFileSync(path.join(dir, 'low.contract.yaml'), contractText({ file, quantizations: ['F16', 'Q4_0'], maxDrift: 1 }));
  const ok = await cli(['drift', 'low.contract.yaml', '--no-agreement', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(ok.code, 0, ok.out + ok.err);
});

test('quantizations that resolve to the same file are reported as such, not compared', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'same.contract.yaml'), contractText({ file: tiny.Q8_0, quantizations: ['Q8_0', 'Q4_0'], examples: 2, maxTokens: 4 }));
  const r = await cli(['drift', 'same.contract.yaml', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.equal(r.code, 0, r.out + r.err);
  assert.ok(r.out.includes(`Q8_0 and Q4_0 resolve to the same file ${fs.realpathSync(tiny.Q8_0)}; drift would be zero by construction`), r.out);
  const sarif = await cli(['drift', 'same.contract.yaml', '-f', 'sarif', '--cache-dir', '.c', '--trace-dir', '.t'], dir);
  assert.match(sarif.out, /"ruleId": "drift-same-file"/);
});

test('a candidate with another vocabulary: agreement cannot be computed (said so), answers are still compared', async () => {
  const dir = tmp();
  fs.copyFileSync(tiny.Q8_0, path.join(dir, 'v-A.gguf'));
  const bytes = fs.readFileSync(tiny.Q8_0);
  const at = bytes.indexOf('<unused0>', 0, 'latin1');
  assert.ok(at > 0 && at < 1 << 20, 'the vocabulary sits in the header');
  bytes.write('<unusex0>', at, 'latin1');
  fs.writeFileSync(path.join(dir, 'v-B.gguf'), bytes);
  const d = await drift(contractText({ file: './v-{quant}.gguf', quantizations: ['A', 'B'], examples: 2, maxTokens: 4 }), {}, dir);
  const c = cand(d, 'B');
  assert.equal(c.summary!.agreement, undefined);
  assert.match(c.summary!.agreementUnavailable!, /B and A have different vocabularies \(same size, different tokens\)/);
  assert.equal(c.summary!.compared, 2);
});

test('the trained specialist: drift F16→Q8_0 and F16→Q4_0 on its contract', async (t) => {
  const file = path.join(ROOT, 'samples', 'specialist-triage.contract.yaml');
  const text = fs.readFileSync(file, 'utf8');
  const check = checkContract(text, { file, host: fsHost(ROOT) });
  const dir = tmp();
  const d = await runDrift(check, { source: models.source, scorers: models.scorers, lifecycle: models.lifecycle, file, cacheDir: path.join(dir, '.cache'), noCache: true });
  assert.equal(d.status, 'ok', `${d.reason}: ${JSON.stringify(d.candidates.map((c) => [c.quantization, c.status, c.message]))}`);
  for (const q of ['Q8_0', 'Q4_0']) {
    const c = cand(d, q);
    const s = c.summary!;
    const g = s.agreement!;
    t.diagnostic(
      `${q} vs F16: ${s.differing}/${s.compared} differ, pass ${s.passRate?.reference} → ${s.passRate?.candidate}, top-1 ${g.top1Agree}/${g.positions}, mean KL ${g.meanKl.toExponential(2)} (max ${g.maxKl.toExponential(2)}, captured ≥ ${g.minCaptured?.toFixed(5)}), p95 ${s.latency.p95?.reference.toFixed(1)} → ${s.latency.p95?.candidate.toFixed(1)} ms, size ${s.size?.reference} → ${s.size?.candidate}; TF ${c.cost?.teacherForcingMs.reference.toFixed(0)}+${c.cost?.teacherForcingMs.candidate.toFixed(0)} ms vs generation ${c.cost?.generationMs?.reference.toFixed(0)}+${c.cost?.generationMs?.candidate.toFixed(0)} ms`,
    );
    assert.ok(g.top1 >= 0.95, `${q} top-1 ${g.top1}`);
    assert.ok(g.meanKl > 0);
    assert.ok((g.meanCaptured ?? 0) > 0.999, 'a trained model is confident: the top tokens hold nearly all the probability');
    assert.equal(s.budget?.exceeded, false);
  }
  assert.ok(cand(d, 'Q4_0').summary!.agreement!.meanKl > cand(d, 'Q8_0').summary!.agreement!.meanKl);
  // How close the bound is on a confident model, against the full vocabulary (two examples): with
  // the top 8 read at every position (confidentTail 0) it held 68% of the full KL here; by default
  // (the top token alone where the reference is ≥ 99.9% sure) it may hold less, but it misses at
  // most 1e-3 × KL(tails) — a few 1e-6 nats at this scale.
  const two = { source: models.source, scorers: models.scorers, file, cacheDir: path.join(dir, '.cache'), candidates: ['Q4_0'], examples: ['double charge', 'late parcel'] };
  const exact = await runDrift(check, { ...two, method: 'exact' });
  const topk = await runDrift(check, { ...two, confidentTail: 0 });
  const quick = await runDrift(check, two);
  const e = cand(exact, 'Q4_0').summary!.agreement!;
  const b = cand(topk, 'Q4_0').summary!.agreement!;
  const q = cand(quick, 'Q4_0').summary!.agreement!;
  t.diagnostic(`Q4_0, 2 examples: full-vocabulary KL ${e.meanKl.toExponential(3)}; top-8 ${b.meanKl.toExponential(3)} (${((b.meanKl / e.meanKl) * 100).toFixed(1)}%); default ${q.meanKl.toExponential(3)} (${((q.meanKl / e.meanKl) * 100).toFixed(1)}%)`);
  for (const x of [b, q]) assert.ok(x.meanKl <= e.meanKl * (1 + 1e-6), `top-K ${x.meanKl} > full ${e.meanKl}`);
  assert.ok(b.meanKl >= 0.5 * e.meanKl, `top-8 ${b.meanKl} is less than half the full ${e.meanKl}`);
  assert.ok(e.meanKl - q.meanKl < 1e-4);
});
