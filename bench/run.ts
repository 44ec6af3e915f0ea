/**
 * `npm run bench [-- --only lsp|check|drift|specialist|runtime] [--quick] [--no-write] [--render-only]`: the performance targets of issue 2,
 * each beside its baselines in the same run. Prints a table and rewrites its section of
 * docs/benchmarks.md.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { bareContender, cliContender, lspContender, measureThroughput, profileCli, type ThroughputResult } from './check-throughput';
import type { ProfileSummary } from './support/profile-summary';
import { largeContract } from './gen';
import { editSequence, measureLspLatency, type LspLatencyResult } from './lsp-latency';
import { TASKSET } from './support/children';
import { benchDrift, renderDrift, writeDriftSection } from './drift';
import { benchSpecialist, renderSpecialist, writeSpecialistSection } from './specialist';
import { benchRuntime, renderRuntime, writeRuntimeSection } from './runtime';
import { readSectionData, writeSection } from './support/doc';
import { machine, type Machine } from './support/machine';
import { median } from './support/stats';
import { oursSpec, REPO, snapshotDist, YAMLLS, YAMLLS_UNDEBOUNCED, type Dist } from './support/servers';

const SECTION = 'issue2';
const DOC = path.join(REPO, 'docs/benchmarks.md');

const TARGET_EDIT_MEDIAN_MS = 30;
const TARGET_CHECK_MS = 1500;
const TARGET_VS_BARE = 1.5;
const CHECK_FILES = 1000;

interface Context {
  machine: Machine;
  build: string;
  /** 1-minute load average before and after (other work on the machine skews timings). */
  load: [number, number];
  quick: boolean;
}

interface LspPart extends Context {
  warmup: number;
  measured: number;
  results: LspLatencyResult[];
}

interface CheckPart extends Context {
  files: number;
  iterations: number;
  results: ThroughputResult[];
  /** Where `contracts check` spent its time, from one more run under --cpu-prof. */
  profile?: Pick<ProfileSummary, 'profiles' | 'totalMs' | 'perFile' | 'children'>;
}

