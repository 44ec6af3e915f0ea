/**
 * One run at a time per model: runs of the same model wait in FIFO order. Two runs on one model
 * would share its threads on a machine with few cores, and oversubscription is catastrophically
 * slow (see NOTES.md), besides making every latency meaningless.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, number>();

  /** Number of holders and waiters for a key. */
  pending(key: string): number {
    return this.waiting.get(key) ?? 0;
  }

  /** Resolves with a release function once every earlier holder of `key` has released. Rejects if `signal` aborts while waiting. */
  async acquire(key: string, signal?: AbortSignal): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    this.waiting.set(key, (this.waiting.get(key) ?? 0) + 1);
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      release();
      const n = (this.waiting.get(key) ?? 1) - 1;
      if (n <= 0) this.waiting.delete(key);
      else this.waiting.set(key, n);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    if (signal) {
      if (signal.aborted) {
        // Still take our turn in the chain (so later waiters are not reordered), then give it up.
        void prev.then(done);
        throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      }
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await Promise.race([prev, aborted]);
      } catch (e) {
        void prev.then(done);
        throw e;
      } finally {
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
      return done;
    }
    await prev;
    return done;
  }
}

/** The process-wide queue of model runs, keyed by model file path. */
export const modelQueue = new KeyedMutex();
