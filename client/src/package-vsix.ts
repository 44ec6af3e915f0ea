/**
 * `npm run package`: builds the .vsix. esbuild bundles the client, the server and the CLI (minified);
 * node-llama-cpp stays external and ships in node_modules with its dependencies and only the target
 * platform's prebuilt binary package, without the llama.cpp sources it carries for building from
 * source (the runtime loads with `build: 'never'`). The package is staged in out/vsix/<target>
 * (git-ignored), packed with @vscode/vsce, and the staged tree is smoke-tested: node-llama-cpp
 * must load its prebuilt binary from there.
 *
 *   npm run package [-- --target linux-x64] [--out FILE.vsix] [--no-smoke]
 *
 * A Node script, not part of the extension bundle.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
const NATIVE_SCOPE = '@node-llama-cpp';

/** Files of node-llama-cpp needed only to build llama.cpp from source. */
const BUILD_ONLY = ['llama/gitRelease.bundle'];

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** vsce's target names: `${process.platform}-${process.arch}` with win32 → win32 (same as node-llama-cpp's, which says win). */
export function defaultTarget(): string {
  return `${process.platform}-${process.arch}`;
}

/** node-llama-cpp's prebuilt CPU binary package for a vsce target (`linux-x64` → `@node-llama-cpp/linux-x64`). */
export function nativePackageFor(target: string): string {
  const [platform, arch] = target.split('-') as [string, string];
  const p = platform === 'win32' ? 'win' : platform === 'darwin' ? 'mac' : platform;
  const suffix = p === 'mac' && arch === 'arm64' ? `${arch}-metal` : arch;
  return `${NATIVE_SCOPE}/${p}-${suffix}`;
}

/**
 * Every package the given ones need at run time, resolved the way Node resolves them from `fromDir`
 * (nested node_modules first, then hoisted). Optional dependencies are left out: the platform's
 * binary package is added explicitly. Returns package directories relative to `root`.
 */
export function dependencyClosure(root: string, names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string, fromDir: string) => {
    const dir = resolvePackageDir(root, name, fromDir);
    if (!dir) throw new Error(`${name} (needed from ${path.relative(root, fromDir) || '.'}) is not installed: run npm ci`);
    const rel = path.relative(root, dir);
    if (seen.has(rel)) return;
    seen.add(rel);
    const m = readJson<Manifest>(path.join(dir, 'package.json'));
    for (const dep of Object.keys(m.dependencies ?? {})) visit(dep, dir);
  };
  for (const n of names) visit(n, root);
  return [...seen].sort();
}

function resolvePackageDir(root: string, name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.resolve(root)) return undefined;
    const parent = path.dirname(dir);
    // climb out of node_modules/<pkg> or node_modules/@scope/<pkg>
    dir = path.basename(parent) === 'node_modules' ? path.dirname(parent) : path.basename(path.dirname(parent)) === 'node_modules' ? path.dirname(path.dirname(parent)) : parent;
  }
}

function copyTree(from: string, to: string, skip: (rel: string) => boolean, rel = ''): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skip(r)) continue;
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules') continue; // nested packages are copied on their own, when needed
      copyTree(src, dst, skip, r);
    } else if (e.isFile()) fs.copyFileSync(src, dst);
    else if (e.isSymbolicLink()) fs.copyFileSync(fs.realpathSync(src), dst);
  }
}

function run(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: 'inherit' });
}

function main(argv: string[]): void {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const target = arg('--target') ?? defaultTarget();
  const smoke = !argv.includes('--no-smoke');
  const t0 = Date.now();

  run(process.execPath, ['esbuild.mjs', '--production'], REPO);

  const root = readJson<Manifest>(path.join(REPO, 'package.json'));
  const stage = path.join(REPO, 'out', 'vsix', target);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });

  const native = nativePackageFor(target);
  const llamaVersion = readJson<Manifest>(path.join(REPO, 'node_modules', 'node-llama-cpp', 'package.json')).version;
  const nativeDir = path.join(REPO, 'node_modules', native);
  if (!fs.existsSync(path.join(nativeDir, 'package.json'))) {
    throw new Error(`${native} is not installed: npm install --no-save ${native}@${llamaVersion} (it is an optional dependency, and only this platform's is installed)`);
  }
  // The manifest VS Code reads: everything but what only this repository's development needs.
  const { scripts: _scripts, devDependencies: _dev, optionalDependencies: _opt, dependencies: _deps, private: _private, ...rest } = root;
  const manifest = { ...rest, dependencies: { 'node-llama-cpp': llamaVersion, [native]: llamaVersion } };
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

  // Not dist/cli.js.cache: V8 code caches hold for the Node that wrote them, not VS Code's.
  for (const f of ['dist/client/extension.js', 'dist/server.js', 'dist/cli.js', 'dist/contracts.js', 'client/language-configuration.json', 'schemas/contract.schema.json', 'README.md', 'LICENSE', 'icon.png']) {
    const src = path.join(REPO, f);
    if (!fs.existsSync(src)) continue;
    fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    fs.copyFileSync(src, path.join(stage, f));
  }
  copyTree(path.join(REPO, 'syntaxes'), path.join(stage, 'syntaxes'), () => false);
  if (typeof root.icon === 'string') fs.copyFileSync(path.join(REPO, root.icon), path.join(stage, root.icon));

  const packages = dependencyClosure(REPO, ['node-llama-cpp', native]);
  for (const rel of packages) {
    const skip = rel === 'node_modules/node-llama-cpp' ? (r: string) => BUILD_ONLY.includes(r) : () => false;
    copyTree(path.join(REPO, rel), path.join(stage, rel), skip);
  }
  fs.writeFileSync(path.join(stage, '.vscodeignore'), ['**/*.map', '**/*.d.ts', '**/*.d.ts.map', 'out/**', ''].join('\n'));

  if (smoke) {
    // The staged tree alone must load the prebuilt binary (no build, no download).
    const probe = `import('node-llama-cpp').then(async (m) => { const l = await m.getLlama({ build: 'never', gpu: false, logLevel: 'error', progressLogs: false, usePrebuiltBinaries: true }); console.log('node-llama-cpp', l.buildType, l.gpu === false ? 'cpu' : l.gpu); await l.dispose(); })`;
    execFileSync(process.execPath, ['-e', probe], { cwd: stage, stdio: 'inherit', env: { ...process.env, NODE_PATH: '' } });
  }

  const out = path.resolve(REPO, arg('--out') ?? `${root.name}-${root.version}-${target}.vsix`);
  const vsce = path.join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
  const flags = ['package', '--target', target, '--out', out, '--skip-license'];
  // No public repository yet: relative README links stay relative (they resolve in a checkout, not on a marketplace page).
  if (!root.repository) flags.push('--allow-missing-repository', '--no-rewrite-relative-links');
  run(process.execPath, [vsce, ...flags], stage);
  const bytes = fs.statSync(out).size;
  process.stdout.write(`${path.relative(process.cwd(), out)}: ${(bytes / 1024 / 1024).toFixed(1)} MiB (${bytes} bytes), ${packages.length} packages in node_modules, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`package: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
