// `contracts check` as a real process in temporary folders: discovery, formats, exit codes, bad input.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { checkFiles } from '../server/src/cli/check-files';
import { checkCommand } from '../server/src/cli/check-command';
import { CHECK_WORKER, checkFilesParallel, type CheckWorkerData } from '../server/src/cli/parallel';

const REPO = path.resolve(__dirname, '..');
const MAIN = path.join(REPO, 'server', 'src', 'cli', 'main.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;

const roots: string[] = [];

// The CLI is bundled once, as esbuild.mjs bundles dist/cli.js, so each run starts like the real bin
// (and in a fraction of the time tsx needs to compile the sources in every process).
let bundle: string | undefined;
before(async () => {
  const esbuild = await import('esbuild');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-cli-bundle-'));
  roots.push(out);
  await esbuild.build({
    entryPoints: { cli: MAIN },
    outdir: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*'],
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'silent',
  });
  bundle = path.join(out, 'cli.js');
});

const CLEAN = `contract: triage
prompt:
  system: Answer with JSON only.
  user: |
    Rate the urgency as low or high. Give the field urgency.
    Ticket: {{ticket}}
output:
  schema:
    type: object
    additionalProperties: false
    required: [urgency]
    properties:
      urgency: { enum: [low, high] }
examples:
  - name: outage
    input: { ticket: "The server is down." }
    expected: { urgency: high }
  - name: typo
    input: { ticket: "A typo on the page." }
    expected: { urgency: low }
`;
/** `sytem` on line 3, column 3: an unknown-key error. */
const ERROR = CLEAN.replace('  system:', '  sytem:');
/** An input no placeholder uses: one warning, on line 19. */
const WARNING = CLEAN.replace('input: { ticket: "A typo on the page." }', 'input: { ticket: "A typo on the page.", extra: 1 }');
/** An enum value no example expects and the prompt never names: two information hints. */
const INFO = CLEAN.replace('urgency: { enum: [low, high] }', 'urgency: { enum: [low, high, medium] }');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(cwd: string, args: string[], env: Record<string, string> = {}, fromSource = false): Run {
  const entry = bundle && !fromSource ? [bundle] : ['--import', TSX, MAIN];
  const r = spawnSync(process.execPath, [...entry, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', ...env } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tree(files: Record<string, string | Buffer>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-cli-'));
  roots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
  return root;
}

after(() => {
  for (const r of roots) {
    for (const p of [r, ...walkAll(r)]) {
      try {
        fs.chmodSync(p, 0o755);
      } catch {
        // links and gone files
      }
    }
    fs.rmSync(r, { recursive: true, force: true });
  }
});

function walkAll(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      out.push(p);
      if (e.isDirectory()) out.push(...walkAll(p));
    }
  } catch {
    // unreadable
  }
  return out;
}

function jsonFiles(r: Run): string[] {
  return [...new Set((JSON.parse(r.stdout) as { file: string }[]).map((x) => x.file))];
}

/** Files a run checked, from the JUnit output (one suite per file, clean ones included). */
function checkedFiles(cwd: string, args: string[]): { code: number | null; files: string[]; stderr: string } {
  const r = cli(cwd, [args[0]!, '--format', 'junit', ...args.slice(1)]);
  const files = [...r.stdout.matchAll(/<testsuite name="([^"]*)"/g)].map((m) => m[1]!);
  return { code: r.code, files, stderr: r.stderr };
}

