// Input into a program that is busy (docs/protocol.md, "Input flow
// control"): a paste of megabytes into a program that reads only later
// arrives whole and in order, from a v2 and from a v1 viewer; input the
// relay cannot hold is refused whole (error input_busy) and none of it
// reaches the program; other sessions of the same agent keep echoing
// meanwhile; when the agent's link drops mid-paste the program reads a
// prefix of the paste, never one with a hole (the relay counts on from
// what the agent's hello says it received and holds). Before the fix the agent kept 64 KiB for a PTY that did not
// read and silently dropped the rest: the paste ran with its middle
// missing.
//
// The late reader puts its terminal in raw mode first (a canonical tty
// line holds 4096 bytes and the kernel drops the rest), says __READY__,
// sleeps, and then reads exactly the pasted length and writes its hash.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startSession, attachTerminal, encodeBinFrame, msg,
  isError,
} from './lib/harness.mjs';
import { setupAgent, sha256 } from './lib/extra.mjs';

after(cleanupAll);

const KiB = 1024;
const MiB = 1024 * KiB;

/** n printable bytes, nothing the tty interprets, not repeating quickly. */
function payload(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x21 + ((x >>> 16) % 90);
  }
  return b;
}

/** Sends buf as stdin: v2 binary frames of `chunk` bytes, or v1 JSON. */
function paste(term, buf, chunk) {
  for (let i = 0; i < buf.length; i += chunk) {
    const part = buf.subarray(i, i + chunk);
    if (term.proto >= 2) term.ws.sendRaw(encodeBinFrame('stdin', term.sessionId, 0, part), { binary: true });
    else term.ws.send(msg('stdin', { session_id: term.sessionId, data_b64: part.toString('base64') }));
  }
}

/** Starts a late reader of n bytes in term (tag names its files). */
async function lateReader(term, n, tag, { sleep = 3, rest = false } = {}) {
  const tail = rest ? `; timeout 3 cat > ${tag}.rest` : '';
  term.write(`stty raw -echo; echo __RE""ADY_${tag}__; sleep ${sleep}; timeout 120 head -c ${n} > ${tag}.bin; ` +
    `sha256sum < ${tag}.bin > ${tag}.sha${tail}; stty sane; echo __DO""NE_${tag}__\r`);
  await term.readUntil(new RegExp(`__READY_${tag}__`), ms(15_000));
}

async function readerResult(env, term, tag, { rest = false } = {}) {
  await term.readUntil(new RegExp(`__DONE_${tag}__`), ms(240_000));
  const home = env.agent.home;
  const got = await readFile(path.join(home, `${tag}.bin`));
  const sha = (await readFile(path.join(home, `${tag}.sha`), 'utf8')).split(/\s/)[0];
  const r = { length: got.length, sha, bin: got };
  if (rest) r.rest = await readFile(path.join(home, `${tag}.rest`));
  return r;
}

function assertExact(r, buf, what) {
  if (r.length !== buf.length || r.sha !== sha256(buf)) {
    let first = 0;
    while (first < r.length && first < buf.length && r.bin[first] === buf[first]) first++;
    assert.fail(`${what}: the program read ${r.length} of ${buf.length} bytes; first difference at byte ${first}`);
  }
}

