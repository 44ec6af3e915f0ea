/** Entry point for @vscode/test-electron (`extensionTestsPath`): runs the in-host suite, fails on any failure. */
import { formatResults, runSuite } from './suite';

export async function run(): Promise<void> {
  const results = await runSuite();
  process.stdout.write(`${formatResults(results)}\n`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new Error(`${failed.length} of ${results.length} end-to-end scenarios failed`);
}