describe('contracts check: exit codes and text output', () => {
  let dir: string;
  before(() => {
    dir = tree({ 'clean.contract.yaml': CLEAN, 'sub/error.contract.yaml': ERROR, 'warn.contract.yaml': WARNING, 'info.contract.yaml': INFO });
  });

  it('exits 0 when there is no error, with a summary line', () => {
    const r = cli(dir, ['check', 'clean.contract.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0 errors, 0 warnings, 0 information in 1 file\n');
  });

  it('exits 0 with warnings and information only', () => {
    const r = cli(dir, ['check', 'warn.contract.yaml', 'info.contract.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^warn\.contract\.yaml:19:\d+ warning input `extra` is never used.* \[placeholder-unused-input\]$/m);
    assert.match(r.stdout, /^info\.contract\.yaml:13:\d+ information .* \[coverage-enum-unexercised\]$/m);
    assert.match(r.stdout, /^0 errors, 1 warning, 2 information in 2 files$/m);
  });

  it('exits 1 on an error and prints path:line:col severity message [code]', () => {
    const r = cli(dir, ['check']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^sub\/error\.contract\.yaml:3:3 error unknown key `sytem` in `prompt`; did you mean `system`\? \[unknown-key\]$/m);
    assert.match(r.stdout, /^1 error, 1 warning, 2 information in 4 files$/m);
    assert.ok(!r.stdout.includes('\x1b['), 'no colors when stdout is not a terminal');
  });

  it('--no-coverage drops the information hints', () => {
    const r = cli(dir, ['check', '--no-coverage', 'info.contract.yaml']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '0 errors, 0 warnings, 0 information in 1 file\n');
  });

  it('--max-warnings fails the run when there are more warnings than allowed', () => {
    assert.equal(cli(dir, ['check', '--max-warnings', '1', 'warn.contract.yaml']).code, 0);
    const r = cli(dir, ['check', '--max-warnings=0', 'warn.contract.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /1 warnings, more than --max-warnings 0/);
  });

  it('exits 2 on usage errors and says which', () => {
    const cases: [string[], RegExp][] = [
      [['check', '--frobnicate'], /unknown option '--frobnicate'/],
      [['check', '--format', 'xml'], /unknown format 'xml'; use one of text, json, junit, sarif/],
      [['check', '--format'], /option '.*format.*' needs a value/],
      [['check', '--max-warnings', 'many'], /--max-warnings takes a whole number/],
      [['check', 'nope.contract.yaml'], /no such file or folder: 'nope\.contract\.yaml'/],
      [['check', 'clean.contract.yaml', 'missing/'], /no such file or folder: 'missing\/'/],
      [['check', 'zzz*.contract.yaml'], /no files match the pattern 'zzz\*\.contract\.yaml'/],
      [['frob'], /unknown command 'frob'/],
      [['--frob'], /unknown option '--frob'/],
      [[], /Usage: contracts <command>/],
    ];
    for (const [args, message] of cases) {
      const r = cli(dir, args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')} prints no report`);
    }
  });

  it('runs from the sources too (node --import tsx main.ts)', () => {
    const r = cli(dir, ['check', 'sub'], {}, true);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^sub\/error\.contract\.yaml:3:3 error/m);
  });

  it('--help and --version exit 0', () => {
    const help = cli(dir, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /check +check contracts statically/);
    const checkHelp = cli(dir, ['check', '--help']);
    assert.equal(checkHelp.code, 0);
    assert.match(checkHelp.stdout, /--format <text\|json\|junit\|sarif>/);
    const version = cli(dir, ['--version']);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), pkg.version);
  });
});

describe('contracts check: machine formats', () => {
  let dir: string;
  before(() => {
    dir = tree({ 'b/error.contract.yaml': ERROR, 'a/warn.contract.yaml': WARNING, 'a/clean.contract.yaml': CLEAN, 'c/broken yaml.contract.yaml': 'contract: [x\n' });
  });

  it('json: one array sorted by file then position, 0-based LSP ranges', () => {
    const r = cli(dir, ['check', '--format', 'json']);
    assert.equal(r.code, 1);
    const items = JSON.parse(r.stdout) as { file: string; range: { start: { line: number; character: number }; end: { line: number; character: number } }; severity: string; code: string; message: string }[];
    assert.deepEqual(jsonFiles(r), ['a/warn.contract.yaml', 'b/error.contract.yaml', 'c/broken yaml.contract.yaml']);
    for (const x of items) {
      assert.deepEqual(Object.keys(x), ['file', 'range', 'severity', 'code', 'message']);
      assert.ok(['error', 'warning', 'information', 'hint'].includes(x.severity));
      assert.ok(Number.isInteger(x.range.start.line) && x.range.start.line >= 0);
    }
    const err = items.find((x) => x.file === 'b/error.contract.yaml')!;
    assert.deepEqual(err.range, { start: { line: 2, character: 2 }, end: { line: 2, character: 7 } });
    assert.equal(err.code, 'unknown-key');
    for (let i = 1; i < items.length; i++) {
      const a = items[i - 1]!;
      const b = items[i]!;
      assert.ok(a.file < b.file || (a.file === b.file && (a.range.start.line < b.range.start.line || (a.range.start.line === b.range.start.line && a.range.start.character <= b.range.start.character))), 'sorted');
    }
  });

  it('sarif: relative uris under %SRCROOT%, 1-based regions, version from package.json', () => {
    const r = cli(dir, ['check', '--format', 'sarif']);
    assert.equal(r.code, 1);
    const log = JSON.parse(r.stdout);
    assert.equal(log.version, '2.1.0');
    const run = log.runs[0];
    assert.equal(run.tool.driver.name, 'prompt-contracts');
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(run.tool.driver.version, pkg.version);
    assert.equal(run.originalUriBaseIds['%SRCROOT%'].uri, pathToFileURL(dir).href + '/');
    const err = run.results.find((x: { ruleId: string }) => x.ruleId === 'unknown-key');
    assert.deepEqual(err.locations[0].physicalLocation, {
      artifactLocation: { uri: 'b/error.contract.yaml', uriBaseId: '%SRCROOT%' },
      region: { startLine: 3, startColumn: 3, endLine: 3, endColumn: 8 },
    });
    assert.ok(run.results.some((x: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => x.locations[0]!.physicalLocation.artifactLocation.uri === 'c/broken%20yaml.contract.yaml'));
  });

  it('junit: a suite and a check case per file, failures only for errors', () => {
    const r = cli(dir, ['check', '--format', 'junit']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="prompt-contracts" tests="4" failures="2" errors="0" skipped="0">/);
    assert.equal([...r.stdout.matchAll(/<testsuite /g)].length, 4);
    assert.equal([...r.stdout.matchAll(/<testcase classname="[^"]+" name="check" file="[^"]+"/g)].length, 4);
    assert.match(r.stdout, /<testcase classname="b\/error\.contract\.yaml" name="check" file="b\/error\.contract\.yaml" line="3">/);
    assert.match(r.stdout, /<testcase classname="a\/clean\.contract\.yaml" name="check" file="a\/clean\.contract\.yaml"\/>/);
    assert.match(r.stdout, /<failure message="1 error: unknown key `sytem`[^"]*" type="contract-check">b\/error\.contract\.yaml:3:3 error unknown key/);
    assert.match(r.stdout, /<system-out>a\/warn\.contract\.yaml:19:\d+ warning input `extra`/);
    assert.equal([...r.stdout.matchAll(/<failure /g)].length, 2);
    assert.ok(r.stdout.trimEnd().endsWith('</testsuites>'));
  });
});

describe('contracts check: which files', () => {
  let dir: string;
  before(() => {
    dir = tree({
      'top.contract.yaml': CLEAN,
      'deep/er/nested.contract.yaml': CLEAN,
      'notes.yaml': 'not: a contract\n',
      'node_modules/pkg/x.contract.yaml': ERROR,
      '.hidden/x.contract.yaml': ERROR,
      '.dot.contract.yaml': ERROR,
      'samples/good.contract.yaml': CLEAN,
      'samples/broken/bad.contract.yaml': ERROR,
      'samples/broken/worse.contract.yaml': ERROR,
      'samples/broken/nested/bad3.contract.yaml': ERROR,
      'gen/out.contract.yaml': ERROR,
      'logs/a/x.contract.yaml': ERROR,
      'keep/ignored.contract.yaml': ERROR,
      'keep/kept.contract.yaml': CLEAN,
      '.gitignore': '# generated\ngen/\n/logs\nkeep/*.contract.yaml\n!keep/kept.contract.yaml\n',
      'sub/.gitignore': 'local.contract.yaml\n',
      'sub/local.contract.yaml': ERROR,
      'sub/other.contract.yaml': CLEAN,
      'g1.contract.yaml': CLEAN,
      'g2.contract.yaml': CLEAN,
      'g10.contract.yaml': CLEAN,
    });
  });

  it('by default: every *.contract.yaml below, skipping node_modules, dot-folders, broken and ignored folders', () => {
    const r = checkedFiles(dir, ['check']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.files, [
      'deep/er/nested.contract.yaml',
      'g1.contract.yaml',
      'g10.contract.yaml',
      'g2.contract.yaml',
      'keep/kept.contract.yaml',
      'samples/good.contract.yaml',
      'sub/other.contract.yaml',
      'top.contract.yaml',
    ]);
  });

  it('a folder named on the command line is searched the same way (broken skipped inside it)', () => {
    const r = checkedFiles(dir, ['check', 'samples']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.files, ['samples/good.contract.yaml']);
  });

  it('samples/broken named explicitly is checked, nested folders included', () => {
    const r = checkedFiles(dir, ['check', 'samples/broken']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.files, ['samples/broken/bad.contract.yaml', 'samples/broken/nested/bad3.contract.yaml', 'samples/broken/worse.contract.yaml']);
  });

  it('a file inside broken, node_modules, a dot-folder or an ignored folder is checked when named', () => {
    const r = checkedFiles(dir, ['check', 'samples/broken/bad.contract.yaml', 'node_modules/pkg/x.contract.yaml', '.hidden/x.contract.yaml', 'gen/out.contract.yaml', 'sub/local.contract.yaml']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.files, ['.hidden/x.contract.yaml', 'gen/out.contract.yaml', 'node_modules/pkg/x.contract.yaml', 'samples/broken/bad.contract.yaml', 'sub/local.contract.yaml']);
  });

  it('globs: *, ? and ** (which skips what a search skips)', () => {
    assert.deepEqual(checkedFiles(dir, ['check', 'g?.contract.yaml']).files, ['g1.contract.yaml', 'g2.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', 'g*.contract.yaml']).files, ['g1.contract.yaml', 'g10.contract.yaml', 'g2.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', 'samples/**/*.contract.yaml']).files, ['samples/good.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', '**/nested.contract.yaml']).files, ['deep/er/nested.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', 'deep/**']).files, ['deep/er/nested.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', '*/*.contract.yaml']).files, ['keep/kept.contract.yaml', 'samples/good.contract.yaml', 'sub/other.contract.yaml']);
  });

  it('a glob whose literal part names broken reads it', () => {
    const r = checkedFiles(dir, ['check', 'samples/broken/*.contract.yaml']);
    assert.deepEqual(r.files, ['samples/broken/bad.contract.yaml', 'samples/broken/worse.contract.yaml']);
    assert.deepEqual(checkedFiles(dir, ['check', 'samples/broken/**/bad*.contract.yaml']).files, ['samples/broken/bad.contract.yaml', 'samples/broken/nested/bad3.contract.yaml']);
  });

  it('each file is checked once, however many arguments name it', () => {
    assert.deepEqual(checkedFiles(dir, ['check', 'top.contract.yaml', './top.contract.yaml', 't*.contract.yaml', path.join(dir, 'top.contract.yaml')]).files, ['top.contract.yaml']);
  });

  it('an absolute glob works from any folder', () => {
    const other = tree({});
    const r = checkedFiles(other, ['check', path.join(dir, 'g?.contract.yaml')]);
    assert.equal(r.code, 0);
    assert.deepEqual(
      r.files.map((f) => path.basename(f)),
      ['g1.contract.yaml', 'g2.contract.yaml'],
    );
  });
});

