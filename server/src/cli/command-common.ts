/** What `contracts check`, `run` and `drift` share: argument errors, finding the contracts, reading one. */
import * as fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkContract, decodeContract, type CheckResult } from '../core/check';
import type { DownloadProgress, ModelManagerOptions } from '../runtime/models';
import { DEFAULT_SETTINGS } from '../settings';
import { diskHost, relativePath } from './check-files';
import { discoverContracts } from './discover';
import { FORMATS, type Format } from './report';

/** A mistake in the command line: exit 2 with the message. */
export class UsageError extends Error {}

/** node's parseArgs with its errors turned into UsageErrors that read well. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options });
  } catch (e) {
    const err = e as Error & { code?: string };
    const opt = /'([^']+)'/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${opt ?? err.message}'`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(/argument missing/.test(err.message) ? `option '${opt}' needs a value` : err.message);
    throw new UsageError(err.message);
  }
}

/** `--NAME N`: a whole number of at least `min`, or undefined when the flag is absent. */
export function parseCount(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) throw new UsageError(`--${name} takes a whole number${min > 0 ? ` of at least ${min}` : ''}, not '${value}'`);
  return Number(value);
}

/** `--format`: one of the report formats (default text). */
export function parseFormat(value: string | undefined): Format {
  const format = (value ?? 'text') as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${value}'; use one of ${FORMATS.join(', ')}`);
  return format;
}

/** The options of the commands that run examples on a model (`run`, `drift`). */
export const MODEL_RUN_OPTIONS = {
  repeat: { type: 'string' },
  warmup: { type: 'string' },
  'no-cache': { type: 'boolean' },
  'max-tokens': { type: 'string' },
  offline: { type: 'boolean' },
  threads: { type: 'string' },
  format: { type: 'string', short: 'f' },
  'trace-dir': { type: 'string' },
  'cache-dir': { type: 'string' },
  runner: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type ModelRunValues = { [K in keyof typeof MODEL_RUN_OPTIONS]?: (typeof MODEL_RUN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Their values, checked: what `run` and `drift` read alike. */
export function modelRunArgs(v: ModelRunValues) {
  if (v.runner !== undefined && !/^scripted:.+/.test(v.runner)) throw new UsageError(`--runner takes scripted:<FILE>, not '${v.runner}'`);
  return {
    format: parseFormat(v.format),
    noCache: !!v['no-cache'],
    repeat: parseCount('repeat', v.repeat, 1),
    warmup: parseCount('warmup', v.warmup, 0),
    maxTokens: parseCount('max-tokens', v['max-tokens'], 1),
    offline: !!v.offline,
    threads: parseCount('threads', v.threads, 1),
    traceDir: v['trace-dir'] ?? '.contracts/traces',
    cacheDir: v['cache-dir'] ?? '.contracts/cache',
    runner: v.runner,
  };
}

/**
 * Parses a command's arguments: the parsed value, or the exit code when the command should stop
 * here (a usage error, printed with a pointer to --help: 2; --help printed: 0).
 */
export function parseOrExit<A>(command: string, args: string[], parse: (args: string[]) => A | 'help', usage: string, io: { stdout(s: string): void; stderr(s: string): void }, codes: { ok: number; usage: number }): A | number {
  let a: A | 'help';
  try {
    a = parse(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`contracts ${command}: ${e.message}\nRun 'contracts ${command} --help' for usage.\n`);
    return codes.usage;
  }
  if (a === 'help') {
    io.stdout(usage);
    return codes.ok;
  }
  return a;
}

export interface FoundContracts {
  files: string[];
  /** Exit code when the command should stop here (usage error, nothing found). */
  exit?: number;
}

/** Finds the contracts named on the command line, reporting notes and problems on stderr as `contracts <command>: …`. */
export function findContracts(command: string, paths: string[], io: { cwd: string; stderr(s: string): void }, codes: { usage: number; errors: number }): FoundContracts {
  const found = discoverContracts(paths, io.cwd);
  for (const n of found.notes) io.stderr(`contracts ${command}: ${n}\n`);
  if (found.errors.length) {
    for (const e of found.errors) io.stderr(`contracts ${command}: ${e}\n`);
    return { files: [], exit: codes.usage };
  }
  if (!found.files.length) {
    io.stderr(`contracts ${command}: no *.contract.yaml files found${paths.length ? '' : ' under the current folder'}\n`);
    return { files: [], exit: codes.errors };
  }
  return { files: found.files };
}

export interface LoadedContract {
  abs: string;
  file: string;
  check?: CheckResult;
  /** A problem reading the file. */
  unreadable?: string;
}

/** Reads and checks one contract for running (coverage hints are not needed there). */
export function loadContract(abs: string, root: string, host: ReturnType<typeof diskHost>): LoadedContract {
  const file = relativePath(root, abs);
  let bytes: Buffer;
  try {
    const st = fs.statSync(abs);
    if (!st.isFile()) return { abs, file, unreadable: 'not a regular file' };
    bytes = fs.readFileSync(abs);
  } catch (e) {
    return { abs, file, unreadable: `cannot read this file: ${(e as Error).message}` };
  }
  const decoded = decodeContract(bytes);
  if ('finding' in decoded) return { abs, file, unreadable: decoded.finding.message };
  return { abs, file, check: checkContract(decoded.text, { file: abs, host, coverage: false }) };
}

/** Contracts that can run: they were read and have no static error. */
export function runnable(loaded: LoadedContract[]): LoadedContract[] {
  return loaded.filter((l) => l.check?.contract && !l.check.findings.some((f) => f.severity === 'error'));
}

/**
 * How `contracts run` and `drift` set up the model manager: settings from the flags, llama.cpp's
 * errors (and warnings worth reading) on stderr, download progress every 10%.
 */
export function cliModelSetup(command: string, flags: { threads?: number; offline?: boolean }, io: { cwd: string; stderr(s: string): void }): { manager: ModelManagerOptions; onProgress: (p: DownloadProgress) => void } {
  const settings = { ...DEFAULT_SETTINGS, ...(flags.threads !== undefined ? { threads: flags.threads } : {}), ...(flags.offline ? { allowDownload: false } : {}), idleUnloadSeconds: 0 };
  let lastPct = -1;
  return {
    manager: {
      settings,
      workspaceRoot: io.cwd,
      log: (level, message) => {
        if (level === 'error' || (level === 'warn' && !/full-size SWA cache|control-looking token/.test(message))) io.stderr(`contracts ${command}: ${message}\n`);
      },
    },
    onProgress: (p) => {
      const done = p.percent === undefined ? undefined : Math.floor(p.percent / 10) * 10;
      if (done !== undefined && done !== lastPct) {
        lastPct = done;
        io.stderr(`contracts ${command}: downloading the model: ${done}%\n`);
      }
    },
  };
}
