/**
 * The trained tiny specialist on its own contract: real passes and honest failures. Its verdicts
 * are pinned per quantization, so a regression in rendering, tokenization or decoding shows up as
 * a drop. (It is a tiny model this project trained for tests, not Gemma 3 270M.)
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ensureSpecialistTestModels } from './support/models';

const ROOT = path.join(__dirname, '..');
const CONTRACT = path.join(ROOT, 'samples', 'specialist-triage.contract.yaml');
const HARD = ['german billing', 'mixed topics', 'sarcastic urgency'];

before(async () => {
  await ensureSpecialistTestModels();
});

async function run(quant: string) {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-spec-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/src/cli/main.ts'), 'run', CONTRACT, '--quant', quant, '--format', 'json', '--no-cache', '--cache-dir', cache, '--trace-dir', path.join(cache, 'traces'), '--threads', '1'], { cwd: ROOT, maxBuffer: 16 << 20 });
    const out = JSON.parse(stdout) as { contracts: { result: { passRate: number; model: { label: string }; examples: { name: string; verdict: { kind: string }; parsed?: unknown }[] } }[] };
    return out.contracts[0]!.result;
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

for (const quant of ['F16', 'Q8_0', 'Q4_0']) {
  test(`specialist ${quant}: passes the nine in-distribution examples, fails the three hard ones`, { timeout: 240_000 }, async () => {
    const r = await run(quant);
    assert.match(r.model.label, /TINY SPECIALIST/);
    assert.doesNotMatch(r.model.label, /^Gemma/);
    const failed = r.examples.filter((e) => e.verdict.kind !== 'pass').map((e) => e.name);
    assert.deepEqual(failed, HARD, `verdicts: ${r.examples.map((e) => `${e.name}=${e.verdict.kind}`).join(', ')}`);
    for (const e of r.examples) if (HARD.includes(e.name)) assert.equal(e.verdict.kind, 'wrong-value', `${e.name} should fail on a value, not on the format`);
    assert.equal(r.passRate, 9 / 12);
  });
}
