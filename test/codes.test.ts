/**
 * One table of codes (core/codes.ts): static checks, run results and drift. Every code is
 * documented in docs/diagnostics.md and explained by codeInfo (what hover shows).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ALL_CODES, CODES, codeInfo, DRIFT_CODES, RUN_CODES } from '../server/src/core/codes';
import { DRIFT_CODES as DRIFT_VIEW_CODES } from '../server/src/core/drift-view';

const DOC = fs.readFileSync(path.join(__dirname, '..', 'docs', 'diagnostics.md'), 'utf8');

test('every code (checks, runs, drift) has a row in docs/diagnostics.md with its severity', () => {
  for (const [code, info] of Object.entries(ALL_CODES)) {
    const row = DOC.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/diagnostics.md has no row for ${code}`);
    assert.match(row, new RegExp(`^\\| \`${code}\` \\| ${info.severity} \\|`), `severity of ${code} in the docs`);
  }
});

test('codes are unique across the three groups, and codeInfo explains run and drift codes too', () => {
  const names = [...Object.keys(CODES), ...Object.keys(RUN_CODES), ...Object.keys(DRIFT_CODES)];
  assert.equal(new Set(names).size, names.length);
  assert.equal(codeInfo('run-wrong-value')?.title, 'Wrong value');
  assert.equal(codeInfo('drift-example')?.severity, 'information');
  assert.equal(codeInfo('unknown-key')?.severity, 'error');
  assert.equal(codeInfo('no-such-code'), undefined);
  assert.equal(DRIFT_VIEW_CODES, DRIFT_CODES, 'drift-view re-exports the one table');
});