describe('contracts check: bad input never crashes or hangs', () => {
  it('a binary file, invalid UTF-8, a too-large file and an empty file are findings', () => {
    const dir = tree({
      'bin.contract.yaml': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]),
      'latin1.contract.yaml': Buffer.from('contract: caf\xe9\n', 'latin1'),
      'big.contract.yaml': 'contract: x\n' + '# padding\n'.repeat(1_050_000),
      'empty.contract.yaml': '',
    });
    const r = cli(dir, ['check', '--format', 'json']);
    assert.equal(r.code, 1);
    const items = JSON.parse(r.stdout) as { file: string; code: string; message: string }[];
    const by = (f: string) => items.filter((x) => x.file === f).map((x) => x.code);
    assert.deepEqual(by('bin.contract.yaml'), ['file-binary']);
    assert.deepEqual(by('latin1.contract.yaml'), ['file-binary']);
    assert.deepEqual(by('big.contract.yaml'), ['file-too-large']);
    assert.match(items.find((x) => x.file === 'big.contract.yaml')!.message, /10\.0 MB, over the 8\.0 MB limit/);
    assert.deepEqual(by('empty.contract.yaml'), ['wrong-type']);
    const small = cli(dir, ['check', '--format', 'json', '--max-file-bytes', '4', 'latin1.contract.yaml']);
    assert.deepEqual((JSON.parse(small.stdout) as { code: string }[]).map((x) => x.code), ['file-too-large']);
  });

  it('a folder named x.contract.yaml is searched, not read', () => {
    const dir = tree({ 'x.contract.yaml/inner.contract.yaml': CLEAN, 'empty.contract.yaml/.keep': '' });
    const r = checkedFiles(dir, ['check']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.files, ['x.contract.yaml/inner.contract.yaml']);
    const named = cli(dir, ['check', 'empty.contract.yaml']);
    assert.equal(named.code, 0);
    assert.match(named.stderr, /no \*\.contract\.yaml files found/);
  });

  it('symbolic link loops and broken links: a note or a finding, no hang', { skip: process.platform === 'win32' }, () => {
    const dir = tree({ 'real/a.contract.yaml': CLEAN });
    fs.symlinkSync('..', path.join(dir, 'real', 'up'));
    fs.symlinkSync('.', path.join(dir, 'real', 'self'));
    fs.symlinkSync('nowhere.contract.yaml', path.join(dir, 'dangling.contract.yaml'));
    fs.symlinkSync('loop2.contract.yaml', path.join(dir, 'loop1.contract.yaml'));
    fs.symlinkSync('loop1.contract.yaml', path.join(dir, 'loop2.contract.yaml'));
    fs.symlinkSync('real', path.join(dir, 'linked'));
    const outside = tree({ 'shared/ext.contract.yaml': WARNING });
    fs.symlinkSync(path.join(outside, 'shared'), path.join(dir, 'shared'));
    const walked = checkedFiles(dir, ['check']);
    assert.deepEqual(walked.files, ['dangling.contract.yaml', 'loop1.contract.yaml', 'loop2.contract.yaml', 'real/a.contract.yaml', 'shared/ext.contract.yaml'], 'a link out of the tree is followed, one within it is not walked twice');
    const r = cli(dir, ['check', '--format', 'json']);
    assert.equal(r.code, 1);
    const items = JSON.parse(r.stdout) as { file: string; code: string; message: string }[];
    const unreadable = items.filter((x) => x.code === 'file-unreadable');
    assert.deepEqual(unreadable.map((x) => x.file).sort(), ['dangling.contract.yaml', 'loop1.contract.yaml', 'loop2.contract.yaml']);
    assert.match(unreadable.find((x) => x.file === 'dangling.contract.yaml')!.message, /broken symbolic link/);
    assert.match(unreadable.find((x) => x.file === 'loop1.contract.yaml')!.message, /symbolic links/);
    assert.match(r.stderr, /real\/up: a symbolic link back to \. \(a loop\)/);
    assert.match(r.stderr, /real\/self: a symbolic link back to real \(a loop\)/);
  });

  it('an unreadable file is a finding and an unreadable folder a note', () => {
    const dir = tree({ 'locked.contract.yaml': CLEAN, 'closed/x.contract.yaml': CLEAN, 'ok.contract.yaml': CLEAN });
    fs.chmodSync(path.join(dir, 'locked.contract.yaml'), 0o000);
    fs.chmodSync(path.join(dir, 'closed'), 0o000);
    // Root reads everything: as root, run the CLI as nobody so that permissions apply.
    let r: Run;
    if (process.getuid?.() === 0) {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(path.join(dir, 'ok.contract.yaml'), 0o644);
      if (bundle) fs.chmodSync(path.dirname(bundle), 0o755);
      const entry = bundle ? [bundle] : ['--import', TSX, MAIN];
      const p = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...entry, 'check', '--format', 'json'], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', HOME: dir } });
      if (p.error) throw p.error;
      r = { code: p.status, stdout: p.stdout, stderr: p.stderr };
    } else r = cli(dir, ['check', '--format', 'json']);
    assert.equal(r.code, 1);
    const items = JSON.parse(r.stdout) as { file: string; code: string; message: string }[];
    assert.deepEqual(items.map((x) => [x.file, x.code]), [['locked.contract.yaml', 'file-unreadable']]);
    assert.match(items[0]!.message, /permission denied/);
    assert.match(r.stderr, /cannot read folder closed: permission denied/);
  });

  it('a named pipe is reported, never opened', { skip: process.platform === 'win32' }, () => {
    const dir = tree({ 'ok.contract.yaml': CLEAN });
    const fifo = path.join(dir, 'pipe.contract.yaml');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status !== 0) return;
    const walked = checkedFiles(dir, ['check']);
    assert.deepEqual(walked.files, ['ok.contract.yaml'], 'a search passes pipes by');
    const r = cli(dir, ['check', '--format', 'json', 'pipe.contract.yaml']);
    assert.equal(r.code, 1);
    const items = JSON.parse(r.stdout) as { code: string; message: string }[];
    assert.equal(items[0]!.code, 'file-unreadable');
    assert.match(items[0]!.message, /not a regular file/);
  });
});

