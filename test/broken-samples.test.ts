import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { CODES } from '../server/src/core/codes';
import { fsHost } from '../server/src/node-host';
import { brokenCases, brokenMismatches } from './support/broken-samples';

const ROOT = path.join(__dirname, '..');

test('every broken sample shows its diagnostic on the marked line (core)', () => {
  const problems: string[] = [];
  for (const c of brokenCases()) {
    const r = checkContract(c.text, { file: c.file, host: fsHost(ROOT) });
    problems.push(...brokenMismatches(c, r.findings.map((f) => ({ line: r.lines.position(f.start).line, code: f.code, severity: f.severity }))));
  }
  assert.deepEqual(problems, []);
});

test('every diagnostic code that static checks can produce has a broken sample', () => {
  const covered = new Set(brokenCases().flatMap((c) => c.expect.map((e) => e.code)));
  const missing = Object.keys(CODES).filter((code) => !covered.has(code) && !['file-too-large', 'file-binary', 'internal-error', 'schema-too-large'].includes(code));
  assert.deepEqual(missing, []);
});

test('every broken sample shows its diagnostic on the marked line (contracts check, as a process)', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/src/cli/main.ts'), 'check', 'samples/broken', '--format', 'json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
  const items = JSON.parse(r.stdout) as { file: string; range: { start: { line: number } }; code: string; severity: string }[];
  const problems: string[] = [];
  for (const c of brokenCases()) {
    const rel = path.relative(ROOT, c.file).split(path.sep).join('/');
    problems.push(...brokenMismatches(c, items.filter((i) => i.file === rel).map((i) => ({ line: i.range.start.line, code: i.code, severity: i.severity }))));
  }
  assert.deepEqual(problems, []);
});

test('every broken sample shows its diagnostic on the marked line (language server over stdio)', { timeout: 180_000 }, async () => {
  const { LspClient, fileUri } = require('./support/lsp-client') as typeof import('./support/lsp-client');
  const client = LspClient.start({});
  try {
    await client.initialize(ROOT);
    const problems: string[] = [];
    const severities = ['', 'error', 'warning', 'information', 'hint'];
    for (const c of brokenCases()) {
      const uri = fileUri(c.file);
      const published = client.diagnosticsFor(uri, 1, 30_000);
      client.open(uri, c.text);
      const diags = (await published).diagnostics as { range: { start: { line: number } }; code?: string | number; severity?: number }[];
      problems.push(...brokenMismatches(c, diags.map((d) => ({ line: d.range.start.line, code: String(d.code), severity: severities[d.severity ?? 1]! }))));
      client.close(uri);
    }
    assert.deepEqual(problems, []);
  } finally {
    await client.stop();
  }
});
