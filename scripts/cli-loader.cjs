#!/usr/bin/env node
'use strict';
// `contracts`: loads the CLI bundle (cli.js, beside this file) with V8's code cache (cli.js.cache,
// written by esbuild.mjs at build time from a run of `contracts check`), so that a start does not
// compile the 1.8 MB bundle again: ~80 ms of a ~300 ms start on 2 cores. A cache from another Node
// or V8 version is rejected by V8 and the bundle compiles as usual; a missing cache is no error.
// CONTRACTS_CODE_CACHE_WRITE=1 writes the cache when the process exits (the build does this);
// CONTRACTS_CODE_CACHE_REPORT=1 says on stderr whether V8 took it.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.join(__dirname, 'cli.js');
const cacheFile = `${file}.cache`;
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/, '');
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
// A script compiled this way cannot import() on Node 20: the bundle loads node-llama-cpp (ESM)
// through this hook (server/src/runtime/nlc.ts), resolved from here as from cli.js.
globalThis.__contractsImport = (specifier) => import(specifier);
if (process.env.CONTRACTS_CODE_CACHE_REPORT === '1') {
  process.stderr.write(`code cache: ${cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
}
if (process.env.CONTRACTS_CODE_CACHE_WRITE === '1') {
  process.on('exit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
}
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(__dirname);
mod.loaded = true;
const req = (id) => mod.require(id);
req.main = mod;
req.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
req.cache = Module._cache;
process.mainModule = mod;
script.runInThisContext().call(mod.exports, mod.exports, req, mod, file, __dirname);
