/** Writes schemas/contract.schema.json from the zod format (the one source of truth). `--check` fails on drift. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contractJsonSchema } from '../server/src/core/contract-schema';

export const CONTRACT_SCHEMA_FILE = path.join(__dirname, '..', 'schemas', 'contract.schema.json');

export function renderContractSchema(): string {
  return JSON.stringify(contractJsonSchema(), null, 2) + '\n';
}

if (require.main === module) {
  const text = renderContractSchema();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(CONTRACT_SCHEMA_FILE) ? fs.readFileSync(CONTRACT_SCHEMA_FILE, 'utf8') : '';
    if (current !== text) {
      console.error('schemas/contract.schema.json is out of date: run `npm run gen`');
      process.exit(1);
    }
  } else {
    fs.writeFileSync(CONTRACT_SCHEMA_FILE, text);
    console.log('wrote', path.relative(process.cwd(), CONTRACT_SCHEMA_FILE));
  }
}
