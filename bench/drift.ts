/**
 * Drift benchmark (issue 4): teacher forcing beside generation for the same examples, on the
 * SYNTHETIC tiny gemma3 (F16 → Q8_0, Q4_0), the trained tiny specialist (F16 → Q8_0, Q4_0) and,
 * with `--270m`, the SYNTHETIC Gemma-3-270M-shaped models (Q8_0 → Q4_0). Rewrites the
 * `<!-- bench:drift:start -->` section of docs/benchmarks.md.
 *
 *   node --import tsx bench/drift.ts [--quick] [--270m] [--no-write]
 *
 * bench/run.ts can call `benchDrift()` (exported below) and `writeDriftSection()`.
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
import { ensureBenchModels, ensureSpecialistTestModels, ensureTestModels } from '../test/support/models';
import { writeSection } from './support/doc';
import { machine, type Machine } from './support/machine';

const REPO = path.resolve(__dirname, '..');
const DOC = path.join(REPO, 'docs/benchmarks.md');
const SECTION = 'drift';

export interface DriftBenchOptions {
  /** Fewer examples. */
  quick?: boolean;
  /** Also the 270M-shaped SYNTHETIC models (generated on first use: ~1 GB, a few minutes). */
  with270m?: boolean;
  /** Also the full-vocabulary method on two examples of the tiny models (its cost per position). */
  exact?: boolean;
  log?: (s: string) => void;
}

export interface PairResult {
  set: string;
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
  peakRssBytes: number;
}

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

