/**
 * When to restart a language server that died: exponential backoff (1 s, 2 s, 4 s … 30 s), reset
 * once a server has stayed up for a while; the user hears about it once per crash series, and after
 * too many quick crashes in a row the client stops trying until the user restarts it. Pure.
 */
export interface RestartDecision {
  /** Restart after this many milliseconds; absent when giving up. */
  delayMs?: number;
  /** Tell the user (the first crash of a series). */
  notify: boolean;
  giveUp: boolean;
  /** Crashes in the current series, this one included. */
  attempt: number;
}

export interface RestartPolicyOptions {
  baseMs?: number;
  maxMs?: number;
  /** A server that ran this long before dying starts a new series. */
  healthyAfterMs?: number;
  /** Give up after this many crashes in one series. */
  maxAttempts?: number;
}

export class RestartPolicy {
  private attempt = 0;
  private startedAt: number | undefined;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly healthyAfterMs: number;
  private readonly maxAttempts: number;

  constructor(opts: RestartPolicyOptions = {}) {
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 30_000;
    this.healthyAfterMs = opts.healthyAfterMs ?? 180_000;
    this.maxAttempts = opts.maxAttempts ?? 8;
  }

  /** The server is up (initialized). */
  started(now: number): void {
    this.startedAt = now;
  }

  /** The user restarted it by hand, or it stopped on purpose: forget the series. */
  reset(): void {
    this.attempt = 0;
    this.startedAt = undefined;
  }

  /** The server died unexpectedly (or failed to start). */
  crashed(now: number): RestartDecision {
    if (this.startedAt !== undefined && now - this.startedAt >= this.healthyAfterMs) this.attempt = 0;
    this.startedAt = undefined;
    this.attempt += 1;
    if (this.attempt > this.maxAttempts) return { notify: false, giveUp: true, attempt: this.attempt };
    const delayMs = Math.min(this.maxMs, this.baseMs * 2 ** (this.attempt - 1));
    return { delayMs, notify: this.attempt === 1, giveUp: false, attempt: this.attempt };
  }
}
