/**
 * `npm run test:vscode`: the in-host end-to-end suite (suite.ts) in desktop VS Code through
 * @vscode/test-electron, against the minimum VS Code the extension supports (engines.vscode) and the
 * current stable. It downloads VS Code, so it needs the internet (it cannot run on the offline CI
 * machines; there, `npm run test:e2e` runs the same scenarios in code-server).
 *
 *   npm run test:vscode                      # minimum and stable
 *   VSCODE_VERSIONS=stable npm run test:vscode
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { ensureTestModels } from '../../support/models';
import { USER_SETTINGS } from '../support/code-server';
import { bundleSuite } from './bundle';

const REPO = path.resolve(__dirname, '..', '..', '..');

async function main(): Promise<void> {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { engines: { vscode: string } };
  const minimum = pkg.engines.vscode.replace(/^[\^~>=]+/, '');
  const versions = (process.env.VSCODE_VERSIONS ?? `${minimum},stable`).split(',').map((v) => v.trim()).filter(Boolean);
  if (!fs.existsSync(path.join(REPO, 'dist', 'client', 'extension.js'))) throw new Error('dist/ is missing: run npm run build');
  const { index } = await bundleSuite();
  // A real (tiny, random-weight) GGUF, so a wired runtime has something to run and answers fast.
  const models = await ensureTestModels();
  const settings = { ...USER_SETTINGS, 'contracts.modelFile': models.tiny.Q8_0, 'contracts.threads': 1 };
  let failed = 0;
  for (const version of versions) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-vscode-'));
    const workspace = path.join(root, 'workspace');
    const userDataDir = path.join(root, 'user-data');
    fs.cpSync(path.join(REPO, 'samples'), workspace, { recursive: true });
    fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
    fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    process.stdout.write(`# VS Code ${version}\n`);
    try {
      await runTests({
        version,
        extensionDevelopmentPath: REPO,
        extensionTestsPath: index,
        launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', `--user-data-dir=${userDataDir}`, `--extensions-dir=${path.join(root, 'extensions')}`],
        extensionTestsEnv: { NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
      });
    } catch (e) {
      failed++;
      process.stderr.write(`VS Code ${version}: ${(e as Error)?.message ?? String(e)}\n`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    }
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
