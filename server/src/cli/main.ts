import { checkCommand, EXIT_OK, EXIT_USAGE, type CommandIO } from './check-command';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CHECK_WORKER, runCheckWorker, type CheckWorkerData } from './parallel';
import { TOOL } from './tool';

type Command = { summary: string; run(args: string[], io: CommandIO): Promise<number> };

/** Subcommands; `run` and `drift` are added here, each in its own *-command.ts module. */
const COMMANDS: Record<string, Command> = {
  check: { summary: 'check contracts statically (no model): structure, schema, examples, placeholders', run: checkCommand },
  // Loaded on first use, so that `check` (and its worker threads) never initialise the runtime.
  run: { summary: 'run the examples on the local model: verdicts, latency percentiles, budgets', run: async (args, io) => (await import('./run-command.js')).runCommand(args, io) },
  drift: { summary: 'compare quantizations (and the baseline): answers that changed, token agreement, latency, size', run: async (args, io) => (await import('./drift-command.js')).driftCommand(args, io) },
  export: { summary: 'write the examples as fine-tuning data (TRL chat JSONL), as VS Code\'s Export Fine-Tuning Dataset does', run: async (args, io) => (await import('./export-command.js')).exportCommand(args, io) },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `Usage: contracts <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Options:
  -h, --help     show this help (contracts <command> --help for a command's options)
  -v, --version  print the version

Exit status: 0 success, 1 problems found, 2 usage error.
`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    io.stdout(`${TOOL.version}\n`);
    return EXIT_OK;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.stdout(usage());
    return EXIT_OK;
  }
  if (cmd === undefined) {
    io.stderr(usage());
    return EXIT_USAGE;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!command) {
    io.stderr(`contracts: unknown ${cmd.startsWith('-') ? 'option' : 'command'} '${cmd}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  return command.run(rest, io);
}

if (!isMainThread && (workerData as CheckWorkerData | undefined)?.kind === CHECK_WORKER) {
  runCheckWorker(workerData as CheckWorkerData, (m) => parentPort!.postMessage(m));
} else if (require.main === module) {
  const io: CommandIO = {
    cwd: process.cwd(),
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    workerScript: __filename,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`contracts: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
