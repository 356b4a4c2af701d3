// Relays behind a load balancer (--trusted-proxy; src/relay/proxy.c,
// docs/operations.md "A cluster"), through Debian's HAProxy running the
// shipped deploy/haproxy-cluster.cfg: the client's address is the one the
// proxy appends to X-Forwarded-For, so one stranger's failed sign-ins do
// not lock every user out (they would without the flag: every client
// then has the proxy's address, as the control case shows), a spoofed
// header changes nothing, and a WebSocket flood through the proxy is
// capped per client; terminals work through it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { spawnSync } from 'node:child_process';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, signup, expectStatus, show, tail, waitFor, startSession, RELAY_BIN,
} from './lib/harness.mjs';
import { apiFrom, OutputStream, openViewer, setupAgent } from './lib/extra.mjs';
import { startHaproxy } from './lib/haproxy.mjs';

const lbs = [];
after(async () => { await cleanupAll(); for (const lb of lbs) await lb.close(); });

async function behindProxy(extraArgs) {
  const relay = await startRelay({ extraArgs });
  const lb = await startHaproxy([relay.port]);
  lbs.push(lb);
  return { relay, lb };
}

function assertStatus(r, status, relay) {
  assert.equal(r.status, status, `${show(r)}\n--- relay log ---\n${tail(relay.logs(), 20)}`);
}

test('behind HAProxy with --trusted-proxy: a stranger failing sign-ins does not lock out others; a spoofed X-Forwarded-For changes nothing; without the flag it would', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const run = async (trusted) => {
    const { relay, lb } = await behindProxy(trusted ? ['--trusted-proxy', '127.0.0.1'] : []);
    const victim = await signup(relay);
    const loginFrom = (from, password, headers) => apiFrom(lb, from, 'POST', '/api/v1/auth/login', { email: victim.email, password }, undefined, headers);
    const stranger = '127.0.0.5';
    for (let i = 0; i < 10; i++) assertStatus(await loginFrom(stranger, `wrong-${i}-password`), 401, relay);
    assertStatus(await loginFrom(stranger, victim.password), 429, relay);
    return { relay, victim, loginFrom, stranger };
  };

  const t = await run(true);
  // the victim, elsewhere, through the same proxy: in
  expectStatus(await t.loginFrom('127.0.0.6', t.victim.password), 200, t.relay);
  // the stranger claiming to be the victim's address: still held back
  assertStatus(await t.loginFrom(t.stranger, t.victim.password, { 'X-Forwarded-For': '127.0.0.6' }), 429, t.relay);

  // control: the same relay without --trusted-proxy sees one client, the proxy
  const c = await run(false);
  assertStatus(await c.loginFrom('127.0.0.6', c.victim.password), 429, c.relay);
}));

function rawWs(lb, localAddress) {
  const ws = new WebSocket(`${lb.wsUrl}/session`, { localAddress, handshakeTimeout: ms(10_000) });
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  return ws;
}

test('behind HAProxy with --trusted-proxy: unauthenticated WebSockets are capped per client, not per proxy; a terminal works through it', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const { relay, lb } = await behindProxy(['--trusted-proxy', '127.0.0.1', '--max-unauth-per-addr', '2']);
  const a1 = rawWs(lb, '127.0.0.8');
  const a2 = rawWs(lb, '127.0.0.8');
  await Promise.all([a1.opened, a2.opened]);
  const a3 = rawWs(lb, '127.0.0.8');
  const closed = await a3.closed;
  assert.equal(closed.code, 1008, JSON.stringify(closed));
  assert.match(closed.reason, /too many unauthenticated connections/);
  await waitFor(() => /connections refused.*last_peer=127\.0\.0\.8/.test(relay.logs()), { what: 'the refusal logged with the client\'s address', describe: () => tail(relay.logs(), 20) });
  // another client through the same proxy is not affected
  const b = rawWs(lb, '127.0.0.9');
  await b.opened;
  assert.equal(b.readyState, WebSocket.OPEN);
  for (const ws of [a1, a2, b]) ws.close();

  // a browser's terminal through the proxy (the agent dials the relay)
  const env = await setupAgent({ relay, scope });
  const sessionId = await startSession(relay, env.token, env.deviceId);
  const s = new OutputStream();
  const v = await openViewer(scope, { wsUrl: lb.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: s, resumeOffset: 0, label: 'through haproxy' });
  await s.waitFor('$ ');
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n');
  v.close();
}));

test('a bad --trusted-proxy stops the relay at start with exit 2', { timeout: TEST_TIMEOUT }, e2e(async () => {
  for (const [spec, why] of [['localhost', /not an IP address/], ['10.0.0.0/33', /prefix longer than 32/], ['::1/x', /bad prefix/]]) {
    const p = spawnSync(RELAY_BIN, ['--trusted-proxy', spec, '--data', '/nonexistent/never-created'], { encoding: 'utf8', timeout: ms(10_000) });
    assert.equal(p.status, 2, `${spec}: ${p.stderr}`);
    assert.match(p.stderr, why);
  }
}));
