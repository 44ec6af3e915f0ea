import * as path from 'node:path';
import { RUN_CODES } from '../core/codes';
import type { CheckResult } from '../core/check';
import type { Range } from '../core/findings';
import { instancePath } from '../core/schema-walk';
import { valueRange, type Path } from '../core/yaml-source';
import { runContract, scriptedSource, type ContractRunResult, type ExampleResult, type ModelSource, type RunProgress } from '../runtime/engine';
import { llamaSource } from '../runtime/llama-runner';
import { disposeSharedLlama, ModelManager } from '../runtime/models';
import { ScriptedRunner } from '../runtime/runner';
import { fmtMs, pct } from '../core/stats';
import { EXIT_ERRORS, EXIT_OK, EXIT_USAGE, type CommandIO } from './check-command';
import { diskHost } from './check-files';
import { cliModelSetup, findContracts, loadContract, MODEL_RUN_OPTIONS, modelRunArgs, parseCommandArgs, parseOrExit, runnable, UsageError, type LoadedContract } from './command-common';
import { junitWriter, sarifWriter } from './formats';
import { oneLine } from './formats/text';
import type { FileReport, Format, Report, ReportCase, ReportFinding } from './report';
import { TOOL } from './tool';
import { llamaScorers, RunDrift } from './drift-command';
import { reportPathProblem, runReportModel, writeHtmlReport } from './html-report';
import type { ScorerSource } from '../runtime/drift';

export const RUN_USAGE = `Usage: contracts run [options] [paths...]

Runs the examples of contracts on the local model and judges every output: it must be JSON
that matches the output schema and the expected value. Paths are found as for 'contracts check'.
Contracts with static errors are reported and not run. Latencies are measured on this machine.

Options:
  -m, --model <FILE|URI>   run every contract with this GGUF file (or hf:/https URI)
  -q, --quant <Q>          run this quantization (default: each contract's first, its reference)
      --repeat <n>         measured runs per example (default: the contract's run.repeat)
      --warmup <n>         unmeasured runs before timing (default: the contract's run.warmup)
      --no-cache           run unchanged examples again (the cache stores outputs, never latencies)
      --update-baseline    write <name>.baseline.json next to each contract (outputs, verdicts and
                           latencies of every quantization it lists), to commit; without it,
                           answers are compared with that file when there is one
      --free               decode without the grammar compiled from the output schema
      --max-tokens <n>     cap every contract's maxTokens (a quick smoke run; cut outputs
                           are reported truncated)
      --offline            never download a model
      --threads <n>        CPU threads (default: the number of physical cores)
  -f, --format <text|json|junit|sarif>  output format (default: text)
      --report <FILE.html> also write a self-contained HTML report there: latency histograms
                           per quantization (p50/p95, budgets), time to first token, tokens/s,
                           failing fields by verdict, the drift matrix; no network, no script
      --trace-dir <DIR>    where traces go (default: .contracts/traces)
      --cache-dir <DIR>    where cached outputs go (default: .contracts/cache)
      --runner scripted:<FILE>  testing aid: answer from a JSON script instead of a model
                           ({"<contract>": {"<example>": "<output>" | {output, latencyMs, ...}}})
  -h, --help               show this help

Exit status: 0 every contract passed its budgets (every example passed when it sets no
passRate), 1 a contract failed, was not run or its model could not be had, 2 usage error.
`;

interface RunArgs {
  paths: string[];
  model?: string;
  quant?: string;
  repeat?: number;
  warmup?: number;
  noCache: boolean;
  free: boolean;
  maxTokens?: number;
  offline: boolean;
  threads?: number;
  format: Format;
  traceDir: string;
  cacheDir: string;
  runner?: string;
  updateBaseline: boolean;
  /** --report: where the HTML report goes. */
  report?: string;
}



function parseRunArgs(args: string[]): RunArgs | 'help' {
  const parsed = parseCommandArgs(args, {
    model: { type: 'string', short: 'm' },
    quant: { type: 'string', short: 'q' },
    free: { type: 'boolean' },
    'update-baseline': { type: 'boolean' },
    report: { type: 'string' },
    ...MODEL_RUN_OPTIONS,
  } as const);
  const v = parsed.values;
  if (v.help) return 'help';
  const common = modelRunArgs(v);
  if (v.runner !== undefined && v.model !== undefined) throw new UsageError('--runner and --model cannot be combined');
  if (v.quant !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v.quant)) throw new UsageError(`--quant takes a quantization name such as Q8_0, not '${v.quant}'`);
  if (v.model !== undefined && !v.model.trim()) throw new UsageError('--model needs a file path or URI');
  if (v.report !== undefined && !v.report.trim()) throw new UsageError('--report needs a file name (FILE.html)');
  if (v['update-baseline'] && (v.quant !== undefined || v.model !== undefined)) throw new UsageError('--update-baseline records every quantization a contract lists; it cannot be combined with --quant or --model');
  return {
    paths: parsed.positionals,
    model: v.model,
    quant: v.quant,
    ...common,
    free: !!v.free,
    updateBaseline: !!v['update-baseline'],
    ...(v.report !== undefined ? { report: v.report } : {}),
  };
}


