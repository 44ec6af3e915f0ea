// Downloads against a local HTTP server on 127.0.0.1 started by this file: complete downloads,
// resume after a cut connection (in the same call and in a later one), size and sha256 checks,
// cancellation, and the rule that no partial file is ever where a model would be loaded from.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_SETTINGS, type Settings } from '../server/src/settings';
import {
  createProgressBar,
  downloadFile,
  DownloadError,
  isPartialPath,
  ModelManager,
  ModelNotFoundError,
  partialPathFor,
  type DownloadProgress,
} from '../server/src/runtime/models';
import { ensureTestModels } from './support/models';

// ---- the loopback server ----------------------------------------------------------------------

interface ServedFile {
  body: Buffer;
  etag?: string;
  /** byte counts after which successive responses are cut (the socket destroyed) */
  cuts?: number[];
  /** for successive responses: send this many bytes, then stall without ending */
  hangs?: number[];
  /** ignore Range headers (always 200 with the whole file) */
  ignoreRange?: boolean;
  /** delay between 64 KB chunks, ms */
  chunkDelayMs?: number;
}

interface RequestLog {
  path: string;
  range?: string;
  ifRange?: string;
  authorization?: string;
  status: number;
}

class LoopbackServer {
  readonly files = new Map<string, ServedFile>();
  readonly redirects = new Map<string, { to: string; linkedEtag?: string; linkedSize?: number }>();
  readonly requests: RequestLog[] = [];
  private server!: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  private safety?: NodeJS.Timeout;
  base = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
    // never outlive the tests, even if an after() hook does not run
    this.safety = setTimeout(() => void this.stop(), 120_000);
    this.safety.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.safety);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.base);
    const log: RequestLog = { path: url.pathname, status: 0 };
    if (typeof req.headers.range === 'string') log.range = req.headers.range;
    if (typeof req.headers['if-range'] === 'string') log.ifRange = req.headers['if-range'];
    if (typeof req.headers.authorization === 'string') log.authorization = req.headers.authorization;
    this.requests.push(log);
    const redirect = this.redirects.get(url.pathname);
    if (redirect) {
      log.status = 302;
      const headers: Record<string, string> = { location: redirect.to };
      if (redirect.linkedEtag) headers['x-linked-etag'] = `"${redirect.linkedEtag}"`;
      if (redirect.linkedSize) headers['x-linked-size'] = String(redirect.linkedSize);
      res.writeHead(302, headers).end();
      return;
    }
    const f = this.files.get(url.pathname);
    if (!f) {
      log.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
      return;
    }
    const total = f.body.length;
    let start = 0;
    let status = 200;
    const m = typeof req.headers.range === 'string' ? /^bytes=(\d+)-$/.exec(req.headers.range) : null;
    const ifRangeOk = req.headers['if-range'] === undefined || req.headers['if-range'] === f.etag;
    if (m && !f.ignoreRange && ifRangeOk) {
      start = Number(m[1]);
      if (start >= total) {
        log.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${total}` }).end();
        return;
      }
      status = 206;
    }
    const headers: Record<string, string> = { 'content-length': String(total - start), 'accept-ranges': 'bytes' };
    if (f.etag) headers['etag'] = f.etag;
    if (status === 206) headers['content-range'] = `bytes ${start}-${total - 1}/${total}`;
    log.status = status;
    res.writeHead(status, headers);
    const cut = f.cuts?.shift();
    const hang = f.hangs?.shift();
    const end = Math.min(total, cut !== undefined ? Math.max(start, cut) : hang !== undefined ? Math.max(start, hang) : total);
    let pos = start;
    const pump = (): void => {
      while (pos < end) {
        const next = Math.min(end, pos + 65536);
        const ok = res.write(f.body.subarray(pos, next));
        pos = next;
        if (f.chunkDelayMs) {
          setTimeout(pump, f.chunkDelayMs);
          return;
        }
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      if (cut !== undefined && end < total) {
        // flush what was written, then drop the connection mid-body
        setImmediate(() => res.socket?.destroy());
      } else if (hang !== undefined && end < total) {
        // keep the connection open without sending more
      } else {
        res.end();
      }
    };
    pump();
  }
}

function randomBody(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

// ---- tests -------------------------------------------------------------------------------------

const server = new LoopbackServer();
let tmp: string;
let n = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `d${n++}-`));

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-download-'));
  await server.start();
});

after(async () => {
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('downloadFile', () => {
  test('downloads a file, reports progress and leaves only the verified file', async () => {
    const body = randomBody(1_000_000, 1);
    server.files.set('/a.gguf', { body, etag: '"a1"' });
    const dir = freshDir();
    const dest = path.join(dir, 'a.gguf');
    const progress: DownloadProgress[] = [];
    const r = await downloadFile({ url: `${server.base}/a.gguf`, dest, expectedSize: body.length, sha256: sha(body), onProgress: (p) => progress.push(p) });
    assert.equal(r.bytes, body.length);
    assert.equal(r.sha256, sha(body));
    assert.equal(r.resumedFromBytes, 0);
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(listDir(dir), ['a.gguf'], 'no partial, meta or lock file is left');
    const downloading = progress.filter((p) => p.phase === 'downloading');
    assert.ok(downloading.length >= 2, 'several progress reports');
    for (let i = 1; i < downloading.length; i++) assert.ok(downloading[i]!.downloadedBytes >= downloading[i - 1]!.downloadedBytes);
    assert.equal(downloading.at(-1)!.percent, 100);
    assert.equal(downloading.at(-1)!.totalBytes, body.length);
    assert.deepEqual(
      progress.map((p) => p.phase).filter((p, i, a) => a[i - 1] !== p),
      ['downloading', 'verifying', 'done'],
    );
  });

  test('a cut connection leaves only a .partial file, and the next call resumes it with a Range request', async () => {
    const body = randomBody(800_000, 2);
    server.files.set('/b.gguf', { body, etag: '"b1"', cuts: [300_000] });
    const dir = freshDir();
    const dest = path.join(dir, 'b.gguf');
    const url = `${server.base}/b.gguf`;
    await assert.rejects(downloadFile({ url, dest, retries: 0, sha256: sha(body) }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'NETWORK');
      assert.match(e.message, /interrupted at byte \d+ of 800000.*run again to resume/);
      return true;
    });
    assert.equal(fs.existsSync(dest), false, 'no file under the final name');
    const partial = partialPathFor(dest);
    assert.ok(fs.existsSync(partial));
    const partialBytes = fs.statSync(partial).size;
    assert.ok(partialBytes > 0 && partialBytes <= 300_000, `partial has ${partialBytes} bytes`);
    assert.ok(listDir(dir).every((f) => isPartialPath(f)), `only partial files: ${listDir(dir).join(', ')}`);

    const before = server.requests.length;
    const r = await downloadFile({ url, dest, retries: 0, sha256: sha(body) });
    const resumeReq = server.requests.slice(before).find((q) => q.path === '/b.gguf')!;
    assert.equal(resumeReq.range, `bytes=${partialBytes}-`);
    assert.equal(resumeReq.ifRange, '"b1"');
    assert.equal(resumeReq.status, 206);
    assert.equal(r.resumedFromBytes, partialBytes);
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(listDir(dir), ['b.gguf']);
  });

  test('resumes within one call after repeated cuts', async () => {
    const body = randomBody(600_000, 3);
    server.files.set('/c.gguf', { body, etag: '"c1"', cuts: [100_000, 250_000] });
    const dir = freshDir();
    const dest = path.join(dir, 'c.gguf');
    const before = server.requests.length;
    const r = await downloadFile({ url: `${server.base}/c.gguf`, dest, retries: 3, retryDelayMs: 10, sha256: sha(body) });
    assert.equal(r.attempts, 3);
    const reqs = server.requests.slice(before).filter((q) => q.path === '/c.gguf');
    assert.equal(reqs.length, 3);
    assert.equal(reqs[0]!.range, undefined);
    assert.match(reqs[1]!.range ?? '', /^bytes=\d+-$/);
    assert.match(reqs[2]!.range ?? '', /^bytes=\d+-$/);
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(listDir(dir), ['c.gguf']);
  });

  test('a stalled connection is abandoned and resumed', async () => {
    const body = randomBody(400_000, 4);
    server.files.set('/stall.gguf', { body, hangs: [150_000] });
    const dir = freshDir();
    const dest = path.join(dir, 'stall.gguf');
    const r = await downloadFile({ url: `${server.base}/stall.gguf`, dest, retries: 2, retryDelayMs: 10, stallTimeoutMs: 300 });
    assert.equal(r.attempts, 2);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('a server that ignores Range restarts from zero and still gives the right file', async () => {
    const body = randomBody(500_000, 5);
    server.files.set('/d.gguf', { body, cuts: [200_000], ignoreRange: true });
    const dir = freshDir();
    const dest = path.join(dir, 'd.gguf');
    const r = await downloadFile({ url: `${server.base}/d.gguf`, dest, retries: 2, retryDelayMs: 10, sha256: sha(body) });
    assert.equal(r.attempts, 2);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('a partial file of an older version (other ETag) is not glued to the new one', async () => {
    const oldBody = randomBody(300_000, 6);
    const newBody = randomBody(300_000, 7);
    server.files.set('/e.gguf', { body: oldBody, etag: '"old"', cuts: [120_000] });
    const dir = freshDir();
    const dest = path.join(dir, 'e.gguf');
    const url = `${server.base}/e.gguf`;
    await assert.rejects(downloadFile({ url, dest, retries: 0 }), DownloadError);
    server.files.set('/e.gguf', { body: newBody, etag: '"new"' });
    const r = await downloadFile({ url, dest, retries: 0, sha256: sha(newBody) });
    assert.ok(fs.readFileSync(dest).equals(newBody));
    assert.equal(r.sha256, sha(newBody));
  });

  test('a wrong sha256 deletes the download and never creates the final file', async () => {
    const body = randomBody(200_000, 8);
    server.files.set('/f.gguf', { body });
    const dir = freshDir();
    const dest = path.join(dir, 'f.gguf');
    await assert.rejects(downloadFile({ url: `${server.base}/f.gguf`, dest, sha256: '0'.repeat(64) }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'HASH_MISMATCH');
      assert.match(e.message, new RegExp(sha(body)));
      return true;
    });
    assert.deepEqual(listDir(dir), []);
  });

  test('a size other than the expected one is refused before downloading', async () => {
    const body = randomBody(200_000, 9);
    server.files.set('/g.gguf', { body });
    const dir = freshDir();
    await assert.rejects(downloadFile({ url: `${server.base}/g.gguf`, dest: path.join(dir, 'g.gguf'), expectedSize: 123 }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'SIZE_MISMATCH');
      assert.match(e.message, /200000 bytes but 123 were expected/);
      return true;
    });
    assert.deepEqual(listDir(dir), []);
  });

  test('404 is an HTTP error that names the URL', async () => {
    const dir = freshDir();
    const url = `${server.base}/missing.gguf`;
    await assert.rejects(downloadFile({ url, dest: path.join(dir, 'm.gguf') }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'HTTP');
      assert.equal(e.status, 404);
      assert.ok(e.message.includes(url));
      return true;
    });
    assert.deepEqual(listDir(dir), []);
  });

  test('follows redirects (as Hugging Face does to its CDN)', async () => {
    const body = randomBody(150_000, 10);
    server.files.set('/cdn/h.gguf', { body });
    server.redirects.set('/user/repo/resolve/main/h.gguf', { to: '/cdn/h.gguf', linkedEtag: sha(body), linkedSize: body.length });
    const dir = freshDir();
    const dest = path.join(dir, 'h.gguf');
    const r = await downloadFile({ url: `${server.base}/user/repo/resolve/main/h.gguf`, dest });
    assert.equal(r.sha256, sha(body));
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('cancelling keeps the partial file for a later resume and never the final name', async () => {
    const body = randomBody(2_000_000, 11);
    server.files.set('/slow.gguf', { body, chunkDelayMs: 5 });
    const dir = freshDir();
    const dest = path.join(dir, 'slow.gguf');
    const url = `${server.base}/slow.gguf`;
    const ac = new AbortController();
    await assert.rejects(
      downloadFile({
        url,
        dest,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.downloadedBytes >= 300_000) ac.abort();
        },
      }),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.code, 'ABORTED');
        assert.equal(e.name, 'AbortError');
        return true;
      },
    );
    assert.equal(fs.existsSync(dest), false);
    const kept = fs.statSync(partialPathFor(dest)).size;
    assert.ok(kept >= 300_000, `partial kept (${kept} bytes)`);
    server.files.set('/slow.gguf', { body });
    const r = await downloadFile({ url, dest, sha256: sha(body) });
    assert.ok(r.resumedFromBytes >= 300_000);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('a second download of the same file in progress is refused, not interleaved', async () => {
    const body = randomBody(1_000_000, 12);
    server.files.set('/busy.gguf', { body, chunkDelayMs: 5 });
    const dir = freshDir();
    const dest = path.join(dir, 'busy.gguf');
    const url = `${server.base}/busy.gguf`;
    const first = downloadFile({ url, dest });
    // wait until the first one holds the lock
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(`${partialPathFor(dest)}.lock`)) {
      assert.ok(Date.now() < deadline, 'the first download never started');
      await new Promise((r) => setImmediate(r));
    }
    await assert.rejects(downloadFile({ url, dest }), (e: unknown) => e instanceof DownloadError && e.code === 'BUSY');
    await first;
    assert.ok(fs.readFileSync(dest).equals(body));
  });
});

describe('progress bar', () => {
  const fakeStream = (isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } => {
    const out: string[] = [];
    const stream = { isTTY, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
    return { stream, out };
  };
  const progress = (pct: number): DownloadProgress => ({
    url: 'u',
    dest: 'd',
    phase: 'downloading',
    downloadedBytes: pct * 1000,
    totalBytes: 100_000,
    percent: pct,
    resumedFromBytes: 0,
    bytesPerSecond: undefined,
  });

  test('without a TTY: one line per 10%', () => {
    const { stream, out } = fakeStream(false);
    const bar = createProgressBar('model', stream);
    for (let p = 0; p <= 100; p += 1) bar.update(progress(p));
    bar.done();
    assert.equal(out.length, 11);
    assert.ok(out.every((l) => l.endsWith('\n') && !l.includes('\r')));
    assert.match(out[5]!, /^model: 50% /);
  });

  test('on a TTY: one redrawn line', () => {
    const { stream, out } = fakeStream(true);
    const bar = createProgressBar('model', stream);
    bar.update(progress(10));
    bar.update(progress(55));
    bar.done();
    assert.ok(out[0]!.startsWith('\rmodel ['));
    assert.match(out[1]!, / 55% /);
    assert.equal(out.at(-1), '\n');
  });
});

describe('model manager downloads', () => {
  let tinyBody: Buffer;
  const HF_PATH = '/pc-test/tiny-GGUF/resolve/main/tiny-Q8_0.gguf';
  const URI = 'hf:pc-test/tiny-GGUF/tiny-Q8_0.gguf';

  before(async () => {
    const models = await ensureTestModels();
    tinyBody = fs.readFileSync(models.tiny.Q8_0);
  });

  const manager = (home: string, settings: Partial<Settings> = {}): ModelManager =>
    new ModelManager({
      settings: { ...DEFAULT_SETTINGS, models: { 'tiny-test': { Q8_0: URI } }, ...settings },
      workspaceRoot: home,
      home,
      env: { HF_ENDPOINT: `${server.base}/`, HF_TOKEN: 'hf_test_token' },
    });

  test('refused download: a clear error naming the URI, the places looked and how to point at a file; a partial file is never used', async () => {
    server.files.set(HF_PATH, { body: tinyBody, cuts: [5_000_000] });
    const home = freshDir();
    const modelsDir = path.join(home, '.node-llama-cpp', 'models');
    // an interrupted download leaves a partial file behind
    await assert.rejects(
      downloadFile({ url: `${server.base}${HF_PATH}`, dest: path.join(modelsDir, 'hf_pc-test_tiny-Q8_0.gguf'), retries: 0 }),
      DownloadError,
    );
    assert.deepEqual(listDir(modelsDir), ['hf_pc-test_tiny-Q8_0.gguf.partial', 'hf_pc-test_tiny-Q8_0.gguf.partial.json']);
    const mm = manager(home, { allowDownload: false });
    try {
      await assert.rejects(mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' }), (e: unknown) => {
        assert.ok(e instanceof ModelNotFoundError);
        assert.equal(e.uri, URI);
        assert.ok(e.message.includes(URI), e.message);
        assert.match(e.message, /contracts\.allowDownload is false/);
        assert.ok(e.message.includes(path.join(modelsDir, 'hf_pc-test_tiny-Q8_0.gguf')), e.message);
        assert.match(e.message, /incomplete download/);
        assert.match(e.message, /--model FILE/);
        assert.match(e.message, /contracts\.modelFile/);
        assert.match(e.message, /model\.file/);
        return true;
      });
      assert.equal(mm.status().state, 'error');
    } finally {
      await mm.dispose();
    }
  });

  test('allowed download: resumes the partial file, then later runs find it in the models folder', async () => {
    server.files.set(HF_PATH, { body: tinyBody, cuts: [3_000_000] });
    const home = freshDir();
    const modelsDir = path.join(home, '.node-llama-cpp', 'models');
    const states: string[] = [];
    const mm = manager(home);
    mm.onStatus((s) => states.push(s.state));
    try {
      const percents: number[] = [];
      const before = server.requests.length;
      const r = await mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' }, { onProgress: (p) => p.percent !== undefined && percents.push(p.percent), downloadRetries: 2 });
      assert.equal(r.source, 'download');
      assert.equal(r.path, path.join(modelsDir, 'hf_pc-test_tiny-Q8_0.gguf'));
      assert.equal(r.synthetic, true);
      assert.match(r.label, /^SYNTHETIC /);
      assert.equal(r.sha256, sha(tinyBody));
      assert.equal(percents.at(-1), 100);
      assert.ok(states.includes('downloading'));
      const reqs = server.requests.slice(before).filter((q) => q.path === HF_PATH);
      assert.equal(reqs.length, 2, 'the cut download was resumed');
      assert.equal(reqs[0]!.authorization, 'Bearer hf_test_token', 'HF_TOKEN is sent to the Hugging Face endpoint');
      assert.match(reqs[1]!.range ?? '', /^bytes=\d+-$/);
      assert.deepEqual(listDir(modelsDir), ['hf_pc-test_tiny-Q8_0.gguf']);
      const again = await mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' }, { allowDownload: false });
      assert.equal(again.source, 'node-llama-cpp');
      assert.equal(again.path, r.path);
    } finally {
      await mm.dispose();
    }
  });

  test('concurrent resolutions of one model share one download', async () => {
    server.files.set(HF_PATH, { body: tinyBody });
    const home = freshDir();
    const mm = manager(home);
    try {
      const before = server.requests.length;
      const [a, b] = await Promise.all([mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' }), mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' })]);
      assert.equal(a, b);
      assert.equal(server.requests.slice(before).filter((q) => q.path === HF_PATH).length, 1);
    } finally {
      await mm.dispose();
    }
  });

  test('offline (nothing listening): the error names the URI and the failure', async () => {
    const home = freshDir();
    const mm = new ModelManager({
      settings: { ...DEFAULT_SETTINGS, models: { 'tiny-test': { Q8_0: URI } } },
      workspaceRoot: home,
      home,
      // a port nothing listens on: connection refused, like being offline
      env: { HF_ENDPOINT: 'http://127.0.0.1:9/' },
    });
    try {
      await assert.rejects(mm.resolve({ id: 'tiny-test', quantization: 'Q8_0' }, { downloadRetries: 0 }), (e: unknown) => {
        assert.ok(e instanceof ModelNotFoundError);
        assert.ok(e.message.includes(URI));
        assert.match(e.message, /downloading it failed/);
        assert.match(e.message, /--model FILE/);
        return true;
      });
    } finally {
      await mm.dispose();
    }
  });
});
