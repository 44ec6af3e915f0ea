import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { checkCommand, type CommandIO } from '../cli/check-command';
import { CHECK_WORKER, runCheckWorker, type CheckWorkerData } from '../cli/parallel';
import { startServer, SERVER_NAME, SERVER_VERSION } from './server';
import { ArrivedVersions, reserveStdout, routeConsole, stderrSink, TappedReader, transportFromArgs } from './transport';

const USAGE = `Usage: ${SERVER_NAME} --stdio | --node-ipc | --socket=PORT | --pipe=NAME
       ${SERVER_NAME} --check [contracts check options] [paths...]

Starts the Prompt Contracts language server on the given transport, or, with --check, checks
contracts headless and prints exactly what \`contracts check\` prints.
`;

/** `--check ARGS`: the CLI's check command, same engine, same bytes, same exit code. */
async function runCheck(args: string[]): Promise<void> {
  const io: CommandIO = {
    cwd: process.cwd(),
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    workerScript: __filename,
  };
  try {
    process.exitCode = await checkCommand(args, io);
  } catch (e) {
    process.stderr.write(`${SERVER_NAME} --check: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 2;
  }
}

function runServer(argv: string[]): void {
  // Before anything can print: stdout carries protocol frames only.
  const protocolOut = reserveStdout();
  routeConsole(stderrSink);
  const transport = transportFromArgs(argv, () => protocolOut);
  if (!transport) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const arrived = new ArrivedVersions();
  const reader = new TappedReader(transport.reader, (m) => arrived.observe(m));
  const connection = createConnection(ProposedFeatures.all, reader, transport.writer);
  routeConsole(connection.console);
  let shutdown = false;
  connection.onShutdown(() => {
    shutdown = true;
  });
  // The client went away without `exit`: leave too.
  reader.onClose(() => process.exit(shutdown ? 0 : 1));
  process.on('uncaughtException', (e) => process.stderr.write(`${SERVER_NAME}: uncaught exception: ${e?.stack ?? String(e)}\n`));
  process.on('unhandledRejection', (e) => process.stderr.write(`${SERVER_NAME}: unhandled rejection: ${(e as Error)?.stack ?? String(e)}\n`));
  startServer(connection, { arrived });
}

function main(argv: string[]): void {
  const check = argv.indexOf('--check');
  if (check >= 0) {
    void runCheck(argv.filter((_, i) => i !== check));
    return;
  }
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`${SERVER_VERSION}\n`);
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  runServer(argv);
}

if (!isMainThread && (workerData as CheckWorkerData | undefined)?.kind === CHECK_WORKER) {
  runCheckWorker(workerData as CheckWorkerData, (m) => parentPort!.postMessage(m));
} else if (isMainThread) {
  main(process.argv.slice(2));
}
