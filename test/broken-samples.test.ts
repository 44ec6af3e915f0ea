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
