/**
 * The committed baseline of samples/specialist-triage.contract.yaml (written by
 * `contracts run samples/specialist-triage.contract.yaml --update-baseline`) stays valid on a fresh
 * clone: it names the model files by content (sha256), and `npm run fixtures` builds the
 * specialist's GGUF files byte for byte from the committed weights, so a run today compares with it
 * as the same models and finds no answer changed.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseBaseline } from '../server/src/core/drift-baseline';
import { ensureSpecialistTestModels } from './support/models';

const ROOT = path.join(__dirname, '..');
const BASELINE = path.join(ROOT, 'samples', 'specialist-triage.baseline.json');
const REWRITE = 'if the sample or its models changed on purpose, run `contracts run samples/specialist-triage.contract.yaml --update-baseline` and commit the file';

let models: Record<'F16' | 'Q8_0' | 'Q4_0', string>;

before(async () => {
  models = await ensureSpecialistTestModels();
});

test('the committed baseline names the specialist GGUF files that `npm run fixtures` builds, by content', () => {
  const parsed = parseBaseline(fs.readFileSync(BASELINE, 'utf8'));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  const b = parsed.baseline;
  assert.equal(b.contract, 'specialist-triage');
  assert.equal(b.reference, 'F16');
  assert.deepEqual(Object.keys(b.quantizations).sort(), ['F16', 'Q4_0', 'Q8_0']);
  for (const [q, rec] of Object.entries(b.quantizations)) {
    const file = models[q as keyof typeof models];
    assert.equal(rec.model.file, path.basename(file), `${q}: ${REWRITE}`);
    assert.equal(rec.model.sha256, createHash('sha256').update(fs.readFileSync(file)).digest('hex'), `${q}: the generated GGUF is not the one the baseline recorded; ${REWRITE}`);
    assert.equal(rec.model.synthetic, false);
    assert.equal(rec.examples.length, 12);
  }
});

test('contracts run samples/specialist-triage.contract.yaml: no answer changed since the committed baseline, same model files, the file untouched; teacher forcing in the run\'s own context', { timeout: 300_000 }, async () => {
  const before = fs.readFileSync(BASELINE);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-baseline-sample-'));
  try {
    const args = [path.join(ROOT, 'server/src/cli/main.ts'), 'run', 'samples/specialist-triage.contract.yaml', '--format', 'json', '--no-cache', '--cache-dir', path.join(tmp, 'c'), '--trace-dir', path.join(tmp, 't'), '--threads', '1'];
    // Exit 1 is possible (the sample's p95 budget on a busy machine); the report is what is checked.
    const stdout = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, maxBuffer: 32 << 20 }).then(
      (r) => r.stdout,
      (e: { stdout?: string; code?: number }) => {
        assert.equal(e.code, 1, `contracts run failed: ${String(e)}`);
        return e.stdout ?? '';
      },
    );
    const report = JSON.parse(stdout) as { contracts: { file: string; baseline?: { status: string; message?: string; comparison?: { promptChanged: boolean; schemaChanged: boolean; quantizations: { quantization: string; status: string; sameModel: boolean; notes: string[]; compared: number; changed: number; examples: { name: string; status: string }[]; removed: string[] }[] } }; drift?: { status: string; candidates: { quantization: string; summary?: { differing: number; compared: number; agreement?: { positions: number; top1Agree: number } }; cost?: { setupMs: { reference: number; candidate: number } } }[] } }[] };
    const c = report.contracts.find((x) => x.file.endsWith('specialist-triage.contract.yaml'));
    assert.ok(c, stdout.slice(0, 500));
    assert.equal(c.baseline?.status, 'compared', JSON.stringify(c.baseline));
    const cmp = c.baseline!.comparison!;
    assert.equal(cmp.promptChanged, false);
    assert.equal(cmp.schemaChanged, false);
    assert.deepEqual(cmp.quantizations.map((q) => q.quantization).sort(), ['F16', 'Q4_0', 'Q8_0']);
    for (const q of cmp.quantizations) {
      assert.equal(q.status, 'compared', `${q.quantization}: ${q.notes.join('; ')}`);
      assert.equal(q.sameModel, true, `${q.quantization}: ${q.notes.join('; ')}; ${REWRITE}`);
      assert.equal(q.compared, 12);
      const changed = q.examples.filter((e) => e.status !== 'same').map((e) => `${e.name}: ${e.status}`);
      assert.deepEqual(changed, [], `${q.quantization}: ${REWRITE}`);
      assert.equal(q.changed, 0);
      assert.deepEqual(q.removed, []);
    }
    // The quantizations do not drift from each other either (what the baseline recorded).
    assert.equal(c.drift?.status, 'ok', JSON.stringify(c.drift?.candidates.map((x) => [x.quantization, x.summary])));
    for (const cand of c.drift!.candidates) {
      assert.equal(cand.summary?.differing, 0, cand.quantization);
      // Teacher forcing followed each answer's generation in the run's own context, the reference's
      // in the run `contracts run` started: no context of their own, no warm-up pass.
      assert.equal(cand.summary?.agreement?.positions, 108, cand.quantization);
      assert.equal(cand.summary?.agreement?.top1Agree, 108, cand.quantization);
      assert.deepEqual(cand.cost?.setupMs, { reference: 0, candidate: 0 }, cand.quantization);
    }
    assert.deepEqual(fs.readFileSync(BASELINE), before, 'a run without --update-baseline never rewrites the baseline');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
