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
