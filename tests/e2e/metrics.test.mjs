// Prometheus metrics on the real relay (src/relay/metrics.h, api_metrics.c,
// docs/operations.md "Metrics"): /metrics is off unless the relay runs with
// --metrics-token-file, answers 401 (and nothing else) without that token,
// and with it gives an exposition Debian's promtool accepts. Its counters
// move when a real agent and viewer exchange bytes, when admission refuses
// a connection, when a route answers 404 or 401, and when a rate limit
// refuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, wsClient, waitFor, tempDir, api, signup,
  startSession, assertNoSecrets, randomId,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';
import { metricsRelay, scrape, sample, total } from './lib/metrics.mjs';

after(cleanupAll);

test('/metrics is off by default: 404, even with a bearer token', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  for (const token of [undefined, user.token, 'x'.repeat(64)]) {
    const r = await api(relay, 'GET', '/metrics', undefined, token);
    assert.equal(r.status, 404, r.text);
    assert.equal(r.body.error.code, 'no_route');
  }
}));

test('/metrics without its token: 401 and nothing of the metrics; the token is never logged', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { relay, token } = await metricsRelay();
  const user = await signup(relay);
  const tries = [
    {},
    { Authorization: `Bearer ${user.token}` },        // a user's token is not the scraper's
    { Authorization: `Bearer ${token.slice(0, -1)}x` },
    { Authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
    { Authorization: `Bearer ${token}x` },
  ];
  for (const headers of tries) {
    const res = await fetch(`${relay.url}/metrics`, { headers, signal: AbortSignal.timeout(ms(10_000)) });
    const text = await res.text();
    assert.equal(res.status, 401, `${JSON.stringify(headers)} → ${res.status} ${text}`);
    assert.equal(JSON.parse(text).error.code, 'unauthorized');
    assert.doesNotMatch(text, /clawlink_|process_|# TYPE/);
  }
  // a token in the URL is not one
  const q = await fetch(`${relay.url}/metrics?token=${token}`, { signal: AbortSignal.timeout(ms(10_000)) });
  assert.equal(q.status, 401);
  await q.arrayBuffer();
  const text = await scrape(relay, token);
  assert.match(text, /^# HELP /m);
  assert.equal(sample(text, 'clawlink_http_requests_total', { route: '/metrics', method: 'GET', code: '401' }), tries.length + 1);
  assertNoSecrets(relay, [token], 'relay');
}));

test('the exposition passes promtool check metrics', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { relay, token } = await metricsRelay();
  // something in every family: requests of several routes and codes, store calls
  const user = await signup(relay);
  await api(relay, 'GET', '/api/v1/projects', undefined, user.token);
  await api(relay, 'GET', `/api/v1/projects/${crypto.randomUUID()}`, undefined, user.token);
  await api(relay, 'POST', '/api/v1/nowhere', {});
  await fetch(`${relay.url}/`).then((r) => r.arrayBuffer());
  const text = await scrape(relay, token);
  const p = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!p.error, `promtool not found (Debian package prometheus; scripts/install-deps): ${p.error?.message}`);
  assert.equal(p.status, 0, `promtool check metrics:\n${p.stdout}${p.stderr}\n--- exposition ---\n${text.slice(0, 3000)}`);
  assert.ok(sample(text, 'process_start_time_seconds') > 1.6e9);
  assert.ok(sample(text, 'process_open_fds') > 0);
  assert.ok(total(text, 'clawlink_store_operation_duration_seconds_count') > 0, 'store operations timed');
  assert.ok(sample(text, 'clawlink_store_operation_duration_seconds_count', { op: 'token_user' }) >= 2);
  // no raw path, id or user in a label
  assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}-/);
  assert.doesNotMatch(text, /nowhere|@/);
}));

test('an agent and a viewer exchanging bytes move the data-path counters', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const { relay, token } = await metricsRelay();
  const before = await scrape(relay, token);
  const env = await setupAgent({ relay });
  const sessionId = await startSession(relay, env.token, env.deviceId);
  const out = new OutputStream();
  const v = await openViewer(scope, { wsUrl: relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: out, resumeOffset: 0 });
  await out.waitFor('$ ');
  const typed = `echo metrics-$((6*7))-${randomId(4)}\r`;
  v.write(typed);
  await out.waitFor('metrics-42-');

  // what the viewer has seen before the scrape: bytes that arrive after it
  // (the next prompt) are counted by the relay too late for this scrape
  const seen = out.length;
  const text = await scrape(relay, token);
  const d = (name, labels) => sample(text, name, labels) - sample(before, name, labels);
  assert.ok(d('clawlink_forwarded_bytes_total', { direction: 'viewers_to_agent' }) >= typed.length);
  assert.ok(d('clawlink_forwarded_frames_total', { direction: 'viewers_to_agent' }) >= 1);
  assert.ok(d('clawlink_forwarded_bytes_total', { direction: 'agent_to_viewers' }) >= seen,
    `agent_to_viewers ${d('clawlink_forwarded_bytes_total', { direction: 'agent_to_viewers' })} < ${seen} bytes seen`);
  assert.ok(d('clawlink_forwarded_frames_total', { direction: 'agent_to_viewers' }) >= 1);
  assert.equal(sample(text, 'clawlink_agents_online'), 1);
  assert.equal(sample(text, 'clawlink_viewers_online'), 1);
  assert.equal(sample(text, 'clawlink_connections', { kind: 'agent' }), 1);
  assert.equal(sample(text, 'clawlink_connections', { kind: 'viewer' }), 1);
  assert.equal(sample(text, 'clawlink_sessions', { state: 'running' }), 1);
  assert.equal(d('clawlink_websocket_connections_opened_total', { kind: 'viewer' }), 1);
  assert.ok(d('clawlink_websocket_connections_opened_total', { kind: 'agent' }) >= 1);
}));

