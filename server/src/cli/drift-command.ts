import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { CheckResult } from '../core/check';
import type { BaselineComparison } from '../core/drift-baseline';
import { baselineLine } from '../core/drift-baseline';
import { describeFieldDiff, fmtKl, klIsBound, sharePct, signedPoints, summaryLine } from '../core/drift-compare';
import { DRIFT_CODES, driftFindings, type BaselineViewData } from '../core/drift-view';
import type { Range } from '../core/findings';
import { locate, nodeRange } from '../core/yaml-source';
import { ModelUnavailableError, type AfterExample, type ModelSource } from '../runtime/engine';
import { referenceTeacherHook, runDrift, type ContractDrift, type ModelLifecycle, type ReferenceEarly, type ScorerSource } from '../runtime/drift';
import { checkAgainstBaseline, writeBaseline, type BaselineCheck } from '../runtime/drift/baseline-file';
import { llamaDriftModels } from '../runtime/drift/llama';
export { llamaScorers } from '../runtime/drift/llama';
import { disposeSharedLlama } from '../runtime/models';
import { ScriptedRunner, type Script } from '../runtime/runner';
import { fmtMs } from '../core/stats';
import { EXIT_ERRORS, EXIT_OK, EXIT_USAGE, type CommandIO } from './check-command';
import { diskHost, relativePath } from './check-files';
import { cliModelSetup, findContracts, loadContract, MODEL_RUN_OPTIONS, modelRunArgs, parseCommandArgs, parseCount, parseOrExit, runnable, UsageError, type LoadedContract } from './command-common';
import { junitWriter, sarifWriter } from './formats';
import { oneLine } from './formats/text';
import type { FileReport, Format, Report, ReportCase, ReportFinding } from './report';
import { TOOL } from './tool';

export const DRIFT_USAGE = `Usage: contracts drift [options] [paths...]

Compares each contract's quantizations. The first of model.quantizations is the reference, the
others are candidates; every example runs on each (same prompt, grammar and sampler; unchanged
outputs come from the cache) and the answers are compared field by field. The reference's
output is also teacher-forced through both models (one batched pass, no sampling) for the share
of positions where their most likely next token agrees (top-1) and KL(reference || candidate).
When a <name>.baseline.json sits next to a contract, answers are also compared with it.
Paths are found as for 'contracts check'.

Options:
      --ref <Q>            reference quantization (default: each contract's first)
      --cand <Q>           candidate quantization; repeat for several (default: the contract's others)
      --method <topk|exact>  token agreement: topk (default; exact log-probabilities of the
                           reference's top tokens, KL a lower bound) or exact (full vocabulary,
                           ~0.4 s per token per model on 2 cores)
      --top-k <n>          reference tokens kept per position for topk (default: 8)
      --no-agreement       compare answers only (no teacher forcing)
      --no-baseline        do not compare with <name>.baseline.json
      --no-cache           run unchanged examples again (needed to measure latency)
      --repeat <n>         measured runs per example (default: the contract's run.repeat)
      --warmup <n>         unmeasured runs before timing (default: the contract's run.warmup)
      --max-tokens <n>     cap every contract's maxTokens
      --offline            never download a model
      --threads <n>        CPU threads (default: the number of physical cores)
  -f, --format <text|json|junit|sarif>  output format (default: text)
      --trace-dir <DIR>    where traces go (default: .contracts/traces)
      --cache-dir <DIR>    where cached outputs go (default: .contracts/cache)
      --runner scripted:<FILE>  testing aid: answers from a JSON script, per quantization:
                           {"quantizations": {"<Q>": {"<contract>": {"<example>": "<output>"}}}}
  -h, --help               show this help

Exit status: 0 no candidate exceeded budgets.maxDrift, 1 one did (or a contract has static
errors or could not be compared), 2 usage error.
`;

