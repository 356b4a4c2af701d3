// web/src/commands.ts: shellQuote must make any string one word for a POSIX
// shell, exactly; checked against the real /bin/sh with random strings full
// of quotes, spaces, $, `, \, newlines and unicode (no NUL: an argument
// cannot hold one). pairCommand's shape, also as the shell splits it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { load } from './lib/load.mjs';
import { prng, SEED } from './lib/prng.mjs';

globalThis.location ??= { origin: 'https://relay.example:8443' };
const { shellQuote, pairCommand, installCommand } = await load('commands.ts');

const RUNS = Math.max(200, Math.min(5000, Number(process.env.FUZZ_RUNS || 20000) / 10));


const PIECES = ["'", '"', ' ', '  ', '\t', '\n', '\r', '$', '$HOME', '${x}', '$(id)', '`', '`id`', '\\', '\\\\', '\\n', '\\\'', "'\\''",
  '!', '*', '?', '[a]', '~', '#', ';', '&', '|', '<', '>', '(', ')', '{', '}', '%', '%s', '-', '--', '-n', '=', 'a=b', ',', ':', '@', '+', '.', '/',
  'a', 'Z', '9', 'name', 'é', 'ß', '日本', '\u{1F600}', '\u00a0', '\u200b', '\x01', '\x7f', '\u00ff'];

function randomString(r) {
  let s = '';
  for (let n = r.int(8); n > 0; n--) s += r.int(3) ? r.pick(PIECES) : String.fromCodePoint(1 + r.int(0x2ffff - 0x800)).replace(/[\ud800-\udfff]/gu, 'x');
  return s;
}

// Runs `printf '%s\0' <quoted> <quoted> …` in /bin/sh and splits its output.
function viaShell(strings) {
  const script = `printf '%s\\0' ${strings.map(shellQuote).join(' ')}`;
  const res = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.equal(res.status, 0, `sh failed: ${res.stderr}`);
  const out = res.stdout.split('\0');
  out.pop();
  return out;
}

test('shellQuote: plain words stay as they are, the rest in single quotes', () => {
  assert.equal(shellQuote('abc'), 'abc');
  assert.equal(shellQuote('my-laptop.local'), 'my-laptop.local');
  assert.equal(shellQuote('https://x.example:8443/functions/v1'), 'https://x.example:8443/functions/v1');
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote('a b'), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote('$HOME'), "'$HOME'");
});

test('shellQuote: printf %s through /bin/sh gives every string back exactly', { timeout: 30_000 }, (t) => {
  t.diagnostic(`seed ${SEED} (FUZZ_SEED to replay), ${RUNS} strings`);
  // the brief form, one string per shell
  for (const s of ["it's a \"test\" $HOME `id` \\ \n end", '', ' ', "'", '日本語 \u{1F600}', '-n', '%s %d']) {
    const res = spawnSync('/bin/sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' });
    assert.equal(res.stdout, s, JSON.stringify(s));
  }
  // then many per shell
  const r = prng(SEED);
  for (let done = 0; done < RUNS; done += 250) {
    const batch = Array.from({ length: Math.min(250, RUNS - done) }, () => randomString(r));
    const got = viaShell(batch);
    assert.equal(got.length, batch.length, `seed ${SEED}: the shell split a word: ${JSON.stringify(batch)}`);
    for (let i = 0; i < batch.length; i++) assert.equal(got[i], batch[i], `seed ${SEED}: ${JSON.stringify(batch[i])} → ${shellQuote(batch[i])}`);
  }
});

test('pairCommand: clawlink pair CODE --api <origin>/functions/v1 [--name NAME], split by the shell as meant', () => {
  assert.equal(pairCommand('ABCD-1234'), 'clawlink pair ABCD-1234 --api https://relay.example:8443/functions/v1');
  assert.equal(pairCommand('ABCD-1234', ''), 'clawlink pair ABCD-1234 --api https://relay.example:8443/functions/v1', 'no empty --name');
  assert.equal(pairCommand('ABCD-1234', 'laptop'), 'clawlink pair ABCD-1234 --api https://relay.example:8443/functions/v1 --name laptop');
  for (const name of ["Ann's Mac", 'build box $(rm -rf ~)', 'a\nb', '日本 \u{1F600}']) {
    const cmd = pairCommand('ABCD-1234', name);
    const res = spawnSync('/bin/sh', ['-c', `clawlink() { printf '%s\\0' "$@"; }; ${cmd}`], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(res.stdout.split('\0').slice(0, -1), ['pair', 'ABCD-1234', '--api', 'https://relay.example:8443/functions/v1', '--name', name]);
  }
});

test('installCommand: curl of this relay\'s /install.sh into sh, the code and the name as arguments', () => {
  assert.equal(installCommand('ABCD2345'), 'curl -fsSL https://relay.example:8443/install.sh | sh -s -- ABCD2345');
  assert.equal(installCommand('ABCD2345', "bob's box"),
    "curl -fsSL https://relay.example:8443/install.sh | sh -s -- ABCD2345 --name 'bob'\\''s box'");
  // The code is never in the URL.
  assert.doesNotMatch(installCommand('ABCD2345').split(' | ')[0], /ABCD2345/);
});
