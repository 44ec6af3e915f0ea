/**
 * `contracts` (package.json bin → dist/contracts.js, from scripts/cli-loader.cjs) runs the CLI
 * bundle with V8's code cache written by the build. It must behave exactly like the bundle run
 * directly — output, exit codes, and loading node-llama-cpp (ESM) for a real run — and V8 must
 * take the cache the build wrote. Needs `npm run build` (test:unit builds first).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ensureSpecialistTestModels } from './support/models';

const REPO = path.resolve(__dirname, '..');
const LOADER = path.join(REPO, 'dist', 'contracts.js');
const BUNDLE = path.join(REPO, 'dist', 'cli.js');

function run(entry: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [entry, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('package.json names the loader as the contracts bin, and the build wrote it and its cache', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.equal(pkg.bin.contracts, './dist/contracts.js');
  assert.ok(fs.existsSync(LOADER), 'dist/contracts.js: run npm run build');
  assert.ok(fs.statSync(`${BUNDLE}.cache`).size > 100_000, 'dist/cli.js.cache written by the build');
});

test('V8 takes the code cache; without it (or with a corrupt one) the loader still works', () => {
  assert.match(run(LOADER, ['--version'], { CONTRACTS_CODE_CACHE_REPORT: '1' }).err, /code cache: accepted/);
  const cache = `${BUNDLE}.cache`;
  const saved = fs.readFileSync(cache);
  try {
    fs.writeFileSync(cache, Buffer.from('not a code cache'));
    const r = run(LOADER, ['--version'], { CONTRACTS_CODE_CACHE_REPORT: '1' });
    assert.match(r.err, /code cache: rejected/);
    assert.equal(r.code, 0);
    assert.equal(r.out, run(BUNDLE, ['--version']).out);
  } finally {
    fs.writeFileSync(cache, saved);
  }
});

test('same output and exit code as the bundle: check (clean and broken), a usage error', () => {
  for (const args of [['check', 'samples', '--format', 'json'], ['check', 'samples/broken/unknown-key.contract.yaml'], ['run', '--no-such-flag']]) {
    const a = run(LOADER, args);
    const b = run(BUNDLE, args);
    assert.equal(a.code, b.code, args.join(' '));
    assert.equal(a.out, b.out, args.join(' '));
    assert.equal(a.err, b.err, args.join(' '));
  }
});

test('a real run loads node-llama-cpp through the loader (the trained specialist, Q8_0)', async () => {
  await ensureSpecialistTestModels();
  const r = run(LOADER, ['run', 'samples/specialist-triage.contract.yaml', '--quant', 'Q8_0', '--threads', '1', '--no-cache', '--trace-dir', path.join(REPO, '.cache', 'loader-test-traces'), '--format', 'json']);
  const res = JSON.parse(r.out) as { contracts: { result: { examples: { verdict: { kind: string } }[] } }[] };
  const kinds = res.contracts[0]!.result.examples.map((e) => e.verdict.kind);
  assert.equal(kinds.filter((k) => k === 'pass').length, 9, `${kinds.join(', ')}\n${r.err}`);
});