interface DriftArgs {
  paths: string[];
  ref?: string;
  cand: string[];
  method: 'topk' | 'exact';
  topK?: number;
  agreement: boolean;
  baseline: boolean;
  noCache: boolean;
  repeat?: number;
  warmup?: number;
  maxTokens?: number;
  offline: boolean;
  threads?: number;
  format: Format;
  traceDir: string;
  cacheDir: string;
  runner?: string;
}


const QUANT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;


function parseDriftArgs(args: string[]): DriftArgs | 'help' {
  const parsed = parseCommandArgs(args, {
    ref: { type: 'string' },
    cand: { type: 'string', multiple: true },
    method: { type: 'string' },
    'top-k': { type: 'string' },
    'no-agreement': { type: 'boolean' },
    'no-baseline': { type: 'boolean' },
    ...MODEL_RUN_OPTIONS,
  } as const);
  const v = parsed.values;
  if (v.help) return 'help';
  const common = modelRunArgs(v);
  const method = v.method ?? 'topk';
  if (method !== 'topk' && method !== 'exact') throw new UsageError(`--method takes topk or exact, not '${method}'`);
  for (const q of [...(v.ref !== undefined ? [v.ref] : []), ...(v.cand ?? [])]) if (!QUANT.test(q)) throw new UsageError(`'${q}' is not a quantization name such as Q8_0, QAT-Q4_0 or F16`);
  const cand = [...new Set(v.cand ?? [])];
  if (v.ref !== undefined && cand.includes(v.ref)) throw new UsageError(`${v.ref} cannot be both the reference and a candidate`);
  if (v['top-k'] !== undefined && method === 'exact') throw new UsageError('--top-k applies to --method topk only');
  return {
    paths: parsed.positionals,
    ...(v.ref !== undefined ? { ref: v.ref } : {}),
    cand,
    method,
    ...(v['top-k'] !== undefined ? { topK: parseCount('top-k', v['top-k'], 1) } : {}),
    agreement: !v['no-agreement'],
    baseline: !v['no-baseline'],
    ...common,
  };
}


interface Models {
  source: ModelSource;
  scorers?: ScorerSource;
  lifecycle?: ModelLifecycle;
  dispose(): Promise<void>;
}

/** The scripted testing aid: one ScriptedRunner per quantization, from `{"quantizations": {Q: Script}}`. */
export function scriptedDriftSource(file: string): ModelSource {
  const text = fs.readFileSync(file, 'utf8');
  const doc = JSON.parse(text) as { quantizations?: Record<string, Script> };
  if (!doc || typeof doc !== 'object' || !doc.quantizations || typeof doc.quantizations !== 'object') throw new Error('the script must be {"quantizations": {"<Q>": {"<contract>": {"<example>": "<output>"}}}}');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const runners = new Map<string, ScriptedRunner>();
  const runnerFor = (q: string) => {
    let r = runners.get(q);
    if (!r) {
      const script = doc.quantizations![q];
      if (!script) return undefined;
      r = new ScriptedRunner(script, { path: `scripted:${file}#${q}`, id: 'scripted', quantization: q, identity: `scripted:${hash}:${q}`, label: `scripted runner ${q} (no model)` });
      runners.set(q, r);
    }
    return r;
  };
  return {
    engine: 'scripted',
    async resolve({ quantization }) {
      const r = runnerFor(quantization);
      if (!r) throw new ModelUnavailableError(`the script has no answers for ${quantization}`);
      return { key: r.info.path, info: r.info };
    },
    async open(resolved) {
      const r = runnerFor(resolved.info.quantization);
      if (!r) throw new ModelUnavailableError(`the script has no answers for ${resolved.info.quantization}`);
      return { runner: r, release() {} };
    },
  };
}

