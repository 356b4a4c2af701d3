// Loads a web/src TypeScript module into node for the unit tests: rolldown
// (which web/node_modules already has, as vite 8's bundler) bundles it with
// everything it imports into one ESM file in a temp directory, which is then
// imported. One bundle per module and process (node --test runs each test
// file in its own process). No DOM: a module that touches `document` or
// `window` at load time cannot be loaded this way.
//
//   import { load } from './lib/load.mjs';
//   const p = await load('terminal/protocol.ts'); // relative to web/src
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rolldown } from 'rolldown';

export const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

const cache = new Map();
let dir = null;

function tempDir() {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'clawlink-web-test-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

async function bundle(rel) {
  const input = join(SRC, rel);
  let code;
  try {
    const b = await rolldown({ input, platform: 'node', logLevel: 'silent', treeshake: false });
    const { output } = await b.generate({ format: 'esm', sourcemap: 'inline' });
    await b.close();
    code = output[0].code;
  } catch (e) {
    throw new Error(`web/test/lib/load.mjs: cannot bundle web/src/${rel}: ${e.message}`, { cause: e });
  }
  const file = join(tempDir(), `${rel.replace(/[^A-Za-z0-9.]/g, '_')}.mjs`);
  writeFileSync(file, code);
  return import(pathToFileURL(file).href);
}

/** The module web/src/<rel> (e.g. "terminal/protocol.ts"), bundled and imported. */
export function load(rel) {
  if (!cache.has(rel)) cache.set(rel, bundle(rel));
  return cache.get(rel);
}
