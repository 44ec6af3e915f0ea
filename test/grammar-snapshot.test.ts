/**
 * The TextMate grammars of syntaxes/, tokenized the way VS Code does (vscode-textmate + oniguruma)
 * on top of VS Code's own YAML grammar (vendored in test/fixtures/grammar/yaml-1.100.3).
 *
 * Snapshots: test/fixtures/grammar/<case>.contract.yaml → <case>.contract.yaml.snap. A missing
 * snapshot is written and the test fails (review and commit it); UPDATE_GOLDEN=1 rewrites them all.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vsctm from 'vscode-textmate';
import * as oniguruma from 'vscode-oniguruma';
import { scanPlaceholders } from '../server/src/core/placeholders';

const REPO = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'grammar');
const YAML_DIR = path.join(FIXTURES, 'yaml-1.100.3');
const update = process.env.UPDATE_GOLDEN === '1';

interface PackageGrammar {
  language?: string;
  scopeName: string;
  path: string;
  injectTo?: string[];
}
const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  contributes: { grammars: PackageGrammar[]; languages: { id: string; extensions?: string[]; filenamePatterns?: string[] }[] };
};
const ours = manifest.contributes.grammars;
const ROOT_SCOPE = 'source.contract-yaml';
const INJECTION_SCOPE = 'placeholder.injection.contract';

const grammarFiles: Record<string, string> = {
  'source.yaml': path.join(YAML_DIR, 'yaml.tmLanguage.json'),
  'source.yaml.embedded': path.join(YAML_DIR, 'yaml-embedded.tmLanguage.json'),
  ...Object.fromEntries(['1.0', '1.1', '1.2', '1.3'].map((v) => [`source.yaml.${v}`, path.join(YAML_DIR, `yaml-${v}.tmLanguage.json`)])),
  ...Object.fromEntries(ours.map((g) => [g.scopeName, path.join(REPO, g.path)])),
};

let registry: vsctm.Registry;

before(async () => {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      const file = grammarFiles[scope];
      return file ? vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file) : null;
    },
    // As VS Code does: every contributed grammar whose injectTo names the scope.
    getInjections: (scope) => ours.filter((g) => g.injectTo?.includes(scope)).map((g) => g.scopeName),
  });
});

interface Token {
  start: number;
  end: number;
  text: string;
  scopes: string[];
}

async function tokenize(scope: string, text: string): Promise<{ line: string; tokens: Token[] }[]> {
  const grammar = await registry.loadGrammar(scope);
  assert.ok(grammar, `grammar ${scope} did not load`);
  let state = vsctm.INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    return { line, tokens: r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes.slice(1) })) };
  });
}

function render(lines: { line: string; tokens: Token[] }[]): string {
  const out: string[] = [];
  for (const { line, tokens } of lines) {
    out.push(`> ${line}`);
    for (const t of tokens) if (t.text.trim() !== '') out.push(`  ${JSON.stringify(t.text)} ${t.scopes.join(' ')}`);
  }
  return out.join('\n') + '\n';
}

/** Placeholders as the grammar sees them on one line: where each starts, and its name when valid. */
function grammarPlaceholders(tokens: Token[]): { start: number; name?: string }[] {
  const found: { start: number; name?: string; invalid: boolean }[] = [];
  for (const t of tokens) {
    if (t.scopes.includes('punctuation.definition.placeholder.begin.contract') || t.scopes.includes('invalid.illegal.placeholder.unclosed.contract')) {
      found.push({ start: t.start, invalid: t.scopes.some((s) => s.startsWith('invalid.')) });
      continue;
    }
    const current = found[found.length - 1];
    if (!current || !t.scopes.includes('meta.placeholder.contract')) continue;
    if (t.scopes.some((s) => s.startsWith('invalid.'))) current.invalid = true;
    if (t.scopes.includes('variable.other.placeholder.contract')) current.name = t.text;
  }
  return found.map((p) => (p.invalid || !p.name ? { start: p.start } : { start: p.start, name: p.name }));
}

const cases = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.contract.yaml')).sort();

