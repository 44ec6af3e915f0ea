import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LspServerSpec } from './lsp-client';

export const REPO = path.resolve(__dirname, '../..');
export const CONTRACT_SCHEMA = path.join(REPO, 'schemas/contract.schema.json');
const YAMLLS_BIN = path.join(REPO, 'node_modules/yaml-language-server/bin/yaml-language-server');
const YAMLLS_NO_DEBOUNCE = path.join(__dirname, 'yamlls-no-debounce.mjs');

/** Our language server, as built by `node esbuild.mjs` (see snapshotDist), with default settings. */
export function oursSpec(serverJs: string): LspServerSpec {
  return {
    name: 'contracts-language-server',
    args: [serverJs, '--stdio'],
    settings: { contracts: {} },
    languageId: 'contract-yaml',
  };
}

export interface Dist {
  cli: string;
  /** The `contracts` bin: the loader that runs cli.js with V8's code cache (when the build wrote one). */
  contracts: string;
  server: string;
  /** How the bundles were built, for the record. */
  flavour: string;
}

/**
 * Copies dist/cli.js and dist/server.js (and their maps) aside, so that a rebuild by someone else
 * in the same tree during the run cannot change what is measured. The copy stays inside the repo
 * (bench/.cache, git-ignored) so that the bundles' externals still resolve from node_modules.
 */
export function snapshotDist(): Dist {
  const dir = path.join(REPO, 'bench/.cache', `dist-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const out: Record<string, string> = {};
  let minified = false;
  for (const name of ['cli.js', 'server.js']) {
    const from = path.join(REPO, 'dist', name);
    if (!fs.existsSync(from)) throw new Error(`dist/${name} is missing; build first (npm run build)`);
    fs.copyFileSync(from, path.join(dir, name));
    if (fs.existsSync(`${from}.map`)) fs.copyFileSync(`${from}.map`, path.join(dir, `${name}.map`));
    const head = fs.readFileSync(from, 'utf8').slice(0, 4000);
    minified ||= head.split('\n').some((l) => l.length > 1000);
    out[name] = path.join(dir, name);
  }
  for (const name of ['contracts.js', 'cli.js.cache']) {
    const from = path.join(REPO, 'dist', name);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, name));
  }
  const kib = (f: string) => Math.round(fs.statSync(f).size / 1024);
  return { cli: out['cli.js'], contracts: path.join(dir, 'contracts.js'), server: out['server.js'], flavour: `${minified ? 'minified' : 'unminified'} esbuild bundles, cli.js ${kib(out['cli.js'])} KiB, server.js ${kib(out['server.js'])} KiB` };
}

/**
 * yaml-language-server's settings: our contract-format schema for every *.contract.yaml, and
 * nothing that would reach the network (the schema store, the Kubernetes CRD store).
 */
const yamlSettings = {
  yaml: {
    validate: true,
    hover: false,
    completion: false,
    format: { enable: false },
    schemaStore: { enable: false, url: '' },
    kubernetesCRDStore: { enable: false, url: '' },
    schemas: { [pathToFileURL(CONTRACT_SCHEMA).href]: ['*.contract.yaml'] },
  },
  http: { proxy: '', proxyStrictSSL: false },
  '[yaml]': {},
  editor: {},
};

export const YAMLLS: LspServerSpec = {
  name: 'yaml-language-server 2.0.0',
  args: [YAMLLS_BIN, '--stdio'],
  settings: yamlSettings,
  languageId: 'yaml',
};

export const YAMLLS_UNDEBOUNCED: LspServerSpec = {
  name: 'yaml-language-server 2.0.0, no debounce',
  args: [YAMLLS_NO_DEBOUNCE, '--stdio'],
  settings: yamlSettings,
  languageId: 'yaml',
};
