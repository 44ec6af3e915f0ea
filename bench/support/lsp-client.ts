import type { ChildProcess } from 'node:child_process';
import { killTree, spawnNodeMeasured, type Exited } from './children';

/**
 * A minimal LSP client over stdio, enough to time diagnostics: Content-Length framing, requests,
 * notifications, answers to the server's own requests, and waiting for `publishDiagnostics`.
 * Dependency-free so that the client's cost is the same for every server measured.
 */

export interface Diagnostic {
  message: string;
  severity?: number;
  source?: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

export interface Published {
  uri: string;
  version?: number;
  diagnostics: Diagnostic[];
  /** performance.now() when the message was read off the pipe. */
  at: number;
}

type Waiter = { match: (p: Published) => boolean; resolve: (p: Published) => void };

export interface LspServerSpec {
  name: string;
  /** Arguments for `node` (script and flags). */
  args: string[];
  /** Answers `workspace/configuration` items by section. */
  settings: Record<string, unknown>;
  languageId: string;
}

export class LspClient {
  readonly child: ChildProcess;
  readonly exited: Promise<Exited>;
  /** Every publishDiagnostics, in arrival order. */
  readonly published: Published[] = [];
  /** Latest diagnostics per URI. */
  readonly latest = new Map<string, Published>();
  /** How many `workspace/configuration` requests the server made. */
  configurationRequests = 0;
  stderr = '';
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  private waiters: Waiter[] = [];
  private configWaiters: (() => void)[] = [];
  private exitError: Error | undefined;

  constructor(
    readonly spec: LspServerSpec,
    cwd: string,
  ) {
    const m = spawnNodeMeasured(spec.args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = m.child;
    this.exited = m.done;
    this.child.stdout!.on('data', (d: Buffer) => this.onData(d));
    this.child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d.toString();
    });
    this.child.stdin!.on('error', () => undefined);
    void m.done.then(({ code }) => {
      this.exitError = new Error(`${spec.name} exited (code ${code})${this.stderr ? `: ${this.stderr.slice(-2000)}` : ''}`);
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
  }

  private onData(d: Buffer): void {
    const at = performance.now();
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const headerEnd = this.buf.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buf.subarray(0, headerEnd).toString('ascii');
      const m = /Content-Length: *(\d+)/i.exec(header);
      if (!m) throw new Error(`${this.spec.name}: bad LSP header ${JSON.stringify(header)}`);
      const len = Number(m[1]);
      if (this.buf.length < headerEnd + 4 + len) return;
      const body = this.buf.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8');
      this.buf = this.buf.subarray(headerEnd + 4 + len);
      this.onMessage(JSON.parse(body), at);
    }
  }

  private onMessage(msg: { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: { message: string } }, at: number): void {
    if (msg.method !== undefined && msg.id !== undefined) {
      this.answerServerRequest(msg.id, msg.method, msg.params);
      return;
    }
    if (msg.method === 'textDocument/publishDiagnostics') {
      const p = msg.params as { uri: string; version?: number; diagnostics: Diagnostic[] };
      const pub: Published = { uri: p.uri, version: p.version, diagnostics: p.diagnostics, at };
      this.published.push(pub);
      this.latest.set(p.uri, pub);
      const still: Waiter[] = [];
      for (const w of this.waiters) {
        if (w.match(pub)) w.resolve(pub);
        else still.push(w);
      }
      this.waiters = still;
      return;
    }
    if (msg.method !== undefined) return; // other notifications: logs, progress
    const p = this.pending.get(Number(msg.id));
    if (!p) return;
    this.pending.delete(Number(msg.id));
    if (msg.error) p.reject(new Error(`${this.spec.name}: ${p.method} failed: ${msg.error.message}`));
    else p.resolve(msg.result);
  }

  private answerServerRequest(id: number | string, method: string, params: unknown): void {
    let result: unknown = null;
    if (method === 'workspace/configuration') {
      const items = (params as { items: { section?: string }[] }).items;
      result = items.map((i) => (i.section !== undefined && i.section in this.spec.settings ? this.spec.settings[i.section] : null));
      this.configurationRequests++;
      // Resolve after the answer is written, so anything sent next is read after it.
      queueMicrotask(() => {
        const ws = this.configWaiters;
        this.configWaiters = [];
        for (const w of ws) w();
      });
    } else if (method === 'workspace/workspaceFolders') {
      result = null;
    }
    this.write({ jsonrpc: '2.0', id, result });
  }

  private write(msg: unknown): void {
    if (this.exitError) throw this.exitError;
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    this.child.stdin!.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin!.write(body);
  }

  request<T = unknown>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.exitError) return reject(this.exitError);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.write({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.write({ jsonrpc: '2.0', method, params });
  }

  /** The next publishDiagnostics that satisfies `match` (only those arriving after this call). */
  nextDiagnostics(match: (p: Published) => boolean, timeoutMs: number, what: string): Promise<Published> {
    return withTimeout(
      new Promise<Published>((resolve) => this.waiters.push({ match, resolve })),
      timeoutMs,
      () => `${this.spec.name}: no diagnostics for ${what} within ${timeoutMs} ms`,
    );
  }

  /** Resolves once the server has asked for its configuration `count` times in all. */
  configurationAnswered(count: number, timeoutMs: number): Promise<void> {
    if (this.configurationRequests >= count) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (this.configurationRequests >= count ? resolve() : this.configWaiters.push(check));
        this.configWaiters.push(check);
      }),
      timeoutMs,
      () => `${this.spec.name}: did not ask for its configuration within ${timeoutMs} ms`,
    );
  }

  async initialize(rootUri: string): Promise<{ capabilities: { textDocumentSync?: number | { change?: number } } }> {
    const res = await this.request<{ capabilities: { textDocumentSync?: number | { change?: number } } }>('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'bench' }],
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false }, workspaceFolders: true },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: true },
          publishDiagnostics: { relatedInformation: true, versionSupport: true },
        },
      },
      initializationOptions: {},
    });
    this.notify('initialized', {});
    return res;
  }

  /** Polite shutdown, then the process group is killed whatever happens. */
  close(timeoutMs = 5000): Promise<Partial<Exited>> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private closing: Promise<Partial<Exited>> | undefined;

  private async shutdown(timeoutMs: number): Promise<Partial<Exited>> {
    try {
      await withTimeout(this.request('shutdown', null), timeoutMs, () => 'shutdown timed out');
      this.notify('exit', undefined);
      return await withTimeout(this.exited, timeoutMs, () => 'exit timed out');
    } catch {
      killTree(this.child);
      return {};
    }
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(what())), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
