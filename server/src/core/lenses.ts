import type { Node } from 'yaml';
import type { CheckResult } from './check';
import { isMap, locate, nodeRange } from './yaml-source';

export interface LensSpec {
  /** Where the lens sits (its line is what matters). */
  start: number;
  end: number;
  title: string;
  action: { kind: 'runAll' } | { kind: 'runExample'; example: string };
}

/** "Run all" on the contract's first line, "Run example" on each named example. */
export function codeLenses(r: CheckResult): LensSpec[] {
  const src = r.source;
  const root = src?.doc.contents as Node | null | undefined;
  if (!src || !isMap(root) || !root.items.length) return [];
  const out: LensSpec[] = [];
  const first = nodeRange(root.items[0]!.key as Node) ?? [0, 0];
  const contract = nodeRange(locate(src, ['contract']).key);
  const at = contract ?? first;
  out.push({ start: at[0], end: at[1], title: 'Run all', action: { kind: 'runAll' } });
  for (const ex of r.examples) {
    if (ex.name === undefined) continue;
    const item = nodeRange(locate(src, ['examples', ex.index]).node);
    if (!item) continue;
    out.push({ start: item[0], end: item[0], title: 'Run example', action: { kind: 'runExample', example: ex.name } });
  }
  return out;
}
