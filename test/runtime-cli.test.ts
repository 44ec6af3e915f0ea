import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../server/src/cli/main';
import type { CommandIO } from '../server/src/cli/check-command';
import { ensureTestModels } from './support/models';

const ROOT = path.resolve(__dirname, '..');

async function cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CommandIO = { cwd, stdout: (s) => void (out += s), stderr: (s) => void (err += s), color: false };
  const code = await main(args, io);
  return { code, out, err };
}

function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-cli-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const CONTRACT = (name: string, budgets = '') => `contract: ${name}
prompt:
  system: Classify.
  user: "Text: {{t}}"
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, score]
    properties:
      label: { enum: [a, b] }
      score: { type: number }
  match: exact
examples:
  - name: first
    input: { t: one }
    expected:
      label: a
      score: 1
  - name: second
    input: { t: two }
    expected:
      label: b
      score: 2
${budgets}`;

const BROKEN = `contract: broken
prompt: { user: "{{t}}" }
output:
  schema: { type: object, properties: { label: { enum: [a] } } }
examples:
  - name: bad
    input: { t: x }
    expected: { label: zzz }
`;

function script(dir: string, s: unknown): string {
  const f = path.join(dir, 'script.json');
  fs.writeFileSync(f, JSON.stringify(s));
  return `scripted:${f}`;
}

test('usage errors exit 2', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x') });
  for (const args of [['--bogus'], ['--repeat', '0'], ['--repeat', 'many'], ['--format', 'xml'], ['--runner', 'magic'], ['--model', 'a.gguf', '--runner', 'scripted:x.json'], ['--quant', 'Q8 0'], ['nope/*.contract.yaml']]) {
    const r = await cli(['run', ...args], dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
  const help = await cli(['run', '--help'], dir);
  assert.equal(help.code, 0);
  assert.match(help.out, /--runner scripted:<FILE>  testing aid/);
});

test('exit 0 when every contract passes, 1 when an example fails; text shows verdicts and latencies', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x') });
  const ok = await cli(['run', '--runner', script(dir, { x: { first: '{"label":"a","score":1}', second: { output: '{"label":"b","score":2}', latencyMs: 12 } } }), '--warmup', '0'], dir);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /x\.contract\.yaml x: PASS/);
  assert.match(ok.out, /latency p50/);
  const bad = await cli(['run', '--runner', script(dir, { x: { first: '{"label":"a","score":1}', second: '{"label":"a","score":2}' } })], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /wrong-value +second/);
  assert.match(bad.out, /\/label: expected "b", got "a"/);
});

test('a missed latency budget exits 1 even when every example passes', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x', 'budgets: { p95Ms: 50 }') });
  const r = await cli(['run', '--warmup', '0', '--runner', script(dir, { x: { first: { output: '{"label":"a","score":1}', latencyMs: 10 }, second: { output: '{"label":"b","score":2}', latencyMs: 80 } } })], dir);
  assert.equal(r.code, 1);
  assert.match(r.out, /budget MISSED: p95 latency 80\.0 ms > 50\.0 ms/);
});

test('json gives every verdict and timing', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x') });
  const r = await cli(['run', '-f', 'json', '--repeat', '3', '--warmup', '1', '--runner', script(dir, { x: { first: { output: '{"label":"a","score":1}', latencyMs: 7, ttftMs: 2 }, second: 'nope' } })], dir);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out) as { contracts: { file: string; result: { examples: { name: string; verdict: { kind: string }; runs: { totalMs: number; ttftMs: number }[]; latency: { p50: number } }[]; latency: { n: number } } }[] };
  const res = j.contracts[0]!.result;
  assert.deepEqual(res.examples.map((e) => [e.name, e.verdict.kind]), [['first', 'pass'], ['second', 'invalid-json']]);
  assert.deepEqual(res.examples[0]!.runs.map((x) => [x.totalMs, x.ttftMs]), [[7, 2], [7, 2], [7, 2]]);
  assert.equal(res.examples[0]!.latency.p50, 7);
  assert.equal(res.latency.n, 6);
});

test('junit: one testcase per example; sarif: a wrong value sits on the field of expected, other failures on the example', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x') });
  const runner = script(dir, { x: { first: '{"label":"a","score":5}', second: '{"label":"b"' } });
  const junit = await cli(['run', '-f', 'junit', '--runner', runner], dir);
  assert.equal(junit.code, 1);
  const cases = [...junit.out.matchAll(/<testcase [^>]*name="([^"]+)"[^>]*line="(\d+)"/g)].map((m) => [m[1], m[2]]).filter((c) => c[0] !== 'check');
  assert.deepEqual(cases, [['first', '15'], ['second', '20']]);
  // Example failures are test cases, not repeated in the contract-level `check` case (which carries the missed budget).
  assert.match(junit.out, /<testcase classname="x.contract.yaml" name="check"[^>]*>\s*<failure message="1 error: pass rate 0% \(0\/2\)/);
  assert.match(junit.out, /<failure message="wrong value: \/score: expected 1, got 5"/);
  assert.match(junit.out, /<failure message="the output is not valid JSON/);

  const sarif = await cli(['run', '-f', 'sarif', '--runner', runner], dir);
  const log = JSON.parse(sarif.out) as { runs: { results: { ruleId: string; locations: { physicalLocation: { region: { startLine: number; startColumn: number } } }[] }[]; tool: { driver: { rules: { id: string }[] } } }[] };
  const results = log.runs[0]!.results.map((x) => [x.ruleId, x.locations[0]!.physicalLocation.region.startLine, x.locations[0]!.physicalLocation.region.startColumn]);
  // `score: 1` of the first example is on line 19 (1-based), column 14; the second example's name on line 20.
  const text = fs.readFileSync(path.join(dir, 'x.contract.yaml'), 'utf8').split('\n');
  assert.equal(text[18], '      score: 1');
  assert.deepEqual(results, [['run-budget', 15, 3], ['run-wrong-value', 19, 14], ['run-invalid-json', 20, 11]]);
  assert.ok(log.runs[0]!.tool.driver.rules.some((r) => r.id === 'run-wrong-value'));
});

test('contracts with static errors are reported and not run; the others still run', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x'), 'broken.contract.yaml': BROKEN });
  const r = await cli(['run', '--runner', script(dir, { x: { first: '{"label":"a","score":1}', second: '{"label":"b","score":2}' } })], dir);
  assert.equal(r.code, 1);
  assert.match(r.out, /broken\.contract\.yaml:8:\d+ error .*zzz/);
  assert.match(r.out, /broken\.contract\.yaml: NOT RUN \(static errors\)/);
  assert.match(r.out, /x\.contract\.yaml x: PASS/);
});

