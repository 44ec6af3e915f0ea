import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathRegExp, segmentRegExp } from './glob';

/**
 * A plain reading of .gitignore files (no `git` process): blank lines and `#` comments, `!`
 * negation, a trailing `/` for folders only, patterns with an inner `/` anchored to their file's
 * folder, `*`, `?`, `[...]` and `**`. The last matching rule wins, deeper files after shallower
 * ones, as in git. A folder that is ignored is not entered, so its contents are ignored too.
 */
export interface IgnoreRule {
  base: string;
  negate: boolean;
  dirOnly: boolean;
  anchored: boolean;
  re: RegExp;
}

export type RuleList = readonly IgnoreRule[];

export function parseGitignore(text: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    line = line.replace(/(?<!\\)\s+$/, '');
    if (!line) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    if (!line) continue;
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    try {
      rules.push({ base, negate, dirOnly, anchored, re: anchored ? pathRegExp(line) : segmentRegExp(line) });
    } catch {
      // a pattern we cannot read is skipped, as git skips malformed lines
    }
  }
  return rules;
}

function readRules(file: string, base: string): IgnoreRule[] {
  try {
    return parseGitignore(fs.readFileSync(file, 'utf8'), base);
  } catch {
    return [];
  }
}

/** Rules of a folder: its parent's plus those of its own .gitignore (read only when it exists). */
export function rulesForDir(parent: RuleList, dir: string, hasGitignore: boolean): RuleList {
  if (!hasGitignore) return parent;
  const own = readRules(path.join(dir, '.gitignore'), dir);
  return own.length ? [...parent, ...own] : parent;
}

/** Rules that apply above `dir`: every .gitignore from the enclosing repository's root down to dir's parent, and .git/info/exclude. */
export function ancestorRules(dir: string): RuleList {
  const chain: string[] = [];
  let cur = path.resolve(dir);
  let root: string | undefined;
  for (;;) {
    chain.push(cur);
    if (fs.existsSync(path.join(cur, '.git'))) {
      root = cur;
      break;
    }
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  if (!root) return [];
  chain.reverse();
  let rules: IgnoreRule[] = readRules(path.join(root, '.git', 'info', 'exclude'), root);
  for (const d of chain.slice(0, -1)) rules = rules.concat(readRules(path.join(d, '.gitignore'), d));
  return rules;
}

export function isIgnored(rules: RuleList, abs: string, isDir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    // Only a rule that could flip the current answer needs testing.
    if (r.negate !== ignored || (r.dirOnly && !isDir)) continue;
    const prefix = r.base.endsWith(path.sep) ? r.base : r.base + path.sep;
    if (!abs.startsWith(prefix)) continue;
    const rel = abs.slice(prefix.length);
    const hit = r.anchored ? r.re.test(path.sep === '/' ? rel : rel.split(path.sep).join('/')) : r.re.test(path.basename(rel));
    if (hit) ignored = !r.negate;
  }
  return ignored;
}