interface Data {
  lsp?: LspPart;
  check?: CheckPart;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const load1 = () => Math.round(os.loadavg()[0] * 100) / 100;

function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x < 100 ? `${x.toFixed(1)} ms` : x < 10_000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`;
}
const mib = (b: number | undefined) => (b === undefined ? '–' : `${Math.round(b / 2 ** 20)} MiB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function machineLine(c: Context): string {
  const m = c.machine;
  const busy = Math.max(...c.load) > m.cores
    ? `\n\n**Busy machine** (load average above the core count): absolute times are inflated; read the ratios.`
    : '';
  return `${m.cores} cores (os.availableParallelism()), ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; ${c.build}; ${m.date.slice(0, 16).replace('T', ' ')} UTC; load average ${c.load[0]} before, ${c.load[1]} after${c.quick ? '; **quick run** (fewer iterations)' : ''}${busy}`;
}

function renderLsp(p: LspPart): { summary: string[][]; body: string } {
  const [ours, ...base] = p.results;
  const shipped = base.find((r) => r.server === YAMLLS.name);
  const summary = [
    [
      `Diagnostics after a one-character edit, 2,000-line contract with 200 examples: median under ${TARGET_EDIT_MEDIAN_MS} ms`,
      `${ms(ours.latency.median)} median, ${ms(ours.latency.p95)} p95${shipped ? ` (yaml-language-server: ${ms(shipped.latency.median)}, ${ms(shipped.latency.p95)})` : ''}`,
      verdict(ours.latency.median < TARGET_EDIT_MEDIAN_MS),
    ],
  ];
  const rows = p.results.map((r) => [
    r === ours ? `**${r.server}**` : r.server,
    ms(r.latency.median),
    ms(r.latency.p95),
    ms(r.latency.min),
    ms(r.latency.max),
    String(r.latency.n),
    r === ours ? '1.00×' : ratio(r.latency.median, ours.latency.median),
    ms(r.openMs),
    mib(r.peakRssBytes),
  ]);
  const body = `### 1. Diagnostics after a one-character edit

${machineLine(p)}

${table(['Server', 'median', 'p95', 'min', 'max', 'edits', 'median vs ours', 'first check on open', 'peak RSS'], rows)}

**How measured** (\`bench/lsp-latency.ts\`). Each server (ours: \`dist/server.js --stdio\`, copied
aside when the run starts) is started as its own process and driven
over stdio by a small dependency-free LSP client (\`bench/support/lsp-client.ts\`). The document
is \`largeContract(200)\` from \`bench/gen.ts\` (2,026 lines, 200 examples), opened from a temp
folder. Each edit is one \`textDocument/didChange\` (incremental when the server asks for it)
that alternately inserts and deletes one character at the end of the \`description\` of the
middle example (line ${editSequence(largeContract(200), 1)[0].line + 1}); the time is from writing the notification to reading the
\`publishDiagnostics\` for that version (for a server that sends no version, the next one for
that document — edits are sent one at a time, so it cannot be an older one). ${p.warmup}
warm-up edits, then ${p.measured} measured; all servers get the same sequence, one after the other
in the same run. Before timing, each server must report a deliberately broken contract
(\`contract: [not, a, name]\`) — proof that it validates against the format; it said:
${p.results.map((r) => `${r.server}: “${r.sanity}”`).join('; ')}. Diagnostics on the large
contract after the last edit: ${p.results.map((r) => `${r.server} ${r.finalDiagnostics}`).join(', ')}.
Peak RSS is the server process's, from GNU time (or getrusage in the child).

yaml-language-server is given \`schemas/contract.schema.json\` for \`*.contract.yaml\` through
\`yaml.schemas\` (answered to its \`workspace/configuration\` pull), with the schema store and the
Kubernetes CRD store off (no network). As shipped it waits a fixed 200 ms
(\`validationDelayMs\`) after every change before validating; the "no debounce" row sets that to
0 at run time (\`bench/support/yamlls-no-debounce.mjs\`; node_modules untouched). It checks the
contract's *structure* only: it cannot validate each example's \`expected\` against the inline
\`output.schema\`, and has none of our other checks (placeholders, example names and inputs,
schema safety, grammar gaps, coverage) — we do more work per edit, not less.
`;
  return { summary, body };
}

function renderCheck(p: CheckPart): { summary: string[][]; body: string } {
  const ours = p.results[0];
  const yamlls = p.results.find((r) => r.name === YAMLLS.name);
  const bare = p.results.find((r) => r.name === bareContender().name);
  const summary: string[][] = [
    [`\`contracts check\` over ${CHECK_FILES.toLocaleString('en')} contracts of ~40 lines: under 1.5 s wall, Node's start included`, `${ms(ours.medianMs)} median, ${ms(ours.minMs)} min; peak RSS ${mib(ours.medianRssBytes)}`, verdict(ours.medianMs < TARGET_CHECK_MS)],
  ];
  // Rounds are interleaved, so round i of each tool saw about the same load: their ratio is steadier.
  const pairedRatio = (other: ThroughputResult) => median(ours.runs.map((r, i) => r.wallMs / (other.runs[i]?.wallMs ?? NaN)));
  const paired = (other: ThroughputResult) => ratio(pairedRatio(other), 1);
  const cpu = (other: ThroughputResult) => (ours.medianCpuMs !== undefined && other.medianCpuMs !== undefined ? `; CPU time ${ratio(ours.medianCpuMs, other.medianCpuMs)}` : '');
  // A ratio target is met when the ratio of medians and the median round-by-round ratio both say so.
  const ratioVerdict = (other: ThroughputResult, limit: number, strict: boolean) => {
    const ok = (x: number) => (strict ? x < limit : x <= limit);
    const a = ok(ours.medianMs / other.medianMs);
    const b = ok(pairedRatio(other));
    return a === b ? verdict(a) : '**unclear** (the two ratios disagree: noise)';
  };
  if (yamlls) summary.push([`… faster than yaml-language-server on the same files`, `${ms(yamlls.medianMs)} median: ours takes ${ratio(ours.medianMs, yamlls.medianMs)} its time (round by round ${paired(yamlls)}${cpu(yamlls)})`, ratioVerdict(yamlls, 1, true)]);
  if (bare) summary.push([`… within ${TARGET_VS_BARE}× of a bare yaml + ajv script`, `${ms(bare.medianMs)} median: ours takes ${ratio(ours.medianMs, bare.medianMs)} its time (round by round ${paired(bare)}${cpu(bare)})`, ratioVerdict(bare, TARGET_VS_BARE, false)]);
  const rows = p.results.map((r) => [
    r === ours ? `**${r.name}**` : r.name,
    ms(r.medianMs),
    ms(r.minMs),
    r === ours ? '1.00×' : ratio(r.medianMs, ours.medianMs),
    ms(r.medianCpuMs),
    mib(r.medianRssBytes),
    r.runs.map((x) => Math.round(x.wallMs)).join(', '),
  ]);
  const body = `### 2. \`contracts check\` over ${CHECK_FILES.toLocaleString('en')} contracts

${machineLine(p)}

${table(['Tool', 'median wall', 'min wall', 'median vs ours', 'CPU time (median)', 'peak RSS (median)', 'every run, ms'], rows)}

What each reported: ${p.results.map((r) => `${r.name}: ${r.note}`).join('; ')}.

**How measured** (\`bench/check-throughput.ts\`). \`smallContract(i)\` from \`bench/gen.ts\` for
i = 0…${CHECK_FILES - 1} is written to a fresh folder under \`os.tmpdir()\` (all files valid; the
page cache is warm for every tool alike). Each tool runs ${p.iterations} times, interleaved (ours,
then each baseline, then again), so that drifts in the machine's load hit all of them alike;
the table gives the median and the minimum, and the summary also the median of the round-by-round
ratios (each round's tools ran back to back, under about the same load).
- **contracts check**: \`node dist/cli.js check <folder>\` (default text output into a pipe; the
  bundles of \`npm run build\` are copied aside when the run starts, so that a rebuild in the same
  tree cannot change them mid-run), wall time
  from spawn to exit — Node's start, discovery, reading, checking and printing included. Peak RSS of
  that process from GNU time (\`/usr/bin/time -v\`) where present, else getrusage inside the child;
  CPU time is user + system of that process (worker threads included), less sensitive than wall
  time to other load on the machine. For the language servers, CPU time and peak RSS cover the
  whole process, including the untimed format check and shutdown after the last diagnostics.
- **yaml-language-server**: started over stdio, initialized, its settings pull answered (the same
  contract-format schema for \`*.contract.yaml\`, no network), then every file read and opened;
  the time runs from spawn to the \`publishDiagnostics\` of the last file. As shipped each file
  waits out the 200 ms debounce (per document, so concurrently); the "no debounce" row sets it to 0.
  It checks structure only, not the examples against their output schemas.
- **contracts check on one CPU** (where \`taskset\` exists): the same command pinned to one CPU,
  so that it starts no worker threads — what the workers win or cost on this machine.
- **bare yaml + ajv script** (\`bench/baselines/bare-yaml-ajv.mjs\`): \`node\` on a script that
  lists the folder, reads and parses each file with \`yaml\`, validates it against the
  contract-format schema compiled once with ajv, and each example's \`expected\` against its output
  schema, compiled once per distinct schema. No source positions, messages or other checks: the
  floor for this work in Node.
${p.profile ? renderProfile(p.profile) : ''}`;
  return { summary, body };
}

function renderProfile(prof: NonNullable<CheckPart['profile']>): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  // Rows are `function  file:line` (two spaces) or a file alone.
  const code = (name: string) => {
    const [fn, at] = name.split('  ');
    return at === undefined ? `\`${fn}\`` : `\`${fn}\` ${at}`;
  };
  const rows = (rs: ProfileSummary['children']) => rs.filter((r) => r.share >= 0.005).map((r) => [code(r.name), `${Math.round(r.ms)} ms`, pct(r.share)]);
  return `
**Where \`contracts check\` spends its time**: one more, untimed run under \`node --cpu-prof\`
(${prof.profiles} thread profile${prof.profiles === 1 ? '' : 's'} added up, ${Math.round(prof.totalMs)} ms sampled; sampled time stretches with
the machine's load, so read the shares). Time under the checker's \`runChecks\`, by the function it called:

${table(['callee of runChecks', 'time', 'share of all'], rows(prof.children))}

Self time by file (all threads):

${table(['file', 'time', 'share'], rows(prof.perFile))}

(\`node --import tsx bench/support/profile-summary.ts <dir> --children <function>\` splits any function the same way.)
`;
}

