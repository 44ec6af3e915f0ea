import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InitializeParams, WorkspaceFoldersChangeEvent } from 'vscode-languageserver/node';

/** The file path of a `file:` URI; undefined for other schemes (untitled documents...). */
export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return path.normalize(fileURLToPath(uri));
  } catch {
    return undefined;
  }
}

export function pathToUri(p: string): string {
  return pathToFileURL(p).href;
}

function inside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The workspace folders: they bound what `$ref` may read. */
export class Workspace {
  private folders: string[] = [];

  init(params: InitializeParams): void {
    const uris = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
    const paths = uris.map(uriToPath).filter((p): p is string => p !== undefined);
    if (!paths.length && params.rootPath) paths.push(path.normalize(params.rootPath));
    this.folders = paths;
  }

  change(e: WorkspaceFoldersChangeEvent): void {
    const removed = new Set(e.removed.map((f) => uriToPath(f.uri)));
    this.folders = this.folders.filter((f) => !removed.has(f));
    for (const f of e.added) {
      const p = uriToPath(f.uri);
      if (p && !this.folders.includes(p)) this.folders.push(p);
    }
  }

  /** The innermost workspace folder containing the file, else the file's own folder. */
  rootFor(file: string | undefined): string | undefined {
    if (!file) return this.folders[0];
    let best: string | undefined;
    for (const f of this.folders) if (inside(f, file) && (!best || f.length > best.length)) best = f;
    return best ?? path.dirname(file);
  }
}
