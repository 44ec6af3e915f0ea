import { discoverContracts } from './discover';
import { writerFor } from './formats';
import { checkFilesParallel } from './parallel';
import { parseCommandArgs, parseCount, parseFormat, parseOrExit } from './command-common';
import { sortReport, summarize, type Format, type Report } from './report';
import { TOOL } from './tool';

/** Where a command reads and writes. `stdout`/`stderr` receive whole chunks, newlines included. */
export interface CommandIO {
  cwd: string;
  stdout(s: string): void;
  stderr(s: string): void;
  /** Color the text format (the bin passes: stdout is a TTY and NO_COLOR is unset). */
  color?: boolean;
  /** A script that serves as a check worker thread (see parallel.ts); without it, everything runs on this thread. */
  workerScript?: string;
}

export const EXIT_OK = 0;
export const EXIT_ERRORS = 1;
export const EXIT_USAGE = 2;

export const CHECK_USAGE = `Usage: contracts check [options] [paths...]

Checks contracts without running a model. Paths are files, folders or globs (*, ?, [...], **);
quote globs so the shell does not expand them. Without paths, every *.contract.yaml under the
current folder is checked, except in node_modules, dot-folders, folders git ignores, and folders
named "broken" (samples/broken holds contracts that are wrong on purpose: name it to check it).

Options:
  -f, --format <text|json|junit|sarif>  output format (default: text)
      --no-coverage                     leave out information-level coverage hints
      --max-warnings <n>                exit 1 when there are more than n warnings
      --max-file-bytes <n>              skip files larger than n bytes (default: 8 MiB)
  -h, --help                            show this help

Exit status: 0 no errors, 1 errors (or too many warnings), 2 usage error.
`;

interface CheckOptions {
  format: Format;
  coverage: boolean;
  maxWarnings?: number;
  maxFileBytes?: number;
  paths: string[];
}


function parseCheckArgs(args: string[]): CheckOptions | 'help' {
  const parsed = parseCommandArgs(args, {
    format: { type: 'string', short: 'f' },
    'no-coverage': { type: 'boolean' },
    'max-warnings': { type: 'string' },
    'max-file-bytes': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const);
  const v = parsed.values;
  if (v.help) return 'help';
  return {
    format: parseFormat(v.format),
    coverage: !v['no-coverage'],
    maxWarnings: parseCount('max-warnings', v['max-warnings'], -1),
    maxFileBytes: parseCount('max-file-bytes', v['max-file-bytes'], 1),
    paths: parsed.positionals,
  };
}

/** Builds the report for a set of paths (relative to io.cwd); shared by `check` and the language server's `--check`. */
export async function buildCheckReport(
  paths: string[],
  cwd: string,
  opts: { coverage?: boolean; maxFileBytes?: number; workerScript?: string } = {},
): Promise<{ report: Report; errors: string[]; notes: string[] }> {
  const found = discoverContracts(paths, cwd);
  if (found.errors.length) return { report: { tool: TOOL, root: cwd, files: [] }, errors: found.errors, notes: found.notes };
  const files = await checkFilesParallel(found.files, { root: cwd, coverage: opts.coverage, maxFileBytes: opts.maxFileBytes }, opts.workerScript);
  return { report: sortReport({ tool: TOOL, root: cwd, files }), errors: [], notes: found.notes };
}

/**
 * `contracts check [paths...]`: the one engine behind the CLI and `contracts-language-server --check`.
 * Returns the exit code; never calls process.exit, so output is never cut short.
 */
export async function checkCommand(args: string[], io: CommandIO): Promise<number> {
  const opts = parseOrExit('check', args, parseCheckArgs, CHECK_USAGE, io, { ok: EXIT_OK, usage: EXIT_USAGE });
  if (typeof opts === 'number') return opts;
  const { report, errors, notes } = await buildCheckReport(opts.paths, io.cwd, { ...opts, workerScript: io.workerScript });
  for (const n of notes) io.stderr(`contracts check: ${n}\n`);
  if (errors.length) {
    for (const e of errors) io.stderr(`contracts check: ${e}\n`);
    return EXIT_USAGE;
  }
  if (report.files.length === 0) io.stderr(`contracts check: no *.contract.yaml files found${opts.paths.length ? '' : ' under the current folder'}\n`);
  io.stdout(writerFor(opts.format, { color: io.color }).write(report));
  const s = summarize(report);
  if (s.errors > 0) return EXIT_ERRORS;
  if (opts.maxWarnings !== undefined && opts.maxWarnings >= 0 && s.warnings > opts.maxWarnings) {
    io.stderr(`contracts check: ${s.warnings} warnings, more than --max-warnings ${opts.maxWarnings}\n`);
    return EXIT_ERRORS;
  }
  return EXIT_OK;
}