function makeModels(a: DriftArgs, io: CommandIO): Models {
  if (a.runner) {
    const file = path.resolve(io.cwd, a.runner.slice('scripted:'.length));
    try {
      return { source: scriptedDriftSource(file), dispose: async () => {} };
    } catch (e) {
      throw new UsageError(`cannot read the script ${file}: ${(e as Error).message}`);
    }
  }
  const setup = cliModelSetup('drift', a, io);
  const m = llamaDriftModels(setup.manager, { resolve: { onProgress: setup.onProgress } });
  return {
    source: m.source,
    ...(a.agreement ? { scorers: m.scorers } : {}),
    lifecycle: m.lifecycle,
    async dispose() {
      await m.dispose();
      await disposeSharedLlama();
    },
  };
}

interface Outcome {
  drift?: ContractDrift;
  baseline?: BaselineCheck;
}

export async function driftCommand(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('drift', args, parseDriftArgs, DRIFT_USAGE, io, { ok: EXIT_OK, usage: EXIT_USAGE });
  if (typeof a === 'number') return a;
  const found = findContracts('drift', a.paths, io, { usage: EXIT_USAGE, errors: EXIT_ERRORS });
  if (found.exit !== undefined) return found.exit;
  const host = diskHost(io.cwd);
  const loaded = found.files.map((f) => loadContract(f, io.cwd, host));
  const toRun = runnable(loaded);
  const outcomes = new Map<string, Outcome>();
  if (toRun.length) {
    let models: Models;
    try {
      models = makeModels(a, io);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      io.stderr(`contracts drift: ${e.message}\n`);
      return EXIT_USAGE;
    }
    try {
      for (const l of toRun) {
        const drift = await runDrift(l.check!, {
          source: models.source,
          ...(models.scorers ? { scorers: models.scorers } : {}),
          ...(models.lifecycle ? { lifecycle: models.lifecycle } : {}),
          file: l.abs,
          ...(a.ref ? { reference: a.ref } : {}),
          ...(a.cand.length ? { candidates: a.cand } : {}),
          method: a.method,
          ...(a.topK !== undefined ? { k: a.topK } : {}),
          ...(!a.agreement ? { noAgreement: true } : {}),
          noCache: a.noCache,
          ...(a.repeat !== undefined ? { repeat: a.repeat } : {}),
          ...(a.warmup !== undefined ? { warmup: a.warmup } : {}),
          ...(a.maxTokens !== undefined ? { maxTokensCap: a.maxTokens } : {}),
          traceDir: path.resolve(io.cwd, a.traceDir),
          cacheDir: path.resolve(io.cwd, a.cacheDir),
          onProgress: (m) => io.stderr(`contracts drift: ${m}\n`),
        });
        const baseline = a.baseline ? await checkAgainstBaseline(l.check!, l.abs, Object.values(drift.runs)) : undefined;
        outcomes.set(l.abs, { drift, ...(baseline ? { baseline } : {}) });
      }
    } finally {
      await models.dispose();
    }
  }
  const warnings = new Set<string>();
  for (const o of outcomes.values()) for (const w of o.drift?.warnings ?? []) warnings.add(w);
  for (const w of warnings) io.stderr(`contracts drift: ${w}\n`);

  io.stdout(render(a.format, loaded, outcomes, io));
  const failed = loaded.some((l) => {
    const o = outcomes.get(l.abs);
    if (!o?.drift) return true;
    return o.drift.status === 'exceeded' || o.drift.status === 'error' || o.drift.status === 'cancelled';
  });
  return failed ? EXIT_ERRORS : EXIT_OK;
}

// --- output ------------------------------------------------------------------------------------------

const FILE_START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

function staticFindings(l: LoadedContract): ReportFinding[] {
  if (l.unreadable) return [{ code: 'file-unreadable', severity: 'error', message: l.unreadable, range: FILE_START }];
  const c = l.check!;
  return c.findings.filter((f) => f.severity === 'error').map((f) => ({ code: f.code, severity: f.severity, message: f.message, range: c.lines.range(f.start, f.end) }));
}

