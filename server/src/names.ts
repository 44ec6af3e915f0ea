/** Names shared by the client, the server and package.json; no imports, so any bundle can carry them. */

/** The settings section (`contracts.*`). */
export const SETTINGS_SECTION = 'contracts';

/** Language id of contract documents. The server also treats any `*.contract.yaml|yml` file as a contract. */
export const CONTRACT_LANGUAGE_ID = 'contract-yaml';