test('a model that cannot be had: says where it looked and --model FILE, still reports static errors, exits 1', async () => {
  const dir = workspace({ 'x.contract.yaml': CONTRACT('x'), 'broken.contract.yaml': BROKEN });
  const missing = path.join(dir, 'models', 'gemma.gguf');
  const r = await cli(['run', '--model', missing, '--offline', '--no-cache'], dir);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot get the model: .*gemma\.gguf/);
  assert.match(r.err, /--model FILE/);
  assert.match(r.out, /broken\.contract\.yaml:8:\d+ error/);
  assert.match(r.out, /x\.contract\.yaml x: MODEL-UNAVAILABLE/);
});

test('contracts run samples --model <synthetic tiny Q8_0>: every sample runs, verdicts and latencies are reported, SYNTHETIC everywhere', async () => {
  const tiny = (await ensureTestModels()).tiny.Q8_0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-cli-samples-'));
  const r = await cli(['run', 'samples', '--model', tiny, '--threads', '1', '--warmup', '0', '--repeat', '1', '--max-tokens', '24', '-f', 'json', '--trace-dir', path.join(dir, 't'), '--cache-dir', path.join(dir, 'c')], ROOT);
  const j = JSON.parse(r.out) as { contracts: { file: string; result: { status: string; model: { synthetic: boolean; label: string }; examples: { verdict: { kind: string }; runs: { totalMs: number }[] }[]; latency?: { p50: number } } | null }[] };
  const samples = fs.readdirSync(path.join(ROOT, 'samples')).filter((f) => f.endsWith('.contract.yaml'));
  assert.equal(j.contracts.length, samples.length);
  for (const c of j.contracts) {
    const res = c.result!;
    assert.ok(res, `${c.file} ran`);
    assert.ok(['pass', 'fail'].includes(res.status), `${c.file}: ${res.status}`);
    assert.equal(res.model.synthetic, true);
    assert.match(res.model.label, /^SYNTHETIC/);
    for (const e of res.examples) {
      assert.ok(e.verdict.kind !== 'error', `${c.file}: ${JSON.stringify(e.verdict)}`);
      if (e.verdict.kind !== 'skipped') assert.ok(e.runs[0]!.totalMs > 0);
    }
    assert.ok(res.latency!.p50 > 0);
  }
  assert.match(r.err, /SYNTHETIC/);
  // Random weights: the run must not claim quality.
  assert.equal(r.code, 1);
});

test('a model that cannot be had does not stop other contracts that name another model', { timeout: 180_000 }, async () => {
  const { ensureSpecialistTestModels } = await import('./support/models.js');
  const specialist = (await ensureSpecialistTestModels()).Q8_0;
  const own = fs.readFileSync(path.join(ROOT, 'samples', 'specialist-triage.contract.yaml'), 'utf8')
    .replace(/file: .*\n/, `file: ${JSON.stringify(specialist)}\n`)
    .replace(/quantizations: .*\n/, 'quantizations: [Q8_0]\n');
  const missing = own.replace(/  file: .*\n/, '  id: gemma-3-270m-it\n').replace('contract: specialist-triage', 'contract: needs-gemma');
  // Both orders of discovery: the unavailable one first by name, and last.
  for (const [first, second] of [['a-gemma', 'b-specialist'], ['b-gemma', 'a-specialist']]) {
    const dir = workspace({ [`${first}.contract.yaml`]: missing, [`${second}.contract.yaml`]: own });
    const r = await cli(['run', '--offline', '--format', 'json', '--no-cache', '--cache-dir', path.join(dir, 'c'), '--trace-dir', path.join(dir, 't'), '--threads', '1', dir], dir);
    const statuses = Object.fromEntries((JSON.parse(r.out) as { contracts: { file: string; result?: { status: string } }[] }).contracts.map((c) => [path.basename(c.file, '.contract.yaml'), c.result?.status]));
    assert.equal(statuses[first], 'model-unavailable', r.err);
    assert.notEqual(statuses[second], 'model-unavailable', `${second} was not run: ${r.err}`);
    assert.equal(r.code, 1);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
