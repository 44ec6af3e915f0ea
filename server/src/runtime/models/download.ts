// Model downloads that never leave a half-written model where a later run would load it.
//
// Data goes to `<dest>.partial` (with `<dest>.partial.json` saying which URL and ETag it holds);
// only a complete file whose size (and sha256, when known) checks out is renamed to `<dest>`.
// An interrupted download resumes with an HTTP Range request, in the same call (a few retries)
// or in a later one. node-llama-cpp's own downloader (ipull) was not used: it renames its
// `.ipull` temp file on completion without any hash check, keeps its resume state appended to
// the partial data, and opens parallel connections; here one connection, a sha256 check before
// the rename and a lock file against two processes writing the same partial file.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const PARTIAL_SUFFIX = '.partial';

export function partialPathFor(dest: string): string {
  return dest + PARTIAL_SUFFIX;
}

/** True for our partial files and node-llama-cpp's (`.ipull`) ones: never a loadable model. */
export function isPartialPath(p: string): boolean {
  return /\.(partial|partial\.json|partial\.lock|ipull)$/i.test(p);
}

export interface DownloadProgress {
  url: string;
  dest: string;
  phase: 'downloading' | 'verifying' | 'done';
  downloadedBytes: number;
  /** undefined when the server does not say */
  totalBytes: number | undefined;
  /** 0–100, undefined when the total is unknown */
  percent: number | undefined;
  /** bytes that were already on disk from an earlier, interrupted download */
  resumedFromBytes: number;
  bytesPerSecond: number | undefined;
}

export type DownloadErrorCode = 'HTTP' | 'NETWORK' | 'SIZE_MISMATCH' | 'HASH_MISMATCH' | 'ABORTED' | 'BUSY' | 'IO';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = code === 'ABORTED' ? 'AbortError' : 'DownloadError';
  }
}

export interface DownloadOptions {
  url: string;
  /** final path of the file; it appears only when complete and verified */
  dest: string;
  expectedSize?: number;
  /** lowercase hex sha256 of the complete file */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** automatic resumes after a dropped connection within this call (default 3) */
  retries?: number;
  retryDelayMs?: number;
  /** give up on an attempt when no data arrives for this long (default 60 s) */
  stallTimeoutMs?: number;
  log?: (level: 'info' | 'warn', message: string) => void;
  fetch?: typeof fetch;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  resumedFromBytes: number;
  attempts: number;
}

interface PartialMeta {
  url: string;
  etag?: string;
  totalBytes?: number;
}

const MAX_REDIRECTS = 10;

/** Downloads `url` to `dest` (see the file comment for the guarantees). */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const dest = path.resolve(opts.dest);
  const partial = partialPathFor(dest);
  const metaPath = `${partial}.json`;
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  throwIfAborted(opts.signal, opts.url);
  const unlock = await acquireLock(`${partial}.lock`, opts.url);
  try {
    return await downloadLocked(opts, dest, partial, metaPath);
  } finally {
    await unlock();
  }
}

