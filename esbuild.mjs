// One build for the three entry points: the VS Code client, the language server and the CLI.
// node-llama-cpp is ESM with a native binary loader that needs its own file layout: never bundle it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*'],
  logLevel: 'warning',
  legalComments: 'none',
};

const entries = [
  { entryPoints: { 'client/extension': 'client/src/extension.ts' } },
  { entryPoints: { server: 'server/src/lsp/main.ts', cli: 'server/src/cli/main.ts' }, banner: { js: '#!/usr/bin/env node' } },
];

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e, outdir: 'dist' })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  writeCliLoader();
}

// `contracts` (package.json bin) is a small loader that runs dist/cli.js with V8's code cache
// (scripts/cli-loader.cjs); the cache comes from one `contracts check` of a sample, run here.
function writeCliLoader() {
  fs.copyFileSync('scripts/cli-loader.cjs', 'dist/contracts.js');
  fs.chmodSync('dist/contracts.js', 0o755);
  fs.rmSync('dist/cli.js.cache', { force: true });
  const r = spawnSync(process.execPath, ['dist/contracts.js', 'check', 'samples/classify-complaint.contract.yaml', '--format', 'json'], {
    env: { ...process.env, CONTRACTS_CODE_CACHE_WRITE: '1' },
    stdio: 'ignore',
  });
  if (!fs.existsSync('dist/cli.js.cache')) console.warn(`esbuild.mjs: no code cache for the CLI (exit ${r.status}); it still works, only starts slower`);
}