/** A TCP connection from localAddress that sends half a request and stalls. */
function slowHeader(port, localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '));
    const c = { s, closed: false };
    s.on('close', () => { c.closed = true; });
    s.on('error', () => {});
    s.once('connect', () => resolve(c));
    s.once('error', () => resolve(c));
  });
}

test('connections refused by admission are counted by reason', { timeout: TEST_TIMEOUT }, e2e(async (t) => {
  const PER_ADDR = 16, UNAUTH = 2;
  const { relay, token } = await metricsRelay(['--max-conns-per-addr', String(PER_ADDR), '--max-unauth-per-addr', String(UNAUTH)]);
  const slow = [];
  t.after(() => { for (const c of slow) c.s.destroy(); });
  for (let i = 0; i < PER_ADDR + 8; i++) slow.push(await slowHeader(relay.port, '127.0.0.2'));
  await waitFor(() => slow.filter((c) => !c.closed).length <= PER_ADDR, { what: `at most ${PER_ADDR} kept` });
  const idle = [];
  t.after(() => { for (const c of idle) c.close(); });
  for (let i = 0; i < UNAUTH + 2; i++) {
    try {
      idle.push(await wsClient(`${relay.wsUrl}/connect`, { label: `idle ${i}`, wsOptions: { localAddress: '127.0.0.3' } }));
    } catch { /* refused before the upgrade */ }
  }
  await waitFor(() => idle.filter((c) => !c.closeInfo).length <= UNAUTH, { what: `at most ${UNAUTH} unauthenticated kept` });

  let text = await scrape(relay, token);
  assert.ok(sample(text, 'clawlink_connections_rejected_total', { reason: 'per_addr' }) >= 8);
  assert.ok(sample(text, 'clawlink_connections_rejected_total', { reason: 'unauth_per_addr' }) >= 2);
  // the two let in are closed at the authentication deadline (10 s)
  await waitFor(() => idle.every((c) => c.closeInfo), { timeout: ms(20_000), what: 'the deadline closing the rest' });
  text = await scrape(relay, token);
  assert.ok(sample(text, 'clawlink_connections_rejected_total', { reason: 'auth_timeout' }) >= UNAUTH, text.match(/.*rejected.*/g).join('\n'));
}));

test('HTTP requests are counted by route pattern and status', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { relay, token } = await metricsRelay();
  const user = await signup(relay);
  const id = crypto.randomUUID();
  assert.equal((await api(relay, 'GET', `/api/v1/projects/${id}`, undefined, user.token)).status, 404);
  assert.equal((await api(relay, 'GET', `/api/v1/projects/${crypto.randomUUID()}`, undefined, user.token)).status, 404);
  assert.equal((await api(relay, 'GET', '/api/v1/projects')).status, 401);
  assert.equal((await api(relay, 'DELETE', '/api/v1/no/such/route')).status, 404);
  const text = await scrape(relay, token);
  assert.equal(sample(text, 'clawlink_http_requests_total', { route: '/api/v1/projects/:id', method: 'GET', code: '404' }), 2);
  assert.equal(sample(text, 'clawlink_http_requests_total', { route: '/api/v1/projects', method: 'GET', code: '401' }), 1);
  assert.equal(sample(text, 'clawlink_http_requests_total', { route: 'none', method: 'DELETE', code: '404' }), 1);
  assert.equal(sample(text, 'clawlink_http_request_duration_seconds_count', { route: '/api/v1/projects/:id', method: 'GET' }), 2);
  assert.equal(sample(text, 'clawlink_http_request_duration_seconds_bucket', { route: '/api/v1/projects/:id', method: 'GET', le: '+Inf' }), 2);
  assert.ok(!text.includes(id), 'a path is never a label');
}));

test('a rate-limit refusal is counted for its limiter', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { relay, token } = await metricsRelay();
  const before = total(await scrape(relay, token), 'clawlink_ratelimit_refusals_total');
  assert.equal(before, 0);
  const email = `nobody-${randomId(4)}@example.com`;
  let refused = 0;
  for (let i = 0; i < 40 && !refused; i++) {
    const r = await api(relay, 'POST', '/api/v1/auth/login', { email, password: 'wrong-password' });
    if (r.status === 429) refused++;
  }
  assert.equal(refused, 1, 'a login limit refused');
  const text = await scrape(relay, token);
  assert.equal(total(text, 'clawlink_ratelimit_refusals_total'), 1, text.match(/.*ratelimit_refusals.*/g).join('\n'));
  assert.equal(sample(text, 'clawlink_http_requests_total', { route: '/api/v1/auth/login', method: 'POST', code: '429' }), 1);
}));
