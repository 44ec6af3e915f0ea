import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileSegments, hasMagic, type GlobSegment } from './glob';
import { ancestorRules, isIgnored, rulesForDir, type RuleList } from './gitignore';

export const CONTRACT_SUFFIX = '.contract.yaml';

/**
 * Which files `contracts check` reads.
 *
 * Searching a folder (the current one by default) finds every `*.contract.yaml` below it, but never
 * enters node_modules, folders whose name starts with a dot, folders git ignores (.gitignore files
 * read directly) or folders named `broken`: by convention `samples/broken` holds contracts that are
 * wrong on purpose. A path named on the command line is always read, even inside such a folder;
 * so is a glob's literal part (`samples/broken/*.contract.yaml`), while its wildcards (`*`, `?`,
 * `[...]`, `**`) skip the same folders a search skips.
 */
export interface Discovery {
  /** Absolute paths, each once, in the order found. */
  files: string[];
  /** Arguments that name nothing: the command stops with a usage error. */
  errors: string[];
  /** Things skipped on the way (unreadable folders, symbolic link loops). */
  notes: string[];
}

const CONTRACT_FILES: GlobSegment[] = compileSegments(['**', `*${CONTRACT_SUFFIX}`]);

function skippedByDefault(name: string): boolean {
  return name === 'node_modules' || name === 'broken' || name.startsWith('.');
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = { EACCES: 'permission denied', EPERM: 'permission denied', ELOOP: 'too many levels of symbolic links', ENOENT: 'it does not exist', ENOTDIR: 'not a folder' };
  return err.code ? `${why[err.code] ?? err.message} (${err.code})` : String(e);
}

export function discoverContracts(args: readonly string[], cwd: string): Discovery {
  const out: Discovery = { files: [], errors: [], notes: [] };
  const seen = new Set<string>();
  const rel = (abs: string) => path.relative(cwd, abs).split(path.sep).join('/') || '.';
  const add = (abs: string) => {
    if (!seen.has(abs)) {
      seen.add(abs);
      out.files.push(abs);
    }
  };
  const walk = (base: string, segs: GlobSegment[], explicit: boolean) => {
    let real: string;
    try {
      real = fs.realpathSync(base);
    } catch (e) {
      (explicit ? out.errors : out.notes).push(`cannot read folder ${rel(base)}: ${errText(e)}`);
      return;
    }
    walkGlob(base, real, segs, ancestorRules(base), { add, rel, notes: out.notes, errors: explicit ? out.errors : out.notes });
  };

  if (args.length === 0) walk(cwd, CONTRACT_FILES, true);
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    let stat: fs.Stats | undefined;
    let statError: unknown;
    try {
      stat = fs.statSync(abs);
    } catch (e) {
      statError = e;
    }
    if (stat?.isDirectory()) walk(abs, CONTRACT_FILES, true);
    else if (stat) add(abs); // a file, or something else the reader will explain
    else if (hasMagic(arg)) {
      const before = out.files.length;
      const { base, segs } = splitGlob(arg, cwd);
      if (fs.existsSync(base)) walk(base, segs, false);
      if (out.files.length === before && !globMatchedSeen(arg, cwd, seen)) out.errors.push(`no files match the pattern '${arg}'`);
    } else {
      const code = (statError as NodeJS.ErrnoException).code;
      let lstat = false;
      try {
        fs.lstatSync(abs);
        lstat = true;
      } catch {
        // nothing there at all
      }
      if (lstat || (code !== 'ENOENT' && code !== 'ENOTDIR')) add(abs); // a broken link or an unreadable path: the reader says why
      else out.errors.push(`no such file or folder: '${arg}'`);
    }
  }
  return out;
}

/** A glob that only matched files already found through an earlier argument still matched. */
function globMatchedSeen(arg: string, cwd: string, seen: Set<string>): boolean {
  const { base, segs } = splitGlob(arg, cwd);
  let hit = false;
  try {
    walkGlob(base, fs.realpathSync(base), segs, ancestorRules(base), { add: (f) => (hit ||= seen.has(f)), rel: (p) => p, notes: [], errors: [] });
  } catch {
    return false;
  }
  return hit;
}

