/**
 * Golden fixtures: test/fixtures/check/<case>/input.contract.yaml and the findings it must give in
 * expected.json. A missing expected.json is written and the test fails (review and commit it);
 * UPDATE_GOLDEN=1 rewrites them all.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';

const ROOT = path.join(__dirname, 'fixtures', 'check');
const update = process.env.UPDATE_GOLDEN === '1';

for (const name of fs.readdirSync(ROOT).sort()) {
  const dir = path.join(ROOT, name);
  const input = path.join(dir, 'input.contract.yaml');
  if (!fs.existsSync(input)) continue;
  test(`golden: ${name}`, () => {
    const text = fs.readFileSync(input, 'utf8');
    const r = checkContract(text, { file: input, host: fsHost(dir) });
    const actual = r.findings.map((f) => {
      const range = r.lines.range(f.start, f.end);
      return { at: `${range.start.line + 1}:${range.start.character + 1}-${range.end.line + 1}:${range.end.character + 1}`, severity: f.severity, code: f.code, message: f.message.replaceAll(dir, '<case>').replaceAll(path.resolve(__dirname, '..'), '<repo>'), text: text.slice(f.start, f.end).slice(0, 60) };
    });
    const file = path.join(dir, 'expected.json');
    const json = JSON.stringify(actual, null, 2) + '\n';
    if (update || !fs.existsSync(file)) {
      fs.writeFileSync(file, json);
      if (!update) assert.fail(`${path.relative(process.cwd(), file)} did not exist and was written: review it and commit it`);
      return;
    }
    assert.deepEqual(actual, JSON.parse(fs.readFileSync(file, 'utf8')));
  });
}
