// The output writers, in process: text, json, junit and sarif over one hand-made report.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { CODES } from '../server/src/core/codes';
import { jsonWriter, junitWriter, sarifWriter, textWriter, writerFor } from '../server/src/cli/formats';
import { summarize, type Report } from '../server/src/cli/report';

const range = (l1: number, c1: number, l2: number, c2: number) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });

function sampleReport(): Report {
  return {
    tool: { name: 'prompt-contracts', version: '9.9.9' },
    root: '/work/repo',
    files: [
      {
        file: 'a/one.contract.yaml',
        findings: [
          { code: 'missing-field', severity: 'error', message: 'missing required field `schema` in `output`', range: range(2, 0, 2, 6) },
          { code: 'unknown-key', severity: 'error', message: 'unknown key `<x & "y">` \u0007bell\u001b[31m', range: range(4, 2, 4, 9) },
          { code: 'examples-empty', severity: 'warning', message: 'this contract has no examples', range: range(9, 0, 9, 8) },
          { code: 'coverage-enum-unexercised', severity: 'information', message: 'no example expects "other" at /label', range: range(11, 40, 11, 45) },
          { code: 'grammar-closed-object', severity: 'hint', message: 'decoding produces only the listed ones', range: range(12, 4, 12, 4) },
        ],
      },
      { file: 'b two/clean.contract.yaml', findings: [] },
      { file: 'c/ünï.contract.yaml', findings: [{ code: 'placeholder-unused-input', severity: 'warning', message: 'input `x` is never used', range: range(0, 0, 0, 1) }] },
    ],
  };
}

// --- a small XML well-formedness checker (enough for JUnit: elements, attributes, text, entities) ---

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITY = /&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;
const XML_CHAR_BAD = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function decodeEntities(s: string, where: string): string {
  const stripped = s.replace(ENTITY, '');
  assert.ok(!stripped.includes('&'), `bare & in ${where}: ${JSON.stringify(s)}`);
  assert.ok(!stripped.includes('<'), `bare < in ${where}: ${JSON.stringify(s)}`);
  return s.replace(ENTITY, (_, e: string) =>
    e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );
}