function busyNote(d: Data): string {
  const parts = [d.lsp, d.check].filter((x): x is LspPart | CheckPart => x !== undefined);
  const worst = Math.max(...parts.flatMap((p) => p.load));
  const cores = parts[0]?.machine.cores ?? 1;
  if (worst <= cores) return '';
  return `
These runs shared the machine with other work (1-minute load average up to ${worst} on ${cores} cores):
every absolute time here is inflated by it. An absolute target met here would be met on an idle
machine too; one missed here may or may not be. The ratios, measured under the same load, and the
CPU times are the steadier figures.
`;
}

function render(d: Data): string {
  const parts = [d.lsp ? renderLsp(d.lsp) : undefined, d.check ? renderCheck(d.check) : undefined].filter((x) => x !== undefined);
  const summary = parts.flatMap((p) => p.summary);
  return `## Editor latency and \`contracts check\` throughput (issue 2)

Each target beside its baselines, measured in the same run on the same machine.

${table(['Target', 'Measured', 'Verdict'], summary)}
${busyNote(d)}
${parts.map((p) => p.body).join('\n')}`;
}

function context(dist: Dist, quick: boolean, before: number): Context {
  return { machine: machine(), build: dist.flavour, load: [before, load1()], quick };
}

async function runLsp(dist: Dist, quick: boolean): Promise<LspPart> {
  const warmup = 5;
  const measured = quick ? 10 : 50;
  const before = load1();
  const results: LspLatencyResult[] = [];
  for (const spec of [oursSpec(dist.server), YAMLLS, YAMLLS_UNDEBOUNCED]) {
    log(`lsp: ${spec.name}: ${warmup} warm-up + ${measured} edits`);
    const r = await measureLspLatency(spec, { warmup, measured });
    r.samples = r.samples.map((x) => Math.round(x * 10) / 10);
    log(`  median ${ms(r.latency.median)}, p95 ${ms(r.latency.p95)}`);
    results.push(r);
  }
  return { ...context(dist, quick, before), warmup, measured, results };
}

