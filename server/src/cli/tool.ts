import { version } from '../../../package.json';

/** Name and version as SARIF and `--version` print them. */
export const TOOL = { name: 'prompt-contracts', version } as const;
