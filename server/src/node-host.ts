import * as fs from 'node:fs';
import type { CheckHost } from './core/output-schema';

/** A CheckHost backed by the file system; `overlay` answers first (the language server's open documents). */
export function fsHost(workspaceRoot: string, overlay?: (absPath: string) => string | undefined): CheckHost {
  return {
    workspaceRoot,
    readFile(p) {
      const open = overlay?.(p);
      if (open !== undefined) return open;
      try {
        return fs.statSync(p).isFile() ? fs.readFileSync(p, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    realpath(p) {
      return fs.realpathSync(p);
    },
  };
}

/**
 * Writes a file whole or not at all: a temporary file beside it, then a rename, so a reader (or a
 * later run after a kill) never sees half of it. The temporary file is removed when writing fails.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
