/**
 * Drives the real language server as a child process over stdio: vscode-jsonrpc for the messages,
 * plus an independent parser of the raw stdout bytes that proves every byte belongs to a valid LSP
 * frame and timestamps each publishDiagnostics as soon as it is read. Waits have deadlines; there
 * are no sleeps.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

export const REPO = path.resolve(__dirname, '../..');

export interface Diagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity?: number;
  code?: string | number;
  source?: string;
  message: string;
  data?: unknown;
  tags?: number[];
}

export interface PublishDiagnostics {
  uri: string;
  version?: number;
  diagnostics: Diagnostic[];
  /** performance.now() when the frame was read from the server's stdout. */
  at: number;
}

export interface StartOptions {
  /** Run dist/server.js (built by esbuild.mjs) instead of the TypeScript sources. */
  built?: boolean;
  /** Extra arguments after `--stdio`. */
  args?: string[];
  /** Extra arguments for node, before the script. */
  nodeArgs?: string[];
  cwd?: string;
  /** Returned for `workspace/configuration` (section `contracts`). */
  settings?: Record<string, unknown>;
}

type Waiter = { pred: (p: PublishDiagnostics) => boolean; resolve: (p: PublishDiagnostics) => void };

/** Caret fixtures: `'na|me: x'` → the text without the caret and the caret's offset and position. */
export function caret(marked: string, mark = '|'): { text: string; offset: number; position: { line: number; character: number } } {
  const offset = marked.indexOf(mark);
  if (offset < 0) throw new Error('no caret in fixture');
  const text = marked.slice(0, offset) + marked.slice(offset + mark.length);
  const before = text.slice(0, offset).split('\n');
  return { text, offset, position: { line: before.length - 1, character: before[before.length - 1]!.length } };
}