/** Parses a document or throws: one root, matched tags, quoted attributes, no bare & or <, only XML 1.0 characters. */
export function parseXml(xml: string): XmlElement {
  assert.ok(!XML_CHAR_BAD.test(xml), 'the document contains characters XML 1.0 forbids');
  let rest = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const token = /^<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*\s*=\s*"[^"]*")*)\s*(\/?)>/;
  while (rest.length) {
    const lt = rest.indexOf('<');
    const text = lt < 0 ? rest : rest.slice(0, lt);
    if (text) {
      const top = stack[stack.length - 1]!;
      if (top === root) assert.match(text, /^\s*$/, 'text outside the root element');
      top.text += decodeEntities(text, `<${top.name}> text`);
    }
    if (lt < 0) break;
    rest = rest.slice(lt);
    const m = token.exec(rest);
    assert.ok(m, `malformed tag at ${JSON.stringify(rest.slice(0, 60))}`);
    const [all, close, name, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop()!;
      assert.equal(top.name, name, `</${name}> closes <${top.name}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([A-Za-z_][\w.-]*)\s*=\s*"([^"]*)"/g)) {
        assert.ok(!(a[1]! in attrs), `duplicate attribute ${a[1]}`);
        attrs[a[1]!] = decodeEntities(a[2]!, `attribute ${a[1]}`);
      }
      const el: XmlElement = { name: name!, attrs, children: [], text: '' };
      stack[stack.length - 1]!.children.push(el);
      if (stack.length === 1) assert.equal(root.children.length, 1, 'more than one root element');
      if (!selfClose) stack.push(el);
    }
    rest = rest.slice(all.length);
  }
  assert.equal(stack.length, 1, `unclosed <${stack[stack.length - 1]!.name}>`);
  assert.equal(root.children.length, 1, 'no root element');
  return root.children[0]!;
}

function loadSarifValidator(): ((data: unknown) => boolean) & { errors?: unknown } {
  const file = path.join(__dirname, 'fixtures', 'sarif', 'sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  // Draft-04 → draft-07: only the root id keyword is spelled differently (see fixtures/sarif/SOURCE.md).
  schema.$id = schema.id;
  delete schema.id;
  delete schema.$schema;
  // The schema's `language` pattern has a stray `]` that only non-unicode regular expressions accept.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe('text writer', () => {
  it('prints path:line:col severity message [code], 1-based, then a summary', () => {
    const out = textWriter().write(sampleReport());
    const lines = out.trimEnd().split('\n');
    assert.equal(lines[0], 'a/one.contract.yaml:3:1 error missing required field `schema` in `output` [missing-field]');
    assert.equal(lines[2], 'a/one.contract.yaml:10:1 warning this contract has no examples [examples-empty]');
    assert.equal(lines[3], 'a/one.contract.yaml:12:41 information no example expects "other" at /label [coverage-enum-unexercised]');
    assert.equal(lines[4], 'a/one.contract.yaml:13:5 hint decoding produces only the listed ones [grammar-closed-object]');
    assert.equal(lines[5], 'c/ünï.contract.yaml:1:1 warning input `x` is never used [placeholder-unused-input]');
    assert.equal(lines[6], '2 errors, 2 warnings, 1 information, 1 hint in 3 files');
    assert.equal(lines.length, 7);
  });

  it('never lets a message send control characters to the terminal', () => {
    const out = textWriter().write(sampleReport());
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(out), 'no raw control characters without color');
    assert.match(out, /\\x07bell\\x1b\[31m/);
  });

  it('colors only when asked', () => {
    assert.ok(!textWriter({ color: false }).write(sampleReport()).includes('\x1b['));
    const colored = textWriter({ color: true }).write(sampleReport());
    assert.match(colored, /\x1b\[31merror\x1b\[0m/);
    assert.ok(colored.replace(/\x1b\[\d+m/g, '').includes('a/one.contract.yaml:3:1 error missing required field'));
  });

  it('says so when everything is clean, with singular words for one', () => {
    const r: Report = { tool: { name: 't', version: '1' }, root: '/', files: [{ file: 'x.contract.yaml', findings: [] }] };
    assert.equal(textWriter().write(r), '0 errors, 0 warnings, 0 information in 1 file\n');
  });

  it('lists failed and errored examples and counts cases', () => {
    const r: Report = {
      tool: { name: 't', version: '1' },
      root: '/',
      files: [
        {
          file: 'x.contract.yaml',
          findings: [],
          cases: [
            { name: 'ok', status: 'passed', range: range(20, 4, 20, 10) },
            { name: 'bad', status: 'failed', message: 'label: expected billing, got other', range: range(23, 4, 23, 11) },
            { name: 'boom', status: 'error', message: 'model not found' },
            { name: 'later', status: 'skipped' },
          ],
        },
      ],
    };
    const lines = textWriter().write(r).trimEnd().split('\n');
    assert.deepEqual(lines, [
      'x.contract.yaml:24:5 failed bad: label: expected billing, got other',
      'x.contract.yaml errored boom: model not found',
      '0 errors, 0 warnings, 0 information in 1 file; examples: 1 passed, 1 failed, 1 errored, 1 skipped',
    ]);
  });
});

describe('json writer', () => {
  it('prints one array of { file, range, severity, code, message } in report order', () => {
    const out = JSON.parse(jsonWriter().write(sampleReport())) as Record<string, unknown>[];
    assert.ok(Array.isArray(out));
    assert.equal(out.length, 6);
    for (const item of out) assert.deepEqual(Object.keys(item), ['file', 'range', 'severity', 'code', 'message']);
    assert.deepEqual(out[0], { file: 'a/one.contract.yaml', range: range(2, 0, 2, 6), severity: 'error', code: 'missing-field', message: 'missing required field `schema` in `output`' });
    assert.equal(out[5]!.file, 'c/ünï.contract.yaml');
    assert.deepEqual(
      out.map((x) => x.severity),
      ['error', 'error', 'warning', 'information', 'hint', 'warning'],
    );
  });

  it('prints [] for a clean run', () => {
    assert.equal(jsonWriter().write({ tool: { name: 't', version: '1' }, root: '/', files: [{ file: 'a', findings: [] }] }), '[]\n');
  });
});

describe('sarif writer', () => {
  const validate = loadSarifValidator();

  it('writes SARIF that validates against the 2.1.0 schema', () => {
    const log = JSON.parse(sarifWriter().write(sampleReport()));
    const ok = validate(log);
    assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  });

  it('the schema rejects what GitHub would reject (so validating means something)', () => {
    const log = JSON.parse(sarifWriter().write(sampleReport()));
    log.runs[0].results[0].level = 'information';
    assert.equal(validate(log), false);
    const log2 = JSON.parse(sarifWriter().write(sampleReport()));
    log2.runs[0].results[0].locations[0].physicalLocation.region.startLine = 0;
    assert.equal(validate(log2), false);
  });

  it('an empty report validates too', () => {
    const log = JSON.parse(sarifWriter().write({ tool: { name: 'prompt-contracts', version: '0.1.0' }, root: '/tmp', files: [] }));
    assert.ok(validate(log), JSON.stringify(validate.errors));
    assert.deepEqual(log.runs[0].results, []);
  });

  it('describes every code of the table as a rule, with title, explanation and level', () => {
    const log = JSON.parse(sarifWriter().write(sampleReport()));
    const driver = log.runs[0].tool.driver;
    assert.equal(driver.name, 'prompt-contracts');
    assert.equal(driver.version, '9.9.9');
    const ids = driver.rules.map((r: { id: string }) => r.id);
    for (const code of Object.keys(CODES)) assert.ok(ids.includes(code), `rule for ${code}`);
    assert.ok(ids.includes('file-unreadable'));
    const mf = driver.rules.find((r: { id: string }) => r.id === 'missing-field');
    assert.deepEqual(mf.shortDescription, { text: CODES['missing-field'].title });
    assert.deepEqual(mf.fullDescription, { text: CODES['missing-field'].explain });
    assert.deepEqual(mf.help, { text: CODES['missing-field'].explain });
    assert.deepEqual(mf.defaultConfiguration, { level: 'error' });
    const hint = driver.rules.find((r: { id: string }) => r.id === 'grammar-closed-object');
    assert.deepEqual(hint.defaultConfiguration, { level: 'note' });
  });

  it('puts each result on its file and 1-based region, relative to %SRCROOT%', () => {
    const log = JSON.parse(sarifWriter().write(sampleReport()));
    const run = log.runs[0];
    assert.deepEqual(run.originalUriBaseIds, { '%SRCROOT%': { uri: 'file:///work/repo/' } });
    const [first, , , info, hint, last] = run.results;
    assert.equal(first.ruleId, 'missing-field');
    assert.equal(run.tool.driver.rules[first.ruleIndex].id, 'missing-field');
    assert.equal(first.level, 'error');
    assert.deepEqual(first.message, { text: 'missing required field `schema` in `output`' });
    assert.deepEqual(first.locations[0].physicalLocation, {
      artifactLocation: { uri: 'a/one.contract.yaml', uriBaseId: '%SRCROOT%' },
      region: { startLine: 3, startColumn: 1, endLine: 3, endColumn: 7 },
    });
    assert.equal(info.level, 'note');
    assert.equal(hint.level, 'note');
    assert.equal(last.locations[0].physicalLocation.artifactLocation.uri, 'c/%C3%BCn%C3%AF.contract.yaml');
  });

  it('names codes outside the table (a later `run` command) and files outside the root', () => {
    const r = sampleReport();
    r.rules = { 'example-failed': { severity: 'error', title: 'Example failed', explain: 'The model output did not match.' } };
    r.files.push({ file: '../elsewhere/z.contract.yaml', findings: [{ code: 'example-failed', severity: 'error', message: 'label differs', range: range(5, 4, 5, 9) }] });
    const log = JSON.parse(sarifWriter().write(r));
    assert.ok(validate(log), JSON.stringify(validate.errors));
    const res = log.runs[0].results.at(-1);
    assert.equal(log.runs[0].tool.driver.rules[res.ruleIndex].shortDescription.text, 'Example failed');
    assert.deepEqual(res.locations[0].physicalLocation.artifactLocation, { uri: 'file:///work/elsewhere/z.contract.yaml' });
  });
});

describe('junit writer', () => {
  it('is well-formed XML with one suite and one `check` case per file', () => {
    const xml = junitWriter().write(sampleReport());
    assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
    const root = parseXml(xml);
    assert.equal(root.name, 'testsuites');
    assert.deepEqual(root.attrs, { name: 'prompt-contracts', tests: '3', failures: '1', errors: '0', skipped: '0' });
    assert.deepEqual(
      root.children.map((s) => s.attrs.name),
      ['a/one.contract.yaml', 'b two/clean.contract.yaml', 'c/ünï.contract.yaml'],
    );
    for (const suite of root.children) {
      assert.equal(suite.name, 'testsuite');
      assert.equal(suite.children.length, 1);
      const tc = suite.children[0]!;
      assert.equal(tc.name, 'testcase');
      assert.equal(tc.attrs.classname, suite.attrs.name);
      assert.equal(tc.attrs.name, 'check');
      assert.equal(tc.attrs.file, suite.attrs.name);
    }
  });

  it('fails a file with errors, listing them; warnings and hints go to system-out', () => {
    const root = parseXml(junitWriter().write(sampleReport()));
    const [a, b, c] = root.children.map((s) => s.children[0]!);
    assert.equal(a!.attrs.line, '3', 'the first error line, for annotating reporters');
    assert.equal(b!.attrs.line, undefined);
    const failure = a!.children.find((e) => e.name === 'failure')!;
    assert.ok(failure, 'a failure element');
    assert.match(failure.attrs.message!, /^2 errors: missing required field/);
    assert.deepEqual(failure.text.split('\n'), [
      'a/one.contract.yaml:3:1 error missing required field `schema` in `output` [missing-field]',
      'a/one.contract.yaml:5:3 error unknown key `<x & "y">` \\x07bell\\x1b[31m [unknown-key]',
    ]);
    const out = a!.children.find((e) => e.name === 'system-out')!;
    assert.match(out.text, /examples-empty/);
    assert.match(out.text, /grammar-closed-object/);
    assert.equal(b!.children.length, 0, 'a clean file is a passing case');
    assert.equal(c!.children.map((e) => e.name).join(), 'system-out', 'warnings alone do not fail');
    assert.equal(root.children[0]!.attrs.failures, '1');
    assert.equal(root.children[2]!.attrs.failures, '0');
  });

  it('escapes markup, quotes and control characters in attributes and text', () => {
    const r: Report = {
      tool: { name: 't', version: '1' },
      root: '/',
      files: [{ file: 'q"&<\'>.contract.yaml', findings: [{ code: 'yaml-syntax', severity: 'error', message: 'bad \u0000 \u001f \ud800 ]]> "q" \'a\' <b>&amp;\nnext\ttab', range: range(0, 0, 0, 1) }] }],
    };
    const xml = junitWriter().write(r);
    const root = parseXml(xml);
    const suite = root.children[0]!;
    assert.equal(suite.attrs.name, 'q"&<\'>.contract.yaml');
    const failure = suite.children[0]!.children[0]!;
    assert.equal(failure.attrs.message, '1 error: bad \\x00 \\x1f \ufffd ]]> "q" \'a\' <b>&amp;\nnext\ttab');
    assert.match(failure.text, /bad \\x00 \\x1f \ufffd \]\]> "q" 'a' <b>&amp;\nnext\ttab \[yaml-syntax\]$/);
  });

  it('writes one case per example for a run, keeping a check case when there are findings', () => {
    const r: Report = {
      tool: { name: 'prompt-contracts', version: '1' },
      root: '/',
      files: [
        {
          file: 'x.contract.yaml',
          findings: [],
          durationMs: 1234,
          cases: [
            { name: 'passes', status: 'passed', range: range(20, 4, 20, 10), durationMs: 500 },
            { name: 'fails', status: 'failed', message: 'label: expected billing, got other', details: '- billing\n+ other', range: range(23, 4, 23, 11), durationMs: 700 },
            { name: 'errs', status: 'error', message: 'model not found' },
            { name: 'skips', status: 'skipped', message: 'tag filter' },
          ],
        },
        { file: 'y.contract.yaml', findings: [{ code: 'examples-empty', severity: 'warning', message: 'no examples', range: range(0, 0, 0, 1) }], cases: [] },
      ],
    };
    const root = parseXml(junitWriter().write(r));
    assert.deepEqual(root.attrs, { name: 'prompt-contracts', tests: '5', failures: '1', errors: '1', skipped: '1' });
    const [x, y] = root.children;
    assert.equal(x!.attrs.time, '1.234');
    assert.deepEqual(
      x!.children.map((c) => c.attrs.name),
      ['passes', 'fails', 'errs', 'skips'],
    );
    const fails = x!.children[1]!;
    assert.equal(fails.attrs.line, '24');
    assert.equal(fails.attrs.time, '0.700');
    assert.equal(fails.children[0]!.name, 'failure');
    assert.equal(fails.children[0]!.text, '- billing\n+ other');
    assert.equal(x!.children[2]!.children[0]!.name, 'error');
    assert.equal(x!.children[3]!.children[0]!.name, 'skipped');
    assert.deepEqual(
      y!.children.map((c) => c.attrs.name),
      ['check'],
    );
  });

  it('an empty report is still a document', () => {
    const root = parseXml(junitWriter().write({ tool: { name: 'prompt-contracts', version: '1' }, root: '/', files: [] }));
    assert.equal(root.attrs.tests, '0');
  });
});

describe('writerFor', () => {
  it('returns the writer of each format', () => {
    for (const f of ['text', 'json', 'junit', 'sarif'] as const) assert.equal(writerFor(f).format, f);
  });

  it('summarize counts each severity and case status', () => {
    const s = summarize(sampleReport());
    assert.deepEqual(s, { files: 3, errors: 2, warnings: 2, information: 1, hints: 1, cases: { passed: 0, failed: 0, error: 0, skipped: 0 } });
  });
});
