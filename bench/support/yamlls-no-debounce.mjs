// yaml-language-server 2.0.0 as shipped, except that validation is not debounced: it waits a fixed
// `validationDelayMs` (200 ms) after each change. Patched at run time, node_modules untouched.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve('yaml-language-server/package.json'));
const out = (p) => pathToFileURL(path.join(root, 'out/src', p)).href;

const { ValidationHandler } = await import(out('languageserver/handlers/validationHandlers.js'));
const validate = ValidationHandler.prototype.validate;
if (typeof validate !== 'function') throw new Error('yaml-language-server changed: ValidationHandler.prototype.validate is gone');
ValidationHandler.prototype.validate = function (textDocument) {
  this.yamlSettings.validationDelayMs = 0;
  return validate.call(this, textDocument);
};

process.env.YAML_LANGUAGE_SERVER_VERSION = require('yaml-language-server/package.json').version;
await import(out('server.js'));
