import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Severity } from '../../core/codes';
import type { Range } from '../../core/findings';
import { allRules, type Report, type Writer } from '../report';

type Level = 'error' | 'warning' | 'note';

export function sarifLevel(s: Severity): Level {
  return s === 'error' ? 'error' : s === 'warning' ? 'warning' : 'note';
}

/** SARIF regions are 1-based; the end column points just past the last character, as LSP's does. */
export function sarifRegion(r: Range): { startLine: number; startColumn: number; endLine: number; endColumn: number } {
  return { startLine: r.start.line + 1, startColumn: r.start.character + 1, endLine: r.end.line + 1, endColumn: r.end.character + 1 };
}

/** A relative path as a URI reference (each segment percent-encoded); paths that leave the root become absolute file URIs. */
function artifactLocation(root: string, file: string): { uri: string; uriBaseId?: string } {
  if (file.startsWith('../') || file === '..' || /^([a-zA-Z]:)?\//.test(file)) {
    return { uri: pathToFileURL(path.resolve(root, file)).href };
  }
  return { uri: file.split('/').map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
}

/**
 * SARIF 2.1.0 for GitHub code scanning: one run, every rule of the code table (so alerts link to an
 * explanation), one result per finding located on the contract's line. Example results of
 * `contracts run` are findings too, with their own rule ids in `report.rules`.
 */
export function sarifWriter(): Writer {
  return {
    format: 'sarif',
    write(report: Report): string {
      const rules = allRules(report);
      const index = new Map(rules.map((r, i) => [r.id, i]));
      const results = report.files.flatMap((f) =>
        f.findings.map((x) => ({
          ruleId: x.code,
          ruleIndex: index.get(x.code),
          level: sarifLevel(x.severity),
          message: { text: x.message },
          locations: [{ physicalLocation: { artifactLocation: artifactLocation(report.root, f.file), region: sarifRegion(x.range) } }],
        })),
      );
      const rootUri = pathToFileURL(report.root).href.replace(/\/?$/, '/');
      const log = {
        $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
        version: '2.1.0',
        runs: [
          {
            tool: {
              driver: {
                name: report.tool.name,
                version: report.tool.version,
                rules: rules.map(({ id, info }) => ({
                  id,
                  shortDescription: { text: info.title },
                  fullDescription: { text: info.explain },
                  help: { text: info.explain },
                  defaultConfiguration: { level: sarifLevel(info.severity) },
                })),
              },
            },
            originalUriBaseIds: { '%SRCROOT%': { uri: rootUri } },
            columnKind: 'utf16CodeUnits',
            results,
          },
        ],
      };
      return JSON.stringify(log, null, 2) + '\n';
    },
  };
}
