import { TextDocuments } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { checkContract, type CheckResult } from '../core/check';
import { LineIndex } from '../core/findings';
import { IncrementalYaml } from '../core/incremental-yaml';
import { firstLine } from '../core/yaml-source';
import { CONTRACT_LANGUAGE_ID } from '../protocol';
import type { Settings } from '../settings';
import { FileHost } from './file-host';
import { uriToPath, type Workspace } from './workspace';

/** One check of one document version. Every feature reads this same object. */
export interface Analysis {
  uri: string;
  version: number;
  result: CheckResult;
  /** Files the check read (or looked for): a change to one of them makes the analysis stale. */
  deps: Set<string>;
  ms: number;
}

const CONTRACT_FILE = /\.contract\.ya?ml$/i;

export function isContract(doc: TextDocument): boolean {
  return doc.languageId === CONTRACT_LANGUAGE_ID || CONTRACT_FILE.test(doc.uri.split(/[?#]/, 1)[0]!);
}

/** The open documents and one cached check per contract version. */
export class ContractDocuments {
  readonly documents = new TextDocuments(TextDocument);
  readonly files: FileHost;
  private analyses = new Map<string, Analysis>();
  private parsers = new Map<string, IncrementalYaml>();
  /** Open documents by file path (for `$ref`s that name an open, maybe unsaved, file). */
  private byPath = new Map<string, string>();

  constructor(
    private readonly settings: () => Settings,
    private readonly workspace: Workspace,
  ) {
    this.files = new FileHost((p) => {
      const uri = this.byPath.get(p);
      return uri ? this.documents.get(uri)?.getText() : undefined;
    });
  }

  get(uri: string): TextDocument | undefined {
    return this.documents.get(uri);
  }

  opened(doc: TextDocument): void {
    const p = uriToPath(doc.uri);
    if (p) this.byPath.set(p, doc.uri);
  }

  closed(uri: string): void {
    const p = uriToPath(uri);
    if (p && this.byPath.get(p) === uri) this.byPath.delete(p);
    this.analyses.delete(uri);
    this.parsers.delete(uri);
  }

  /** The check of the document's current version, computed once per version. */
  analysis(doc: TextDocument): Analysis {
    const cached = this.analyses.get(doc.uri);
    if (cached && cached.version === doc.version) return cached;
    const a = this.check(doc);
    this.analyses.set(doc.uri, a);
    return a;
  }

  /** The latest analysis of an open contract, if it is one. */
  analysisOf(uri: string): Analysis | undefined {
    const doc = this.documents.get(uri);
    return doc && isContract(doc) ? this.analysis(doc) : undefined;
  }

  /** Drops every cached check (settings changed). */
  invalidateAll(): void {
    this.analyses.clear();
  }

  /** Drops the checks that read `absPath`; returns their URIs. */
  invalidateDependents(absPath: string): string[] {
    this.files.forget(absPath);
    const out: string[] = [];
    for (const [uri, a] of this.analyses) {
      if (a.deps.has(absPath)) {
        this.analyses.delete(uri);
        out.push(uri);
      }
    }
    return out;
  }

  contracts(): TextDocument[] {
    return this.documents.all().filter(isContract);
  }

  private check(doc: TextDocument): Analysis {
    const text = doc.getText();
    const file = uriToPath(doc.uri);
    const deps = new Set<string>();
    const s = this.settings();
    let parser = this.parsers.get(doc.uri);
    if (!parser) {
      parser = new IncrementalYaml();
      this.parsers.set(doc.uri, parser);
    }
    const host = {
      workspaceRoot: this.workspace.rootFor(file),
      readFile: (p: string) => {
        deps.add(p);
        return this.files.read(p);
      },
      realpath: (p: string) => this.files.realpath(p),
    };
    const t0 = performance.now();
    let result: CheckResult;
    try {
      result = checkContract(text, { file, host, maxFileBytes: s.maxFileBytes, coverage: s.coverageHints, yaml: parser });
    } catch (e) {
      // checkContract reports its own failures; this guards the guard.
      this.parsers.delete(doc.uri);
      result = crashed(text, e);
    }
    return { uri: doc.uri, version: doc.version, result, deps, ms: performance.now() - t0 };
  }
}

/** A result that says the checker failed, so that a crash never reads as "no problems". */
export function crashed(text: string, e: unknown): CheckResult {
  const [start, end] = firstLine(text);
  const message = `the checker failed on this file: ${(e as Error)?.message ?? String(e)}`;
  return { text, findings: [{ code: 'internal-error', severity: 'error', message, start, end }], lines: new LineIndex(text), examples: [], placeholders: [] };
}