const CODE_FOR: Partial<Record<ExampleResult['verdict']['kind'], keyof typeof RUN_CODES>> = {
  'wrong-value': 'run-wrong-value',
  'schema-mismatch': 'run-schema-mismatch',
  'invalid-json': 'run-invalid-json',
  truncated: 'run-truncated',
  error: 'run-error',
};


/** Creates the model source: the scripted testing aid, or the ModelManager (node-llama-cpp itself is loaded only when a model is). */
async function makeSource(a: RunArgs, io: CommandIO): Promise<{ source: ModelSource; scorers?: ScorerSource; dispose(): Promise<void> }> {
  if (a.runner) {
    const file = path.resolve(io.cwd, a.runner.slice('scripted:'.length));
    let runner;
    try {
      runner = ScriptedRunner.fromFile(file);
    } catch (e) {
      throw new UsageError(`cannot read the script ${file}: ${(e as Error).message}`);
    }
    return { source: scriptedSource(runner), dispose: async () => {} };
  }
  const setup = cliModelSetup('run', a, io);
  const manager = new ModelManager(setup.manager);
  const source = llamaSource(manager, {
    ...(a.model ? { modelOverride: a.model, modelOverrideBaseDir: io.cwd } : {}),
    resolve: { onProgress: setup.onProgress },
  });
  return {
    source,
    scorers: llamaScorers(manager),
    async dispose() {
      await manager.dispose();
      await disposeSharedLlama();
    },
  };
}

