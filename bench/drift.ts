/**
 * Drift benchmark (issue 4): teacher forcing beside generation for the same examples, on the
 * SYNTHETIC tiny gemma3 (F16 → Q8_0, Q4_0), the trained tiny specialist (F16 → Q8_0, Q4_0;
 * constrained and free decoding), the SYNTHETIC Gemma-3-270M-shaped models (Q8_0 → Q4_0;
 * constrained and free) and the trained specialist padded to the exact Gemma 3 270M shape
 * (Q8_0 → Q4_0, the grammar's fast path: the case closest to a real fine-tuned 270M), plus where a
 * teacher-forced position's time goes (bench/teacher-breakdown.ts, also with every core).
 * Rewrites the `<!-- bench:drift:start -->` section of docs/benchmarks.md. `--quick`: fewer examples, no 270M-shaped models, no full-vocabulary method.
 *
 *   node --import tsx bench/drift.ts [--quick] [--no-270m] [--no-exact] [--no-write] [--render]
 *
 * bench/run.ts (`npm run bench -- --only drift`) calls `benchDrift()` and `writeDriftSection()`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkContract } from '../server/src/core/check';
import { fmtKl, sharePct, signedPct } from '../server/src/core/drift-compare';
import { fsHost } from '../server/src/node-host';
import { runDrift, type ContractDrift, type DriftCost } from '../server/src/runtime/drift';
import { llamaDriftModels } from '../server/src/runtime/drift/llama';
import { disposeSharedLlama } from '../server/src/runtime/models';
import { DEFAULT_SETTINGS } from '../server/src/settings';
import { ensureBenchModels, ensureSpecialist270mModels, ensureSpecialistTestModels, ensureTestModels } from '../test/support/models';
import { readSectionData, writeSection } from './support/doc';
import { machine, type Machine } from './support/machine';
import { teacherBreakdown, type Breakdown, type BreakdownRow } from './teacher-breakdown';

const REPO = path.resolve(__dirname, '..');
const DOC = path.join(REPO, 'docs/benchmarks.md');
const SECTION = 'drift';

export interface DriftBenchOptions {
  /** Fewer examples; by default no 270M-shaped models and no full-vocabulary method. */
  quick?: boolean;
  /** The 270M-shaped SYNTHETIC models (generated on first use: ~1 GB, a few minutes). Default: not quick. */
  with270m?: boolean;
  /** The full-vocabulary method on two examples of the tiny models (its cost per position). Default: not quick. */
  exact?: boolean;
  log?: (s: string) => void;
}

/** How generation decoded: with the schema's grammar (fast path: the model's own top token is valid; slow path: it rarely is, and the grammar masks the whole vocabulary) or free. */
export type DecodePath = 'grammar, fast path' | 'grammar, slow path' | 'free';

export interface PairResult {
  set: string;
  path?: DecodePath;
  reference: string;
  candidate: string;
  differing: number;
  compared: number;
  top1?: number;
  meanKl?: number;
  klMethod?: string;
  meanCaptured?: number;
  p95Change?: number;
  sizeChange?: number;
  cost?: DriftCost;
}

export interface DriftBenchData {
  machine: Machine;
  threads: number;
  load: [number, number];
  quick: boolean;
  pairs: PairResult[];
  /** Full-vocabulary teacher forcing, ms per position per model (tiny models). */
  exactMsPerPosition?: number;
  /** Per-position cost of each kind of request, beside a decode step (bench/teacher-breakdown.ts). */
  breakdowns?: { set: string; breakdown: Breakdown }[];
  peakRssBytes: number;
}

const SPECIALIST_270M = 'trained specialist padded to the Gemma 3 270M shape (training/pad-270m.ts)';

/** "Far less than generating": at most this share of generation's time. */
export const FAR_LESS = 0.25;

const MESSAGES = [
  'I was charged twice for order 4521, please refund one payment.',
  'My parcel was supposed to arrive last week and tracking has not moved.',
  'The blender stopped working after two days, the motor just hums.',
  'What are your opening hours on Sundays?',
  'URGENT: you billed my card 3 times today, fix this immediately!',
  'The courier lost my package and I need it for tomorrow, please help asap.',
  'The app crashes every time I open it and I cannot access my account.',
  'Your agent was rude to me on the phone yesterday.',
];

