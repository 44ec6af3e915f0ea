/** `contracts export`: the core's fine-tuning export (TRL chat JSONL) from the command line, as VS Code's "Export Fine-Tuning Dataset" writes it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportDataset, toJsonl, type DatasetRow } from '../core/dataset';
import { EXIT_ERRORS, EXIT_OK, EXIT_USAGE, type CommandIO } from './check-command';
import { diskHost } from './check-files';
import { findContracts, loadContract, parseCommandArgs, parseOrExit, UsageError } from './command-common';

export const EXPORT_USAGE = `Usage: contracts export [options] [paths...]

Writes the examples of each contract as fine-tuning data in the conversational JSONL that Hugging
Face TRL's SFT trainer reads: one {"messages": [system, user, assistant]} row per example, the
prompt rendered as the runtime renders it and the answer the expected value as compact JSON (keys
in the schema's order). Paths are found as for 'contracts check'. A contract with errors is not
exported.

Options:
  -o, --out <FILE>       write to this file instead of stdout
      --exclude <NAME>   leave out the example with this name; repeat for several
      --include-skipped  also export examples marked skip: true
  -h, --help             show this help

Exit status: 0 every contract exported, 1 one had errors (the others are still written), 2 usage error.
`;

interface ExportArgs {
  paths: string[];
  out?: string;
  exclude: string[];
  includeSkipped: boolean;
}

function parse(args: string[]): ExportArgs | 'help' {
  const { values, positionals } = parseCommandArgs(args, {
    out: { type: 'string', short: 'o' },
    exclude: { type: 'string', multiple: true },
    'include-skipped': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (values.out === '') throw new UsageError("option '--out' needs a file name");
  return { paths: positionals, ...(values.out ? { out: values.out } : {}), exclude: values.exclude ?? [], includeSkipped: values['include-skipped'] === true };
}

export async function exportCommand(argv: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('export', argv, parse, EXPORT_USAGE, io, { ok: EXIT_OK, usage: EXIT_USAGE });
  if (typeof a === 'number') return a;
  const out = a.out ? path.resolve(io.cwd, a.out) : undefined;
  if (out && !fs.existsSync(path.dirname(out))) {
    io.stderr(`contracts export: the folder of ${a.out} does not exist\n`);
    return EXIT_USAGE;
  }
  const found = findContracts('export', a.paths, io, { usage: EXIT_USAGE, errors: EXIT_ERRORS });
  if (found.exit !== undefined) return found.exit;
  const host = diskHost(io.cwd);
  const rows: DatasetRow[] = [];
  let failed = 0;
  const excluded = new Set(a.exclude);
  for (const abs of found.files) {
    const l = loadContract(abs, io.cwd, host);
    const errors = l.check?.findings.filter((f) => f.severity === 'error') ?? [];
    if (l.unreadable || !l.check?.contract || errors.length) {
      failed++;
      io.stderr(`contracts export: ${l.file}: ${l.unreadable ?? `${errors.length || 'structural'} error${errors.length === 1 ? '' : 's'} (run 'contracts check ${l.file}'); not exported`}\n`);
      continue;
    }
    const c = l.check.contract;
    const names = c.examples.filter((e) => (a.includeSkipped || !e.skip) && !excluded.has(e.name)).map((e) => e.name);
    const mine = exportDataset(c, { examples: names });
    rows.push(...mine);
    io.stderr(`contracts export: ${l.file}: ${mine.length} row${mine.length === 1 ? '' : 's'}\n`);
  }
  const text = toJsonl(rows);
  if (out) fs.writeFileSync(out, text);
  else io.stdout(text);
  return failed ? EXIT_ERRORS : EXIT_OK;
}
