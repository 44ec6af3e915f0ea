/**
 * A real VS Code for the end-to-end suite: code-server (installed by scripts/e2e-setup.sh into
 * .e2e/tools) with the packaged .vsix installed into a fresh extensions folder, serving a temp copy
 * of samples/ on 127.0.0.1 at a port the OS picks. Everything lives in one temp folder.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const E2E_DIR = process.env.CONTRACTS_E2E_DIR ?? path.join(REPO, '.e2e');
export const TOOLS = path.join(E2E_DIR, 'tools');
export const CODE_SERVER = path.join(TOOLS, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const VSIX = process.env.CONTRACTS_E2E_VSIX ?? path.join(E2E_DIR, 'prompt-contracts.vsix');
export const ARTIFACTS = path.join(E2E_DIR, 'artifacts');
export const EXTENSION_ID = 'prompt-contracts.prompt-contracts';

/** Settings that keep the workbench quiet and deterministic: no trust prompt, no welcome page, no network. */
export const USER_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.commandCenter.enabled': false,
  'editor.codeLens': true,
  'editor.hover.delay': 100,
  'files.simpleDialog.enable': true,
};

export interface CodeServer {
  url: string;
  /** The temp folder holding everything of this instance. */
  root: string;
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

export function assertInstalled(): void {
  if (!fs.existsSync(CODE_SERVER)) throw new Error(`code-server is not installed at ${path.relative(REPO, CODE_SERVER)}: run scripts/e2e-setup.sh`);
  if (!fs.existsSync(VSIX)) throw new Error(`no .vsix at ${path.relative(REPO, VSIX)}: run npm run package -- --out ${path.relative(REPO, VSIX)}`);
}

/** Installs the .vsix the way a user would, offline: `code-server --install-extension FILE.vsix`. */
export async function installExtension(userDataDir: string, extensionsDir: string, vsix = VSIX, id: string | undefined = EXTENSION_ID): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [CODE_SERVER, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], {
    timeout: 120_000,
    env: quietEnv(),
  });
  if (!id) return extensionsDir;
  const installed = fs.readdirSync(extensionsDir).find((d) => d.startsWith(`${id}-`));
  if (!installed) throw new Error(`--install-extension did not install ${id}:\n${stdout}\n${stderr}`);
  return path.join(extensionsDir, installed);
}

function quietEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // The extension host inherits code-server's environment; nothing here may reach the network.
  return { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true', ...extra };
}

export interface StartOptions {
  /** Folder copied into the workspace (default: samples/). */
  source?: string;
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
  /** More .vsix files to install next to ours. */
  extraExtensions?: string[];
  timeoutMs?: number;
}

export async function startCodeServer(opts: StartOptions = {}): Promise<CodeServer> {
  assertInstalled();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-e2e-'));
  const workspace = path.join(root, 'workspace');
  const userDataDir = path.join(root, 'user-data');
  const extensionsDir = path.join(root, 'extensions');
  fs.cpSync(opts.source ?? path.join(REPO, 'samples'), workspace, { recursive: true });
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...opts.settings }, null, 2));
  await installExtension(userDataDir, extensionsDir);
  for (const vsix of opts.extraExtensions ?? []) await installExtension(userDataDir, extensionsDir, vsix, undefined);

  const configFile = path.join(root, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\n');
  const args = [
    CODE_SERVER,
    '--config', configFile,
    '--auth', 'none',
    '--bind-addr', '127.0.0.1:0',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    workspace,
  ];
  const child = spawn(process.execPath, args, { env: quietEnv({ CONTRACTS_E2E_HOST_RESULTS: path.join(root, 'host-suite.json'), ...opts.env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start listening within ${opts.timeoutMs ?? 60_000} ms:\n${log}`)), opts.timeoutMs ?? 60_000);
    const onData = () => {
      const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code} before listening:\n${log}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`,
    root,
    workspace,
    userDataDir,
    extensionsDir,
    log: () => log,
    stop: () => stopProcess(child).then(() => fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 })),
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Process ids of the language servers this code-server's extension host started (ours: under its extensions folder). */
export function languageServerPids(extensionsDir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const args = cmdline.split('\0');
    if (args.some((a) => a.startsWith(extensionsDir) && a.endsWith(path.join('dist', 'server.js')))) pids.push(Number(entry));
  }
  return pids;
}

/** The extension host's logs (our output channel included), for artifacts when a test fails. */
export function extensionHostLogs(userDataDir: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.log')) out.push({ name: path.relative(userDataDir, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(userDataDir, 'logs'));
  return out;
}
