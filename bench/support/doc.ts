import * as fs from 'node:fs';

/**
 * docs/benchmarks.md is shared: each benchmark owns the text between its own markers
 * (`<!-- bench:NAME:start -->` … `<!-- bench:NAME:end -->`) and leaves the rest alone.
 * The section's raw results ride along in a comment so that a partial run (`--only`) can keep
 * the other half.
 */

const start = (name: string) => `<!-- bench:${name}:start -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;
const dataRe = (name: string) => new RegExp(`<!-- bench:${name}:data (.*?) -->`, 's');

export const DOC_HEADER = `# Benchmarks

\`npm run bench\` builds, runs every benchmark in \`bench/\` and rewrites its own section below
(between \`<!-- bench:NAME:start -->\` and \`<!-- bench:NAME:end -->\` markers; other benchmarks
own other sections). \`npm run bench -- --only lsp|check\` runs one half, \`--quick\` fewer
iterations. Nothing reaches the network; every child process is killed on exit.

`;

export function readSectionData<T>(file: string, name: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  const m = dataRe(name).exec(fs.readFileSync(file, 'utf8'));
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]) as T;
  } catch {
    return undefined;
  }
}

/** Replaces (or appends) the named section, keeping everything outside its markers as it was. */
export function writeSection(file: string, name: string, body: string, data: unknown): void {
  // Three decimals are plenty for milliseconds and shares; `--` cannot appear in an HTML comment.
  const json = JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v)).replace(/--/g, '-\\u002d');
  const section = `${start(name)}\n${body.trimEnd()}\n\n<!-- bench:${name}:data ${json} -->\n${end(name)}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : DOC_HEADER;
  const s = text.indexOf(start(name));
  const e = text.indexOf(end(name));
  if (s >= 0 && e > s) text = text.slice(0, s) + section + text.slice(e + end(name).length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