async function downloadLocked(opts: DownloadOptions, dest: string, partial: string, metaPath: string): Promise<DownloadResult> {
  const doFetch = opts.fetch ?? fetch;
  const retries = opts.retries ?? 3;
  const log = opts.log ?? (() => undefined);
  let meta = await readMeta(metaPath);
  if (meta && meta.url !== opts.url) {
    log('info', `discarding ${partial}: it belongs to ${meta.url}`);
    meta = undefined;
    await rmQuiet(partial);
  }
  if (!meta) await rmQuiet(metaPath);
  const startSize = meta ? await fileSize(partial) : 0;
  if (!meta && startSize === 0) await rmQuiet(partial);
  // bytes kept from an earlier attempt: set when the first response is a 206
  let resumedFromBytes = 0;
  let firstResponse = true;
  let totalBytes = meta?.totalBytes;
  let etag = meta?.etag;
  let serverSha256: string | undefined;
  let attempts = 0;
  const speed = new SpeedMeter();

  const report = makeReporter(opts, dest, () => totalBytes, () => resumedFromBytes, speed);

  for (;;) {
    throwIfAborted(opts.signal, opts.url);
    attempts++;
    let offset = await fileSize(partial);
    if (totalBytes !== undefined && offset === totalBytes) break;
    if (totalBytes !== undefined && offset > totalBytes) {
      await rmQuiet(partial);
      offset = 0;
    }

    const headers: Record<string, string> = { ...opts.headers };
    if (offset > 0) {
      headers['Range'] = `bytes=${offset}-`;
      if (etag && !etag.startsWith('W/')) headers['If-Range'] = etag;
    }
    const attempt = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, attempt.signal]) : attempt.signal;
    let res: Response;
    let linked: { etag?: string; size?: number };
    try {
      ({ res, linked } = await fetchFollowingRedirects(doFetch, opts.url, headers, signal));
    } catch (e) {
      if (opts.signal?.aborted) throw abortError(opts.url);
      if (attempts <= retries) {
        log('warn', `download of ${opts.url} failed (${errText(e)}); retrying`);
        await delay(opts.retryDelayMs ?? 500, opts.signal, opts.url);
        continue;
      }
      throw new DownloadError('NETWORK', `cannot download ${opts.url}: ${errText(e)}`, opts.url);
    }
    if (linked.etag && /^[0-9a-f]{64}$/i.test(linked.etag)) serverSha256 = linked.etag.toLowerCase();

    if (res.status === 416) {
      await res.body?.cancel();
      const total = parseContentRangeTotal(res.headers.get('content-range'));
      if (total !== undefined && total === offset) {
        totalBytes = total;
        break;
      }
      await rmQuiet(partial);
      if (attempts <= retries) continue;
      throw new DownloadError('HTTP', `the server rejected resuming ${opts.url} at byte ${offset} (416)`, opts.url, 416);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw httpError(opts.url, res.status, res.statusText);
    }

    let append: boolean;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== offset) {
        await res.body?.cancel();
        await rmQuiet(partial);
        if (attempts <= retries) continue;
        throw new DownloadError('HTTP', `the server answered a resume of ${opts.url} with an unexpected range`, opts.url, 206);
      }
      if (cr.total !== undefined) totalBytes = cr.total;
      if (firstResponse) resumedFromBytes = offset;
      append = true;
    } else {
      // 200: a fresh download, or the server ignored our Range / If-Range (the file changed)
      if (offset > 0) log('info', `the server restarted ${opts.url} from the beginning`);
      const len = Number(res.headers.get('content-length'));
      totalBytes = Number.isSafeInteger(len) && len > 0 ? len : linked.size;
      append = false;
    }
    firstResponse = false;
    const newEtag = res.headers.get('etag') ?? undefined;
    if (newEtag) etag = newEtag;

    if (opts.expectedSize !== undefined && totalBytes !== undefined && totalBytes !== opts.expectedSize) {
      await res.body?.cancel();
      await rmQuiet(partial);
      await rmQuiet(metaPath);
      throw new DownloadError(
        'SIZE_MISMATCH',
        `${opts.url} is ${totalBytes} bytes but ${opts.expectedSize} were expected: the published file changed or the URL is wrong`,
        opts.url,
      );
    }
    await writeMeta(metaPath, { url: opts.url, ...(etag ? { etag } : {}), ...(totalBytes !== undefined ? { totalBytes } : {}) });

    const body = res.body;
    if (!body) throw new DownloadError('NETWORK', `empty response from ${opts.url}`, opts.url, res.status);
    const fh = await fsp.open(partial, append ? 'a' : 'w');
    let written = append ? offset : 0;
    let stall: NodeJS.Timeout | undefined;
    const armStall = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => attempt.abort(new Error('no data received for a while')), opts.stallTimeoutMs ?? 60_000);
      stall.unref();
    };
    let failure: unknown;
    try {
      armStall();
      speed.start(written);
      report('downloading', written);
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        armStall();
        await writeAll(fh, chunk);
        written += chunk.byteLength;
        speed.add(written);
        report('downloading', written);
      }
    } catch (e) {
      failure = e;
    } finally {
      clearTimeout(stall);
      await fh.close();
    }
    if (failure === undefined && totalBytes !== undefined && written < totalBytes) {
      failure = new Error(`the connection closed after ${written} of ${totalBytes} bytes`);
    }
    if (failure !== undefined) {
      if (opts.signal?.aborted) throw abortError(opts.url);
      if (attempts <= retries) {
        log('warn', `download of ${opts.url} interrupted at byte ${written} (${errText(failure)}); resuming`);
        await delay(opts.retryDelayMs ?? 500, opts.signal, opts.url);
        continue;
      }
      throw new DownloadError(
        'NETWORK',
        `download of ${opts.url} interrupted at byte ${written}${totalBytes !== undefined ? ` of ${totalBytes}` : ''} (${errText(failure)}); run again to resume`,
        opts.url,
      );
    }
    if (totalBytes === undefined) totalBytes = written;
    break;
  }

  // verify, then promote
  const size = await fileSize(partial);
  const want = totalBytes ?? opts.expectedSize;
  if ((want !== undefined && size !== want) || (opts.expectedSize !== undefined && size !== opts.expectedSize)) {
    await rmQuiet(partial);
    await rmQuiet(metaPath);
    throw new DownloadError('SIZE_MISMATCH', `downloaded ${size} bytes from ${opts.url}, expected ${opts.expectedSize ?? want}`, opts.url);
  }
  report('verifying', size);
  const sha256 = await sha256File(partial, opts.signal, opts.url);
  if (opts.sha256 && sha256 !== opts.sha256.toLowerCase()) {
    await rmQuiet(partial);
    await rmQuiet(metaPath);
    throw new DownloadError(
      'HASH_MISMATCH',
      `the file downloaded from ${opts.url} has sha256 ${sha256}, expected ${opts.sha256.toLowerCase()}: it was deleted`,
      opts.url,
    );
  }
  if (!opts.sha256 && serverSha256 && serverSha256 !== sha256) {
    log('warn', `${opts.url}: sha256 ${sha256} differs from the server's X-Linked-Etag ${serverSha256}`);
  }
  const fd = await fsp.open(partial, 'r+');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
  await fsp.rename(partial, dest);
  await rmQuiet(metaPath);
  report('done', size);
  return { path: dest, bytes: size, sha256, resumedFromBytes, attempts };
}

