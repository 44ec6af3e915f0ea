/** `contracts export` as a real process: the same rows as the core's export, files or stdout, errors and usage. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { exportDataset, toJsonl } from '../server/src/core/dataset';
import { fsHost } from '../server/src/node-host';

const ROOT = path.join(__dirname, '..');
const MAIN = path.join(ROOT, 'server', 'src', 'cli', 'main.ts');

function cli(cwd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'export', ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SPECIALIST = path.join(ROOT, 'samples', 'specialist-triage.contract.yaml');

test('contracts export writes exactly the core export, to stdout or --out, and can leave examples out', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-export-'));
  try {
    const contract = checkContract(fs.readFileSync(SPECIALIST, 'utf8'), { file: SPECIALIST, host: fsHost(ROOT) }).contract!;
    const stdout = cli(ROOT, ['samples/specialist-triage.contract.yaml']);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.equal(stdout.stdout, toJsonl(exportDataset(contract)));
    assert.match(stdout.stderr, /specialist-triage\.contract\.yaml: 12 rows/);

    const out = path.join(dir, 'triage.jsonl');
    const r = cli(ROOT, ['samples/specialist-triage.contract.yaml', '-o', out, '--exclude', 'german billing', '--exclude', 'mixed topics']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(rows.length, 10);
    assert.ok(!rows.some((l) => l.includes('Ich wurde')), 'german billing left out');
    assert.deepEqual(JSON.parse(rows[0]!).messages.at(-1), { role: 'assistant', content: '{"label":"billing","urgent":false}' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('contracts export: a contract with errors is not exported (exit 1), usage errors exit 2, --help exits 0', () => {
  const broken = cli(ROOT, ['samples/broken/unknown-key.contract.yaml']);
  assert.equal(broken.code, 1);
  assert.equal(broken.stdout, '');
  assert.match(broken.stderr, /unknown-key\.contract\.yaml: 1 error .*not exported/);
  const usage = cli(ROOT, ['--bogus']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown option '--bogus'/);
  const noFolder = cli(ROOT, [SPECIALIST, '--out', '/nonexistent-folder/x.jsonl']);
  assert.equal(noFolder.code, 2);
  const help = cli(ROOT, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: contracts export/);
});
