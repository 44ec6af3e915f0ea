// One build for the three entry points: the VS Code client, the language server and the CLI.
// node-llama-cpp is ESM with a native binary loader that needs its own file layout: never bundle it.
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
}
