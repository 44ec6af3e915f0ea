/**
 * Glob patterns (`*`, `?`, `[...]`, `**`) turned into per-segment matchers. Shared by command-line
 * globs and .gitignore rules, so both read patterns the same way.
 */

export function hasMagic(s: string): boolean {
  return /[*?[]/.test(s);
}

/** A regular expression for one path segment (never matches `/`). */
export function segmentRegExp(seg: string): RegExp {
  return new RegExp(`^${segmentSource(seg)}$`);
}

function segmentSource(seg: string): string {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') {
      while (seg[i + 1] === '*') i++;
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\').replace(/\//g, '') + ']';
        i = close;
      }
    } else if (c === '\\' && i + 1 < seg.length) {
      re += escapeRe(seg[++i]!);
    } else re += escapeRe(c);
  }
  return re;
}

function escapeRe(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? '\\' + c : c;
}

/** A regular expression for a whole slash-separated path, where `**` spans any number of segments. */
export function pathRegExp(pattern: string): RegExp {
  const segs = pattern.split('/');
  let re = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') re += last ? '.*' : '(?:[^/]+/)*';
    else re += segmentSource(seg) + (last ? '' : '/');
  });
  return new RegExp(`^${re}$`);
}

export type GlobSegment = { kind: 'globstar' } | { kind: 'literal'; name: string } | { kind: 'wild'; re: RegExp; dot: boolean };

export function compileSegments(segs: readonly string[]): GlobSegment[] {
  const out: GlobSegment[] = [];
  for (const s of segs) {
    if (s === '**') {
      if (out[out.length - 1]?.kind !== 'globstar') out.push({ kind: 'globstar' });
    } else if (hasMagic(s)) out.push({ kind: 'wild', re: segmentRegExp(s), dot: s.startsWith('.') });
    else out.push({ kind: 'literal', name: s.replace(/\\(.)/g, '$1') });
  }
  return out;
}