function baselineView(b: BaselineCheck | undefined, root: string): BaselineViewData | undefined {
  if (!b) return undefined;
  if (b.status === 'invalid') return { status: 'invalid', message: b.message, file: relativePath(root, b.file) };
  if (b.status === 'compared') return { status: 'compared', comparison: b.comparison };
  return { status: 'missing' };
}

function driftReportFindings(l: LoadedContract, o: Outcome | undefined, root: string): ReportFinding[] {
  const c = l.check;
  if (!c || !o) return [];
  return driftFindings(c, o.drift, baselineView(o.baseline, root)).map((f) => ({ code: f.code, severity: f.severity, message: f.message, range: c.lines.range(f.start, f.end) }));
}

function candidateCases(l: LoadedContract, o: Outcome | undefined): ReportCase[] {
  const d = o?.drift;
  if (!d) return [];
  if (!d.candidates.length) return [{ name: 'drift', status: d.status === 'not-run' ? 'skipped' : 'error', message: d.reason ?? d.status }];
  return d.candidates.map((c): ReportCase => {
    const name = `${c.quantization} vs ${d.reference.quantization}`;
    if (c.status === 'same-file') return { name, status: 'skipped', message: c.message ?? 'same file' };
    if (c.status !== 'compared' || !c.summary) return { name, status: 'error', message: c.message ?? c.status };
    const details = candidateLines(d, c, l.file).join('\n');
    return { name, status: c.summary.budget?.exceeded ? 'failed' : 'passed', ...(c.summary.budget?.exceeded ? { message: `${c.summary.differing}/${c.summary.compared} examples differ, above maxDrift ${sharePct(c.summary.budget.limit)}` } : {}), details, durationMs: d.wallMs };
  });
}

function toReport(loaded: LoadedContract[], outcomes: Map<string, Outcome>, root: string, info: boolean): Report {
  const files = loaded.map((l): FileReport => {
    const o = outcomes.get(l.abs);
    const findings = [...staticFindings(l), ...driftReportFindings(l, o, root).filter((f) => info || f.severity !== 'information')];
    const c = l.check;
    if (o?.drift && (o.drift.status === 'error' || o.drift.status === 'cancelled') && c?.source) {
      findings.push({ code: 'drift-not-compared', severity: 'error', message: `not compared: ${o.drift.reason ?? o.drift.status}`, range: c.lines.range(0, 0) });
    }
    return { file: l.file, findings, ...(o?.drift ? { cases: candidateCases(l, o), durationMs: o.drift.wallMs } : {}) };
  });
  return { tool: TOOL, root, files, rules: DRIFT_CODES };
}

function render(format: Format, loaded: LoadedContract[], outcomes: Map<string, Outcome>, io: CommandIO): string {
  switch (format) {
    case 'json':
      return (
        JSON.stringify(
          {
            tool: TOOL,
            contracts: loaded.map((l) => {
              const o = outcomes.get(l.abs);
              const { runs: _runs, ...drift } = o?.drift ?? ({ runs: {} } as Partial<ContractDrift>);
              return { file: l.file, findings: [...staticFindings(l), ...driftReportFindings(l, o, io.cwd)], drift: o?.drift ? drift : null, baseline: o?.baseline ?? null };
            }),
          },
          null,
          2,
        ) + '\n'
      );
    case 'junit':
      return junitWriter().write(toReport(loaded, outcomes, io.cwd, false));
    case 'sarif':
      return sarifWriter().write(toReport(loaded, outcomes, io.cwd, true));
    case 'text':
      return textReport(loaded, outcomes, io);
  }
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m' };

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
}

/** A probability mass with the digits that matter: 99.992%, 0.2%. */
function massPct(x: number): string {
  return x >= 0.999 && x < 1 ? `${(x * 100).toFixed(3)}%` : sharePct(x);
}

function secs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : fmtMs(ms);
}

