/**
 * Bundles the in-host suite (index.ts, for @vscode/test-electron) and the code-server helper extension
 * (host-extension.ts) into .e2e/vscode-suite: the extension host loads plain CommonJS, not TypeScript.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

export const SUITE_OUT = path.join(__dirname, '..', '..', '..', '.e2e', 'vscode-suite');
const HOST_EXTENSION_NAME = 'host-suite';

const REPO = path.join(__dirname, '..', '..', '..');

export async function bundleSuite(): Promise<{ index: string; hostExtensionVsix: string }> {
  const common: esbuild.BuildOptions = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'], logLevel: 'warning', sourcemap: 'inline' };
  const index = path.join(SUITE_OUT, 'index.js');
  await esbuild.build({ ...common, entryPoints: [path.join(__dirname, 'index.ts')], outfile: index });
  const hostExtensionDir = path.join(SUITE_OUT, HOST_EXTENSION_NAME);
  await esbuild.build({ ...common, entryPoints: [path.join(__dirname, 'host-extension.ts')], outfile: path.join(hostExtensionDir, 'extension.js') });
  const manifest = {
    name: 'host-suite',
    publisher: 'prompt-contracts-e2e',
    version: '0.0.1',
    engines: { vscode: '^1.91.0' },
    main: './extension.js',
    activationEvents: ['onCommand:contractsE2E.runInHostSuite'],
    contributes: { commands: [{ command: 'contractsE2E.runInHostSuite', title: 'Prompt Contracts E2E: Run In-Host Suite' }] },
  };
  fs.writeFileSync(path.join(hostExtensionDir, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(hostExtensionDir, 'README.md'), '# Prompt Contracts end-to-end helper\n\nRuns test/e2e/vscode/suite.ts inside code-server. Test only.\n');
  // Packed and installed like the real extension: code-server only loads what it installed itself.
  const hostExtensionVsix = path.join(SUITE_OUT, 'host-suite.vsix');
  const vsce = path.join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
  execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--out', hostExtensionVsix], { cwd: hostExtensionDir, stdio: 'pipe' });
  return { index, hostExtensionVsix };
}
