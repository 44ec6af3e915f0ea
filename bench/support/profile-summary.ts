/**
 * `node --import tsx bench/support/profile-summary.ts <file.cpuprofile> [top] [--children FN]`:
 * where a `node --cpu-prof` profile spends its time — self and inclusive (total) time per
 * function, self time per file, and with --children the time under FN split by the function FN
 * called. For finding hot spots to report, not for the benchmark itself.
 */
import * as fs from 'node:fs';
import { SourceMap } from 'node:module';
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
  startTime: number;
  endTime: number;
}

function main(): void {
  const argv = process.argv.slice(2);
  const ci = argv.indexOf('--children');
  const childrenOf = ci >= 0 ? argv.splice(ci, 2)[1] : undefined;
  const [file, topArg] = argv;
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
  const top = Number(topArg ?? 25);
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const short = (u: string) => u.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(process.cwd() + '/', '');
  // Bundles (dist/*.js) are mapped back to their sources through the .map beside them.
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
  const where = (n: Node): string => {
    const { url, lineNumber, columnNumber } = n.callFrame;
    const e = mapFor(url)?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (e?.originalSource) return `${short(e.originalSource.replace(/^(\.\.\/)+/, ''))}:${(e.originalLine ?? 0) + 1}`;
    return `${short(url)}:${lineNumber + 1}`;
  };
  const key = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${where(n)}`;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const perFile = new Map<string, number>();
  const under = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (childrenOf) {
      // The frame right below the outermost FN on this stack (or FN itself: its self time).
      let hit: string | undefined;
      for (let cur: number | undefined = id, prev: Node | undefined; cur !== undefined; prev = byId.get(cur), cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        if (n.callFrame.functionName === childrenOf) {
          hit = prev ? key(prev) : '(self)';
        }
      }
      if (hit !== undefined) under.set(hit, (under.get(hit) ?? 0) + us);
    }
    const n = byId.get(id)!;
    self.set(key(n), (self.get(key(n)) ?? 0) + us);
    const f = where(n).replace(/:\d+$/, '') || `(${n.callFrame.functionName})`;
    perFile.set(f, (perFile.get(f) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue; // recursion counts once
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const pr = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  };
  console.log(`profile: ${(total / 1000).toFixed(1)} ms sampled`);
  pr('self time by function', self);
  pr('total (inclusive) time by function', incl);
  pr('self time by file', perFile);
  if (childrenOf) pr(`time under ${childrenOf}, by the function it called`, under);
}

main();
