/** The YAML grammars vendored for the snapshot tests are the ones the e2e VS Code (code-server) ships. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO = path.join(__dirname, '..', '..');
const YAML_DIR = path.join(REPO, 'test', 'fixtures', 'grammar', 'yaml-1.100.3');
const installedYaml = path.join(REPO, '.e2e/tools/node_modules/code-server/lib/vscode/extensions/yaml/syntaxes');

test('the vendored YAML grammars are the ones the e2e VS Code ships', () => {
  assert.ok(fs.existsSync(installedYaml), `code-server is not installed at ${installedYaml} (scripts/e2e-setup.sh installs it)`);
  for (const f of fs.readdirSync(installedYaml)) {
    assert.equal(fs.readFileSync(path.join(YAML_DIR, f), 'utf8'), fs.readFileSync(path.join(installedYaml, f), 'utf8'), f);
  }
});
