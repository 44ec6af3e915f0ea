/** Names the client and package.json share (test/extension-manifest.test.ts checks they agree). Pure. */

import { CONTRACT_LANGUAGE_ID, SETTINGS_SECTION } from '../../server/src/names';

export const LANGUAGE_ID = CONTRACT_LANGUAGE_ID;
export { SETTINGS_SECTION };
export const CONTRACT_FILE_PATTERN = '**/*.contract.{yaml,yml}';

/** The client's own commands. `contracts.runExample` / `contracts.runAll` (code lenses) belong to the server. */
export const ClientCommands = {
  runExampleAtCursor: 'contracts.runExampleAtCursor',
  runFile: 'contracts.runFile',
  runWorkspace: 'contracts.runWorkspace',
  compareQuantizations: 'contracts.compareQuantizations',
  exportDataset: 'contracts.exportDataset',
  showReport: 'contracts.showReport',
  selectModel: 'contracts.selectModel',
  downloadModel: 'contracts.downloadModel',
  openTraces: 'contracts.openTraces',
  restartServer: 'contracts.restartServer',
  showModelStatus: 'contracts.showModelStatus',
  showOutput: 'contracts.showOutput',
} as const;

/** Commands a server may offer through executeCommandProvider beyond the protocol's two. */
export const ServerOptionalCommands = {
  downloadModel: 'contracts.downloadModel',
} as const;

/**
 * Settings VS Code ignores in workspace settings of an untrusted folder: each makes the extension read,
 * write or fetch files a repository could point anywhere.
 */
export const RESTRICTED_SETTINGS = ['modelFile', 'modelsDir', 'models', 'traceDir', 'cacheDir', 'allowDownload'] as const;
