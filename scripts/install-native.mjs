#!/usr/bin/env node
// Installs node-llama-cpp's prebuilt CPU binary for this platform at the version the lock file
// records, verified against the lock file's integrity hash. Used by .ci/run after
// `npm install --omit=optional`, which leaves out the optional GPU builds (~600 MB) but with them
// this one too. The tarball comes from the npm registry through `npm pack`; nothing else is fetched.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const name = `@node-llama-cpp/${process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : process.platform}-${process.arch}${process.platform === 'darwin' && process.arch === 'arm64' ? '-metal' : ''}`;
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const entry = lock.packages[`node_modules/${name}`];
if (!entry) {
  // Not in the lock file (it was written where the registry did not serve this platform's build):
  // take the version that matches node-llama-cpp from the registry.
  const version = lock.packages['node_modules/node-llama-cpp']?.version;
  console.log(`package-lock.json has no ${name}; installing ${name}@${version}`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', `${name}@${version}`], { cwd: root, stdio: 'inherit' });
  process.exit(0);
}
const dest = path.join(root, 'node_modules', name);
const have = path.join(dest, 'package.json');
if (fs.existsSync(have) && JSON.parse(fs.readFileSync(have, 'utf8')).version === entry.version) {
  console.log(`${name}@${entry.version} is already installed`);
  process.exit(0);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'native-'));
try {
  const out = execFileSync('npm', ['pack', `${name}@${entry.version}`, '--pack-destination', tmp, '--json', '--silent'], { encoding: 'utf8' });
  const file = path.join(tmp, JSON.parse(out)[0].filename);
  const [algo, expected] = entry.integrity.split('-');
  const actual = createHash(algo).update(fs.readFileSync(file)).digest('base64');
  if (actual !== expected) throw new Error(`integrity mismatch for ${name}@${entry.version}: lock file ${entry.integrity}, tarball ${algo}-${actual}`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', file, '-C', dest, '--strip-components=1']);
  console.log(`installed ${name}@${entry.version} (integrity verified)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