function exampleLine(file: string, check: CheckResult | undefined, index: number): string {
  const line = check?.source ? lineOf(check, index) : undefined;
  return line !== undefined ? `  ${file}:${line}` : '';
}

function lineOf(check: CheckResult, index: number): number | undefined {
  const src = check.source;
  const r = src ? (nodeRange(locate(src, ['examples', index, 'name']).node) ?? nodeRange(locate(src, ['examples', index]).node)) : undefined;
  return r ? check.lines.range(r[0], r[0]).start.line + 1 : undefined;
}

/** The lines `contracts drift` prints for one candidate (also the JUnit case's details). */
export function candidateLines(d: ContractDrift, c: ContractDrift['candidates'][number], file: string, check?: CheckResult, paint: (code: string, s: string) => string = (_c, s) => s): string[] {
  const out: string[] = [];
  const ref = d.reference.quantization;
  if (c.status !== 'compared' || !c.summary) {
    out.push(`⇄ ${c.quantization} vs ${ref}: ${paint(c.status === 'same-file' ? ANSI.yellow : ANSI.red, c.message ?? c.status)}`);
    return out;
  }
  const s = c.summary;
  const over = s.budget?.exceeded;
  out.push(`⇄ ${over ? paint(ANSI.red, summaryLine(s)) : summaryLine(s)}`);
  for (const e of c.examples) {
    if (!e.comparison.differs) continue;
    const verdict = e.comparison.verdictChanged ? `  (verdict ${e.reference.verdict} → ${e.candidate.verdict})` : '';
    out.push(`    ≠ ${oneLine(e.name)}${verdict}${paint(ANSI.dim, exampleLine(file, check, e.index))}`);
    for (const diff of e.comparison.diffs.slice(0, 6)) out.push(`        ${oneLine(describeFieldDiff(diff, { reference: ref, candidate: c.quantization }))}`);
    if (e.comparison.diffs.length > 6) out.push(`        (+${e.comparison.diffs.length - 6} more fields)`);
  }
  const bits: string[] = [];
  if (s.passRate?.reference !== undefined && s.passRate.candidate !== undefined) bits.push(`pass rate ${sharePct(s.passRate.candidate)} vs ${sharePct(s.passRate.reference)} (${signedPoints(s.passRate.change ?? 0)}${s.regressed || s.fixed ? `; ${s.regressed} regressed, ${s.fixed} fixed` : ''})`);
  if (s.latency.p50 && s.latency.p95) bits.push(`p50 ${fmtMs(s.latency.p50.candidate)} vs ${fmtMs(s.latency.p50.reference)}, p95 ${fmtMs(s.latency.p95.candidate)} vs ${fmtMs(s.latency.p95.reference)}`);
  else if (s.latency.unmeasured) bits.push(`latency not compared: ${s.latency.unmeasured}`);
  if (s.size) bits.push(`${mib(s.size.candidate)} vs ${mib(s.size.reference)}`);
  if (bits.length) out.push(paint(ANSI.dim, `    ${bits.join(' · ')}`));
  if (s.agreement) {
    const g = s.agreement;
    const how = g.method === 'topk' ? `top-${g.k} method, KL a lower bound; the top tokens hold ${massPct(g.meanCaptured ?? 1)} of ${ref}'s probability on average, ${massPct(g.minCaptured ?? 1)} at least${klIsBound(g) ? ' (too little for a tight bound: --method exact measures the full vocabulary)' : ''}` : 'full vocabulary';
    out.push(paint(ANSI.dim, `    tokens: top-1 agrees at ${g.top1Agree}/${g.positions} teacher-forced positions, mean KL ${fmtKl(g.meanKl)} nats (max ${fmtKl(g.maxKl)}; ${how})`));
  } else if (s.agreementUnavailable) out.push(paint(ANSI.yellow, `    no token agreement: ${s.agreementUnavailable}`));
  if (c.cost) {
    const k = c.cost;
    const tf = `teacher forcing ${k.positions} positions of ${k.examples} examples: ${secs(k.teacherForcingMs.reference)} (${ref}) + ${secs(k.teacherForcingMs.candidate)} (${c.quantization})`;
    const gen = k.generationMs ? `; generating them: ${secs(k.generationMs.reference)} + ${secs(k.generationMs.candidate)}` : '; generation not measured (cached)';
    out.push(paint(ANSI.dim, `    cost: ${tf}${gen}`));
  }
  if (s.budget) out.push(`    maxDrift ${sharePct(s.budget.limit)}: ${over ? paint(ANSI.red, `EXCEEDED (${sharePct(s.budget.actual)})`) : paint(ANSI.green, `ok (${sharePct(s.budget.actual)})`)}`);
  return out;
}