describe('contracts check: one engine, many files', () => {
  it('checkCommand in process returns the exit code and writes through io', async () => {
    const dir = tree({ 'a.contract.yaml': CLEAN, 'b.contract.yaml': ERROR });
    let out = '';
    let err = '';
    const code = await checkCommand(['--format', 'json'], { cwd: dir, stdout: (s) => (out += s), stderr: (s) => (err += s) });
    assert.equal(code, 1, err);
    assert.deepEqual(
      (JSON.parse(out) as { file: string }[]).map((x) => x.file),
      ['b.contract.yaml'],
    );
    let colored = '';
    await checkCommand(['b.contract.yaml'], { cwd: dir, stdout: (s) => (colored += s), stderr: () => {}, color: true });
    assert.match(colored, /\x1b\[31merror\x1b\[0m/);
    assert.equal(await checkCommand(['--nope'], { cwd: dir, stdout: () => {}, stderr: () => {} }), 2);
  });

  it('parallel checking gives the same report as one thread, and survives a worker that cannot start', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 480; i++) files[`m/f${String(i).padStart(3, '0')}.contract.yaml`] = i % 97 === 5 ? ERROR : i % 50 === 7 ? WARNING : CLEAN;
    const dir = tree(files);
    const list = Object.keys(files).map((f) => path.join(dir, f));
    const opts = { root: dir };
    const serial = checkFiles(list, opts);
    const stats = { workers: 0, checkedByWorkers: 0 };
    // The bundle starts a worker in ~0.1 s; from the sources, tsx needs longer than the whole job.
    assert.deepEqual(await checkFilesParallel(list, opts, bundle ?? MAIN, stats), serial);
    if (os.availableParallelism() > 1) assert.equal(stats.workers, Math.min(os.availableParallelism() - 1, 3));
    const failed = { workers: 0, checkedByWorkers: 0 };
    assert.deepEqual(await checkFilesParallel(list, opts, path.join(dir, 'no-such-worker.js'), failed), serial);
    assert.equal(failed.checkedByWorkers, 0);
    const r = cli(dir, ['check', '--format', 'json']);
    assert.equal(r.code, 1);
    const expected = Object.keys(files).filter((f) => files[f] !== CLEAN).sort();
    assert.equal(expected.length, 15);
    assert.deepEqual(jsonFiles(r), expected);
    // and the same from the sources, where the worker registers tsx itself
    assert.deepEqual(await checkFilesParallel(list, opts, MAIN), serial);
  });
});

