/** package.json's settings block is generated from server/src/settings.ts and must not drift from it. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageConfiguration } from '../scripts/gen-package-settings';
import { DEFAULT_SETTINGS, SETTINGS_SECTION, SettingsSchema } from '../server/src/settings';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Record<string, unknown>> } };
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};

test('package.json contributes.configuration is what `npm run gen:settings` generates', () => {
  assert.deepEqual(pkg.contributes.configuration, packageConfiguration(), 'package.json differs from server/src/settings.ts: run `npm run gen:settings` and commit package.json');
});

test('every setting is contributed with its default, under the contracts section', () => {
  const props = packageConfiguration().properties;
  assert.deepEqual(Object.keys(props).sort(), Object.keys(SettingsSchema.shape).map((k) => `${SETTINGS_SECTION}.${k}`).sort());
  for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
    const p = props[`${SETTINGS_SECTION}.${key}`]!;
    assert.deepEqual(p.default, value, key);
    assert.ok(typeof p.markdownDescription === 'string' && p.markdownDescription.length > 10, `${key} has a description`);
    assert.ok(typeof p.type === 'string', `${key} has a type`);
  }
  assert.deepEqual(props['contracts.gpu']!.enum, ['auto', 'off']);
  assert.equal(props['contracts.debounceMs']!.maximum, 5000);
  assert.equal(props['contracts.maxFileBytes']!.maximum, undefined, 'no MAX_SAFE_INTEGER noise');
});

test('restricted (untrusted-workspace) settings exist', () => {
  const props = packageConfiguration().properties;
  for (const key of pkg.capabilities.untrustedWorkspaces.restrictedConfigurations) assert.ok(props[key], `${key} is a setting`);
});