async function fetchFollowingRedirects(
  doFetch: typeof fetch,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ res: Response; linked: { etag?: string; size?: number } }> {
  const linked: { etag?: string; size?: number } = {};
  let current = url;
  let hdrs = { ...headers };
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await doFetch(current, { headers: hdrs, redirect: 'manual', signal });
    // Hugging Face puts the LFS file's sha256 and size on the redirect to its CDN
    const le = res.headers.get('x-linked-etag');
    if (le) linked.etag = le.replace(/^W\//, '').replace(/"/g, '');
    const ls = Number(res.headers.get('x-linked-size'));
    if (Number.isSafeInteger(ls) && ls > 0) linked.size = ls;
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      await res.body?.cancel();
      const next = new URL(res.headers.get('location')!, current);
      if (next.origin !== new URL(current).origin) {
        hdrs = Object.fromEntries(Object.entries(hdrs).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      current = next.href;
      continue;
    }
    return { res, linked };
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects`);
}

function httpError(url: string, status: number, statusText: string): DownloadError {
  const why =
    status === 404
      ? 'not found: check the URI'
      : status === 401 || status === 403
        ? 'access denied: the repository may be gated (accept its license on huggingface.co and set HF_TOKEN) or private'
        : status === 429
          ? 'rate limited: try again later'
          : statusText || 'HTTP error';
  return new DownloadError('HTTP', `cannot download ${url}: ${status} ${why}`, url, status);
}

function parseContentRange(h: string | null): { start: number; end: number; total: number | undefined } | undefined {
  const m = h ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(h.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function parseContentRangeTotal(h: string | null): number | undefined {
  const m = h ? /\/(\d+)\s*$/.exec(h) : null;
  return m ? Number(m[1]) : undefined;
}

async function writeAll(fh: fsp.FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}

async function sha256File(file: string, signal: AbortSignal | undefined, url: string): Promise<string> {
  const hash = createHash('sha256');
  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw abortError(url);
    }
    hash.update(chunk);
  }
  return hash.digest('hex');
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch {
    return 0;
  }
}

async function rmQuiet(p: string): Promise<void> {
  await fsp.rm(p, { force: true });
}

async function readMeta(p: string): Promise<PartialMeta | undefined> {
  try {
    const j = JSON.parse(await fsp.readFile(p, 'utf8')) as Partial<PartialMeta>;
    if (typeof j.url !== 'string') return undefined;
    return {
      url: j.url,
      ...(typeof j.etag === 'string' ? { etag: j.etag } : {}),
      ...(typeof j.totalBytes === 'number' ? { totalBytes: j.totalBytes } : {}),
    };
  } catch {
    return undefined;
  }
}

async function writeMeta(p: string, meta: PartialMeta): Promise<void> {
  await fsp.writeFile(p, JSON.stringify(meta));
}

/** A lock file holding our pid; a stale one (dead pid) is taken over. */
async function acquireLock(lockPath: string, url: string): Promise<() => Promise<void>> {
  for (let i = 0; i < 2; i++) {
    try {
      const fh = await fsp.open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rmQuiet(lockPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new DownloadError('IO', `cannot create ${lockPath}: ${errText(e)}`, url);
      const pid = Number((await fsp.readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new DownloadError(
          'BUSY',
          `${url} is already being downloaded by process ${pid}${pid === process.pid ? ' (this one)' : ''}; wait for it to finish`,
          url,
        );
      }
      await rmQuiet(lockPath);
    }
  }
  throw new DownloadError('BUSY', `cannot lock ${lockPath}`, url);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function abortError(url: string): DownloadError {
  return new DownloadError('ABORTED', `download of ${url} was cancelled (the partial file is kept to resume later)`, url);
}

function throwIfAborted(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw abortError(url);
}

function delay(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(url));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(url));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function errText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
  }
  return String(e);
}

class SpeedMeter {
  private t0 = 0;
  private b0 = 0;
  private last = 0;
  start(bytes: number): void {
    this.t0 = performance.now();
    this.b0 = bytes;
    this.last = bytes;
  }
  add(bytes: number): void {
    this.last = bytes;
  }
  rate(): number | undefined {
    const dt = (performance.now() - this.t0) / 1000;
    return dt > 0.2 ? (this.last - this.b0) / dt : undefined;
  }
}

function makeReporter(
  opts: DownloadOptions,
  dest: string,
  total: () => number | undefined,
  resumedFromBytes: () => number,
  speed: SpeedMeter,
): (phase: DownloadProgress['phase'], bytes: number) => void {
  let lastPercent = -1;
  let lastAt = 0;
  let lastPhase = '';
  return (phase, bytes) => {
    if (!opts.onProgress) return;
    const t = total();
    const percent = t ? Math.min(100, (bytes / t) * 100) : undefined;
    const now = performance.now();
    const whole = percent === undefined ? -1 : Math.floor(percent);
    if (phase === lastPhase && whole === lastPercent && now - lastAt < 250) return;
    lastPhase = phase;
    lastPercent = whole;
    lastAt = now;
    try {
      opts.onProgress({
        url: opts.url,
        dest,
        phase,
        downloadedBytes: bytes,
        totalBytes: t,
        percent,
        resumedFromBytes: resumedFromBytes(),
        bytesPerSecond: speed.rate(),
      });
    } catch {
      // a failing progress callback must not break the download
    }
  };
}

// ---- terminal progress -------------------------------------------------------------------------

export interface ProgressBar {
  update(p: DownloadProgress): void;
  /** ends the bar's line */
  done(): void;
}

/**
 * A progress display for the CLI on stderr: a redrawn bar when `stream` is a TTY, otherwise one
 * line per 10% (so logs in CI stay short). Never writes to stdout.
 */
export function createProgressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = Boolean(stream.isTTY);
  let lastStep = -1;
  let drawn = false;
  let verifyingShown = false;
  return {
    update(p) {
      if (p.phase === 'verifying') {
        if (verifyingShown) return;
        verifyingShown = true;
        if (tty && drawn) stream.write('\n');
        drawn = false;
        stream.write(`${label}: verifying sha256\u2026\n`);
        return;
      }
      if (p.phase === 'done') return;
      const pct = p.percent;
      if (tty) {
        const width = 28;
        const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
        const bar = pct === undefined ? '?'.repeat(width) : '#'.repeat(filled) + '-'.repeat(width - filled);
        const rate = p.bytesPerSecond ? ` ${formatBytes(p.bytesPerSecond)}/s` : '';
        const amount = `${formatBytes(p.downloadedBytes)}${p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : ''}`;
        stream.write(`\r${label} [${bar}] ${pct === undefined ? '' : `${pct.toFixed(0).padStart(3)}% `}${amount}${rate}\x1b[K`);
        drawn = true;
        return;
      }
      const step = pct === undefined ? -1 : Math.floor(pct / 10);
      if (step <= lastStep) return;
      lastStep = step;
      stream.write(`${label}: ${step * 10}% (${formatBytes(p.downloadedBytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''})\n`);
    },
    done() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}
