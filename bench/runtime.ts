/**
 * Issue 3's runtime targets, each beside its baseline in the same run (section `runtime` of
 * docs/benchmarks.md):
 *   - one example end to end through our pipeline vs a bare node-llama-cpp loop (same model, same
 *     tokens; with the grammar and without), on the Gemma-3-270M-shaped SYNTHETIC model;
 *   - 50 examples sharing a ≥200-token prefix: prefix reuse vs every prompt from scratch;
 *   - cold model load, and the language server's resident memory with the model loaded;
 *   - `contracts run` start-up until the model load, and our own work per example (scripted
 *     runner), beside promptfoo (echo provider) measured here in the same run.
 * The in-process parts run in fresh child processes (bench/runtime-probe.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureBenchModels, ensureSpecialist270mModels } from '../test/support/models';
import { fileUri, LspClient } from '../test/support/lsp-client';
import { oneExampleContract } from './runtime-probe';
import { writeSection } from './support/doc';
import { machine, type Machine } from './support/machine';
import { snapshotDist, type Dist } from './support/servers';

const REPO = path.resolve(__dirname, '..');
const DOC = path.join(REPO, 'docs', 'benchmarks.md');
export const PROMPTFOO_VERSION = '0.121.20';
const PROMPTFOO_DIR = path.join(REPO, '.cache', 'bench-baselines', `promptfoo-${PROMPTFOO_VERSION}`);

const TARGET = { vsBareGrammar: 1.1, vsBareFree: 1.25, prefixSpeedup: 2, startupMs: 300, ownUs: 1000 };

interface Arm {
  name: string;
  ms: number[];
  median: number;
  min: number;
  tokens: number;
  text: string;
}
interface PipelineData {
  model: string;
  promptTokens: number;
  maxTokens: number;
  rounds: number;
  traceLines: number;
  verdicts: { grammar: string; free: string };
  arms: Record<'pipelineGrammar' | 'bareGrammar' | 'pipelineFree' | 'bareFree', Arm>;
  ttftMs: { grammar: number; free: number };
}
interface PrefixData {
  model: string;
  examples: number;
  sharedPrefixTokens: number;
  rows: { outputTokens: number; reuse: boolean; wallMs: number; ttftP50: number; promptTokens: number; reused: number; generated: number }[];
}
interface LoadData {
  model: string;
  bytes: number;
  loadMs: number;
  rssBeforeBytes: number;
  rssLoadedBytes: number;
  pageCache: 'dropped' | 'warm';
}
interface ServerData {
  idleRssBytes: number;
  loadedRssBytes: number;
  peakRssBytes: number;
  coldRunMs: number;
  warmRunMs: number;
  status: string;
}
interface StartupRow {
  name: string;
  medianMs: number;
  runs: number[];
  note?: string;
}
interface OverheadData {
  examples: number;
  usPerExample: number;
  usPerExampleWithIo: number;
}

export interface RuntimeData {
  machine: Machine;
  threads: number;
  load: [number, number];
  quick: boolean;
  pipeline?: PipelineData;
  pipelineSpecialist?: PipelineData;
  prefix?: PrefixData;
  coldLoad: LoadData[];
  server?: ServerData;
  startup: StartupRow[];
  overhead?: OverheadData;
  promptfoo?: { version: string; startMs: number; perCaseMs: number; runs1: number[]; runs500: number[] } | { version: string; unavailable: string };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;

function probe<T>(part: string, model: string | undefined, quick: boolean, log: (s: string) => void, extra: string[] = []): T {
  log(`runtime: ${part}${model ? ` on ${path.basename(model)}` : ''}`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'runtime-probe.ts'), part, ...(model ? [model] : []), ...(quick ? ['--quick'] : []), ...extra], {
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = out.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}

/** Drops the page cache (root only); false when it cannot. */
function dropPageCache(): boolean {
  try {
    spawnSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = REPO): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return ms;
}

