/**
 * node-llama-cpp is ESM only: it is loaded with `import()`, through the hook the `contracts` loader
 * sets when there is one. The loader runs the CLI bundle as a script compiled with V8's code cache
 * (scripts/cli-loader.cjs), and on Node 20 such a script cannot `import()` by itself.
 */
export function importNodeLlamaCpp(): Promise<typeof import('node-llama-cpp')> {
  const hook = (globalThis as { __contractsImport?: (specifier: string) => Promise<unknown> }).__contractsImport;
  return (hook ? hook('node-llama-cpp') : import('node-llama-cpp')) as Promise<typeof import('node-llama-cpp')>;
}
