/**
 * Where `node --cpu-prof` profiles spend their time: self and inclusive time per function, self
 * time per file, and the time under one function split by the function it called. Several
 * profiles (a main thread and its workers) add up. Bundles are mapped back to their sources
 * through the .map beside them.
 *
 *   node --import tsx bench/support/profile-summary.ts <file.cpuprofile|dir>... [--top N] [--children FN]
 */
import * as fs from 'node:fs';
import { SourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  /** `function  file:line` */
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  profiles: number;
  totalMs: number;
  self: Row[];
  inclusive: Row[];
  perFile: Row[];
  /** Time under `childrenOf`, by callee ('(self)' for its own code). */
  children: Row[];
}

function shortPath(u: string): string {
  return u
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'node_modules/')
    .replace(/^(\.\.\/)+/, '')
    .replace(/^.*\/bench\/\.cache\/dist-\d+\//, 'dist/')
    .replace(`${process.cwd()}/`, '');
}

function locator(): (n: Node) => string {
  const maps = new Map<string, SourceMap | undefined>();
  const mapFor = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      let m: SourceMap | undefined;
      try {
        const file = url.startsWith('file:') ? fileURLToPath(url) : url;
        if (file.startsWith('/')) m = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
      } catch {
        m = undefined;
      }
      maps.set(url, m);
    }
    return maps.get(url);
  };
  return (n) => {
    const { url, lineNumber, columnNumber } = n.callFrame;
    const e = mapFor(url)?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (e?.originalSource) return `${shortPath(e.originalSource)}:${(e.originalLine ?? 0) + 1}`;
    return `${shortPath(url)}:${lineNumber + 1}`;
  };
}

/** Every *.cpuprofile named, or found in a named folder. */
export function profileFiles(args: string[]): string[] {
  return args.flatMap((a) =>
    fs.statSync(a).isDirectory()
      ? fs
          .readdirSync(a)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => path.join(a, f))
      : [a],
  );
}

export function summarizeProfiles(files: string[], opts: { top?: number; childrenOf?: string } = {}): ProfileSummary {
  const top = opts.top ?? 25;
  const where = locator();
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const perFile = new Map<string, number>();
  const under = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const keys = new Map<number, string>();
    const key = (id: number) => {
      let k = keys.get(id);
      if (k === undefined) {
        const n = byId.get(id)!;
        k = `${n.callFrame.functionName || '(anonymous)'}  ${where(n)}`;
        keys.set(id, k);
      }
      return k;
    };
    const selfUs = new Map<number, number>();
    for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
    for (const [id, us] of selfUs) {
      total += us;
      const n = byId.get(id)!;
      self.set(key(id), (self.get(key(id)) ?? 0) + us);
      const f = n.callFrame.url ? where(n).replace(/:\d+$/, '') : n.callFrame.functionName ? n.callFrame.functionName : '(code made by new Function/eval: ajv validators, zod fast paths)';
      perFile.set(f, (perFile.get(f) ?? 0) + us);
      const seen = new Set<string>();
      let hit: string | undefined;
      for (let cur: number | undefined = id, prev: number | undefined; cur !== undefined; prev = cur, cur = parent.get(cur)) {
        const k = key(cur);
        // The outermost call of childrenOf on this stack decides which callee the sample is under.
        if (opts.childrenOf && byId.get(cur)!.callFrame.functionName === opts.childrenOf) hit = prev === undefined ? '(self)' : key(prev);
        if (seen.has(k)) continue; // recursion counts once
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + us);
      }
      if (hit !== undefined) under.set(hit, (under.get(hit) ?? 0) + us);
    }
  }
  const rows = (m: Map<string, number>): Row[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: total ? us / total : 0 }));
  return { profiles: files.length, totalMs: total / 1000, self: rows(self), inclusive: rows(incl), perFile: rows(perFile), children: rows(under) };
}

function main(): void {
  const argv = process.argv.slice(2);
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv.splice(i, 2)[1] : undefined;
  };
  const childrenOf = opt('--children');
  const top = Number(opt('--top') ?? 25);
  const files = profileFiles(argv);
  if (!files.length) throw new Error('usage: profile-summary <file.cpuprofile|dir>... [--top N] [--children FN]');
  const s = summarizeProfiles(files, { top, childrenOf });
  const pr = (title: string, rows: Row[]) => {
    console.log(`\n${title}`);
    for (const r of rows) console.log(`${r.ms.toFixed(1).padStart(9)} ms ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.name}`);
  };
  console.log(`${s.profiles} profile(s), ${s.totalMs.toFixed(1)} ms sampled`);
  pr('self time by function', s.self);
  pr('total (inclusive) time by function', s.inclusive);
  pr('self time by file', s.perFile);
  if (childrenOf) pr(`time under ${childrenOf}, by the function it called`, s.children);
}

if (require.main === module) main();