/** The literal folder a glob starts from, and its remaining (wildcard) segments. */
export function splitGlob(pattern: string, cwd: string): { base: string; segs: GlobSegment[] } {
  const p = path.sep === '\\' ? pattern.replace(/\\/g, '/') : pattern;
  const parts = p.split('/');
  const literal: string[] = [];
  let i = 0;
  if (parts[0] === '') {
    literal.push('/');
    i = 1;
  }
  for (; i < parts.length && !hasMagic(parts[i]!); i++) if (parts[i] !== '') literal.push(parts[i]!);
  const rest = parts.slice(i).filter((s) => s !== '' && s !== '.');
  return { base: path.resolve(cwd, ...literal), segs: compileSegments(rest) };
}

interface WalkSink {
  add(abs: string): void;
  rel(abs: string): string;
  notes: string[];
  errors: string[];
}

interface Frame {
  dir: string;
  real: string;
  states: number[];
  rules: RuleList;
  /** Real paths of the folders above, to recognise a symbolic link that leads back up. */
  parents: readonly string[];
}

function closure(segs: GlobSegment[], states: Iterable<number>): number[] {
  const out = new Set<number>();
  for (let i of states) {
    out.add(i);
    while (segs[i]?.kind === 'globstar') out.add(++i);
  }
  return [...out];
}

/**
 * Walks from `base`, matching entries segment by segment. A literal segment may enter any folder
 * (it was named); `**` and wildcards skip node_modules, dot-folders, `broken` and ignored folders.
 * Symbolic links to folders are followed when they lead outside the walk, never back into it.
 */
function walkGlob(base: string, baseReal: string, segs: GlobSegment[], rules: RuleList, sink: WalkSink): void {
  const n = segs.length;
  const stack: Frame[] = [{ dir: base, real: baseReal, states: closure(segs, [0]), rules, parents: [] }];
  const visited = new Set<string>();
  let first = true;
  while (stack.length) {
    const frame = stack.pop()!;
    if (visited.has(frame.real)) continue;
    visited.add(frame.real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(frame.dir, { withFileTypes: true });
    } catch (e) {
      (first ? sink.errors : sink.notes).push(`cannot read folder ${sink.rel(frame.dir)}: ${errText(e)}`);
      first = false;
      continue;
    }
    first = false;
    const dirRules = rulesForDir(frame.rules, frame.dir, entries.some((d) => d.name === '.gitignore'));
    entries.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0)); // popped in name order
    const parents = [...frame.parents, frame.real];
    for (const ent of entries) {
      const abs = path.join(frame.dir, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      let broken = false;
      if (ent.isSymbolicLink()) {
        try {
          const st = fs.statSync(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          broken = true;
        }
      }
      if (isDir) {
        const next: number[] = [];
        let ignoredChecked: boolean | undefined;
        const ignored = () => (ignoredChecked ??= isIgnored(dirRules, abs, true));
        for (const i of frame.states) {
          const seg = segs[i];
          if (!seg) continue;
          if (seg.kind === 'literal') {
            if (seg.name === ent.name) next.push(i + 1);
          } else if (seg.kind === 'globstar') {
            if (!skippedByDefault(ent.name) && !ignored()) next.push(i);
          } else if (seg.re.test(ent.name) && (seg.dot || !ent.name.startsWith('.')) && ent.name !== 'node_modules' && ent.name !== 'broken' && !ignored()) {
            next.push(i + 1);
          }
        }
        if (!next.length) continue;
        let real = path.join(frame.real, ent.name);
        if (ent.isSymbolicLink()) {
          try {
            real = fs.realpathSync(abs);
          } catch (e) {
            sink.notes.push(`skipped ${sink.rel(abs)}: ${errText(e)}`);
            continue;
          }
          if (parents.includes(real)) {
            sink.notes.push(`skipped ${sink.rel(abs)}: a symbolic link back to ${sink.rel(real)} (a loop)`);
            continue;
          }
          // A link to a folder inside the walk reaches it a second time, under another name.
          if (real.startsWith(baseReal + path.sep)) continue;
        }
        stack.push({ dir: abs, real, states: closure(segs, next), rules: dirRules, parents });
      } else if (isFile || broken) {
        for (const i of frame.states) {
          const seg = segs[i];
          let hit = false;
          if (i === n - 1 && seg?.kind === 'literal') hit = seg.name === ent.name;
          else if (i === n - 1 && seg?.kind === 'wild') hit = seg.re.test(ent.name) && (seg.dot || !ent.name.startsWith('.')) && !isIgnored(dirRules, abs, false);
          else if (i === n - 1 && seg?.kind === 'globstar') hit = ent.name.endsWith(CONTRACT_SUFFIX) && !ent.name.startsWith('.') && !isIgnored(dirRules, abs, false);
          if (hit) {
            sink.add(abs);
            break;
          }
        }
      }
    }
  }
}
