/**
 * `contracts run --report FILE.html` as a real process (dist/cli.js, built by `npm run build`): the
 * trained specialist's three quantizations with their drift, a scripted run with hostile names,
 * and the folder that does not exist.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureSpecialistTestModels } from './support/models';

const REPO = path.resolve(__dirname, '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-report-'));

function cli(args: string[], cwd = REPO): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The markup of the first chart of that name. */
function chart(html: string, name: string): string {
  const start = html.indexOf(`<svg class="chart" data-chart="${name}"`);
  assert.ok(start >= 0, `chart ${name} is drawn`);
  return html.slice(start, html.indexOf('</svg>', start));
}

before(async () => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  // samples/specialist-triage.contract.yaml finds them in .cache/models
  await ensureSpecialistTestModels();
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the specialist: the report has every quantization measured, the failing fields and the drift matrix', () => {
  const out = path.join(tmp, 'specialist.html');
  const r = cli(['samples/specialist-triage.contract.yaml', '--no-cache', '--report', out, '--cache-dir', path.join(tmp, 'cache'), '--trace-dir', path.join(tmp, 'traces')]);
  // exit codes are those of the run: the specialist meets its budgets
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /report written to .*specialist\.html/);
  // the usual text report still goes to stdout
  assert.match(r.stdout, /specialist-triage: PASS/);
  const html = fs.readFileSync(out, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  const latency = chart(html, 'latency');
  for (const q of ['F16', 'Q8_0', 'Q4_0']) {
    assert.match(latency, new RegExp(`data-quantization="${q}"`));
    // 12 examples, one measured run each
    assert.match(latency, new RegExp(`${q}: n=12, p50 [\\d.]+ m?s, p95`));
  }
  assert.ok((latency.match(/<rect /g) ?? []).length >= 3, 'bars drawn');
  assert.match(latency, /data-mark="budget-p95" data-value="500"/);
  assert.match(chart(html, 'ttft'), /data-mark="p95"/);
  assert.match(chart(html, 'tokens'), /<circle /);
  // the specialist fails german billing, mixed topics (/label) and sarcastic urgency (/urgent), on each quantization
  const fields = chart(html, 'fields');
  assert.match(fields, /data-field="\/label" data-total="6"/);
  assert.match(fields, /data-field="\/urgent" data-total="3"/);
  assert.match(fields, /german billing \(F16\)/);
  // three quantizations: a 3 × 3 matrix, every cell compared over the 12 examples
  const drift = chart(html, 'drift');
  assert.equal((drift.match(/<g data-row=/g) ?? []).length, 9);
  assert.match(drift, /data-row="F16" data-col="Q4_0" data-share="[\d.]+"/);
  assert.match(drift, /F16 vs Q4_0: \d+\/12 examples differ/);
  // not Gemma: the model's own label comes through
  assert.match(html, /TINY SPECIALIST/);
  assert.doesNotMatch(html, /https?:\/\//);
  // written through a temporary file that is gone
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), []);
});

test('a scripted run: failures are reported, names are escaped, and the exit code is the run\'s', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'ws-'));
  fs.writeFileSync(
    path.join(dir, 'x.contract.yaml'),
    `contract: hostile
prompt:
  system: Classify.
  user: "Text: {{t}}"
output:
  schema:
    type: object
    required: [label]
    properties:
      label: { enum: [a, b] }
examples:
  - name: "<script>alert(1)</script>"
    input: { t: one }
    expected: { label: a }
  - name: fine
    input: { t: two }
    expected: { label: b }
`,
  );
  fs.writeFileSync(path.join(dir, 'script.json'), JSON.stringify({ hostile: { '<script>alert(1)</script>': '{"label":"b"}', fine: '{"label":"b"}' } }));
  const r = cli(['--runner', 'scripted:script.json', '--report', 'out.html'], dir);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const html = fs.readFileSync(path.join(dir, 'out.html'), 'utf8');
  assert.doesNotMatch(html, /<script>alert/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(chart(html, 'fields'), /data-field="\/label" data-total="1"/);
  assert.doesNotMatch(html, /<script/);
});

test('--report into a folder that does not exist: a usage error before anything runs', () => {
  const missing = path.join(tmp, 'no-such-folder', 'r.html');
  const r = cli(['samples/specialist-triage.contract.yaml', '--report', missing]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--report: the folder .*no-such-folder does not exist/);
  assert.equal(r.stdout, '');
  assert.equal(fs.existsSync(path.dirname(missing)), false);
  const empty = cli(['samples/specialist-triage.contract.yaml', '--report', '']);
  assert.equal(empty.code, 2);
  const help = cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--report <FILE\.html>/);
});