function baselineLines(b: BaselineCheck | undefined, root: string, paint: (code: string, s: string) => string): string[] {
  if (!b) return [];
  const file = relativePath(root, b.file);
  if (b.status === 'missing') return [paint(ANSI.dim, `  baseline: none (${file}; contracts run --update-baseline writes it)`)];
  if (b.status === 'invalid') return [paint(ANSI.yellow, `  baseline ${file}: ${oneLine(b.message)}`)];
  const c: BaselineComparison = b.comparison;
  const out = [`  baseline ${file} (${c.createdAt.slice(0, 10)}):`];
  for (const w of c.warnings) out.push(paint(ANSI.yellow, `    ${oneLine(w)}`));
  for (const q of c.quantizations) {
    out.push(`    ${baselineLine(c, q)}`);
    for (const n of q.notes) out.push(paint(ANSI.dim, `      ${oneLine(n)}`));
    for (const e of q.examples) {
      if (e.status === 'changed') {
        const verdict = e.verdict.baseline !== e.verdict.current ? `  (verdict ${e.verdict.baseline} → ${e.verdict.current})` : '';
        out.push(`      ~ ${oneLine(e.name)} changed since baseline${e.promptChanged ? ' (its prompt changed)' : ''}${verdict}`);
        for (const d of e.diffs.slice(0, 6)) out.push(`          ${oneLine(describeFieldDiff(d, { reference: 'baseline', candidate: 'now' }))}`);
      } else if (e.status === 'new') out.push(paint(ANSI.dim, `      + ${oneLine(e.name)} is new since the baseline`));
    }
    for (const r of q.removed) out.push(paint(ANSI.dim, `      - ${oneLine(r)} is in the baseline but no longer in the contract`));
  }
  return out;
}

