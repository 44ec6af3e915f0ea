/**
 * Every diagnostic the project can emit, in one table: its code, default severity, a one-line
 * title and an explanation (shown on hover and in docs/diagnostics.md).
 */
export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface CodeInfo {
  severity: Severity;
  title: string;
  explain: string;
}

export const CODES = {
  'internal-error': { severity: 'error', title: 'Checker failure', explain: 'The checker itself failed on this file. This is a bug in Prompt Contracts, not in your contract: please report it with the file. Other findings for this file may be missing.' },
  'file-too-large': { severity: 'error', title: 'File too large', explain: 'The file is larger than the configured limit (`maxFileBytes`); it is not parsed, so the editor stays responsive. Split the contract or raise the limit.' },
  'file-binary': { severity: 'error', title: 'Not a text file', explain: 'The file contains NUL bytes or invalid UTF-8, so it cannot be a YAML contract.' },
  'yaml-syntax': { severity: 'error', title: 'YAML syntax error', explain: 'The YAML parser rejected this text. Nothing after a syntax error can be trusted, so structure checks stop here.' },
  'yaml-duplicate-key': { severity: 'error', title: 'Duplicate key', explain: 'A mapping repeats a key. YAML keeps only one of them, so the other value would be lost silently.' },
  'yaml-alias-limit': { severity: 'error', title: 'Too many alias expansions', explain: 'Expanding the aliases (`*name`) of this document would exceed the alias limit: a document that grows exponentially when read (an alias bomb) is refused.' },
  'yaml-too-deep': { severity: 'error', title: 'Nesting too deep', explain: 'The document nests deeper than the supported limit; it is not checked further.' },
  'number-precision': { severity: 'warning', title: 'Number cannot be represented', explain: 'The number is too large to be represented exactly as a JSON number (it becomes Infinity or loses integer precision), so comparisons with it are unreliable. Quote it if it is an identifier.' },
  'unknown-key': { severity: 'error', title: 'Unknown key', explain: 'The contract format has no such key here. It is probably a typo; it would be ignored.' },
  'wrong-type': { severity: 'error', title: 'Wrong type', explain: 'The value has the wrong type for this key of the contract format.' },
  'missing-field': { severity: 'error', title: 'Missing required field', explain: 'A field that the contract format requires is absent.' },
  'invalid-value': { severity: 'error', title: 'Invalid value', explain: 'The value has the right type but is not allowed here (out of range, not one of the allowed names, or malformed).' },
  'schema-invalid': { severity: 'error', title: 'Invalid output schema', explain: 'The output JSON Schema does not compile (drafts 2020-12 and 07 are supported, chosen by `$schema`).' },
  'schema-too-large': { severity: 'warning', title: 'Output schema too large to check', explain: 'The output schema has more subschemas than the checker compiles (5,000); examples are not validated against it. A small model cannot reliably produce output of that size anyway: split the contract.' },
  'schema-strict': { severity: 'warning', title: 'Suspicious schema keyword', explain: 'The validator ignores this part of the schema (for example an unknown keyword or a keyword that does not apply to the declared type).' },
  'schema-ref-remote': { severity: 'error', title: 'Remote $ref refused', explain: 'A `$ref` names a URL. Schemas are never fetched from the network: copy the schema into the workspace and refer to it by relative path.' },
  'schema-ref-outside': { severity: 'error', title: '$ref outside the workspace', explain: 'A `$ref` points at a file outside the workspace. Only files inside the workspace are read.' },
  'schema-ref-missing': { severity: 'error', title: 'Unresolved $ref', explain: 'The file or the fragment named by `$ref` does not exist.' },
  'schema-recursive': { severity: 'error', title: 'Schema recursion without progress', explain: 'Validating against the schema recursed without bound (a `$ref` cycle that never consumes any data).' },
  'schema-pattern-unsafe': { severity: 'warning', title: 'Pattern may backtrack catastrophically', explain: 'The regular expression has nested quantifiers or is too long and could take exponential time on some inputs. It is not evaluated while checking examples; keep it simple or remove it.' },
  'grammar-ignored-keyword': { severity: 'warning', title: 'Ignored by constrained decoding', explain: 'The grammar compiled from the schema cannot express this keyword, so decoding does not enforce it (`anyOf` and `allOf` are enforced: as a union and merged). Only the post-validation of the output rejects a violation, after the tokens were spent.' },
  'grammar-optional-emitted': { severity: 'warning', title: 'Optional properties are always generated', explain: 'The grammar ignores `required`: every property listed in `properties` is emitted, in order. Optional properties will always appear in the output.' },
  'grammar-closed-object': { severity: 'hint', title: 'Decoding adds no other properties', explain: 'Without `additionalProperties`, JSON Schema allows extra properties, but the grammar treats it as `false`: the model can only produce the listed properties.' },
  'grammar-remote-ref': { severity: 'warning', title: 'Referenced schema file uses ignored keywords', explain: 'A schema file referenced here uses keywords that constrained decoding ignores; only post-validation enforces them.' },
  'example-schema-mismatch': { severity: 'error', title: 'Expected value breaks the output schema', explain: 'An example\'s `expected` value does not validate against the output schema, so no correct model output could ever match it.' },
  'example-duplicate-name': { severity: 'error', title: 'Duplicate example name', explain: 'Example names identify results, traces and baselines; each must be unique in a contract.' },
  'examples-empty': { severity: 'warning', title: 'No examples', explain: 'A contract without examples cannot be run or measured.' },
  'placeholder-missing-input': { severity: 'error', title: 'Placeholder without input', explain: 'The prompt uses a placeholder that this example\'s `input` does not provide; the rendered prompt would be incomplete.' },
  'placeholder-unused-input': { severity: 'warning', title: 'Input never used', explain: 'This `input` key does not appear as a placeholder in the prompt, so the model never sees it.' },
  'placeholder-malformed': { severity: 'error', title: 'Malformed placeholder', explain: 'Placeholders are written `{{name}}` with a name of letters, digits and underscores that does not start with a digit. Write `\\{{` for literal braces.' },
  'ignore-pointer-unknown': { severity: 'warning', title: 'Ignore pointer matches nothing', explain: 'This JSON Pointer in `output.ignore` names no location the output schema allows, so it ignores nothing.' },
  'coverage-enum-unexercised': { severity: 'information', title: 'Enum value never expected', explain: 'No example expects this enum value, so nothing checks that the model ever produces it.' },
  'coverage-oneof-unexercised': { severity: 'information', title: 'oneOf branch never expected', explain: 'No example\'s expected value takes this `oneOf` branch.' },
  'coverage-prompt-missing-field': { severity: 'information', title: 'Required field not mentioned in the prompt', explain: 'The prompt never names this required output field; a small model answers better when the prompt names every field it must produce.' },
  'coverage-prompt-missing-enum': { severity: 'information', title: 'Enum value not mentioned in the prompt', explain: 'The prompt never names this allowed value; a small model rarely produces a label it was not told about.' },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

/**
 * Codes of run results: diagnostics on examples after a run (editor), SARIF rules and JUnit cases
 * of `contracts run`.
 */
export const RUN_CODES = {
  'run-wrong-value': { severity: 'error', title: 'Wrong value', explain: 'The model\'s output is valid JSON of the schema, but a field differs from the example\'s expected value (under the contract\'s match mode and ignore list).' },
  'run-schema-mismatch': { severity: 'error', title: 'Output breaks the schema', explain: 'The model\'s output is JSON but does not validate against the output schema (post-validation with the full schema, including keywords the grammar cannot enforce).' },
  'run-invalid-json': { severity: 'error', title: 'Output is not JSON', explain: 'The model\'s output is not valid JSON (or has duplicate keys, or a number no double can hold).' },
  'run-truncated': { severity: 'error', title: 'Output truncated', explain: 'Generation stopped at maxTokens (or on a runaway run of whitespace) before the JSON value was complete. Raise model.maxTokens or constrain the schema.' },
  'run-error': { severity: 'error', title: 'Run failed', explain: 'Running the example failed (the model or the runtime raised an error).' },
  'run-budget': { severity: 'error', title: 'Budget missed', explain: 'The contract missed one of its budgets (pass rate, p50/p95 latency, p95 time to first token). Without a passRate budget every example must pass.' },
  'run-not-run': { severity: 'error', title: 'Contract not run', explain: 'The contract was not run: its model could not be had, its grammar could not be built, or the run was cancelled.' },
} as const satisfies Record<string, CodeInfo>;

export type RunCode = keyof typeof RUN_CODES;

/** Codes of drift findings: between quantizations and against the committed baseline (editor, `contracts drift`, `contracts run`). */
export const DRIFT_CODES = {
  'drift-exceeded': { severity: 'error', title: 'Drift above budget', explain: 'More examples answer differently on a candidate quantization than on the reference (the first of model.quantizations) than budgets.maxDrift allows.' },
  'drift-example': { severity: 'information', title: 'Answer differs between quantizations', explain: 'This example\'s parsed output on a candidate quantization differs from the reference\'s (after the contract\'s ignore pointers). The fields that differ are named.' },
  'drift-same-file': { severity: 'warning', title: 'Quantizations are the same file', explain: 'Two listed quantizations resolve to the same model file, so comparing them would show zero drift by construction. Point model.file (or the registry) at the real files.' },
  'drift-not-compared': { severity: 'warning', title: 'Quantization not compared', explain: 'A candidate quantization could not be run or compared (its model could not be had, or its run failed).' },
  'baseline-changed': { severity: 'information', title: 'Answer changed since the baseline', explain: 'This example\'s output differs from the one recorded in the committed baseline (<name>.baseline.json). Review it, then run `contracts run --update-baseline` to accept it.' },
  'baseline-invalid': { severity: 'warning', title: 'Baseline unreadable', explain: 'The baseline file next to this contract is corrupt, edited by hand into something invalid, or written by a newer version. It is ignored until it is written again with `contracts run --update-baseline`.' },
} as const satisfies Record<string, CodeInfo>;

export type DriftCode = keyof typeof DRIFT_CODES;

/** Every code the project emits (static checks, runs, drift): hover and docs read it from here. */
export const ALL_CODES: Readonly<Record<string, CodeInfo>> = { ...CODES, ...RUN_CODES, ...DRIFT_CODES };

export function codeInfo(code: string): CodeInfo | undefined {
  return ALL_CODES[code];
}
