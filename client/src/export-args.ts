/** Pure helpers of "Export Fine-Tuning Dataset" (no `vscode`). */
import * as path from 'node:path';

/** The file the save dialog proposes: `<contract>.jsonl` (`triage.contract.yaml` → `triage.jsonl`). */
export function datasetFileName(contractPath: string): string {
  const base = path.posix.basename(contractPath.replace(/\\/g, '/')).replace(/\.contract\.ya?ml$/i, '').replace(/\.ya?ml$/i, '');
  return `${base || 'dataset'}.jsonl`;
}

/** The question asked when the last run failed some examples. */
export function failingQuestion(failing: readonly string[]): string {
  const names = failing.length > 5 ? `${failing.slice(0, 5).map((n) => `"${n}"`).join(', ')} and ${failing.length - 5} more` : failing.map((n) => `"${n}"`).join(', ');
  return `${failing.length} example${failing.length === 1 ? '' : 's'} failed in the last run (${names}). Include ${failing.length === 1 ? 'it' : 'them'} in the dataset with ${failing.length === 1 ? 'its expected answer' : 'their expected answers'}?`;
}
