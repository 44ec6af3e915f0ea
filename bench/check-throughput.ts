import * as fs from 'node:fs';
import * as path from 'node:path';
import { smallContract } from './gen';
import { removeTempDir, spawnNodeMeasured, tempDir } from './support/children';
import { profileFiles, summarizeProfiles, type ProfileSummary } from './support/profile-summary';
import type { LspServerSpec } from './support/lsp-client';
import { REPO } from './support/servers';
import { assertChecksFormat, startServer, uriOf } from './support/session';
import { median } from './support/stats';

/**
 * Target 2: `contracts check` over 1,000 contracts of ~40 lines, wall time with Node's start, and
 * peak RSS; against yaml-language-server and a bare yaml + ajv script on the same files, interleaved.
 */

export interface Run {
  wallMs: number;
  peakRssBytes?: number;
  /** User + system CPU time of the measured process (less sensitive than wall time to other load). */
  cpuMs?: number;
}

export interface ThroughputResult {
  name: string;
  runs: Run[];
  medianMs: number;
  minMs: number;
  medianRssBytes?: number;
  medianCpuMs?: number;
  /** What the tool reported (a summary line, or diagnostics counts). */
  note: string;
}

export function writeCorpus(count: number): string {
  const dir = tempDir('contracts-bench-check-');
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `c${String(i).padStart(4, '0')}.contract.yaml`), smallContract(i));
  return dir;
}

export function listCorpus(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.contract.yaml'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Runs `node <args>` to its end: wall time from spawn to exit (Node's start included) and its peak RSS. */
export async function timeNode(args: string[], cwd: string, cpus?: string): Promise<Run & { code: number | null; stdout: string; stderr: string }> {
  const t0 = performance.now();
  const m = spawnNodeMeasured(args, { cwd, cpus, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  m.child.stdout!.on('data', (d: Buffer) => {
    if (stdout.length < 1 << 20) stdout += d.toString();
  });
  m.child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 1 << 16) stderr += d.toString();
  });
  const { code, peakRssBytes, cpuMs } = await m.done;
  return { wallMs: performance.now() - t0, peakRssBytes, cpuMs, code, stdout, stderr };
}

export const CLI = path.join(REPO, 'dist/cli.js');
export const BARE = path.join(REPO, 'bench/baselines/bare-yaml-ajv.mjs');

/** A language server started, every file opened, until diagnostics for all of them have arrived. */
export async function timeLspOverFiles(spec: LspServerSpec, files: string[], root: string): Promise<Run & { note: string }> {
  const t0 = performance.now();
  const { client } = await startServer(spec, root);
  try {
    // yaml-language-server pulls its settings (the schema association) once initialized: answer first.
    await client.configurationAnswered(1, 30_000);
    const want = new Set(files.map(uriOf));
    const seen = new Set<string>();
    const all = client.nextDiagnostics(
      (p) => {
        if (want.has(p.uri)) seen.add(p.uri);
        return seen.size === want.size;
      },
      120_000,
      `all ${files.length} files`,
    );
    for (const f of files) {
      client.notify('textDocument/didOpen', { textDocument: { uri: uriOf(f), languageId: spec.languageId, version: 1, text: fs.readFileSync(f, 'utf8') } });
    }
    const last = await all;
    const wallMs = last.at - t0;
    let diagnostics = 0;
    for (const u of want) diagnostics += client.latest.get(u)?.diagnostics.length ?? 0;
    const publishes = client.published.filter((p) => want.has(p.uri)).length;
    const sanity = await assertChecksFormat(client, root);
    const { peakRssBytes, cpuMs } = await client.close();
    return { wallMs, peakRssBytes, cpuMs, note: `${want.size} files, ${diagnostics} diagnostics, ${publishes} publishes; broken contract: "${sanity}"` };
  } finally {
    await client.close(2000);
  }
}

export interface Contender {
  name: string;
  run(dir: string, files: string[]): Promise<Run & { note?: string }>;
}

/**
 * `contracts check <folder>` with its default text output; its closing line must count every file.
 * With `cpus`, pinned to those CPUs (one CPU: no worker threads), to show what the workers bring.
 */
export function cliContender(files: number, cli = CLI, cpus?: string): Contender {
  return {
    name: cpus === undefined ? 'contracts check' : `contracts check on CPU ${cpus} only (taskset)`,
    run: async (dir) => {
      const r = await timeNode([cli, 'check', dir], dir, cpus);
      if (r.code !== 0 && r.code !== 1) throw new Error(`contracts check failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
      const last = r.stdout.trim().split('\n').pop() ?? '';
      const seen = /\bin (\d+) files?\b/.exec(last);
      if (seen && Number(seen[1]) !== files) throw new Error(`contracts check saw ${seen[1]} files, expected ${files}: ${last}`);
      return { ...r, note: last };
    },
  };
}

/**
 * One more, untimed run of `contracts check` under `node --cpu-prof` (workers profile too):
 * where the time goes, split under the checker's `runChecks` by callee.
 */
export async function profileCli(files: number, cli = CLI): Promise<ProfileSummary> {
  const dir = writeCorpus(files);
  const profDir = tempDir('contracts-bench-prof-');
  try {
    const r = await timeNode(['--cpu-prof', '--cpu-prof-dir', profDir, cli, 'check', dir], dir);
    if (r.code !== 0 && r.code !== 1) throw new Error(`contracts check failed under --cpu-prof (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    return summarizeProfiles(profileFiles([profDir]), { top: 10, childrenOf: 'runChecks' });
  } finally {
    removeTempDir(dir);
    removeTempDir(profDir);
  }
}

export function bareContender(): Contender {
  return {
    name: 'bare yaml + ajv script',
    run: async (dir) => {
      const r = await timeNode([BARE, dir], dir);
      if (r.code !== 0) throw new Error(`bare-yaml-ajv failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
      return { ...r, note: r.stdout.trim() };
    },
  };
}

export function lspContender(spec: LspServerSpec): Contender {
  return { name: spec.name, run: (dir, files) => timeLspOverFiles(spec, files, dir) };
}

/** Runs every contender `iterations` times, interleaved (A B C, A B C, ...) so that load drifts hit all alike. */
export async function measureThroughput(contenders: Contender[], opts: { files: number; iterations: number; log?: (s: string) => void }): Promise<ThroughputResult[]> {
  const dir = writeCorpus(opts.files);
  try {
    const files = listCorpus(dir);
    const runs = contenders.map(() => [] as (Run & { note?: string })[]);
    for (let i = 0; i < opts.iterations; i++) {
      for (let c = 0; c < contenders.length; c++) {
        const r = await contenders[c].run(dir, files);
        runs[c].push(r);
        opts.log?.(`  ${contenders[c].name} #${i + 1}: ${r.wallMs.toFixed(0)} ms`);
      }
    }
    return contenders.map((c, i) => {
      const walls = runs[i].map((r) => r.wallMs);
      const known = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
      const rss = known(runs[i].map((r) => r.peakRssBytes));
      const cpu = known(runs[i].map((r) => r.cpuMs));
      return {
        name: c.name,
        runs: runs[i].map(({ wallMs, peakRssBytes, cpuMs }) => ({ wallMs, peakRssBytes, cpuMs })),
        medianMs: median(walls),
        minMs: Math.min(...walls),
        medianRssBytes: rss.length ? median(rss) : undefined,
        medianCpuMs: cpu.length ? median(cpu) : undefined,
        note: runs[i][runs[i].length - 1]?.note ?? '',
      };
    });
  } finally {
    removeTempDir(dir);
  }
}