function syntheticContract(fileWithQuant: string, quantizations: string[], n: number): string {
  return `contract: bench-drift
model:
  file: ${JSON.stringify(fileWithQuant)}
  quantizations: [${quantizations.join(', ')}]
  maxTokens: 16
prompt:
  system: Route the message. Answer with JSON only.
  user: |
    Labels: billing, shipping, product, other. urgent: true or false.
    Message: {{message}}
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, urgent]
    properties:
      label: { enum: [billing, shipping, product, other] }
      urgent: { type: boolean }
examples:
${MESSAGES.slice(0, n)
  .map((m, i) => `  - name: m${i}\n    input: { message: ${JSON.stringify(m)} }\n    expected: { label: other, urgent: false }`)
  .join('\n')}
`;
}

const quantPattern = (file: string, quant: string) => path.join(path.dirname(file), path.basename(file).replace(quant, '{quant}'));

function pairsOf(set: string, d: ContractDrift, decodePath: DecodePath): PairResult[] {
  return d.candidates.map((c) => {
    const s = c.summary;
    return {
      set,
      path: decodePath,
      reference: d.reference.quantization,
      candidate: c.quantization,
      differing: s?.differing ?? 0,
      compared: s?.compared ?? 0,
      ...(s?.agreement ? { top1: s.agreement.top1, meanKl: s.agreement.meanKl, klMethod: s.agreement.method === 'topk' ? `top-${s.agreement.k}` : 'full', ...(s.agreement.meanCaptured !== undefined ? { meanCaptured: s.agreement.meanCaptured } : {}) } : {}),
      ...(s?.latency.p95?.relative !== undefined ? { p95Change: s.latency.p95.relative } : {}),
      ...(s?.size?.relative !== undefined ? { sizeChange: s.size.relative } : {}),
      ...(c.cost ? { cost: c.cost } : {}),
    };
  });
}