function textReport(loaded: LoadedContract[], outcomes: Map<string, Outcome>, io: CommandIO): string {
  const paint = (code: string, s: string) => (io.color ? code + s + ANSI.reset : s);
  const out: string[] = [];
  const tally = { compared: 0, exceeded: 0, failed: 0 };
  for (const l of loaded) {
    const o = outcomes.get(l.abs);
    for (const f of staticFindings(l)) out.push(`${l.file}:${f.range.start.line + 1}:${f.range.start.character + 1} ${paint(ANSI.red, 'error')} ${oneLine(f.message)} [${f.code}]`);
    const d = o?.drift;
    if (!d) {
      tally.failed++;
      out.push(`${paint(ANSI.bold, l.file)}: ${paint(ANSI.red, 'NOT COMPARED')} (static errors)`, '');
      continue;
    }
    const refModel = d.reference.model ? `${d.reference.model.label}${d.reference.sizeBytes ? `, ${mib(d.reference.sizeBytes)}` : ''}` : '';
    const head = d.status === 'ok' ? paint(ANSI.green, 'OK') : d.status === 'exceeded' ? paint(ANSI.red, 'DRIFT ABOVE BUDGET') : d.status === 'not-run' ? paint(ANSI.dim, 'NOTHING TO COMPARE') : paint(ANSI.red, d.status.toUpperCase());
    out.push(`${paint(ANSI.bold, l.file)} ${oneLine(d.contract)}: ${head}  ${paint(ANSI.dim, `reference ${d.reference.quantization}${refModel ? ` (${refModel})` : ''}`)}`);
    if (d.reason && d.status !== 'exceeded') out.push(`  ${oneLine(d.reason)}`);
    if (d.reference.model?.synthetic) out.push(`  ${paint(ANSI.yellow, 'SYNTHETIC model: random weights; this drift is real quantization drift but says nothing about quality')}`);
    for (const c of d.candidates) for (const line of candidateLines(d, c, l.file, l.check, paint)) out.push(`  ${line}`);
    if (d.memory && d.candidates.some((c) => c.status === 'compared')) out.push(paint(ANSI.dim, `  memory: ${d.memory.plan === 'together' ? 'models loaded together' : 'one model at a time, reference outputs reused'} (${d.memory.reason}); peak RSS ${mib(d.memory.peakRssBytes)}`));
    out.push(...baselineLines(o.baseline, io.cwd, paint));
    out.push('');
    if (d.status === 'ok' || d.status === 'exceeded') tally.compared++;
    if (d.status === 'exceeded') tally.exceeded++;
    if (d.status === 'error' || d.status === 'cancelled') tally.failed++;
  }
  const summary = `${tally.compared} contract${tally.compared === 1 ? '' : 's'} compared, ${tally.exceeded} above maxDrift, ${tally.failed} not compared`;
  out.push(tally.exceeded || tally.failed ? paint(ANSI.red + ANSI.bold, summary) : paint(ANSI.green, summary));
  return out.join('\n') + '\n';
}

// --- `contracts run`: drift when a contract lists several quantizations, and baselines ---------------------

export interface RunDriftOptions {
  /** `contracts run --update-baseline`: write <name>.baseline.json for every contract that ran. */
  updateBaseline: boolean;
  /** `--quant Q`: only Q runs, so there is no drift to report (baselines still compare that quantization). */
  quantOverride?: string;
  source: ModelSource;
  scorers?: ScorerSource;
  root: string;
  /** The run's options, for the candidates' runs. */
  run: Pick<Parameters<typeof runDrift>[1], 'noCache' | 'repeat' | 'warmup' | 'free' | 'maxTokensCap' | 'traceDir' | 'cacheDir'>;
  onProgress?: (message: string) => void;
}

interface RunDriftEntry {
  drift?: ContractDrift;
  baseline?: BaselineCheck;
  written?: string;
  writeError?: string;
}

/**
 * What `contracts run` adds for drift (see run-command.ts): after a contract's reference run, the
 * other quantizations it lists run too and are compared (budgets.maxDrift fails the contract);
 * the runs are compared with the committed baseline, or written to it with --update-baseline.
 */
export class RunDrift {
  private readonly entries = new Map<string, RunDriftEntry>();
  readonly warnings: string[] = [];

  private readonly early = new Map<string, ReferenceEarly>();

  constructor(private readonly opts: RunDriftOptions) {}

  /**
   * For the reference's run of a contract whose other quantizations will be compared: teacher
   * forcing after each example, in the run's own context (runDrift then skips those examples).
   */
  afterExample(check: CheckResult, file: string): ((e: AfterExample) => Promise<void>) | undefined {
    const contract = check.contract;
    if (!contract || this.opts.quantOverride || contract.model.quantizations.length < 2 || !this.opts.scorers) return undefined;
    const hook = referenceTeacherHook();
    this.early.set(file, hook.early);
    return hook.afterExample;
  }

