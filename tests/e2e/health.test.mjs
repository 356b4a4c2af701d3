// GET /healthz and GET /readyz (docs/operations.md "Health",
// src/relay/health.h): /healthz answers 200 when all is well and 503 with
// what is wrong when something is — the store (its database file deleted
// under the running relay) or file descriptors (a relay under a 160-file
// limit with every connection slot held); /readyz turns 503 while the
// relay drains before a shutdown (SIGTERM with --drain) and while the
// store fails, and neither says a secret.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, signup, waitFor, tempDir, AGENT_BIN } from './lib/harness.mjs';

after(cleanupAll);

const PRLIMIT = '/usr/bin/prlimit';

async function get(relay, p) {
  const r = await fetch(`${relay.url}${p}`, { signal: AbortSignal.timeout(ms(5_000)) });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text), text };
}

test('healthz: ok, then says the store fails when its database file is deleted under the relay', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { password } = await signup(relay);
  const ok = await get(relay, '/healthz');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.ok, true);
  assert.equal(ok.body.store, 'ok');
  assert.ok(ok.body.files.open > 0 && ok.body.files.limit >= ok.body.files.open, ok.text);
  assert.ok(ok.body.connections.open >= 1 && ok.body.connections.max > 0, ok.text);
  assert.equal(ok.body.problems, undefined);
  assert.deepEqual((await get(relay, '/readyz')).body, { ready: true });

  // an operator "cleans up" the data directory of a running relay: every
  // write from now on goes to a file that is gone at the next start
  for (const f of ['clawlink.db', 'clawlink.db-wal', 'clawlink.db-shm']) await rm(path.join(relay.dataDir, f), { force: true });
  const bad = await get(relay, '/healthz');
  assert.equal(bad.status, 503, bad.text);
  assert.equal(bad.body.ok, false);
  assert.equal(bad.body.store, 'failing');
  assert.deepEqual(bad.body.problems.map((p) => p.check), ['store'], bad.text);
  assert.match(bad.body.problems[0].detail, /deleted or replaced/);
  assert.ok(!bad.text.includes(relay.dataDir) && !bad.text.includes(password), 'no paths, no secrets');
  const notReady = await get(relay, '/readyz');
  assert.deepEqual([notReady.status, notReady.body], [503, { ready: false, reason: 'store' }]);

  // the agent's `clawlink status` tells an unhealthy relay from an unreachable one, and says why
  const dir = await tempDir('clawlink-status-');
  const configPath = path.join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify({ device_id: 'dev-1', token: 'tok', relay_url: relay.url.replace(/^http/, 'ws'), name: 'x' }));
  await chmod(configPath, 0o600);
  const st = await new Promise((resolve) => {
    execFile(AGENT_BIN, ['status', '--config', configPath], { env: { PATH: process.env.PATH, HOME: dir }, timeout: ms(20_000) },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
  assert.match(st.stdout, /relay: {5}unhealthy \(http:\/\/127\.0\.0\.1:\d+\/healthz: HTTP 503/, st.stdout + st.stderr);
  assert.match(st.stdout, /^ {11}store: .*deleted or replaced/m, st.stdout);
  assert.notEqual(st.code, 0, 'status exits non-zero for an unhealthy relay');
  await relay.stop();
}));

/** A TCP connection that says nothing; resolves once connected, `closed` set when the relay drops it. */
function idleSocket(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const c = { s, closed: false };
    s.on('close', () => { c.closed = true; });
    s.on('error', () => {});
    s.once('connect', () => resolve(c));
    s.once('error', () => resolve(c));
  });
}

test('healthz: says the relay is out of file descriptors while every connection slot is held, and recovers', { timeout: TEST_TIMEOUT, skip: !existsSync(PRLIMIT) && 'no prlimit' }, e2e(async (t) => {
  // 160 files: 96 connection slots (the limit less CL_RELAY_FD_RESERVE)
  const relay = await startRelay({ extraArgs: ['--max-conns-per-addr', '1000'], wrapper: [PRLIMIT, '--nofile=160:160', '--'] });
  const held = [];
  t.after(() => { for (const c of held) c.s.destroy(); });
  for (let i = 0; i < 120; i++) held.push(await idleSocket(relay.port));
  await waitFor(() => held.filter((c) => !c.closed).length <= 96, {
    what: 'the relay to refuse connections past its 96 slots', describe: () => `${held.filter((c) => !c.closed).length} held`,
  });
  const open = held.filter((c) => !c.closed);
  assert.ok(open.length >= 90, `${open.length} held`);

  // one slot free, for the probe itself
  open.pop().s.destroy();
  let r;
  await waitFor(async () => {
    try { r = await get(relay, '/healthz'); return true; } catch { return false; }
  }, { what: '/healthz to answer with one slot free' });
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.ok, false);
  assert.deepEqual(r.body.problems.map((p) => p.check), ['files'], r.text);
  assert.match(r.body.problems[0].detail, /out of file descriptors/);
  assert.equal(r.body.store, 'ok');
  assert.equal(r.body.files.limit, 160);

  // the flood ends: healthy again
  for (const c of held) c.s.destroy();
  await waitFor(async () => {
    try { r = await get(relay, '/healthz'); return r.status === 200; } catch { return false; }
  }, { timeout: ms(30_000), what: '/healthz 200 once the connections are gone', describe: () => r?.text });
  await relay.stop();
}));

test('readyz: 503 "draining" after SIGTERM with --drain while the relay still serves; a second signal stops it', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay({ extraArgs: ['--drain', '60'] });
  assert.deepEqual((await get(relay, '/readyz')).body, { ready: true });
  relay.proc.kill('SIGTERM');
  let r;
  await waitFor(async () => { r = await get(relay, '/readyz'); return r.status === 503; }, { what: '/readyz 503 after SIGTERM' });
  assert.deepEqual(r.body, { ready: false, reason: 'draining' });
  assert.match(relay.logs(), /draining: \/readyz answers 503/);
  // everything else is served as before, for the load balancer to move away
  assert.equal((await get(relay, '/healthz')).status, 200);
  await signup(relay);
  const info = await relay.stop(); // the second SIGTERM: closes and exits now, not in 60 s
  assert.equal(info.killedHard ?? false, false, JSON.stringify(info));
}));