const CASES = [
  { proto: 2, label: 'a v2 viewer', chunk: 16 * KiB, sizes: [1 * MiB, 4 * MiB] },
  { proto: 1, label: 'a v1 viewer', chunk: 512 * KiB, sizes: [1 * MiB, 4 * MiB] },
  // the agent speaks v1: the relay passes the window's pieces as base64 JSON
  { proto: 2, label: 'a v2 viewer of a --proto 1 agent', chunk: 16 * KiB, sizes: [1 * MiB], agentArgs: ['--proto', '1'] },
];
for (const { proto, label, chunk, sizes, agentArgs = [] } of CASES) {
  const what = sizes.map((n) => `${n / MiB} MiB`).join(' and then ');
  test(`${label} pastes ${what} into a program that reads late: byte-exact, and another session keeps echoing meanwhile`, { timeout: TEST_TIMEOUT * 4 }, e2e(async () => {
    const env = await setupAgent({ agentArgs });
    const sessionId = await startSession(env.relay, env.token, env.deviceId);
    const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { proto: proto === 2 ? 2 : undefined });
    assert.equal(term.proto, proto);
    await term.readUntil(/\$ $/);
    const other = await attachTerminal(env.relay, env.token, await startSession(env.relay, env.token, env.deviceId), env.deviceId, { proto: 2 });
    await other.readUntil(/\$ $/);

    for (const n of sizes) {
      const tag = `p${n}`;
      const buf = payload(n, n);
      await lateReader(term, n, tag, { sleep: 3 });
      paste(term, buf, chunk);
      // the program sleeps with its input backed up: another session of the agent echoes
      other.write(`echo other-$((${n}+1))\r`);
      await other.readUntil(new RegExp(`\\r\\nother-${n + 1}\\r\\n`), ms(15_000));
      const r = await readerResult(env, term, tag);
      assertExact(r, buf, `${label} paste of ${n} bytes`);
      assert.deepEqual(term.ws.pending(isError('input_busy')), [], 'nothing refused');
    }
  }));
}

test('input beyond what the relay holds for a busy program is refused whole (error input_busy) and none of it reaches the program', { timeout: TEST_TIMEOUT * 4 }, e2e(async () => {
  const env = await setupAgent();
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId);
  assert.equal(term.proto, 1, 'a PrivaClaw-style JSON viewer');
  await term.readUntil(/\$ $/);
  const n = 4 * MiB; // CL_RELAY_STDIN_QUEUE_MAX: fills the relay's queue (the agent holds its window)
  const buf = payload(n, 7);
  await lateReader(term, n, 'held', { sleep: 4, rest: true });
  paste(term, buf, 512 * KiB);
  // One more message that cannot be held: refused whole, with a notice.
  const extra = Buffer.alloc(512 * KiB, 'Z');
  term.ws.send(msg('stdin', { session_id: sessionId, data_b64: extra.toString('base64') }));
  const e = await term.ws.next(isError('input_busy'), ms(30_000));
  assert.equal(e.data.session_id, sessionId);
  assert.match(e.data.message, /nothing .*sent/i);
  const r = await readerResult(env, term, 'held', { rest: true });
  assertExact(r, buf, 'the accepted paste');
  assert.equal(r.rest.length, 0, 'nothing of the refused message reached the program');
}));

test('the agent\'s link drops while a paste waits for a late reader: the program reads a prefix of it, never a paste with a hole, and input_lost says when it is not all', { timeout: TEST_TIMEOUT * 4 }, e2e(async (t, scope) => {
  const env = await setupAgent({ viaProxy: true, scope });
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { proto: 2 });
  await term.readUntil(/\$ $/);
  const n = 2 * MiB;
  const buf = payload(n, 3);
  const tag = 'drop';
  term.write(`stty raw -echo; echo __RE""ADY_${tag}__; sleep 6; timeout 30 head -c ${n} > ${tag}.bin; ` +
    `stty sane; echo __DO""NE_${tag}__\r`);
  await term.readUntil(new RegExp(`__READY_${tag}__`), ms(15_000));
  paste(term, buf, 16 * KiB);
  // the relay holds most of it and the agent its window; cut the agent's link
  await new Promise((r) => setTimeout(r, 1000));
  const connectsBefore = (env.agent.logs().match(/connected to relay/g) || []).length;
  env.proxy.dropAll();
  await term.readUntil(new RegExp(`__DONE_${tag}__`), ms(120_000));
  assert.ok((env.agent.logs().match(/connected to relay/g) || []).length > connectsBefore, 'the agent reconnected');
  const got = await readFile(path.join(env.agent.home, `${tag}.bin`));
  assert.ok(got.length > 0, 'the program read some of it');
  assert.equal(sha256(got), sha256(buf.subarray(0, got.length)), `what the program read (${got.length} of ${n} bytes) is a prefix of the paste`);
  if (got.length < n) await term.ws.next(isError('input_lost'), ms(5_000));
  // and the session takes input as before
  term.write('echo after-$((6*7))\r');
  await term.readUntil(/\r\nafter-42\r\n/, ms(15_000));
}));
