// Baseline for `contracts check`: the least a checker of these files must do, with no source map,
// no messages and no other checks. Reads every *.contract.yaml under the given folders, parses it
// with `yaml`, validates it against the contract-format schema (compiled once) and each example's
// `expected` against its output schema (compiled once per distinct schema). Prints one summary line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const formatAjv = new Ajv({ allErrors: true, strict: false });
const outputAjv = { '2020-12': new Ajv2020({ allErrors: true, strict: false }), 'draft-07': new Ajv({ allErrors: true, strict: false }) };
addFormats(formatAjv);
for (const a of Object.values(outputAjv)) addFormats(a);

const schemaFile = path.join(path.dirname(new URL(import.meta.url).pathname), '../../schemas/contract.schema.json');
const validateFormat = formatAjv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
const outputValidators = new Map();

function outputValidator(schema) {
  const key = JSON.stringify(schema);
  let v = outputValidators.get(key);
  if (!v) {
    const draft = typeof schema === 'object' && schema && /draft-07/.test(String(schema.$schema ?? '')) ? 'draft-07' : '2020-12';
    try {
      v = outputAjv[draft].compile(schema);
    } catch {
      v = null;
    }
    outputValidators.set(key, v);
  }
  return v;
}

function* contracts(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) yield* contracts(p);
    } else if (e.isFile() && /\.contract\.ya?ml$/.test(e.name)) yield p;
  }
}

let files = 0;
let problems = 0;
for (const root of process.argv.slice(2)) {
  for (const file of contracts(root)) {
    files++;
    let doc;
    try {
      doc = parse(fs.readFileSync(file, 'utf8'));
    } catch {
      problems++;
      continue;
    }
    if (!validateFormat(doc)) problems += validateFormat.errors.length;
    const schema = doc?.output?.schema;
    if (schema === undefined || !Array.isArray(doc.examples)) continue;
    const validate = outputValidator(schema);
    if (!validate) {
      problems++;
      continue;
    }
    for (const ex of doc.examples) {
      if (ex && typeof ex === 'object' && 'expected' in ex && !validate(ex.expected)) problems += validate.errors.length;
    }
  }
}
process.stdout.write(`${files} files, ${problems} problems, ${outputValidators.size} distinct output schemas\n`);