function startup(dist: Dist, quick: boolean): StartupRow[] {
  const rounds = quick ? 3 : 9;
  const until = ['run', 'samples/classify-complaint.contract.yaml', '--model', '/nonexistent/model.gguf', '--offline'];
  const cases: { row: StartupRow; args: string[] }[] = [
    { row: { name: '`contracts --version`', runs: [], medianMs: 0 }, args: [dist.contracts, '--version'] },
    { row: { name: '`contracts run samples/classify-complaint.contract.yaml` until the model load', runs: [], medianMs: 0, note: 'with `--model` naming a missing file: discovery, checking, settings and model resolution, then the error' }, args: [dist.contracts, ...until] },
    { row: { name: '… the same, the bundle run directly (`node dist/cli.js`, no code cache)', runs: [], medianMs: 0 }, args: [dist.cli, ...until] },
    { row: { name: '`contracts run samples` (7 contracts) until the model load', runs: [], medianMs: 0 }, args: [dist.contracts, 'run', 'samples', '--model', '/nonexistent/model.gguf', '--offline'] },
  ];
  timeProcess(cases[1]!.args);
  for (let r = 0; r < rounds; r++) for (const c of cases) c.row.runs.push(timeProcess(c.args));
  for (const { row } of cases) row.medianMs = median(row.runs);
  return cases.map((c) => c.row);
}