export async function benchDrift(opts: DriftBenchOptions = {}): Promise<DriftBenchData> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const with270m = opts.with270m ?? !opts.quick;
  const withExact = opts.exact ?? !opts.quick;
  const load0 = Math.round(os.loadavg()[0] * 100) / 100;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-drift-'));
  const models = llamaDriftModels({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: REPO });
  const pairs: PairResult[] = [];
  const breakdowns: { set: string; breakdown: Breakdown }[] = [];
  let exactMsPerPosition: number | undefined;
  const n = opts.quick ? 4 : 8;
  type Extra = Parameters<typeof runDrift>[1] extends infer O ? Partial<O> : never;
  // Generation is measured (no cache); one warm-up run per model, as `contracts run` does.
  const driftOf = (check: ReturnType<typeof checkContract>, file: string, extra: Extra) =>
    runDrift(check, { source: models.source, scorers: models.scorers, lifecycle: models.lifecycle, file, noCache: true, warmup: 1, repeat: 1, cacheDir: path.join(tmp, 'cache'), onProgress: (m) => log(`  ${m}`), ...extra });
  const run = async (set: string, text: string, file: string, extra: Extra = {}) => {
    fs.writeFileSync(file, text);
    log(`drift bench: ${set}`);
    return driftOf(checkContract(text, { file, host: fsHost(path.dirname(file)) }), file, extra);
  };
  try {
    const tiny = (await ensureTestModels()).tiny;
    const d1 = await run('SYNTHETIC tiny', syntheticContract(quantPattern(tiny.F16, 'F16'), ['F16', 'Q8_0', 'Q4_0'], n), path.join(tmp, 'tiny.contract.yaml'));
    pairs.push(...pairsOf('SYNTHETIC tiny gemma3 (hidden 64, 2 layers, 262k vocab)', d1, 'grammar, slow path'));
    if (withExact) {
      const e = await run('SYNTHETIC tiny, full vocabulary', syntheticContract(quantPattern(tiny.F16, 'F16'), ['F16', 'Q4_0'], n), path.join(tmp, 'tiny-exact.contract.yaml'), { method: 'exact', examples: ['m0', 'm1'] });
      const c = e.candidates[0]?.cost;
      if (c && c.positions) exactMsPerPosition = (c.teacherForcingMs.reference + c.teacherForcingMs.candidate) / (2 * c.positions);
    }
    const spec = await ensureSpecialistTestModels();
    const specFile = path.join(REPO, 'samples', 'specialist-triage.contract.yaml');
    const specCheck = checkContract(fs.readFileSync(specFile, 'utf8'), { file: specFile, host: fsHost(REPO) });
    const specExamples = opts.quick ? { examples: ['double charge', 'late parcel', 'broken blender', 'store hours'] } : {};
    log('drift bench: trained tiny specialist');
    pairs.push(...pairsOf('trained tiny specialist (samples/specialist-triage)', await driftOf(specCheck, specFile, specExamples), 'grammar, fast path'));
    log('drift bench: trained tiny specialist, free decoding');
    pairs.push(...pairsOf('trained tiny specialist (samples/specialist-triage)', await driftOf(specCheck, specFile, { ...specExamples, free: true }), 'free'));
    // Nothing else loaded while the breakdown runs.
    await models.lifecycle.unloadAll();
    log('drift bench: where a position goes, trained tiny specialist Q8_0');
    breakdowns.push({ set: 'trained tiny specialist, Q8_0', breakdown: await teacherBreakdown(spec.Q8_0, opts.quick ? 3 : 7) });
    if (with270m) {
      const big = (await ensureBenchModels())['270m'];
      // A random model's top token is almost never valid JSON, so its constrained decoding takes the
      // grammar's slow path on every token; free decoding shows what generation costs without it.
      const d3 = await run('SYNTHETIC 270M', syntheticContract(quantPattern(big.Q8_0, 'Q8_0'), ['Q8_0', 'Q4_0'], opts.quick ? 3 : 6), path.join(tmp, 'big.contract.yaml'));
      pairs.push(...pairsOf('SYNTHETIC Gemma-3-270M-shaped (random weights)', d3, 'grammar, slow path'));
      const d4 = await run('SYNTHETIC 270M, free decoding', syntheticContract(quantPattern(big.Q8_0, 'Q8_0'), ['Q8_0', 'Q4_0'], opts.quick ? 3 : 6), path.join(tmp, 'big-free.contract.yaml'), { free: true });
      pairs.push(...pairsOf('SYNTHETIC Gemma-3-270M-shaped (random weights)', d4, 'free'));
      // The trained specialist padded to the exact 270M shape (training/pad-270m.ts): trained
      // weights, so the grammar takes its fast path, at the real model's cost per token.
      const s270 = await ensureSpecialist270mModels();
      const s270Text = fs
        .readFileSync(specFile, 'utf8')
        .replace(/^  file: .*$/m, `  file: ${JSON.stringify(quantPattern(s270.Q8_0, 'Q8_0'))}`)
        .replace(/^  quantizations: .*$/m, '  quantizations: [Q8_0, Q4_0]');
      const d5 = await run('trained specialist at the 270M shape', s270Text, path.join(tmp, 'spec270.contract.yaml'), specExamples);
      pairs.push(...pairsOf(SPECIALIST_270M, d5, 'grammar, fast path'));
      await models.lifecycle.unloadAll();
      log('drift bench: where a position goes, SYNTHETIC 270M-shaped Q8_0');
      breakdowns.push({ set: 'SYNTHETIC Gemma-3-270M-shaped, Q8_0', breakdown: await teacherBreakdown(big.Q8_0, opts.quick ? 3 : 5) });
      for (const q of ['Q8_0', 'Q4_0'] as const) {
        log(`drift bench: where a position goes, trained specialist at the 270M shape, ${q}`);
        breakdowns.push({ set: `${SPECIALIST_270M}, ${q}`, breakdown: await teacherBreakdown(s270[q], opts.quick ? 3 : 5) });
      }
      // Batches are compute-bound and scale with threads; a decode step streams every weight and
      // does not: the same requests with every core.
      const cores = os.availableParallelism();
      if (cores > 1) {
        log(`drift bench: the same with ${cores} threads`);
        breakdowns.push({ set: `${SPECIALIST_270M}, Q8_0, ${cores} threads`, breakdown: await teacherBreakdown(s270.Q8_0, opts.quick ? 3 : 5, cores) });
      }
    }
  } finally {
    await models.dispose();
    await disposeSharedLlama();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return {
    machine: machine(),
    threads: 1,
    load: [load0, Math.round(os.loadavg()[0] * 100) / 100],
    quick: !!opts.quick,
    pairs,
    ...(exactMsPerPosition !== undefined ? { exactMsPerPosition } : {}),
    ...(breakdowns.length ? { breakdowns } : {}),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x < 100 ? `${x.toFixed(1)} ms` : x < 10_000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function ratioOf(p: PairResult): number | undefined {
  const c = p.cost;
  if (!c?.generationMs) return undefined;
  return (c.teacherForcingMs.reference + c.teacherForcingMs.candidate) / (c.generationMs.reference + c.generationMs.candidate);
}

/**
 * The least teacher forcing of a pair could cost on this machine: every position read on both
 * models at the breakdown's floor (body, output row, greedy token; 1 thread), with the prompt free,
 * no second read and no per-call overhead, against the pair's generation measured in the same run.
 * Only for pairs whose two files were both broken down.
 */
export function pairFloors(d: DriftBenchData): { pair: PairResult; floorMs: number; ratio: number }[] {
  const out: { pair: PairResult; floorMs: number; ratio: number }[] = [];
  const row = (q: string, set: string) => {
    const b = (d.breakdowns ?? []).find((x) => x.set === `${set}, ${q}` && (x.breakdown.threads ?? 1) === 1)?.breakdown;
    return b ? floorOf(b) : undefined;
  };
  for (const p of d.pairs) {
    const c = p.cost;
    const a = row(p.reference, p.set);
    const b = row(p.candidate, p.set);
    if (!c?.generationMs || a === undefined || b === undefined) continue;
    const floorMs = c.positions * (a + b);
    out.push({ pair: p, floorMs, ratio: floorMs / (c.generationMs.reference + c.generationMs.candidate) });
  }
  return out;
}

/** One line per model and decoding path: does "far less than generating" hold, with the ratios measured. */
export function farLessLines(d: DriftBenchData): string[] {
  const groups = new Map<string, number[]>();
  for (const p of d.pairs) {
    const r = ratioOf(p);
    if (r === undefined) continue;
    const key = `${p.set}, ${p.path ?? 'grammar'}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([key, rs]) => {
    const far = rs.every((r) => r <= FAR_LESS);
    const text = rs.map((r) => `${r.toFixed(2)}×`).join(', ');
    return `- ${key}: ${far ? '**yes**' : '**no**'} (${text})`;
  });
}

function breakdownTable(b: Breakdown): string {
  const by = new Map(b.rows.map((r) => [r.key, r.msPerPosition]));
  const v = (k: BreakdownRow['key']) => by.get(k) ?? NaN;
  const f = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : '–');
  const rows: [string, number, string][] = [
    ['the batch, no output row: the transformer body', v('body'), ''],
    ['+ an output row (262,144 logits) and the greedy token at every position', v('token'), `+${f(v('token') - v('body'))}`],
    ['+ Σ exp(logit − max) over the vocabulary (`totalLogitWeight`)', v('normaliser'), `+${f(v('normaliser') - v('token'))}`],
    ['+ the logits of 3 named tokens (`logits.filter`): **the candidate’s pass and the reference’s first**', v('candidate'), `+${f(v('candidate') - v('normaliser'))}`],
    ['the top-8 logits (a top-k sampler), every position: the reference’s second pass where it is unsure', v('topk'), ''],
    ['both reference reads in one (`includeTop: 8` with the normaliser): sorts all 262,144 logits', v('oneRead'), ''],
    ['**a decode step** (`sequence.evaluate`, greedy): generation without a grammar', v('decode'), ''],
    ['**a decode step** with the JSON grammar (fast path where the model’s top token is valid JSON)', v('decodeGrammar'), ''],
    ...(by.has('tokenLarge')
      ? ([
          [`a batch of ${LARGE_ROWS} positions, no output row (the body)`, v('bodyLarge'), ''],
          [`a batch of ${LARGE_ROWS} positions, an output row and the greedy token at each: **the floor of any read**`, v('tokenLarge'), `+${f(v('tokenLarge') - v('bodyLarge'))}`],
        ] as [string, number, string][])
      : []),
  ];
  const t = table([`Request, the same ${b.positions} positions (${b.threads ?? 1} thread${(b.threads ?? 1) === 1 ? '' : 's'})`, 'ms per position', 'added'], rows.map(([w, x, add]) => [w, f(x), add]));
  const pass = v('candidate');
  const vocab = v('candidate') - v('body');
  const step = Math.min(v('decode'), v('decodeGrammar'));
  return `${t}

Per position, one teacher-forcing pass costs **${(pass / v('decode')).toFixed(2)}×** a free decode step and **${(pass / v('decodeGrammar')).toFixed(2)}×** a constrained one; ${Math.round((vocab / pass) * 100)}% of the pass is the output row and the vocabulary-wide work on it (${b.threads ?? 1} thread${(b.threads ?? 1) === 1 ? '' : 's'}, load ${b.load[0]} → ${b.load[1]}, median of ${b.rounds} rounds).${(b.threads ?? 1) === 1 ? ` ${floorSentence(floorOf(b), step, floorBatch(b))}` : ' Against the fastest decode step of either thread count: below.'}`;
}

const LARGE_ROWS = 128;

/**
 * The least a distribution read costs per position: the body, the output row and the greedy token
 * (what every read computes, and what generation computes too), in a batch large enough that
 * neither gets cheaper per position with more (the 24-position figure where an older run lacks it).
 */
export function floorOf(b: Breakdown): number {
  const row = (k: BreakdownRow['key']) => b.rows.find((r) => r.key === k)?.msPerPosition;
  return row('tokenLarge') ?? row('token') ?? NaN;
}

const floorBatch = (b: Breakdown) => (b.rows.some((r) => r.key === 'tokenLarge') ? LARGE_ROWS : b.positions);

function floorSentence(floorMs: number, decodeStepMs: number, batch: number): string {
  if (!Number.isFinite(floorMs) || !Number.isFinite(decodeStepMs) || decodeStepMs <= 0) return '';
  const r = floorMs / decodeStepMs;
  return `**Floor:** any read of a distribution computes at least the body, the output row and the greedy token (${floorMs.toFixed(2)} ms per position in a batch of ${batch}), so teacher forcing one model cannot cost less than **${r.toFixed(2)}×** the cheaper decode step (${decodeStepMs.toFixed(2)} ms), whatever the reads are combined into and however many examples share a batch${r > FAR_LESS ? `: above the ${FAR_LESS}× bar before the prompt or a second read is counted` : ''}.`;
}

/** The same file measured with 1 thread and with more: how a batch and a decode step scale. */
function scalingLines(d: DriftBenchData): string[] {
  const bs = (d.breakdowns ?? []).map((b) => b.breakdown);
  const out: string[] = [];
  for (const many of bs.filter((b) => (b.threads ?? 1) > 1)) {
    const one = bs.find((b) => b.file === many.file && (b.threads ?? 1) === 1);
    if (!one) continue;
    const g = (b: Breakdown, k: BreakdownRow['key']) => b.rows.find((r) => r.key === k)?.msPerPosition ?? NaN;
    const f = (x: number) => `${x.toFixed(2)} ms`;
    const best = Math.min(g(one, 'decode'), g(one, 'decodeGrammar'), g(many, 'decode'), g(many, 'decodeGrammar'));
    out.push(
      `**Threads.** With ${many.threads} threads instead of 1, the teacher-forcing pass went from ${f(g(one, 'candidate'))} to ${f(g(many, 'candidate'))} per position and the body alone from ${f(g(one, 'body'))} to ${f(g(many, 'body'))} (a batch is compute-bound), while a free decode step went from ${f(g(one, 'decode'))} to ${f(g(many, 'decode'))} (a decode step streams every weight once: memory-bound, and on ${d.machine.cores} cores a second thread competes with Node's own). ` +
        `Against the fastest decode step measured either way (${f(best)}), the pass with ${many.threads} threads costs ${(g(many, 'candidate') / best).toFixed(2)}× and the floor (body, output row, greedy token, batch of ${LARGE_ROWS}) ${(floorOf(many) / best).toFixed(2)}×. ` +
        `The run engine uses 1 thread on ${d.machine.cores} cores (\`threads: 0\` → autoThreads), since two spinning llama.cpp threads collapse when anything else runs; with 3–5 cores it uses cores − 1 for batches and decode steps alike.`,
    );
  }
  return out;
}

export function renderDrift(d: DriftBenchData): string {
  const m = d.machine;
  const busy = Math.max(...d.load) > m.cores ? ' **Busy machine** (load average above the core count): absolute times are inflated; read the ratios.' : '';
  const cost = table(
    ['Models', 'Generation decoded', 'Pair', 'Examples', 'Output tokens', 'Generation (ref + cand)', 'Teacher forcing (ref + cand)', 'TF ÷ generation', 'TF per position, both models', 'Generation per token, both models'],
    d.pairs
      .filter((p) => p.cost)
      .map((p) => {
        const c = p.cost!;
        const tf = c.teacherForcingMs.reference + c.teacherForcingMs.candidate;
        const gen = c.generationMs ? c.generationMs.reference + c.generationMs.candidate : undefined;
        const tokens = c.generatedTokens ? Math.max(c.generatedTokens.reference, 1) : c.positions;
        return [
          p.set,
          p.path ?? '–',
          `${p.candidate} vs ${p.reference}`,
          String(c.examples),
          String(c.positions),
          gen !== undefined ? `${ms(c.generationMs!.reference)} + ${ms(c.generationMs!.candidate)}` : '–',
          `${ms(c.teacherForcingMs.reference)} + ${ms(c.teacherForcingMs.candidate)}`,
          gen !== undefined ? `**${(tf / gen).toFixed(2)}×**` : '–',
          ms(tf / Math.max(1, c.positions)),
          gen !== undefined ? ms(gen / tokens) : '–',
        ];
      }),
  );
  const drift = table(
    ['Models', 'Generation decoded', 'Pair', 'Answers that differ', 'Top-1 agreement', 'Mean KL (nats)', 'Reference mass in its top tokens', 'p95 latency', 'File size'],
    d.pairs.map((p) => [
      p.set,
      p.path ?? '–',
      `${p.candidate} vs ${p.reference}`,
      `${p.differing}/${p.compared}`,
      p.top1 !== undefined ? sharePct(p.top1) : '–',
      p.meanKl !== undefined ? `${(p.meanCaptured ?? 1) < 0.99 ? '≥ ' : ''}${fmtKl(p.meanKl)} (${p.klMethod})` : '–',
      p.meanCaptured !== undefined ? `${(p.meanCaptured * 100).toFixed(p.meanCaptured > 0.999 ? 3 : 1)}%` : '–',
      p.p95Change !== undefined ? signedPct(p.p95Change) : '–',
      p.sizeChange !== undefined ? signedPct(p.sizeChange) : '–',
    ]),
  );
  const far = farLessLines(d);
  const breakdowns = [...(d.breakdowns ?? []).map((b) => `**${b.set}**\n\n${breakdownTable(b.breakdown)}`), ...scalingLines(d)].join('\n\n');
  return `## Drift between quantizations (issue 4)

${m.cores} cores (os.availableParallelism()), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; ${d.threads} llama.cpp thread; ${m.date.slice(0, 16).replace('T', ' ')} UTC; load average ${d.load[0]} before, ${d.load[1]} after${d.quick ? '; **quick run**' : ''}.${busy}

### Teacher forcing beside generation, same examples

Generation: the run engine's first measured run of each example (greedy; constrained by the
schema's grammar unless the row says free; one warm-up run per model before timing), prompt
evaluation included, no cache. Teacher forcing: the reference's answer fed to each model in one
batch (\`controlledEvaluate\`) right after that model generated the example, in the run engine's
own context, where the prompt's evaluated state is reused; the top-K method (reference: one pass
for the full-vocabulary normaliser, greedy token and the answer's token, and a second for its
top-K logits that asks for outputs only at the positions where it is less than 99.9% sure and
stops after the last of them; candidate: one pass reading the logits of the reference's tokens,
its normaliser and its greedy token). The reference's passes are shared by every candidate, so
its time repeats on each row. "Grammar, slow path": a
random-weight model's top token is almost never valid JSON, so the grammar masks the whole
vocabulary at nearly every token; "fast path": a trained model's top token is valid and the
grammar checks only that one.

${cost}
${d.exactMsPerPosition !== undefined ? `\nThe full-vocabulary method (\`--method exact\`: all 262,144 logits per position, as a JS Map) took **${ms(d.exactMsPerPosition)} per position per model** on the tiny models.\n` : ''}
Teacher forcing far less than generating (at most ${FAR_LESS}× its time), per model and decoding path:

${far.join('\n')}
${pairFloors(d)
  .map(
    ({ pair: p, floorMs, ratio }) =>
      `\nThe floor for ${p.set} (${p.candidate} vs ${p.reference}): its ${p.cost!.positions} positions read on both models at the least a read costs (body, output row and greedy token in a batch of ${LARGE_ROWS}, from the breakdowns below: 1 thread) come to ${ms(floorMs)} — with the prompt free, no second read, no per-call overhead and every position in one large batch — against ${ms(p.cost!.generationMs!.reference + p.cost!.generationMs!.candidate)} of generating: **${ratio.toFixed(2)}×**${ratio > FAR_LESS ? `, above the ${FAR_LESS}× bar for any implementation on node-llama-cpp at this thread count` : ''}.`,
  )
  .join('\n')}
${breakdowns ? `
### Where a teacher-forced position's time goes

The same answer (${d.breakdowns![0]!.breakdown.positions} positions) after the same prompt, evaluated in one batch with each kind of
request, beside one decode step per position (\`bench/teacher-breakdown.ts\`; 1 thread unless the
heading says otherwise). Every
request that reads a distribution costs an output row (the 262,144 × hidden output layer) and
full-vocabulary loops in node-llama-cpp's native sampler (copy the logits into a candidate array,
find the greedy token; the normaliser: an \`expf\` per token; the filter: a 262,144-entry array and
a search per token) — per position, whatever the batch. Generation needs the row and the greedy
token too, but neither the normaliser nor the filter.

${breakdowns}
` : ''}
### Drift measured

${drift}

KL is KL(reference ‖ candidate) of the raw next-token distributions (no grammar), averaged over
the teacher-forced positions; with the top-K method it is a lower bound (see docs/drift.md),
shown "≥" when the reference's top tokens hold less than 99% of its probability (random-weight
models spread it over the whole vocabulary). Peak RSS of the benchmark process:
${Math.round(d.peakRssBytes / 2 ** 20)} MiB.

Reproduce: \`npm run bench -- --only drift\` or \`node --import tsx bench/drift.ts${d.quick ? ' --quick' : ''}\`; the breakdown alone: \`node --import tsx bench/teacher-breakdown.ts [--270m]\`.
`;
}

export function writeDriftSection(d: DriftBenchData): void {
  writeSection(DOC, SECTION, renderDrift(d), d);
}

if (require.main === module) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, 'no-270m': { type: 'boolean' }, 'no-exact': { type: 'boolean' }, 'no-write': { type: 'boolean' }, render: { type: 'boolean' } } });
  // --render: the section again from the results saved in it (after a change to the text only).
  const saved = values.render ? readSectionData<DriftBenchData>(DOC, SECTION) : undefined;
  if (values.render && !saved) {
    process.stderr.write(`no saved drift results in ${DOC}: run the benchmark first\n`);
    process.exit(1);
  }
  (saved ? Promise.resolve(saved) : benchDrift({ quick: !!values.quick, ...(values['no-270m'] ? { with270m: false } : {}), ...(values['no-exact'] ? { exact: false } : {}) })).then(
    (d) => {
      const md = renderDrift(d);
      process.stdout.write(md);
      if (!values['no-write']) writeDriftSection(d);
    },
    (e: unknown) => {
      process.stderr.write(`drift bench failed: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
