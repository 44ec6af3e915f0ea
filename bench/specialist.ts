/**
 * The trained tiny specialist (training/, NOT Gemma 3 270M) on its contract: pass rate per
 * quantization, and what the decoding grammar costs per token when the model's own choice is
 * valid (its fast path) against free decoding on the same model. Section `specialist` of
 * docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureSpecialistTestModels } from '../test/support/models';
import { writeSection } from './support/doc';

const REPO = path.resolve(__dirname, '..');
const DOC = path.join(REPO, 'docs', 'benchmarks.md');
const CONTRACT = 'samples/specialist-triage.contract.yaml';

export interface SpecialistData {
  date: string;
  cores: number;
  load: number[];
  runs: { quant: string; passed: number; total: number; failed: string[]; p50?: number; p95?: number; label: string }[];
  grammar: string[];
}

export async function benchSpecialist(log: (s: string) => void = () => {}): Promise<SpecialistData> {
  await ensureSpecialistTestModels();
  const load0 = os.loadavg()[0]!;
  const runs: SpecialistData['runs'] = [];
  for (const quant of ['F16', 'Q8_0', 'Q4_0']) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-spec-'));
    try {
      log(`specialist: contracts run --quant ${quant}`);
      const out = execFileSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), 'run', CONTRACT, '--quant', quant, '--format', 'json', '--no-cache', '--cache-dir', tmp, '--trace-dir', path.join(tmp, 't'), '--threads', '1', '--repeat', '3'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
      const r = (JSON.parse(out) as { contracts: { result: { examples: { name: string; verdict: { kind: string }; latency?: { p50: number; p95: number } }[]; model: { label: string }; latency?: { p50: number; p95: number } } }[] }).contracts[0]!.result;
      const failed = r.examples.filter((e) => e.verdict.kind !== 'pass').map((e) => e.name);
      runs.push({ quant, passed: r.examples.length - failed.length, total: r.examples.length, failed, p50: r.latency?.p50, p95: r.latency?.p95, label: r.model.label });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  log('specialist: grammar cost per token (bench/token-probe.ts specialist)');
  const grammar = execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/token-probe.ts'), 'specialist'], { cwd: REPO, encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim());
  return { date: new Date().toISOString(), cores: os.availableParallelism(), load: [load0, os.loadavg()[0]!], runs, grammar };
}

export function renderSpecialist(d: SpecialistData): string {
  const ms = (x?: number) => (x === undefined ? '—' : `${x.toFixed(0)} ms`);
  return [
    '## The trained tiny specialist (issue 6)',
    '',
    `A 2-layer gemma3 model (hidden 32) with Gemma 3's vocabulary, trained by this project on`,
    '`samples/specialist-triage.contract.yaml` (training/) — **not Gemma 3 270M**; its figures show the',
    `machinery with a model that really passes. ${d.cores} cores, 1 thread, ${d.date.slice(0, 16).replace('T', ' ')} UTC, load average ${d.load.map((x) => x.toFixed(2)).join(' → ')}.`,
    '',
    '| quantization | pass rate | failing examples | p50 | p95 |',
    '|---|---|---|---|---|',
    ...d.runs.map((r) => `| ${r.quant} | ${r.passed}/${r.total} | ${r.failed.join(', ') || '—'} | ${ms(r.p50)} | ${ms(r.p95)} |`),
    '',
    'Each: `contracts run samples/specialist-triage.contract.yaml --quant Q --no-cache --repeat 3` (latency over',
    'every measured run). Drift between the quantizations is in the drift section.',
    '',
    'Cost of the decoding grammar when the model writes valid JSON by itself (the grammar\'s fast path),',
    'against free decoding on the same model and examples (`node --import tsx bench/token-probe.ts specialist`):',
    '',
    '```',
    ...d.grammar,
    '```',
  ].join('\n');
}

export function writeSpecialistSection(d: SpecialistData): void {
  writeSection(DOC, 'specialist', renderSpecialist(d), d);
}
