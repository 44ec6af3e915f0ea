/**
 * package.json's `contributes.configuration`, generated from the one settings schema
 * (server/src/settings.ts): every field becomes `contracts.<field>` with its type, bounds, default
 * and description. `npm run gen:settings` writes it; `--check` exits 1 when package.json differs
 * (test/extension-settings.test.ts fails then too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { SETTINGS_SECTION, SettingsSchema } from '../server/src/settings';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface PackageConfiguration {
  title: string;
  properties: Record<string, Record<string, Json>>;
}

const PACKAGE_JSON = path.join(__dirname, '..', 'package.json');

/** JSON Schema keywords VS Code's settings editor has no use for, or that only restate the type. */
function clean(schema: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$schema' || k === 'propertyNames') continue;
    if ((k === 'maximum' && v === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && v === Number.MIN_SAFE_INTEGER)) continue;
    if (k === 'description') continue;
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? clean(v) : v;
  }
  // Descriptions use `code` spans: VS Code renders markdownDescription as Markdown.
  if (typeof schema.description === 'string') out.markdownDescription = schema.description;
  return out;
}

export function packageConfiguration(): PackageConfiguration {
  const json = z.toJSONSchema(SettingsSchema, { io: 'input' }) as { properties: Record<string, Record<string, Json>> };
  const properties: PackageConfiguration['properties'] = {};
  Object.entries(json.properties).forEach(([key, schema], order) => {
    if (!('default' in schema)) throw new Error(`setting ${key} has no default: every setting needs one (server/src/settings.ts)`);
    properties[`${SETTINGS_SECTION}.${key}`] = { ...clean(schema), order };
  });
  return { title: 'Prompt Contracts', properties };
}

function main(): void {
  const check = process.argv.includes('--check');
  const text = fs.readFileSync(PACKAGE_JSON, 'utf8');
  const pkg = JSON.parse(text) as { contributes?: { configuration?: unknown } };
  const want = packageConfiguration();
  if (JSON.stringify(pkg.contributes?.configuration) === JSON.stringify(want)) {
    process.stdout.write('package.json contributes.configuration is up to date\n');
    return;
  }
  if (check) {
    process.stderr.write('package.json contributes.configuration differs from server/src/settings.ts: run `npm run gen:settings`\n');
    process.exitCode = 1;
    return;
  }
  pkg.contributes = { ...pkg.contributes, configuration: want };
  fs.writeFileSync(PACKAGE_JSON, JSON.stringify(pkg, null, 2) + '\n');
  process.stdout.write(`package.json contributes.configuration: ${Object.keys(want.properties).length} settings written\n`);
}

if (require.main === module) main();