describe('contracts check: the worker entry', () => {
  async function runWorker(script: string, files: string[], root: string): Promise<Map<number, unknown>> {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const data: CheckWorkerData = { kind: CHECK_WORKER, files, opts: { root }, counter };
    const got = new Map<number, unknown>();
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(script, { workerData: data });
      w.on('message', (m: { done: boolean; results?: [number, unknown][] }) => {
        for (const [i, r] of m.results ?? []) got.set(i, r);
        if (m.done) resolve();
      });
      w.on('error', reject);
      w.on('exit', (code) => (code ? reject(new Error(`worker exited with ${code}`)) : resolve()));
    });
    return got;
  }

  it('the bundled bin, started as a check worker, checks every file it claims and reports them', async () => {
    assert.ok(bundle, 'the bundle was built');
    const dir = tree({ 'a.contract.yaml': CLEAN, 'b.contract.yaml': ERROR, 'c.contract.yaml': WARNING });
    const files = ['a', 'b', 'c'].map((f) => path.join(dir, `${f}.contract.yaml`));
    const got = await runWorker(bundle!, files, dir);
    assert.deepEqual([...got.keys()].sort(), [0, 1, 2]);
    assert.deepEqual(got.get(1), checkFiles([files[1]!], { root: dir })[0]);
  });
});

describe('contracts check: the samples', () => {
  const samples = path.join(REPO, 'samples');
  it('samples/*.contract.yaml check clean', () => {
    const r = cli(REPO, ['check', '--format', 'json', 'samples']);
    assert.equal(r.stdout.trim(), '[]', `findings in the samples:\n${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
  });

  it('samples/broken is checked only when named, and fails', () => {
    const broken = fs.readdirSync(path.join(samples, 'broken')).filter((f) => f.endsWith('.contract.yaml'));
    const r = checkedFiles(REPO, ['check', 'samples/broken']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.files, broken.map((f) => `samples/broken/${f}`).sort());
    assert.ok(!checkedFiles(REPO, ['check', 'samples']).files.some((f) => f.includes('/broken/')));
  });
});