for (const file of cases) {
  test(`grammar snapshot: ${file}`, async () => {
    const actual = render(await tokenize(ROOT_SCOPE, fs.readFileSync(path.join(FIXTURES, file), 'utf8')));
    const snap = path.join(FIXTURES, `${file}.snap`);
    if (update || !fs.existsSync(snap)) {
      fs.writeFileSync(snap, actual);
      if (!update) assert.fail(`${path.relative(REPO, snap)} did not exist and was written: review it and commit it`);
      return;
    }
    assert.equal(actual, fs.readFileSync(snap, 'utf8'));
  });

  test(`grammar agrees with the core's placeholder scanner: ${file}`, async () => {
    for (const { line, tokens } of await tokenize(ROOT_SCOPE, fs.readFileSync(path.join(FIXTURES, file), 'utf8'))) {
      const inString = (offset: number) => tokens.some((t) => t.start <= offset && offset < t.end && t.scopes.some((s) => s.startsWith('string.')) && !t.scopes.some((s) => s.startsWith('meta.map.key') || s.startsWith('meta.flow.map.key')));
      const core = scanPlaceholders(line)
        .filter((p) => inString(p.start))
        .map((p) => (p.name ? { start: p.start, name: p.name } : { start: p.start }));
      assert.deepEqual(grammarPlaceholders(tokens), core, `line: ${line}`);
    }
  });
}

test('YAML highlighting is kept around placeholders', async () => {
  const [, line] = await tokenize(ROOT_SCOPE, 'prompt:\n  user: "Hi {{name}}!"');
  const scopesOf = (text: string) => line!.tokens.find((t) => t.text === text)?.scopes ?? [];
  assert.ok(scopesOf('user').includes('entity.name.tag.yaml'));
  assert.ok(scopesOf('Hi ').includes('string.quoted.double.yaml'));
  assert.deepEqual(scopesOf('name').slice(-3), ['string.quoted.double.yaml', 'meta.placeholder.contract', 'variable.other.placeholder.contract']);
  assert.ok(scopesOf('{{').includes('punctuation.definition.placeholder.begin.contract'));
  assert.ok(scopesOf('}}').includes('punctuation.definition.placeholder.end.contract'));
});

test('placeholders are not highlighted in plain YAML files, comments or keys', async () => {
  const yaml = await tokenize('source.yaml', 'user: "Hi {{name}}"');
  assert.ok(!yaml[0]!.tokens.some((t) => t.scopes.includes('meta.placeholder.contract')));
  const contract = await tokenize(ROOT_SCOPE, '# {{a}}\n"{{b}}": x');
  assert.ok(!contract.some((l) => l.tokens.some((t) => t.scopes.includes('meta.placeholder.contract'))));
});

test('the injection grammar on its own rules', async () => {
  const { tokens } = (await tokenize(INJECTION_SCOPE, 'a {{ ok }} {{ 1x }} {{}} \\{{lit}} {{ open'))[0]!;
  const named = tokens.filter((t) => t.scopes.length > 0 && t.text.trim() !== '').map((t) => `${t.text}=${t.scopes[t.scopes.length - 1]}`);
  assert.deepEqual(named, [
    '{{=punctuation.definition.placeholder.begin.contract',
    'ok=variable.other.placeholder.contract',
    '}}=punctuation.definition.placeholder.end.contract',
    '{{=punctuation.definition.placeholder.begin.contract',
    ' 1x =invalid.illegal.placeholder.contract',
    '}}=punctuation.definition.placeholder.end.contract',
    '{{=punctuation.definition.placeholder.begin.contract',
    '}}=punctuation.definition.placeholder.end.contract',
    '\\{{=constant.character.escape.placeholder.contract',
    '{{=invalid.illegal.placeholder.unclosed.contract',
  ]);
  assert.ok(tokens.some((t) => t.text === '{{' && t.scopes.includes('invalid.illegal.placeholder.empty.contract')));
});

test('package.json wires the grammars to the contract language', () => {
  const language = manifest.contributes.languages.find((l) => l.id === 'contract-yaml');
  assert.ok(language, 'language contract-yaml is contributed');
  const root = ours.find((g) => g.scopeName === ROOT_SCOPE);
  assert.equal(root?.language, 'contract-yaml');
  assert.deepEqual(ours.find((g) => g.scopeName === INJECTION_SCOPE)?.injectTo, [ROOT_SCOPE]);
  for (const g of ours) {
    const raw = JSON.parse(fs.readFileSync(path.join(REPO, g.path), 'utf8')) as { scopeName: string };
    assert.equal(raw.scopeName, g.scopeName, g.path);
  }
});