export async function runCommand(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('run', args, parseRunArgs, RUN_USAGE, io, { ok: EXIT_OK, usage: EXIT_USAGE });
  if (typeof a === 'number') return a;
  const reportFile = a.report !== undefined ? path.resolve(io.cwd, a.report) : undefined;
  const reportProblem = reportFile && reportPathProblem(reportFile);
  if (reportProblem) {
    io.stderr(`contracts run: ${reportProblem}\n`);
    return EXIT_USAGE;
  }
  const found = findContracts('run', a.paths, io, { usage: EXIT_USAGE, errors: EXIT_ERRORS });
  if (found.exit !== undefined) return found.exit;

  const host = diskHost(io.cwd);
  const loaded = found.files.map((f) => loadContract(f, io.cwd, host));
  const toRun = runnable(loaded);

  let made: { source: ModelSource; scorers?: ScorerSource; dispose(): Promise<void> } | undefined;
  const results = new Map<string, ContractRunResult>();
  let drift: RunDrift | undefined;
  if (toRun.length) {
    try {
      made = await makeSource(a, io);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.stderr(`contracts run: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const traceDir = path.resolve(io.cwd, a.traceDir);
    const cacheDir = path.resolve(io.cwd, a.cacheDir);
    // A model that could not be had is not tried again for the next contract that names the same one.
    const unavailable = new Map<string, string>();
    const modelKey = (l: LoadedContract): string => {
      const m = l.check!.contract!.model;
      const quant = a.quant ?? m.quantizations[0] ?? '';
      if (a.model) return `${a.model}|${quant}`;
      return m.file ? `${path.resolve(path.dirname(l.abs), m.file.replaceAll('{quant}', quant))}` : `${m.id}|${quant}`;
    };
    let firstModel = true;
    // Several quantizations: the others run and are compared (budgets.maxDrift); baselines (drift-command.ts).
    drift = new RunDrift({ updateBaseline: a.updateBaseline, ...(a.quant || a.model ? { quantOverride: a.quant ?? a.model } : {}), source: made.source, ...(made.scorers ? { scorers: made.scorers } : {}), root: io.cwd, run: { noCache: a.noCache, free: a.free, ...(a.repeat !== undefined ? { repeat: a.repeat } : {}), ...(a.warmup !== undefined ? { warmup: a.warmup } : {}), ...(a.maxTokens !== undefined ? { maxTokensCap: a.maxTokens } : {}), traceDir, cacheDir } });
    try {
      for (const l of toRun) {
        const onProgress = (e: RunProgress) => {
          if (e.kind === 'started' && firstModel) {
            firstModel = false;
            io.stderr(`contracts run: model ${e.model}\n`);
          }
        };
        const key = modelKey(l);
        const afterExample = drift.afterExample(l.check!, l.abs);
        const r: ContractRunResult = unavailable.has(key)
          ? { ...emptyResult(l), status: 'model-unavailable', reason: `the same model could not be had for an earlier contract: ${unavailable.get(key)!.split('\n')[0]}` }
          : await runContract(l.check!, {
              source: made.source,
              file: l.abs,
              ...(a.quant ? { quantization: a.quant } : {}),
              ...(a.repeat !== undefined ? { repeat: a.repeat } : {}),
              ...(a.warmup !== undefined ? { warmup: a.warmup } : {}),
              noCache: a.noCache,
              free: a.free,
              ...(a.maxTokens !== undefined ? { maxTokensCap: a.maxTokens } : {}),
              traceDir,
              cacheDir,
              onProgress,
              ...(afterExample ? { afterExample } : {}),
            });
        if (r.status === 'model-unavailable' && !unavailable.has(key) && !a.runner) {
          const reason = r.reason ?? 'the model could not be had';
          unavailable.set(key, reason);
          io.stderr(`contracts run: cannot get the model: ${reason}\ncontracts run: pass --model FILE to run with a GGUF file you have; the static checks below still ran.\n`);
        }
        results.set(l.abs, r);
        await drift.after(l.check!, l.abs, r);
      }
    } finally {
      await made.dispose();
    }
  }

  const warnings = new Set<string>();
  for (const r of results.values()) for (const w of r.warnings) warnings.add(w);
  for (const w of drift?.warnings ?? []) warnings.add(w);
  for (const w of warnings) io.stderr(`contracts run: ${w}\n`);

  io.stdout(render(a.format, loaded, results, io, drift));
  if (reportFile) {
    try {
      writeHtmlReport(reportFile, runReportModel(loaded, results, drift, new Date()));
      io.stderr(`contracts run: report written to ${reportFile}\n`);
    } catch (e) {
      io.stderr(`contracts run: cannot write the report ${reportFile}: ${(e as Error).message}\n`);
      return EXIT_ERRORS;
    }
  }
  const allPass = loaded.every((l) => results.get(l.abs)?.status === 'pass' && !drift?.failed(l.abs));
  return allPass ? EXIT_OK : EXIT_ERRORS;
}

function emptyResult(l: LoadedContract): ContractRunResult {
  return { contract: l.check?.contract?.contract ?? l.file, file: l.abs, status: 'not-run', quantization: '', decoding: 'constrained', grammarDropped: [], examples: [], judged: 0, passed: 0, budgets: [], cachedCount: 0, warnings: [], wallMs: 0 };
}

// --- output ------------------------------------------------------------------------------------

function staticFindings(l: LoadedContract): ReportFinding[] {
  const FILE_START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  if (l.unreadable) return [{ code: 'file-unreadable', severity: 'error', message: l.unreadable, range: FILE_START }];
  const c = l.check!;
  return c.findings.filter((f) => f.severity === 'error').map((f) => ({ code: f.code, severity: f.severity, message: f.message, range: c.lines.range(f.start, f.end) }));
}

function rangeAt(c: CheckResult, p: Path): Range | undefined {
  if (!c.source) return undefined;
  const [s, e] = valueRange(c.source, p);
  return c.lines.range(s, e);
}

function exampleRange(c: CheckResult, e: ExampleResult): Range | undefined {
  return rangeAt(c, ['examples', e.index, 'name']);
}

/** Where a failing example is reported: a wrong value on the field of `expected`, anything else on the example. */
function failureRange(c: CheckResult, e: ExampleResult): Range | undefined {
  const d = e.verdict.diffs?.find((x) => x.kind !== 'unexpected') ?? e.verdict.diffs?.[0];
  if (d) {
    const expected = c.contract?.examples[e.index]?.expected;
    return rangeAt(c, ['examples', e.index, 'expected', ...instancePath(expected, d.pointer)]);
  }
  return exampleRange(c, e);
}

function modelNote(r: ContractRunResult): string {
  return r.model ? `${r.model.label}${r.model.synthetic && !/SYNTHETIC/.test(r.model.label) ? ' (SYNTHETIC)' : ''}` : 'no model';
}

function verdictDetails(e: ExampleResult): string {
  const lines = [e.verdict.message];
  for (const d of e.verdict.diffs ?? []) lines.push(`  ${d.pointer || '/'}${d.actualPointer ? ` (output ${d.actualPointer})` : ''}: ${d.kind}${'expected' in d ? `, expected ${JSON.stringify(d.expected)}` : ''}${'actual' in d ? `, got ${JSON.stringify(d.actual)}` : ''}`);
  for (const s of e.verdict.schemaErrors ?? []) lines.push(`  ${s.pointer || '/'}: ${s.message} (${s.schemaPath})`);
  if (e.output !== undefined) lines.push(`output: ${e.output}`);
  return lines.join('\n');
}

/**
 * The report the shared writers print. Contract-level problems (static errors, missed budgets, not
 * run) are findings; each example is a case. For SARIF, failing examples are findings too, placed
 * on the field of `expected` that differs (or on the example's name).
 */
function toReport(loaded: LoadedContract[], results: Map<string, ContractRunResult>, root: string, exampleFindings: boolean, drift?: RunDrift): Report {
  const files: FileReport[] = loaded.map((l): FileReport => {
    const findings = staticFindings(l);
    const r = results.get(l.abs);
    const c = l.check;
    if (!r || !c) return { file: l.file, findings };
    const synthetic = r.model?.synthetic ? ' [SYNTHETIC model: says nothing about quality]' : '';
    if (r.status === 'model-unavailable' || r.status === 'error' || r.status === 'cancelled' || (r.status === 'not-run' && !findings.length)) {
      findings.push({ code: 'run-not-run', severity: 'error', message: `not run: ${r.reason ?? r.status}`, range: rangeAt(c, ['model']) ?? rangeAt(c, ['contract'])! });
    }
    for (const b of r.budgets) {
      if (b.status !== 'fail') continue;
      const at: Path = b.name === 'passRate' && !c.contract?.budgets?.passRate ? ['examples'] : ['budgets', b.name];
      findings.push({ code: 'run-budget', severity: 'error', message: `${b.message} (${modelNote(r)})${synthetic}`, range: rangeAt(c, at)! });
    }
    const cases: ReportCase[] = [];
    for (const e of r.examples) {
      const status = e.verdict.kind === 'pass' ? 'passed' : e.verdict.kind === 'skipped' || e.verdict.kind === 'cancelled' ? 'skipped' : e.verdict.kind === 'error' ? 'error' : 'failed';
      const p50 = e.latency?.p50;
      cases.push({
        name: e.name,
        status,
        ...(status !== 'passed' ? { message: e.verdict.message } : {}),
        details: `model: ${modelNote(r)}${e.cached ? ' (cached output)' : ''}\n${verdictDetails(e)}`,
        ...(exampleRange(c, e) ? { range: exampleRange(c, e)! } : {}),
        ...(p50 !== undefined ? { durationMs: p50 } : {}),
      });
      const code = CODE_FOR[e.verdict.kind];
      if (code && exampleFindings) findings.push({ code, severity: 'error', message: `example \`${e.name}\`: ${e.verdict.message}${synthetic}`, range: failureRange(c, e) ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } });
    }
    findings.push(...(drift?.findings(l, exampleFindings) ?? []));
    return { file: l.file, findings, cases, durationMs: r.wallMs };
  });
  return { tool: TOOL, root, files, rules: RUN_CODES };
}