function pairsOf(set: string, d: ContractDrift): PairResult[] {
  return d.candidates.map((c) => {
    const s = c.summary;
    return {
      set,
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
  const load0 = Math.round(os.loadavg()[0] * 100) / 100;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-drift-'));
  const models = llamaDriftModels({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: REPO });
  const pairs: PairResult[] = [];
  let exactMsPerPosition: number | undefined;
  const n = opts.quick ? 4 : 8;
  const run = async (set: string, text: string, file: string, extra: Parameters<typeof runDrift>[1] extends infer O ? Partial<O> : never = {}) => {
    fs.writeFileSync(file, text);
    const check = checkContract(text, { file, host: fsHost(path.dirname(file)) });
    log(`drift bench: ${set}`);
    // Generation is measured (no cache); one warm-up run per model, as `contracts run` does.
    return runDrift(check, { source: models.source, scorers: models.scorers, lifecycle: models.lifecycle, file, noCache: true, warmup: 1, repeat: 1, cacheDir: path.join(tmp, 'cache'), onProgress: (m) => log(`  ${m}`), ...extra });
  };
  try {
    const tiny = (await ensureTestModels()).tiny;
    const d1 = await run('SYNTHETIC tiny', syntheticContract(quantPattern(tiny.F16, 'F16'), ['F16', 'Q8_0', 'Q4_0'], n), path.join(tmp, 'tiny.contract.yaml'));
    pairs.push(...pairsOf('SYNTHETIC tiny gemma3 (hidden 64, 2 layers, 262k vocab)', d1));
    if (opts.exact) {
      const e = await run('SYNTHETIC tiny, full vocabulary', syntheticContract(quantPattern(tiny.F16, 'F16'), ['F16', 'Q4_0'], n), path.join(tmp, 'tiny-exact.contract.yaml'), { method: 'exact', examples: ['m0', 'm1'] });
      const c = e.candidates[0]?.cost;
      if (c && c.positions) exactMsPerPosition = (c.teacherForcingMs.reference + c.teacherForcingMs.candidate) / (2 * c.positions);
    }
    const spec = await ensureSpecialistTestModels();
    const specFile = path.join(REPO, 'samples', 'specialist-triage.contract.yaml');
    const specText = fs.readFileSync(specFile, 'utf8');
    const d2 = await runDrift(checkContract(specText, { file: specFile, host: fsHost(REPO) }), { source: models.source, scorers: models.scorers, lifecycle: models.lifecycle, file: specFile, noCache: true, warmup: 1, repeat: 1, cacheDir: path.join(tmp, 'cache'), onProgress: (m) => log(`  ${m}`), ...(opts.quick ? { examples: ['double charge', 'late parcel', 'broken blender', 'store hours'] } : {}) });
    void spec;
    pairs.push(...pairsOf('trained tiny specialist (samples/specialist-triage)', d2));
    if (opts.with270m) {
      const big = (await ensureBenchModels())['270m'];
      const d3 = await run('SYNTHETIC 270M', syntheticContract(quantPattern(big.Q8_0, 'Q8_0'), ['Q8_0', 'Q4_0'], opts.quick ? 3 : 6), path.join(tmp, 'big.contract.yaml'));
      pairs.push(...pairsOf('SYNTHETIC Gemma-3-270M-shaped (random weights)', d3));
      // A random model's top token is almost never valid JSON, so its constrained decoding takes the
      // grammar's slow path on every token; free decoding shows what generation costs without it.
      const d4 = await run('SYNTHETIC 270M, free decoding', syntheticContract(quantPattern(big.Q8_0, 'Q8_0'), ['Q8_0', 'Q4_0'], opts.quick ? 3 : 6), path.join(tmp, 'big-free.contract.yaml'), { free: true });
      pairs.push(...pairsOf('SYNTHETIC Gemma-3-270M-shaped, generation without the grammar', d4));
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

export function renderDrift(d: DriftBenchData): string {
  const m = d.machine;
  const busy = Math.max(...d.load) > m.cores ? ' **Busy machine** (load average above the core count): absolute times are inflated; read the ratios.' : '';
  const cost = table(
    ['Models', 'Pair', 'Examples', 'Output tokens', 'Generation (ref + cand)', 'Teacher forcing (ref + cand)', 'TF ÷ generation', 'TF per position, both models', 'Generation per token, both models'],
    d.pairs
      .filter((p) => p.cost)
      .map((p) => {
        const c = p.cost!;
        const tf = c.teacherForcingMs.reference + c.teacherForcingMs.candidate;
        const gen = c.generationMs ? c.generationMs.reference + c.generationMs.candidate : undefined;
        const tokens = c.generatedTokens ? Math.max(c.generatedTokens.reference, 1) : c.positions;
        return [
          p.set,
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
    ['Models', 'Pair', 'Answers that differ', 'Top-1 agreement', 'Mean KL (nats)', 'Reference mass in its top tokens', 'p95 latency', 'File size'],
    d.pairs.map((p) => [
      p.set,
      `${p.candidate} vs ${p.reference}`,
      `${p.differing}/${p.compared}`,
      p.top1 !== undefined ? sharePct(p.top1) : '–',
      p.meanKl !== undefined ? `${(p.meanCaptured ?? 1) < 0.99 ? '≥ ' : ''}${fmtKl(p.meanKl)} (${p.klMethod})` : '–',
      p.meanCaptured !== undefined ? `${(p.meanCaptured * 100).toFixed(p.meanCaptured > 0.999 ? 3 : 1)}%` : '–',
      p.p95Change !== undefined ? signedPct(p.p95Change) : '–',
      p.sizeChange !== undefined ? signedPct(p.sizeChange) : '–',
    ]),
  );
  return `## Drift between quantizations (issue 4)

${m.cores} cores (os.availableParallelism()), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; ${d.threads} llama.cpp thread; ${m.date.slice(0, 16).replace('T', ' ')} UTC; load average ${d.load[0]} before, ${d.load[1]} after${d.quick ? '; **quick run**' : ''}.${busy}

### Teacher forcing beside generation, same examples

Generation: the run engine's first measured run of each example (constrained by the schema's
grammar, greedy, one warm-up run per model before timing), prompt evaluation included, no cache.
Teacher forcing: the prompt plus the reference's output fed to each model in one batch
(\`controlledEvaluate\`), the top-K method (reference: one pass for the full-vocabulary normaliser,
greedy token and the answer's token, and a second for its top-K logits only when it is less than
99.9% sure somewhere in the answer; candidate: one pass reading the logits of the reference's
tokens, its normaliser and its greedy token); measured after a warm-up pass that creates the
context. The reference's passes are shared by every candidate, so its time repeats on each row.

${cost}
${d.exactMsPerPosition !== undefined ? `\nThe full-vocabulary method (\`--method exact\`: all 262,144 logits per position, as a JS Map) took **${ms(d.exactMsPerPosition)} per position per model** on the tiny models.\n` : ''}
### Drift measured

${drift}

KL is KL(reference ‖ candidate) of the raw next-token distributions (no grammar), averaged over
the teacher-forced positions; with the top-K method it is a lower bound (see docs/drift.md),
shown "≥" when the reference's top tokens hold less than 99% of its probability (random-weight
models spread it over the whole vocabulary). Peak RSS of the benchmark process:
${Math.round(d.peakRssBytes / 2 ** 20)} MiB.

Reproduce: \`node --import tsx bench/drift.ts${d.pairs.some((p) => p.set.includes('270M')) ? ' --270m' : ''}${d.exactMsPerPosition !== undefined ? ' --exact' : ''}\` (or \`benchDrift()\` from bench/run.ts).
`;
}

export function writeDriftSection(d: DriftBenchData): void {
  writeSection(DOC, SECTION, renderDrift(d), d);
}

if (require.main === module) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, '270m': { type: 'boolean' }, exact: { type: 'boolean' }, 'no-write': { type: 'boolean' } } });
  benchDrift({ quick: !!values.quick, with270m: !!values['270m'], exact: !!values.exact }).then(
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
