/**
 * package.json's contributions agree with the client: every command the client registers is
 * contributed (and vice versa), menus name contributed commands, the language, grammar and schema
 * files exist, and the pure helpers stay free of `vscode` so they are testable without an editor.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClientCommands, LANGUAGE_ID, RESTRICTED_SETTINGS, SETTINGS_SECTION } from '../client/src/ids';
import { SETTINGS_SECTION as SERVER_SETTINGS_SECTION } from '../server/src/settings';
import { SHOW_STATUS_COMMAND } from '../client/src/model-status';

const REPO = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  main: string;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; description: string; restrictedConfigurations: string[] } };
  contributes: {
    languages: { id: string; aliases: string[]; filenamePatterns: string[]; configuration: string }[];
    commands: { command: string; title: string; category: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    yamlValidation: { fileMatch: string[]; url: string }[];
  };
};

test('every client command is contributed with a title, and only those', () => {
  const contributed: string[] = pkg.contributes.commands.map((c) => c.command).sort();
  // The server's lens commands are registered by the language client; contributing them would clash.
  assert.ok(!contributed.includes('contracts.runExample') && !contributed.includes('contracts.runAll'));
  assert.deepEqual(contributed, Object.values(ClientCommands).sort());
  for (const c of pkg.contributes.commands) assert.equal(c.category, 'Prompt Contracts', c.command);
  assert.ok(Object.values(ClientCommands).includes(SHOW_STATUS_COMMAND as never));
});

test('menus only name contributed commands', () => {
  const ids = new Set(pkg.contributes.commands.map((c) => c.command));
  for (const [menu, items] of Object.entries(pkg.contributes.menus)) for (const i of items) assert.ok(ids.has(i.command), `${menu}: ${i.command}`);
  assert.ok(pkg.contributes.menus['editor/context']!.some((i) => i.command === ClientCommands.runExampleAtCursor && i.when?.includes(LANGUAGE_ID)));
});

test('the contract language, its configuration, activation and schema', () => {
  const lang = pkg.contributes.languages.find((l) => l.id === LANGUAGE_ID);
  assert.ok(lang);
  assert.ok(lang.aliases.includes('Prompt Contract'));
  assert.deepEqual(lang.filenamePatterns, ['*.contract.yaml', '*.contract.yml']);
  assert.ok(fs.existsSync(path.join(REPO, lang.configuration)));
  assert.ok(pkg.activationEvents.includes(`onLanguage:${LANGUAGE_ID}`));
  const [validation] = pkg.contributes.yamlValidation;
  assert.ok(validation && fs.existsSync(path.join(REPO, validation.url)));
  assert.deepEqual(validation.fileMatch, lang.filenamePatterns);
  assert.equal(pkg.main, './dist/client/extension.js');
});

test('the client reads the settings section the server defines', () => {
  assert.equal(SETTINGS_SECTION, SERVER_SETTINGS_SECTION);
});

test("workspace trust: limited, described, and the restricted settings are the client's list", () => {
  const u = pkg.capabilities.untrustedWorkspaces;
  assert.equal(u.supported, 'limited');
  assert.ok(u.description.length > 20);
  assert.deepEqual(u.restrictedConfigurations, RESTRICTED_SETTINGS.map((s) => `contracts.${s}`));
});

/** Modules the unit tests import: they and everything they import must not import `vscode`. */
const PURE = ['model-status.ts', 'restart-policy.ts', 'run-args.ts', 'report.ts', 'errors.ts', 'ids.ts', 'results-memory.ts', 'package-vsix.ts'];

test('pure client helpers never import vscode (directly or through another client module)', () => {
  const dir = path.join(REPO, 'client', 'src');
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      assert.ok(spec !== 'vscode' && !spec.startsWith('vscode-languageclient'), `${[...chain, path.relative(REPO, file)].join(' → ')} imports ${spec}`);
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), `${spec}.ts`), [...chain, path.relative(REPO, file)]);
    }
  };
  for (const f of PURE) visit(path.join(dir, f), []);
});
