import { Writable } from 'node:stream';
import { format } from 'node:util';
import {
  createServerPipeTransport,
  createServerSocketTransport,
  IPCMessageReader,
  IPCMessageWriter,
  StreamMessageReader,
  StreamMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
  type PartialMessageInfo,
} from 'vscode-languageserver/node';

export type TransportKind = 'stdio' | 'node-ipc' | 'socket' | 'pipe';

export interface Transport {
  kind: TransportKind;
  reader: MessageReader;
  writer: MessageWriter;
}

/**
 * Keeps stdout for protocol frames only: anything else that writes to stdout (console.log, a
 * library) goes to stderr. Returns the one stream that still reaches the real stdout.
 */
export function reserveStdout(): Writable {
  const stdout = process.stdout;
  const write = stdout.write.bind(stdout) as (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
  const toStderr = process.stderr.write.bind(process.stderr) as typeof stdout.write;
  stdout.write = toStderr;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      write(chunk, (err?: Error | null) => callback(err ?? null));
    },
  });
}

/** Sends console output somewhere other than stdout (stderr first, the client's log once connected). */
export function routeConsole(sink: { log(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void }): void {
  const c = console as unknown as Record<string, (...a: unknown[]) => void>;
  c.log = (...a) => sink.log(format(...a));
  c.info = (...a) => sink.info(format(...a));
  c.debug = (...a) => sink.log(format(...a));
  c.trace = (...a) => sink.log(format(...a));
  c.warn = (...a) => sink.warn(format(...a));
  c.error = (...a) => sink.error(format(...a));
}

export const stderrSink = {
  log: (m: string) => void process.stderr.write(m + '\n'),
  info: (m: string) => void process.stderr.write(m + '\n'),
  warn: (m: string) => void process.stderr.write(m + '\n'),
  error: (m: string) => void process.stderr.write(m + '\n'),
};

/** Reads `--stdio`, `--node-ipc`, `--socket=N` (or `--socket N`) and `--pipe=NAME` as LSP clients pass them. */
export function transportFromArgs(argv: readonly string[], stdout: () => Writable): Transport | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[i + 1];
    if (arg === '--stdio') return { kind: 'stdio', reader: new StreamMessageReader(process.stdin), writer: new StreamMessageWriter(stdout()) };
    if (arg === '--node-ipc') return { kind: 'node-ipc', reader: new IPCMessageReader(process), writer: new IPCMessageWriter(process) };
    if (flag === '--socket' && value !== undefined && /^\d+$/.test(value)) {
      const [reader, writer] = createServerSocketTransport(Number(value));
      return { kind: 'socket', reader, writer };
    }
    if (flag === '--pipe' && value) {
      const [reader, writer] = createServerPipeTransport(value);
      return { kind: 'pipe', reader, writer };
    }
  }
  return undefined;
}

/**
 * The newest version of each document that has *arrived* from the client, seen as messages are
 * read and before they are handled: a check that finds a newer version on its way skips itself.
 */
export class ArrivedVersions {
  private versions = new Map<string, number>();

  latest(uri: string): number | undefined {
    return this.versions.get(uri);
  }

  observe(message: Message): void {
    const m = message as { method?: string; params?: { textDocument?: { uri?: unknown; version?: unknown } } };
    const td = m.params?.textDocument;
    if (!td || typeof td.uri !== 'string') return;
    if (m.method === 'textDocument/didChange' || m.method === 'textDocument/didOpen') {
      if (typeof td.version === 'number') this.versions.set(td.uri, td.version);
    } else if (m.method === 'textDocument/didClose') this.versions.delete(td.uri);
  }
}

/** A reader that shows each message to `tap` as soon as it is read. */
export class TappedReader implements MessageReader {
  constructor(
    private readonly inner: MessageReader,
    private readonly tap: (m: Message) => void,
  ) {}

  get onError() {
    return this.inner.onError;
  }

  get onClose() {
    return this.inner.onClose;
  }

  get onPartialMessage(): MessageReader['onPartialMessage'] {
    return this.inner.onPartialMessage as (listener: (e: PartialMessageInfo) => unknown) => Disposable;
  }

  listen(callback: DataCallback): Disposable {
    return this.inner.listen((message) => {
      try {
        this.tap(message);
      } catch {
        // Observing is best effort; the message is still delivered.
      }
      callback(message);
    });
  }

  dispose(): void {
    this.inner.dispose();
  }
}