  /** Call after each contract's run (`result` is the engine's result for the reference or --quant quantization). */
  async after(check: CheckResult, file: string, result: import('../runtime/engine').ContractRunResult): Promise<void> {
    const contract = check.contract;
    const early = this.early.get(file);
    this.early.delete(file);
    if (!contract || (result.status !== 'pass' && result.status !== 'fail')) return;
    const entry: RunDriftEntry = {};
    this.entries.set(file, entry);
    let runs: import('../runtime/engine').ContractRunResult[] = [result];
    if (!this.opts.quantOverride && contract.model.quantizations.length > 1) {
      entry.drift = await runDrift(check, { source: this.opts.source, ...(this.opts.scorers ? { scorers: this.opts.scorers } : {}), file, referenceResult: result, ...(early ? { referenceEarly: early } : {}), ...this.opts.run, ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}) });
      for (const w of entry.drift.warnings) if (!result.warnings.includes(w) && !this.warnings.includes(w)) this.warnings.push(w);
      runs = Object.values(entry.drift.runs);
    }
    if (this.opts.updateBaseline) {
      try {
        const byQ = Object.fromEntries(runs.map((r) => [r.quantization, r]));
        entry.written = (await writeBaseline(check, file, byQ, result.quantization, TOOL.version)).file;
      } catch (e) {
        entry.writeError = `cannot write the baseline: ${(e as Error).message}`;
      }
    } else entry.baseline = await checkAgainstBaseline(check, file, runs);
  }

  /** The engine's results of every quantization that ran for this contract (the HTML report's drift matrix). */
  runs(file: string): import('../runtime/engine').ContractRunResult[] | undefined {
    const d = this.entries.get(file)?.drift;
    return d ? Object.values(d.runs) : undefined;
  }

  /** True when a candidate exceeded budgets.maxDrift (the contract fails). */
  failed(file: string): boolean {
    return this.entries.get(file)?.drift?.status === 'exceeded' || !!this.entries.get(file)?.writeError;
  }

  /** Lines for the text report, under the contract's block. */
  textLines(l: { abs: string; file: string; check?: CheckResult }, color: boolean): string[] {
    const paint = (code: string, s: string) => (color ? code + s + ANSI.reset : s);
    const e = this.entries.get(l.abs);
    if (!e) return [];
    const out: string[] = [];
    const d = e.drift;
    if (d) {
      if (d.reason && d.status !== 'exceeded' && d.status !== 'ok') out.push(`  drift: ${oneLine(d.reason)}`);
      for (const c of d.candidates) for (const line of candidateLines(d, c, l.file, l.check, paint)) out.push(`  ${line}`);
    }
    if (e.written) out.push(`  baseline written: ${relativePath(this.opts.root, e.written)}`);
    if (e.writeError) out.push(paint(ANSI.red, `  ${oneLine(e.writeError)}`));
    out.push(...baselineLines(e.baseline, this.opts.root, paint).filter((s) => !/baseline: none/.test(s)));
    return out;
  }

  /** Extra keys of the contract's entry in the JSON report. */
  json(file: string): { drift?: unknown; baseline?: unknown } {
    const e = this.entries.get(file);
    if (!e) return {};
    const { runs: _runs, ...drift } = e.drift ?? ({ runs: {} } as Partial<ContractDrift>);
    return { ...(e.drift ? { drift } : {}), ...(e.baseline ? { baseline: e.baseline } : {}), ...(e.written ? { baselineWritten: relativePath(this.opts.root, e.written) } : {}) };
  }

  /** Findings for JUnit/SARIF: maxDrift exceeded, same file, changed answers (information), an unreadable baseline. */
  findings(l: { abs: string; check?: CheckResult }, info: boolean): ReportFinding[] {
    const e = this.entries.get(l.abs);
    const c = l.check;
    if (!e || !c) return [];
    const found = driftFindings(c, e.drift, baselineView(e.baseline, this.opts.root)).filter((f) => info || f.severity !== 'information');
    const out: ReportFinding[] = found.map((f) => ({ code: f.code, severity: f.severity, message: f.message, range: c.lines.range(f.start, f.end) }));
    if (e.writeError) out.push({ code: 'baseline-invalid', severity: 'error', message: e.writeError, range: c.lines.range(0, 0) });
    return out;
  }
}
