import * as fs from 'node:fs';

/**
 * Reads the files a contract's `$ref`s name: open documents first (their unsaved text wins), then
 * the disk, cached by mtime and size so a keystroke costs one `stat` per referenced file.
 */
export class FileHost {
  private cache = new Map<string, { mtimeMs: number; size: number; text: string }>();

  constructor(private readonly openText: (absPath: string) => string | undefined) {}

  read(absPath: string): string | undefined {
    const open = this.openText(absPath);
    if (open !== undefined) return open;
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(absPath, { throwIfNoEntry: false });
    } catch {
      stat = undefined;
    }
    if (!stat || !stat.isFile()) {
      this.cache.delete(absPath);
      return undefined;
    }
    const hit = this.cache.get(absPath);
    if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.text;
    try {
      const text = fs.readFileSync(absPath, 'utf8');
      this.cache.set(absPath, { mtimeMs: stat.mtimeMs, size: stat.size, text });
      return text;
    } catch {
      return undefined;
    }
  }

  realpath(absPath: string): string {
    return fs.realpathSync.native(absPath);
  }

  forget(absPath: string): void {
    this.cache.delete(absPath);
  }
}
