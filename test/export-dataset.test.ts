/** "Export Fine-Tuning Dataset": the client's pure helpers (the request itself is tested in accept-output-lsp.test.ts). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { datasetFileName, failingQuestion } from '../client/src/export-args';

test('the save dialog proposes <contract>.jsonl', () => {
  assert.equal(datasetFileName('/w/samples/specialist-triage.contract.yaml'), 'specialist-triage.jsonl');
  assert.equal(datasetFileName('/w/a.contract.yml'), 'a.jsonl');
  assert.equal(datasetFileName('C:\\w\\b.Contract.YAML'), 'b.jsonl');
  assert.equal(datasetFileName('/w/plain.yaml'), 'plain.jsonl');
  assert.equal(datasetFileName('Untitled-1'), 'Untitled-1.jsonl');
  assert.equal(datasetFileName('/w/.contract.yaml'), 'dataset.jsonl');
});

test('the question names the failing examples (at most five) and says what including them means', () => {
  assert.equal(failingQuestion(['german billing']), '1 example failed in the last run ("german billing"). Include it in the dataset with its expected answer?');
  assert.equal(failingQuestion(['a', 'b']), '2 examples failed in the last run ("a", "b"). Include them in the dataset with their expected answers?');
  assert.match(failingQuestion(['a', 'b', 'c', 'd', 'e', 'f', 'g']), /\("a", "b", "c", "d", "e" and 2 more\)/);
});