async function runCheck(dist: Dist, quick: boolean): Promise<CheckPart> {
  const iterations = quick ? 2 : 5;
  const before = load1();
  log(`check: ${CHECK_FILES} contracts, ${iterations} runs of each tool`);
  const contenders = [cliContender(CHECK_FILES, dist.cli), lspContender(YAMLLS), lspContender(YAMLLS_UNDEBOUNCED), bareContender()];
  if (TASKSET && os.availableParallelism() > 1) contenders.push(cliContender(CHECK_FILES, dist.cli, '0'));
  const results = await measureThroughput(contenders, {
    files: CHECK_FILES,
    iterations,
    log,
  });
  log('check: one more run of contracts check under --cpu-prof');
  const { self: _self, inclusive: _inclusive, ...profile } = await profileCli(CHECK_FILES, dist.cli);
  return { ...context(dist, quick, before), files: CHECK_FILES, iterations, results, profile };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      // Rewrites the section from the results stored in it, measuring nothing (after a change to this file's text).
      'render-only': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const only = values.only;
  if (only !== undefined && !['lsp', 'check', 'drift', 'specialist', 'runtime'].includes(only)) {
    log(`bench: --only takes lsp, check, drift, specialist or runtime, not '${only}'`);
    return 2;
  }
  if (values['render-only']) {
    const stored = readSectionData<Data>(DOC, SECTION);
    if (!stored) {
      log(`bench: no stored results in ${path.relative(REPO, DOC)}`);
      return 2;
    }
    writeSection(DOC, SECTION, render(stored), stored);
    return 0;
  }
  const quick = values.quick!;
  if (only === undefined || only === 'lsp' || only === 'check') {
    const dist = snapshotDist();
    const data: Data = (only ? readSectionData<Data>(DOC, SECTION) : undefined) ?? {};
    if (only !== 'check') data.lsp = await runLsp(dist, quick);
    if (only !== 'lsp') data.check = await runCheck(dist, quick);
    const text = render(data);
    process.stdout.write(`\n${text}\n`);
    if (!values['no-write']) {
      writeSection(DOC, SECTION, text, data);
      log(`bench: wrote ${path.relative(REPO, DOC)}`);
    }
  }
  if (only === undefined || only === 'drift') {
    // Quantization drift and teacher forcing beside generation (bench/drift.ts, its own section).
    const drift = await benchDrift({ quick, log });
    process.stdout.write(`\n${renderDrift(drift)}\n`);
    if (!values['no-write']) writeDriftSection(drift);
  }
  if (only === undefined || only === 'runtime') {
    // Issue 3: the run pipeline vs bare node-llama-cpp, prefix reuse, load, memory, start-up (bench/runtime.ts).
    const rt = await benchRuntime({ quick, log });
    process.stdout.write(`\n${renderRuntime(rt)}\n`);
    if (!values['no-write']) writeRuntimeSection(rt);
  }
  if (only === undefined || only === 'specialist') {
    const spec = await benchSpecialist(log);
    process.stdout.write(`\n${renderSpecialist(spec)}\n`);
    if (!values['no-write']) writeSpecialistSection(spec);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`bench: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  },
);
