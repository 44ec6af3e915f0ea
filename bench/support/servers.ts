import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LspServerSpec } from './lsp-client';

export const REPO = path.resolve(__dirname, '../..');
export const CONTRACT_SCHEMA = path.join(REPO, 'schemas/contract.schema.json');
const YAMLLS_BIN = path.join(REPO, 'node_modules/yaml-language-server/bin/yaml-language-server');
const YAMLLS_NO_DEBOUNCE = path.join(__dirname, 'yamlls-no-debounce.mjs');

/** Our language server, as built by `node esbuild.mjs`, with default settings. */
export const OURS: LspServerSpec = {
  name: 'contracts-language-server',
  args: [path.join(REPO, 'dist/server.js'), '--stdio'],
  settings: { contracts: {} },
  languageId: 'prompt-contract',
};

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