function render(format: Format, loaded: LoadedContract[], results: Map<string, ContractRunResult>, io: CommandIO, drift?: RunDrift): string {
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          tool: TOOL,
          contracts: loaded.map((l) => ({ file: l.file, findings: staticFindings(l), result: results.get(l.abs) ?? null, ...drift?.json(l.abs) })),
        },
        null,
        2,
      ) + '\n';
    case 'junit':
      return junitWriter().write(toReport(loaded, results, io.cwd, false, drift));
    case 'sarif':
      return sarifWriter().write(toReport(loaded, results, io.cwd, true, drift));
    case 'text':
      return textReport(loaded, results, io, drift);
  }
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m' };

function textReport(loaded: LoadedContract[], results: Map<string, ContractRunResult>, io: CommandIO, drift?: RunDrift): string {
  const paint = (code: string, s: string) => (io.color ? code + s + ANSI.reset : s);
  const out: string[] = [];
  const tally = { pass: 0, fail: 0, examples: 0, passed: 0 };
  for (const l of loaded) {
    const r = results.get(l.abs);
    const statics = staticFindings(l);
    for (const f of statics) out.push(`${l.file}:${f.range.start.line + 1}:${f.range.start.character + 1} ${paint(ANSI.red, 'error')} ${oneLine(f.message)} [${f.code}]`);
    if (!r) {
      tally.fail++;
      out.push(`${paint(ANSI.bold, l.file)}: ${paint(ANSI.red, 'NOT RUN')} (static errors)`);
      out.push('');
      continue;
    }
    const status = r.status === 'pass' && drift?.failed(l.abs) ? 'fail' : r.status;
    const head = status === 'pass' ? paint(ANSI.green, 'PASS') : paint(ANSI.red, status === 'fail' ? 'FAIL' : status.toUpperCase());
    status === 'pass' ? tally.pass++ : tally.fail++;
    out.push(`${paint(ANSI.bold, `${l.file}`)} ${oneLine(r.contract)}: ${head}  ${paint(ANSI.dim, `${modelNote(r)}${r.quantization && !modelNote(r).includes(r.quantization) ? `, ${r.quantization}` : ''}, ${r.decoding} decoding`)}`);
    if (r.reason) out.push(`  ${oneLine(r.reason)}`);
    if (r.model?.synthetic) out.push(`  ${paint(ANSI.yellow, 'SYNTHETIC model: random weights; these verdicts and latencies exercise the runtime and say nothing about quality')}`);
    const c = l.check!;
    for (const e of r.examples) {
      const mark = e.verdict.kind === 'pass' ? paint(ANSI.green, 'pass') : e.verdict.kind === 'skipped' || e.verdict.kind === 'cancelled' ? paint(ANSI.dim, e.verdict.kind) : paint(ANSI.red, e.verdict.kind);
      const lat = e.cached ? paint(ANSI.dim, 'cached') : e.latency ? `${fmtMs(e.latency.p50)}${e.latency.n > 1 ? ` p50, ${fmtMs(e.latency.max)} max (n=${e.latency.n})` : ''}` : '';
      const range = exampleRange(c, e);
      out.push(`  ${mark.padEnd(io.color ? 24 : 15)} ${oneLine(e.name)}${lat ? `  ${lat}` : ''}${range ? paint(ANSI.dim, `  ${l.file}:${range.start.line + 1}`) : ''}`);
      if (e.verdict.kind !== 'pass' && e.verdict.kind !== 'skipped' && e.verdict.kind !== 'cancelled') {
        out.push(`      ${oneLine(e.verdict.message)}`);
        if (e.output !== undefined) out.push(`      output: ${oneLine(e.output.length > 200 ? e.output.slice(0, 197) + '...' : e.output)}`);
      }
      if (e.verdict.kind !== 'skipped' && e.verdict.kind !== 'cancelled') {
        tally.examples++;
        if (e.verdict.kind === 'pass') tally.passed++;
      }
    }
    if (r.latency) {
      const tps = r.examples.flatMap((e) => e.runs.map((x) => x.tokensPerSecond)).filter((x) => x > 0).sort((x, y) => x - y);
      out.push(`  latency p50 ${fmtMs(r.latency.p50)}, p95 ${fmtMs(r.latency.p95)}, p99 ${fmtMs(r.latency.p99)}, max ${fmtMs(r.latency.max)} (n=${r.latency.n})${r.ttft ? `; first token p95 ${fmtMs(r.ttft.p95)}` : ''}${tps.length ? `; decode ${tps[Math.floor(tps.length / 2)]!.toFixed(1)} tok/s median` : ''}`);
    }
    if (r.cachedCount) out.push(`  ${r.cachedCount} example${r.cachedCount === 1 ? '' : 's'} from the cache (outputs only; --no-cache to run them again)`);
    for (const b of r.budgets) out.push(`  budget ${b.status === 'pass' ? paint(ANSI.green, 'ok') : b.status === 'fail' ? paint(ANSI.red, 'MISSED') : paint(ANSI.dim, 'unmeasured')}: ${b.message}`);
    if (r.passRate !== undefined) out.push(`  ${r.passed}/${r.judged} examples passed (${pct(r.passRate)})`);
    out.push(...(drift?.textLines(l, !!io.color) ?? []));
    out.push('');
  }
  const summary = `${tally.pass} contract${tally.pass === 1 ? '' : 's'} passed, ${tally.fail} failed or not run; ${tally.passed}/${tally.examples} examples passed`;
  out.push(tally.fail ? paint(ANSI.red + ANSI.bold, summary) : paint(ANSI.green, summary));
  return out.join('\n') + '\n';
}