/** promptfoo (the baseline the issue names), installed on first use from the npm registry into .cache. */
function ensurePromptfoo(log: (s: string) => void): string | { unavailable: string } {
  const main = path.join(PROMPTFOO_DIR, 'node_modules', 'promptfoo', 'dist', 'src', 'main.js');
  if (fs.existsSync(main)) return main;
  log(`runtime: installing promptfoo@${PROMPTFOO_VERSION} into ${path.relative(REPO, PROMPTFOO_DIR)} (npm registry, once)`);
  fs.mkdirSync(PROMPTFOO_DIR, { recursive: true });
  fs.writeFileSync(path.join(PROMPTFOO_DIR, 'package.json'), JSON.stringify({ name: 'promptfoo-baseline', private: true }));
  const r = spawnSync('npm', ['install', `promptfoo@${PROMPTFOO_VERSION}`, '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: PROMPTFOO_DIR, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(main)) return { unavailable: `npm install promptfoo@${PROMPTFOO_VERSION} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-2).join(' ')}` };
  return main;
}

function promptfooConfig(n: number): string {
  const tests = Array.from({ length: n }, (_, i) => `  - vars: { t: 'text number ${i}' }\n    assert:\n      - type: contains\n        value: 'number ${i}'`).join('\n');
  return `description: bench\nprompts:\n  - 'Text: {{t}}'\nproviders:\n  - echo\ntests:\n${tests}\n`;
}

function benchPromptfoo(quick: boolean, log: (s: string) => void): RuntimeData['promptfoo'] {
  const main = ensurePromptfoo(log);
  if (typeof main !== 'string') return { version: PROMPTFOO_VERSION, ...main };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-pf-'));
  try {
    fs.writeFileSync(path.join(dir, 'one.yaml'), promptfooConfig(1));
    fs.writeFileSync(path.join(dir, 'many.yaml'), promptfooConfig(500));
    const env = { ...process.env, PROMPTFOO_DISABLE_TELEMETRY: '1', PROMPTFOO_DISABLE_UPDATE: '1', PROMPTFOO_CONFIG_DIR: path.join(dir, 'home'), NO_COLOR: '1' };
    const run = (cfg: string) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [main, 'eval', '-c', cfg, '--no-cache', '--no-write', '--no-progress-bar'], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`promptfoo eval ${cfg} exited ${r.status}: ${(r.stderr || r.stdout).slice(-500)}`);
      return ms;
    };
    log('runtime: promptfoo eval, echo provider, 1 and 500 test cases');
    run('one.yaml');
    const runs1: number[] = [];
    const runs500: number[] = [];
    for (let r = 0; r < (quick ? 2 : 5); r++) {
      runs1.push(run('one.yaml'));
      runs500.push(run('many.yaml'));
    }
    return { version: PROMPTFOO_VERSION, startMs: median(runs1), perCaseMs: (median(runs500) - median(runs1)) / 499, runs1, runs500 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function procStatus(pid: number): { rss: number; hwm: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function benchServer(dist: Dist, model: string, log: (s: string) => void): Promise<ServerData> {
  log('runtime: language server, cold and warm run, resident memory');
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-srv-')));
  const client = LspClient.start({ built: true, settings: { modelFile: model, threads: 1, useCache: false, allowDownload: false, idleUnloadSeconds: 0 } });
  // LspClient.start runs dist/server.js; the snapshot is not needed for this part (it starts once).
  void dist;
  try {
    await client.initialize(dir, { workspace: { configuration: true } });
    const file = path.join(dir, 'one.contract.yaml');
    const text = oneExampleContract(30);
    fs.writeFileSync(file, text);
    const uri = fileUri(file);
    const opened = client.diagnosticsFor(uri, 1);
    client.open(uri, text);
    await opened;
    const pid = client.child.pid!;
    const idle = procStatus(pid);
    const run = () => client.request<{ results: { status: string }[]; reason?: string }>('workspace/executeCommand', { command: 'contracts.runExample', arguments: [{ uri, example: 'parcel in the depot' }] }, 300_000);
    let t0 = performance.now();
    const cold = await run();
    const coldRunMs = performance.now() - t0;
    t0 = performance.now();
    await run();
    const warmRunMs = performance.now() - t0;
    const loaded = procStatus(pid);
    return { idleRssBytes: idle.rss, loadedRssBytes: loaded.rss, peakRssBytes: loaded.hwm, coldRunMs, warmRunMs, status: cold.results[0]?.status ?? `no result: ${cold.reason}` };
  } finally {
    await client.stop(15_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRuntime(opts: { quick: boolean; log: (s: string) => void }): Promise<RuntimeData> {
  const { quick, log } = opts;
  const model = (await ensureBenchModels())['270m'].Q8_0;
  const dist = snapshotDist();
  const before = load1();
  const startupRows = startup(dist, quick);
  const promptfoo = benchPromptfoo(quick, log);
  const overhead = probe<OverheadData>('overhead', undefined, quick, log);
  const pipeline = probe<PipelineData>('pipeline', model, quick, log);
  // The trained specialist padded to the 270M shape (training/pad-270m.ts): a model that writes the JSON itself.
  const specialist270m = (await ensureSpecialist270mModels()).Q8_0;
  const pipelineSpecialist = probe<PipelineData>('pipeline', specialist270m, quick, log, [`--contract=${path.join(REPO, 'samples', 'specialist-triage.contract.yaml')}`]);
  const prefix = probe<PrefixData>('prefix', model, quick, log);
  const coldLoad: LoadData[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const dropped = dropPageCache();
    coldLoad.push({ ...probe<Omit<LoadData, 'pageCache'>>('load', model, quick, log), pageCache: dropped ? 'dropped' : 'warm' });
    coldLoad.push({ ...probe<Omit<LoadData, 'pageCache'>>('load', model, quick, log), pageCache: 'warm' });
  }
  const server = await benchServer(dist, model, log);
  return { machine: machine(), threads: 1, load: [before, load1()], quick, pipeline, pipelineSpecialist, prefix, coldLoad, server, startup: startupRows, overhead, promptfoo };
}

// --- rendering ----------------------------------------------------------------------------------

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x < 10 ? `${x.toFixed(2)} ms` : x < 10_000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);
const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
const met = (ok: boolean) => (ok ? '**met**' : '**missed**');
const x2 = (r: number) => `${r.toFixed(2)}×`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function pipelineRows(p: PipelineData): string[][] {
  const a = p.arms;
  const same = (x: Arm, y: Arm) => (x.text === y.text ? 'same text' : '**text differs**');
  return [
    ['pipeline, JSON grammar', ms(a.pipelineGrammar.median), ms(a.pipelineGrammar.min), String(a.pipelineGrammar.tokens), x2(a.pipelineGrammar.median / a.bareGrammar.median), same(a.pipelineGrammar, a.bareGrammar)],
    ['bare loop, same grammar', ms(a.bareGrammar.median), ms(a.bareGrammar.min), String(a.bareGrammar.tokens), '1.00×', ''],
    ['pipeline, free decoding', ms(a.pipelineFree.median), ms(a.pipelineFree.min), String(a.pipelineFree.tokens), x2(a.pipelineFree.median / a.bareFree.median), same(a.pipelineFree, a.bareFree)],
    ['bare loop, no grammar', ms(a.bareFree.median), ms(a.bareFree.min), String(a.bareFree.tokens), '1.00×', ''],
  ];
}

export function renderRuntime(d: RuntimeData): string {
  const m = d.machine;
  const p = d.pipeline;
  const summary: string[][] = [];
  if (p) {
    const a = p.arms;
    summary.push([`One example (${p.promptTokens} prompt tokens, ${a.pipelineGrammar.tokens} output tokens), whole pipeline with the JSON grammar: within ${TARGET.vsBareGrammar}× of a bare node-llama-cpp loop with the same grammar`, `${ms(a.pipelineGrammar.median)} vs ${ms(a.bareGrammar.median)}: ${x2(a.pipelineGrammar.median / a.bareGrammar.median)}`, met(a.pipelineGrammar.median / a.bareGrammar.median <= TARGET.vsBareGrammar)]);
    summary.push([`… free decoding, pipeline vs the bare loop without a grammar: within ${TARGET.vsBareFree}×`, `${ms(a.pipelineFree.median)} vs ${ms(a.bareFree.median)}: ${x2(a.pipelineFree.median / a.bareFree.median)}`, met(a.pipelineFree.median / a.bareFree.median <= TARGET.vsBareFree)]);
    const s = d.pipelineSpecialist;
    if (s) {
      const r = s.arms.pipelineGrammar.median / s.arms.bareFree.median;
      summary.push([`… pipeline with the grammar vs the bare loop without one, on a model whose own choice is valid JSON (the grammar's fast path): within ${TARGET.vsBareFree}×`, `${ms(s.arms.pipelineGrammar.median)} vs ${ms(s.arms.bareFree.median)}: ${x2(r)} (trained specialist padded to the 270M shape)`, met(r <= TARGET.vsBareFree)]);
    }
    const rw = a.pipelineGrammar.median / a.bareFree.median;
    summary.push([`… pipeline with the grammar vs the bare loop without one, on the random-weight model (the grammar's slow path on nearly every token: node-llama-cpp's, not ours)`, `${ms(a.pipelineGrammar.median)} vs ${ms(a.bareFree.median)}: ${x2(rw)}`, rw <= TARGET.vsBareFree ? met(true) : 'worst case, see below']);
  }
  const pre = d.prefix;
  const prefixSpeed = (out: number) => {
    if (!pre) return undefined;
    const off = median(pre.rows.filter((r) => r.outputTokens === out && !r.reuse).map((r) => r.wallMs));
    const on = median(pre.rows.filter((r) => r.outputTokens === out && r.reuse).map((r) => r.wallMs));
    const ttOff = median(pre.rows.filter((r) => r.outputTokens === out && !r.reuse).map((r) => r.ttftP50));
    const ttOn = median(pre.rows.filter((r) => r.outputTokens === out && r.reuse).map((r) => r.ttftP50));
    return { off, on, ttOff, ttOn, speed: off / on };
  };
  if (pre) {
    const outs = [...new Set(pre.rows.map((r) => r.outputTokens))].sort((a, b) => a - b);
    for (const out of outs) {
      const s = prefixSpeed(out)!;
      const measured = `${ms(s.on)} vs ${ms(s.off)}: ${x2(s.speed)}; time to first token p50 ${ms(s.ttOn)} vs ${ms(s.ttOff)}`;
      if (out === outs[0]) summary.push([`${pre.examples} examples sharing a ${pre.sharedPrefixTokens}-token prefix, ${out} output tokens each: at least ${TARGET.prefixSpeedup}× the throughput of running each from scratch`, measured, met(s.speed >= TARGET.prefixSpeedup)]);
      else summary.push([`… the same with ${out} output tokens each (generation, which reuse cannot shorten, is then most of the time)`, measured, 'reported']);
    }
  }
  const st = d.startup[1];
  const pf = d.promptfoo && 'startMs' in d.promptfoo ? d.promptfoo : undefined;
  if (st) summary.push([`\`contracts run\` start-up before the model loads: under ${TARGET.startupMs} ms`, `${ms(st.medianMs)}${pf ? ` (promptfoo ${pf.version}, echo provider, one test case, whole run: ${ms(pf.startMs)})` : ''}`, met(st.medianMs < TARGET.startupMs)]);
  if (d.overhead) summary.push([`Our own work per example besides generation (scripted runner): under 1 ms`, `${Math.round(d.overhead.usPerExample)} µs; ${Math.round(d.overhead.usPerExampleWithIo)} µs with its trace line and cache entry${pf ? ` (promptfoo: ${ms(pf.perCaseMs)} per test case)` : ''}`, met(d.overhead.usPerExampleWithIo < TARGET.ownUs)]);
  const cold = d.coldLoad.filter((l) => l.pageCache === 'dropped');
  const warm = d.coldLoad.filter((l) => l.pageCache === 'warm');
  if (d.coldLoad.length) summary.push(['Cold model load (270M-shaped Q8_0, 292 MB)', `${cold.length ? `${ms(median(cold.map((l) => l.loadMs)))} from disk (page cache dropped), ` : ''}${ms(median(warm.map((l) => l.loadMs)))} from the page cache`, 'reported']);
  if (d.server) summary.push(['Language server resident memory with the model loaded', `${mib(d.server.loadedRssBytes)} (idle before the first run: ${mib(d.server.idleRssBytes)}; peak ${mib(d.server.peakRssBytes)})`, 'reported']);

  const busy = Math.max(...d.load) > m.cores ? `\n\n**Busy machine** (load average above the core count): absolute times are inflated; read the ratios.` : '';
  const parts: string[] = [
    '## Runtime: runs on the local model (issue 3)',
    '',
    `${m.cores} cores (os.availableParallelism()), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; node-llama-cpp with ${d.threads} thread (the rule for ≤ 2 cores, see NOTES); ${m.date.slice(0, 16).replace('T', ' ')} UTC; load average ${d.load[0]} before, ${d.load[1]} after${d.quick ? '; **quick run**' : ''}.${busy}`,
    '',
    'Every model here is SYNTHETIC (random weights, or the tiny trained specialist where said): the',
    'timings are real, the answers mean nothing.',
    '',
    table(['Target', 'Measured', 'Verdict'], summary),
  ];
  if (p) {
    parts.push(
      '',
      `### 1. One example: the pipeline vs a bare node-llama-cpp loop`,
      '',
      `${p.model}; ${p.rounds} rounds, the four arms interleaved; wall time of the whole call.`,
      '',
      table(['Arm', 'median', 'min', 'output tokens', 'vs its bare loop', 'tokens'], pipelineRows(p)),
      '',
      `Time to first token inside the pipeline (p50): ${ms(p.ttftMs.grammar)} with the grammar, ${ms(p.ttftMs.free)} free. Verdicts: ${p.verdicts.grammar} (grammar), ${p.verdicts.free} (free) — maxTokens ${p.maxTokens} cuts the random model's string. Trace lines written: ${p.traceLines}.`,
    );
    if (d.pipelineSpecialist) {
      parts.push('', `The same on ${d.pipelineSpecialist.model} (a model that writes the JSON itself, at the 270M compute shape):`, '', table(['Arm', 'median', 'min', 'output tokens', 'vs its bare loop', 'tokens'], pipelineRows(d.pipelineSpecialist)));
    }
    parts.push(
      '',
      '**How measured** (`bench/runtime-probe.ts pipeline`). One process loads the model once through the',
      'ModelManager. *Pipeline*: `runContract()` on a one-example contract (`oneExampleContract` in the probe:',
      'system text + a message, schema with an enum, a boolean and a string), warm-up 0, cache off, traces',
      'on — model resolution, rendering with the Gemma template, tokenizing, the grammar (compiled once per',
      'schema), generation, JSON parse, full schema validation, verdict, timings, and the trace line; as in',
      'the editor, the runner and its context outlive a run while the model is loaded, so the shared prompt',
      'prefix is evaluated once. *Bare loop*: one context made once; per call `tokenize`, the shared prefix',
      'kept from the previous call (evaluated as its own batch the first time, as the runner does, so the',
      'floating-point work and so the greedy tokens are the same — the table checks the text), the rest of',
      'the prompt and generation by `sequence.evaluate`, greedy, with a `LlamaGrammarEvaluationState` of',
      '`createGrammarForJsonSchema` on the same converted schema (or none),',
      'stopped after as many tokens as the pipeline produced, `detokenize`. One warm-up call of each first.',
      '',
      "On the random-weight model the grammar rejects the model's own top token almost every time, and",
      "node-llama-cpp then masks the whole 262,144-token vocabulary and samples again (NOTES: “Cost of the",
      'grammar”); that native slow path is what separates the grammar rows from the free rows. A trained model',
      'writes the JSON itself and stays on the fast path (one check per token).',
    );
  }
  if (pre) {
    parts.push(
      '',
      '### 2. Many examples sharing a prompt prefix',
      '',
      table(
        ['output tokens', 'prefix reuse', 'wall for all', 'time to first token p50', 'prompt tokens p50', 'reused p50'],
        [...new Set(pre.rows.map((r) => r.outputTokens))].flatMap((out) =>
          [true, false].map((reuse) => {
            const rows = pre.rows.filter((r) => r.outputTokens === out && r.reuse === reuse);
            return [String(out), reuse ? 'yes' : 'no (from scratch)', ms(median(rows.map((r) => r.wallMs))), ms(median(rows.map((r) => r.ttftP50))), String(median(rows.map((r) => r.promptTokens))), String(median(rows.map((r) => r.reused)))];
          }),
        ),
      ),
      '',
      `**How measured** (\`bench/runtime-probe.ts prefix\`). ${pre.model}. \`runContract()\` on a contract of ${pre.examples}`,
      `examples whose rendered prompts share ${pre.sharedPrefixTokens} leading tokens (system text + the user template up to its`,
      'placeholder), free decoding, cache off. With reuse (the default), the runner keeps the evaluated prefix',
      'in the sequence and evaluates only the rest of each prompt; without (`reusePrefix: false`), every',
      'prompt is evaluated whole. Several context sequences in parallel did not raise throughput on 2 cores',
      '(NOTES), so the runner uses one.',
    );
  }
  if (d.coldLoad.length || d.server) {
    parts.push('', '### 3. Model load and memory', '');
    if (d.coldLoad.length) {
      parts.push(
        table(
          ['page cache', 'load', 'process RSS before', 'after the load'],
          d.coldLoad.map((l) => [l.pageCache === 'dropped' ? 'dropped (from disk)' : 'warm', ms(l.loadMs), mib(l.rssBeforeBytes), mib(l.rssLoadedBytes)]),
        ),
        '',
        `\`bench/runtime-probe.ts load\`: a fresh process, \`ModelManager.load()\` (GGUF header check, \`getLlama\` with \`build: 'never'\`, \`loadModel\`) of ${d.coldLoad[0]!.model} (${(d.coldLoad[0]!.bytes / 1e6).toFixed(0)} MB). "Dropped": \`/proc/sys/vm/drop_caches\` written first. The weights are memory-mapped, so RSS grows as pages are touched.`,
      );
    }
    if (d.server) {
      const s = d.server;
      parts.push(
        '',
        `The language server (\`dist/server.js --stdio\`, settings \`modelFile\` = the 270M-shaped Q8_0, 1 thread) with the one-example contract open: resident ${mib(s.idleRssBytes)} before any run; "Run example" cold (llama.cpp start + model load + the run) ${ms(s.coldRunMs)}, warm ${ms(s.warmRunMs)} (verdict ${s.status}); then resident ${mib(s.loadedRssBytes)}, peak ${mib(s.peakRssBytes)} (\`VmRSS\`/\`VmHWM\` of the server process).`,
      );
    }
  }
  parts.push('', '### 4. Start-up and our own work per example', '');
  parts.push(table(['Command', 'median', 'runs'], d.startup.map((r) => [r.name, ms(r.medianMs), r.runs.map((x) => Math.round(x)).join(', ')])));
  parts.push('', 'Wall time from spawn to exit (Node\'s own start included), interleaved rounds. The `contracts` bin is a small loader (`scripts/cli-loader.cjs` → `dist/contracts.js`) that runs the 1.8 MB bundle with the V8 code cache the build writes from one `contracts check`; Node 20 has no compile cache of its own.');
  if (d.overhead) parts.push('', `Our own work per example (\`bench/runtime-probe.ts overhead\`): \`runContract()\` with the ScriptedRunner (answers at once) over ${d.overhead.examples} examples, cache bypassed — rendering, tokenizing, verdict, field comparison, statistics: ${Math.round(d.overhead.usPerExample)} µs per example; with a trace line and a cache entry written for each: ${Math.round(d.overhead.usPerExampleWithIo)} µs.`);
  if (d.promptfoo) {
    parts.push(
      '',
      'promptfoo' in d && 'unavailable' in d.promptfoo
        ? `promptfoo ${d.promptfoo.version} could not be measured: ${d.promptfoo.unavailable}.`
        : `Baseline: promptfoo ${d.promptfoo.version} (installed by the benchmark from the npm registry into .cache, telemetry and update checks off), \`promptfoo eval --no-cache --no-write\` with its \`echo\` provider and one \`contains\` assertion per case: one case ${ms((d.promptfoo as { startMs: number }).startMs)} for the whole run (runs: ${(d.promptfoo as { runs1: number[] }).runs1.map((x) => Math.round(x)).join(', ')} ms); 500 cases: ${(d.promptfoo as { runs500: number[] }).runs500.map((x) => Math.round(x)).join(', ')} ms, i.e. ${ms((d.promptfoo as { perCaseMs: number }).perCaseMs)} per additional case.`,
    );
  }
  return parts.join('\n');
}

export function writeRuntimeSection(d: RuntimeData): void {
  writeSection(DOC, 'runtime', renderRuntime(d), d);
}