/** Polls `pred` until it holds (events arrive asynchronously); fails after `ms`. */
export async function until<T>(what: string, pred: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function fileUri(p: string): string {
  return pathToFileURL(p).href;
}

export class LspClient {
  readonly connection: MessageConnection;
  /** Every publishDiagnostics, in order. */
  readonly published: PublishDiagnostics[] = [];
  /** Everything else the server sent as notifications (method, params). */
  readonly notifications: { method: string; params: unknown }[] = [];
  /** Problems found in the raw stdout bytes (anything that is not a well-formed JSON-RPC frame). */
  readonly framingErrors: string[] = [];
  frames = 0;
  stderr = '';
  settings: Record<string, unknown>;
  private waiters: Waiter[] = [];
  private raw = Buffer.alloc(0);
  private exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams, settings: Record<string, unknown>) {
    this.settings = settings;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (this.stderr += s));
    child.stdout.on('data', (chunk: Buffer) => this.onRaw(chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    this.connection.onNotification((method, params) => {
      if (method !== 'textDocument/publishDiagnostics') this.notifications.push({ method, params });
    });
    this.connection.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) => p.items.map((i) => (i.section === 'contracts' ? this.settings : null)));
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('client/unregisterCapability', () => null);
    this.connection.onRequest('window/workDoneProgress/create', () => null);
    this.connection.onError(() => undefined);
    this.connection.listen();
  }

  static start(opts: StartOptions = {}): LspClient {
    const entry = opts.built ? [path.join(REPO, 'dist/server.js')] : ['--import', 'tsx', path.join(REPO, 'server/src/lsp/main.ts')];
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry, '--stdio', ...(opts.args ?? [])], { cwd: opts.cwd ?? REPO, stdio: 'pipe' });
    return new LspClient(child, opts.settings ?? {});
  }

  /** Parses the raw byte stream independently of vscode-jsonrpc. */
  private onRaw(chunk: Buffer): void {
    const at = performance.now();
    this.raw = Buffer.concat([this.raw, chunk]);
    for (;;) {
      const headerEnd = this.raw.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        if (this.raw.length > 4096) this.framingErrors.push(`no header end in ${JSON.stringify(this.raw.subarray(0, 80).toString())}`);
        return;
      }
      const header = this.raw.subarray(0, headerEnd).toString('ascii');
      const fields = header.split('\r\n');
      let length = -1;
      for (const f of fields) {
        const m = /^([A-Za-z-]+): (.+)$/.exec(f);
        if (!m) this.framingErrors.push(`bad header line ${JSON.stringify(f)}`);
        else if (m[1]!.toLowerCase() === 'content-length') length = Number(m[2]);
        else if (m[1]!.toLowerCase() !== 'content-type') this.framingErrors.push(`unexpected header ${JSON.stringify(f)}`);
      }
      if (!(length >= 0)) {
        this.framingErrors.push(`no Content-Length in ${JSON.stringify(header)}`);
        this.raw = this.raw.subarray(headerEnd + 4);
        continue;
      }
      if (this.raw.length < headerEnd + 4 + length) return;
      const body = this.raw.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.raw = this.raw.subarray(headerEnd + 4 + length);
      this.frames++;
      let msg: { jsonrpc?: string; method?: string; params?: unknown };
      try {
        msg = JSON.parse(body);
      } catch {
        this.framingErrors.push(`frame body is not JSON: ${body.slice(0, 80)}`);
        continue;
      }
      if (msg.jsonrpc !== '2.0') this.framingErrors.push(`frame without jsonrpc 2.0: ${body.slice(0, 80)}`);
      if (msg.method === 'textDocument/publishDiagnostics') {
        const p = { ...(msg.params as Omit<PublishDiagnostics, 'at'>), at };
        this.published.push(p);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(p)) return true;
          w.resolve(p);
          return false;
        });
      }
    }
  }

  /** The next publishDiagnostics that satisfies `pred` (already received ones are not considered). */
  nextDiagnostics(pred: (p: PublishDiagnostics) => boolean, timeoutMs = 10_000, what = 'diagnostics'): Promise<PublishDiagnostics> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Diagnostics for a given version of a document. */
  diagnosticsFor(uri: string, version: number, timeoutMs = 10_000): Promise<PublishDiagnostics> {
    return this.nextDiagnostics((p) => p.uri === uri && p.version === version, timeoutMs, `diagnostics of ${uri} v${version}`);
  }

  async request<R>(method: string, params: unknown, timeoutMs = 10_000): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${method}; stderr: ${this.stderr.slice(-500)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.connection.sendRequest<R>(method, params), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  notify(method: string, params: unknown): void {
    void this.connection.sendNotification(method, params);
  }

  async initialize(rootPath?: string, capabilities: Record<string, unknown> = { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } } }): Promise<{ capabilities: Record<string, unknown>; serverInfo?: { name: string } }> {
    const rootUri = rootPath ? fileUri(rootPath) : null;
    const result = await this.request<{ capabilities: Record<string, unknown>; serverInfo?: { name: string } }>('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: rootPath ? [{ uri: rootUri, name: path.basename(rootPath) }] : null,
      capabilities,
    });
    this.notify('initialized', {});
    return result;
  }

  open(uri: string, text: string, version = 1, languageId = 'contract-yaml'): void {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  /** Replaces the whole text. */
  replace(uri: string, version: number, text: string): void {
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** One incremental edit. */
  edit(uri: string, version: number, range: { start: { line: number; character: number }; end: { line: number; character: number } }, text: string): void {
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ range, text }] });
  }

  /**
   * Writes several notifications as one chunk of bytes, so that the server reads them all at
   * once (as when a fast typist outruns it).
   */
  burst(messages: { method: string; params: unknown }[]): void {
    const frames = messages.map((m) => {
      const body = JSON.stringify({ jsonrpc: '2.0', method: m.method, params: m.params });
      return `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
    });
    this.child.stdin.write(Buffer.from(frames.join(''), 'utf8'));
  }

  close(uri: string): void {
    this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  /** shutdown + exit; resolves with the exit code. */
  async stop(timeoutMs = 5000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    try {
      await this.request('shutdown', null, timeoutMs);
      this.notify('exit', null);
    } catch {
      this.child.kill();
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    this.connection.dispose();
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
