/** The exported fine-tuning data round-trips: the training script reads exactly what the export writes. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { exportDataset, toJsonl } from '../server/src/core/dataset';
import { fsHost } from '../server/src/node-host';
import { renderPrompt } from '../server/src/runtime/prompt';
import { buildDataset, loadSpecialistContract } from '../training/make-dataset';

const ROOT = path.join(__dirname, '..');
const TRAIN = path.join(ROOT, 'training', 'train.py');

function renderWithTrainingScript(jsonl: string): [string, string][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-ds-'));
  const file = path.join(dir, 'data.jsonl');
  fs.writeFileSync(file, jsonl);
  try {
    return JSON.parse(execFileSync('python3', [TRAIN, '--render-only', file, '--tokenizer', 'unused'], { encoding: 'utf8' })) as [string, string][];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('for every sample, train.py renders the exported rows exactly as the runtime renders the prompt', () => {
  const samples = fs.readdirSync(path.join(ROOT, 'samples')).filter((f) => f.endsWith('.contract.yaml'));
  let rows = 0;
  for (const f of samples) {
    const file = path.join(ROOT, 'samples', f);
    const r = checkContract(fs.readFileSync(file, 'utf8'), { file, host: fsHost(ROOT) });
    assert.ok(r.contract, f);
    const exported = exportDataset(r.contract);
    const rendered = renderWithTrainingScript(toJsonl(exported));
    const examples = r.contract.examples.filter((e) => !e.skip);
    assert.equal(rendered.length, examples.length, f);
    examples.forEach((e, i) => {
      assert.equal(rendered[i]![0], renderPrompt(r.contract!.prompt, e.input).text, `${f} / ${e.name}: prompt`);
      assert.deepEqual(JSON.parse(rendered[i]![1].replace(/<end_of_turn>$/, '')), e.expected, `${f} / ${e.name}: answer`);
      assert.ok(rendered[i]![1].endsWith('<end_of_turn>'));
    });
    rows += examples.length;
  }
  assert.ok(rows >= 60);
});

test('answers are compact JSON with keys in the schema order (the order constrained decoding writes)', () => {
  const c = loadSpecialistContract();
  const row = exportDataset({ ...c, examples: [{ ...c.examples[0]!, expected: { urgent: true, label: 'billing' } }] })[0]!;
  assert.equal(row.messages[row.messages.length - 1]!.content, '{"label":"billing","urgent":true}');
  assert.deepEqual(row.messages.map((m) => m.role), ['system', 'user', 'assistant']);
});

test('the training set keeps hard and out-of-distribution examples out, and is deterministic', () => {
  const c = loadSpecialistContract();
  const a = toJsonl(buildDataset(c, 50, 1));
  assert.equal(a, toJsonl(buildDataset(c, 50, 1)));
  for (const e of c.examples.filter((x) => (x.tags ?? []).some((t) => t === 'hard' || t === 'ood'))) {
    assert.ok(!a.includes(JSON.stringify(e.input.message).slice(1, -1)), `${e.name} leaked into the training data`);
  }
  assert.equal(renderWithTrainingScript(a).length, 50 + c.examples.length - 3);
});
