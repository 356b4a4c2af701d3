// Web sign-in, black-box on the real relay: the cl_session cookie and its
// attributes, GET /api/v1/auth/session and /auth/status, CSRF on cookie-authenticated
// changes (bearer requests unaffected), logout, cookie auth on /session and
// /events with the Origin check, one-time sign-in codes, the relay's
// --demo mode and scripts/run-demo end to end (docs/security.md, "The web
// app's session"). Sign-up allows 10 a minute per address: each test reuses
// its users.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, api, show, expectStatus, signup, setupDevice,
  connectorHello, startSession, msg, randomId, tempDir, freePort, waitFor, sleep, ms, tail,
  assertNoSecrets, BIN_DIR, loginLink,
} from './lib/harness.mjs';

after(cleanupAll);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUN_DEMO = path.resolve(HERE, '..', '..', 'scripts', 'run-demo');
const WEB = { 'X-Clawlink-Client': 'web' };

/** The Set-Cookie header of a response, parsed: {name, value, attrs (lower-case keys)}. */
function setCookie(r) {
  const raw = r.headers.get('set-cookie');
  assert.ok(raw, `no Set-Cookie in ${show(r)}`);
  const [pair, ...rest] = raw.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const a of rest) {
    const i = a.indexOf('=');
    attrs[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs, raw };
}

/** A web sign-in: POST with the web header; returns {cookie: 'cl_session=…', token, csrf, body, user}. */
async function webLogin(relay, u, { headers = {} } = {}) {
  const r = await api(relay, 'POST', '/api/v1/auth/login', { email: u.email, password: u.password }, undefined, { headers: { ...WEB, ...headers } });
  const body = expectStatus(r, 200, relay);
  const c = setCookie(r);
  return { cookie: `${c.name}=${c.value}`, token: c.value, csrf: body.csrf_token, body, user: body.user, set: c };
}

/** A request with the cookie (and no Authorization header). */
function withCookie(relay, web, method, pathname, body, { csrf = web.csrf, origin, headers = {} } = {}) {
  const h = { Cookie: web.cookie, ...WEB, ...headers };
  if (csrf !== undefined && csrf !== null) h['X-CSRF-Token'] = csrf;
  if (origin) h.Origin = origin;
  return api(relay, method, pathname, body, undefined, { headers: h });
}

/** A WebSocket with headers of our choosing (a browser sends Origin and the cookie). */
function openWs(url, { cookie, origin } = {}) {
  const headers = {};
  if (cookie) headers.Cookie = cookie;
  const ws = new WebSocket(url, { headers, origin });
  const got = [];
  const waiters = [];
  let closeInfo = null;
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => { closeInfo = { code, reason: String(reason) }; resolve(closeInfo); }));
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(String(data)); } catch { return; }
    got.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  return {
    ws, opened, closed, got,
    send(o) { ws.send(JSON.stringify(o)); },
    async next(type, timeout = ms(10_000)) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const i = got.findIndex((m) => m.type === type);
        if (i >= 0) return got.splice(i, 1)[0];
        if (closeInfo || Date.now() > deadline) throw new Error(`no ${type} message; got ${JSON.stringify(got)}; close ${JSON.stringify(closeInfo)}`);
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(100)]);
      }
    },
    async expectClose(code, timeout = ms(10_000)) {
      const info = await Promise.race([closed, sleep(timeout).then(() => null)]);
      assert.ok(info, `socket not closed within ${timeout} ms (wanted ${code}); got ${JSON.stringify(got)}`);
      assert.equal(info.code, code, `close code; got ${JSON.stringify(got)}`);
    },
    close() { try { ws.close(); } catch { /* closed */ } },
  };
}

const sqlite = (db, sql) => new Promise((resolve, reject) => {
  const p = spawn('sqlite3', ['-cmd', '.timeout 5000', db, sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`sqlite3: ${err}`))));
});

test('web sign-in: HttpOnly SameSite=Strict cookie, no token in the body; session; CSRF; bearer unaffected; logout', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const origin = relay.url;

  // web sign-up: the cookie, not the token
  const email = `web${randomId()}@example.test`;
  const password = `pw-${randomId(12)}`;
  const r0 = await api(relay, 'POST', '/api/v1/auth/signup', { email, password }, undefined, { headers: { ...WEB, Origin: origin } });
  const b0 = expectStatus(r0, 201, relay);
  assert.equal(b0.token, undefined, 'no token in the body of a web sign-up');
  assert.equal(b0.user.email, email);
  assert.match(b0.csrf_token, /^[A-Za-z0-9_-]{43}$/);
  const c0 = setCookie(r0);
  assert.equal(c0.name, 'cl_session');
  assert.match(c0.value, /^clu_/);
  assert.equal(c0.attrs.httponly, true);
  assert.equal(c0.attrs.samesite, 'Strict');
  assert.equal(c0.attrs.path, '/');
  assert.equal(Number(c0.attrs['max-age']), 30 * 24 * 3600);
  assert.equal(c0.attrs.secure, undefined, 'no Secure without TLS');
  assert.ok(!r0.text.includes(c0.value), 'the token is not in the body');

  // web login: the same shape
  const u = { email, password };
  const web = await webLogin(relay, u);
  assert.equal(web.body.token, undefined);
  assert.equal(web.set.attrs.httponly, true);
  assert.equal(web.set.attrs.samesite, 'Strict');

  // an API client (no header) still gets its bearer token and no cookie
  const r1 = await api(relay, 'POST', '/api/v1/auth/login', { email, password });
  const b1 = expectStatus(r1, 200, relay);
  assert.match(b1.token, /^clu_/);
  assert.equal(r1.headers.get('set-cookie'), null);
  const bearer = b1.token;

  // a web sign-in from a foreign origin sets nothing
  const rx = await api(relay, 'POST', '/api/v1/auth/login', { email, password }, undefined, { headers: { ...WEB, Origin: 'http://evil.example' } });
  assert.equal(rx.status, 403, show(rx));
  assert.equal(rx.body.error.code, 'csrf_failed');
  assert.equal(rx.headers.get('set-cookie'), null);

  // GET session with the cookie (and with a bearer token)
  const s1 = expectStatus(await withCookie(relay, web, 'GET', '/api/v1/auth/session', undefined, { csrf: null }), 200, relay);
  assert.equal(s1.user.email, email);
  assert.equal(s1.csrf_token, web.csrf);
  const s2 = expectStatus(await api(relay, 'GET', '/api/v1/auth/session', undefined, bearer), 200, relay);
  assert.equal(s2.user.id, s1.user.id);
  assert.notEqual(s2.csrf_token, web.csrf, 'the CSRF token is bound to its session');
  expectStatus(await api(relay, 'GET', '/api/v1/auth/session'), 401, relay);
  expectStatus(await api(relay, 'GET', '/api/v1/auth/session', undefined, undefined, { headers: { Cookie: 'cl_session=clu_nope' } }), 401, relay);
  // GET status: 200 signed in or not (no 401 for a signed-out page load);
  // only the cookie counts, an unknown one reads as signed out
  const st = expectStatus(await withCookie(relay, web, 'GET', '/api/v1/auth/status', undefined, { csrf: null }), 200, relay);
  assert.deepEqual(st, { signed_in: true, user: s1.user, csrf_token: web.csrf });
  assert.deepEqual(expectStatus(await api(relay, 'GET', '/api/v1/auth/status'), 200, relay), { signed_in: false });
  assert.deepEqual(expectStatus(await api(relay, 'GET', '/api/v1/auth/status', undefined, undefined, { headers: { ...WEB, Cookie: 'cl_session=clu_nope' } }), 200, relay), { signed_in: false });
  assert.deepEqual(expectStatus(await api(relay, 'GET', '/api/v1/auth/status', undefined, bearer), 200, relay), { signed_in: false }, 'a bearer client asks /auth/session');
  // a GET with the cookie needs no CSRF token
  expectStatus(await withCookie(relay, web, 'GET', '/api/v1/projects', undefined, { csrf: null }), 200, relay);

  // CSRF: missing, wrong, another session's, cross-origin → 403 csrf_failed
  const bad = [
    ['missing', { csrf: null }],
    ['wrong', { csrf: 'A'.repeat(43) }],
    ['another session\'s', { csrf: s2.csrf_token }],
    ['cross-origin', { origin: 'http://evil.example' }],
    ['cross-origin (same host, other port)', { origin: `http://127.0.0.1:${relay.port + 1}` }],
    ['cross-origin (https)', { origin: `https://127.0.0.1:${relay.port}` }],
    ['null origin', { origin: 'null' }],
  ];
  for (const [what, opts] of bad) {
    const r = await withCookie(relay, web, 'POST', '/api/v1/projects', { name: `csrf-${what}` }, opts);
    assert.equal(r.status, 403, `${what}: ${show(r)}`);
    assert.equal(r.body.error.code, 'csrf_failed', what);
  }
  for (const m of ['PATCH', 'DELETE']) {
    const r = await withCookie(relay, web, m, '/api/v1/me/sessions/00000000-0000-4000-8000-000000000000', m === 'PATCH' ? {} : undefined, { csrf: null });
    assert.ok(r.status === 403 || r.status === 405, show(r));
  }
  const rp = await withCookie(relay, web, 'PATCH', '/api/v1/me', { display_name: 'x' }, { csrf: null });
  assert.equal(rp.status, 403, show(rp));
  assert.equal(rp.body.error.code, 'csrf_failed');
  const projects = expectStatus(await withCookie(relay, web, 'GET', '/api/v1/projects', undefined, { csrf: null }), 200, relay).projects;
  assert.equal(projects.length, 0, 'no refused request changed anything');

  // with the token: same origin or no Origin at all
  const p1 = expectStatus(await withCookie(relay, web, 'POST', '/api/v1/projects', { name: 'same-origin' }, { origin }), 201, relay).project;
  expectStatus(await withCookie(relay, web, 'POST', '/api/v1/projects', { name: 'no-origin' }), 201, relay);
  expectStatus(await withCookie(relay, web, 'PATCH', '/api/v1/me', { display_name: 'Web User' }, { origin }), 200, relay);
  expectStatus(await withCookie(relay, web, 'DELETE', `/api/v1/projects/${p1.id}`, undefined, { origin }), 200, relay);

  // bearer requests are unaffected: no CSRF token, any Origin, even with a stray cookie
  expectStatus(await api(relay, 'POST', '/api/v1/projects', { name: 'bearer' }, bearer, { headers: { Origin: 'http://evil.example' } }), 201, relay);
  expectStatus(await api(relay, 'POST', '/api/v1/projects', { name: 'bearer2' }, bearer, { headers: { Cookie: web.cookie } }), 201, relay);

  // the CSRF token survives a relay restart (its key is in the database)
  await relay.stop();
  const relay2 = await startRelay({ dataDir: relay.dataDir, port: relay.port });
  const s3 = expectStatus(await withCookie(relay2, web, 'GET', '/api/v1/auth/session', undefined, { csrf: null }), 200, relay2);
  assert.equal(s3.csrf_token, web.csrf);
  expectStatus(await withCookie(relay2, web, 'POST', '/api/v1/projects', { name: 'after-restart' }, { origin }), 201, relay2);

  // logout: needs the CSRF token too; ends that session, clears the cookie
  const lo0 = await withCookie(relay2, web, 'POST', '/api/v1/auth/logout', undefined, { csrf: null });
  assert.equal(lo0.status, 403, show(lo0));
  const lo = await withCookie(relay2, web, 'POST', '/api/v1/auth/logout', undefined, { origin });
  assert.equal(lo.status, 204, show(lo));
  const cleared = setCookie(lo);
  assert.equal(cleared.name, 'cl_session');
  assert.equal(cleared.value, '');
  assert.equal(cleared.attrs['max-age'], '0');
  assert.equal(cleared.attrs.httponly, true);
  expectStatus(await withCookie(relay2, web, 'GET', '/api/v1/auth/session', undefined, { csrf: null }), 401, relay2);
  assert.deepEqual(expectStatus(await withCookie(relay2, web, 'GET', '/api/v1/auth/status', undefined, { csrf: null }), 200, relay2), { signed_in: false }, 'a revoked cookie reads as signed out');
  // the bearer token of the same user lives on
  expectStatus(await api(relay2, 'GET', '/api/v1/auth/session', undefined, bearer), 200, relay2);
  // bearer logout: as before
  const bl = expectStatus(await api(relay2, 'POST', '/api/v1/auth/logout', undefined, bearer), 200, relay2);
  assert.equal(bl.ok, true);

  assertNoSecrets(relay2, [web.token, bearer, web.csrf], 'relay');
  assertNoSecrets(relay, [web.token, bearer, web.csrf], 'relay');
}));

test('WebSockets: /events and /session take the cookie from the same origin only; auth without any token → auth_failed + 1008', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const origin = relay.url;
  const d = await setupDevice(relay);
  const web = await webLogin(relay, d);
  const connector = await connectorHello(relay, d.deviceId, d.deviceToken);
  const sid = await startSession(relay, d.token, d.deviceId);

  // /events: same origin → auth_ok with {} (no token)
  const e1 = openWs(`${relay.wsUrl}/events`, { cookie: web.cookie, origin });
  await e1.opened;
  e1.send(msg('auth', {}));
  const ok = await e1.next('auth_ok');
  assert.equal(ok.data.user_id, d.user.id);
  e1.close();

  // /events: cross-origin → the cookie is ignored
  for (const o of ['http://evil.example', `http://localhost:${relay.port}`, undefined]) {
    const e = openWs(`${relay.wsUrl}/events`, { cookie: web.cookie, origin: o });
    await e.opened;
    e.send(msg('auth', {}));
    const err = await e.next('error');
    assert.equal(err.data.code, 'auth_failed', `origin ${o}`);
    await e.expectClose(1008);
  }

  // /session: same origin → attached with the cookie
  const s1 = openWs(`${relay.wsUrl}/session`, { cookie: web.cookie, origin });
  await s1.opened;
  s1.send(msg('auth', { session_id: sid, device_id: d.deviceId }));
  await s1.next('auth_ok');
  s1.close();

  // /session: cross-origin → refused, closed 1008
  const s2 = openWs(`${relay.wsUrl}/session`, { cookie: web.cookie, origin: 'http://evil.example' });
  await s2.opened;
  s2.send(msg('auth', { session_id: sid, device_id: d.deviceId }));
  assert.equal((await s2.next('error')).data.code, 'auth_failed');
  await s2.expectClose(1008);

  // the leftover: /session auth without any token and no cookie → auth_failed + 1008
  const s3 = openWs(`${relay.wsUrl}/session`, { origin });
  await s3.opened;
  s3.send(msg('auth', { session_id: sid, device_id: d.deviceId }));
  assert.equal((await s3.next('error')).data.code, 'auth_failed');
  await s3.expectClose(1008);

  // an explicit token still wins, whatever the Origin
  const s4 = openWs(`${relay.wsUrl}/session`, { origin: 'http://evil.example' });
  await s4.opened;
  s4.send(msg('auth', { token: d.token, session_id: sid, device_id: d.deviceId }));
  await s4.next('auth_ok');
  s4.close();

  // a signed-out cookie no longer opens anything
  expectStatus(await withCookie(relay, web, 'POST', '/api/v1/auth/logout', undefined, { origin }), 204, relay);
  const e5 = openWs(`${relay.wsUrl}/events`, { cookie: web.cookie, origin });
  await e5.opened;
  e5.send(msg('auth', {}));
  assert.equal((await e5.next('error')).data.code, 'auth_failed');
  await e5.expectClose(1008);
  connector.close?.();
  assertNoSecrets(relay, [web.token], 'relay');
}));

test('one-time sign-in and --demo: an empty database gets the demo user, project and device; codes are single-use, expire, loopback only', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const dataDir = await tempDir('clawlink-demo-');
  const file = path.join(dataDir, 'demo.json');
  const relay = await startRelay({ dataDir, extraArgs: ['--demo', file] });
  await waitFor(() => existsSync(file), { what: 'the demo file' });
  const st = await stat(file);
  assert.equal(st.mode & 0o777, 0o600, 'the demo file is 0600');
  const demo = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(demo.url, relay.url);
  assert.match(demo.signin_code, /^clo_[A-Za-z0-9_-]{43}$/);
  assert.match(demo.pairing_code, /^[A-Z2-9]{8}$/);
  assert.ok(demo.device_id);

  // the code signs in once, as a web session
  const r = await api(relay, 'POST', '/api/v1/auth/one-time', { code: demo.signin_code }, undefined, { headers: { Origin: relay.url } });
  const b = expectStatus(r, 200, relay);
  assert.equal(b.user.email, 'demo@clawlink.local');
  assert.equal(b.token, undefined);
  const c = setCookie(r);
  assert.equal(c.attrs.httponly, true);
  assert.equal(c.attrs.samesite, 'Strict');
  const web = { cookie: `cl_session=${c.value}`, token: c.value, csrf: b.csrf_token };
  const projects = expectStatus(await withCookie(relay, web, 'GET', '/api/v1/projects', undefined, { csrf: null }), 200, relay).projects;
  assert.deepEqual(projects.map((p) => p.name), ['Demo']);
  const devices = expectStatus(await withCookie(relay, web, 'GET', `/api/v1/projects/${projects[0].id}/devices`, undefined, { csrf: null }), 200, relay).devices;
  assert.equal(devices.length, 1);
  assert.equal(devices[0].id, demo.device_id);
  assert.equal(devices[0].name, os.hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 128) || 'this machine');

  // single use; unknown codes; no code
  const again = await api(relay, 'POST', '/api/v1/auth/one-time', { code: demo.signin_code });
  assert.equal(again.status, 401, show(again));
  assert.equal(again.body.error.code, 'invalid_code');
  const unknown = await api(relay, 'POST', '/api/v1/auth/one-time', { code: `clo_${'x'.repeat(43)}` });
  assert.equal(unknown.status, 401);
  assert.equal(unknown.body.error.code, 'invalid_code');
  expectStatus(await api(relay, 'POST', '/api/v1/auth/one-time', {}), 400, relay);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/one-time', { code: 'x'.repeat(200) }), 400, relay);

  // a restart renews the code (same user, same device, no new pairing code)
  await relay.stop();
  const relay2 = await startRelay({ dataDir, port: relay.port, extraArgs: ['--demo', file] });
  await waitFor(async () => {
    try { return JSON.parse(await readFile(file, 'utf8')).signin_code !== demo.signin_code; } catch { return false; }
  }, { what: 'a renewed demo file' });
  const demo2 = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(demo2.device_id, demo.device_id);
  assert.match(demo2.pairing_code, /^[A-Z2-9]{8}$/, 'still unpaired: a fresh pairing code');
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  // expired: the code is refused (and spent)
  await sqlite(path.join(dataDir, 'clawlink.db'), 'UPDATE signin_codes SET expires_at = 1;');
  const exp = await api(relay2, 'POST', '/api/v1/auth/one-time', { code: demo2.signin_code });
  assert.equal(exp.status, 401, show(exp));
  assert.equal(exp.body.error.code, 'invalid_code');

  // through a proxy (X-Forwarded-For, Forwarded) → 403 loopback_only
  for (const h of [{ 'X-Forwarded-For': '203.0.113.7' }, { Forwarded: 'for=203.0.113.7' }]) {
    const f = await api(relay2, 'POST', '/api/v1/auth/one-time', { code: 'clo_whatever' }, undefined, { headers: h });
    assert.equal(f.status, 403, show(f));
    assert.equal(f.body.error.code, 'loopback_only');
  }
  // a foreign origin → 403 csrf_failed
  const fo = await api(relay2, 'POST', '/api/v1/auth/one-time', { code: 'clo_whatever' }, undefined, { headers: { Origin: 'http://evil.example' } });
  assert.equal(fo.status, 403);
  assert.equal(fo.body.error.code, 'csrf_failed');

  // never in the logs
  assertNoSecrets(relay, [demo.signin_code, demo.pairing_code, web.token], 'relay');
  assertNoSecrets(relay2, [demo.signin_code, demo2.signin_code, demo2.pairing_code], 'relay');

  // a database with other users but no demo user: no demo, no file
  const other = await startRelay({ extraArgs: [] });
  await signup(other);
  await other.stop();
  const f2 = path.join(other.dataDir, 'demo.json');
  const other2 = await startRelay({ dataDir: other.dataDir, port: other.port, extraArgs: ['--demo', f2] });
  await waitFor(() => /no demo: the database has users/.test(other2.logs()), { what: 'the no-demo log line' });
  assert.equal(existsSync(f2), false);
}));

test('one-time sign-in from a non-loopback address → 403 loopback_only; --demo on a non-loopback --listen makes no demo', { timeout: TEST_TIMEOUT }, e2e(async (t) => {
  const addr = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!addr) {
    t.skip('no non-loopback IPv4 address on this machine');
    return;
  }
  const dataDir = await tempDir('clawlink-demo-');
  const file = path.join(dataDir, 'demo.json');
  const port = await freePort();
  // startRelay listens on 127.0.0.1; a second --listen wins (the last one)
  const relay = await startRelay({ dataDir, port, extraArgs: ['--listen', `0.0.0.0:${port}`, '--demo', file] });
  await waitFor(() => /no demo: --listen is not a loopback address/.test(relay.logs()), { what: 'the no-demo log line' });
  assert.equal(existsSync(file), false);
  const far = { ...relay, url: `http://${addr}:${port}` };
  const r = await api(far, 'POST', '/api/v1/auth/one-time', { code: 'clo_whatever' });
  assert.equal(r.status, 403, show(r));
  assert.equal(r.body.error.code, 'loopback_only');
}));

test('scripts/run-demo: relay + demo + real agent; prints the one-time link; the device comes online; SIGTERM stops both', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const data = await tempDir('clawlink-run-demo-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const home = await tempDir('clawlink-run-demo-home-');
  const run = () => {
    const p = spawn(RUN_DEMO, [BIN_DIR, `127.0.0.1:${port}`, data], {
      env: { PATH: process.env.PATH, HOME: home, SHELL: '/bin/sh', LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
    return { p, out: () => out, exited };
  };
  const stop = async (h) => {
    h.p.kill('SIGTERM');
    const info = await Promise.race([h.exited, sleep(ms(10_000)).then(() => null)]);
    if (!info) h.p.kill('SIGKILL');
    return info;
  };
  const linkOf = async (h) => waitFor(() => h.out().match(/http:\/\/127\.0\.0\.1:\d+\/auth#one-time=(clo_[A-Za-z0-9_-]{43})/), {
    timeout: ms(30_000), what: 'the one-time link', describe: () => tail(h.out(), 40),
  });

  let h = run();
  try {
    const m = await linkOf(h);
    assert.ok(m[0].startsWith(`${url}/auth#one-time=`));
    const code = m[1];
    const relay = { url };
    const r = await api(relay, 'POST', '/api/v1/auth/one-time', { code });
    const b = expectStatus(r, 200);
    const web = { cookie: `cl_session=${setCookie(r).value}`, csrf: b.csrf_token };
    const projects = expectStatus(await withCookie(relay, web, 'GET', '/api/v1/projects', undefined, { csrf: null }), 200).projects;
    assert.equal(projects.length, 1);
    await waitFor(async () => {
      const ds = expectStatus(await withCookie(relay, web, 'GET', `/api/v1/projects/${projects[0].id}/devices`, undefined, { csrf: null }), 200).devices;
      return ds.length === 1 && ds[0].status === 'online' && ds[0].paired;
    }, { timeout: ms(20_000), what: 'the demo device online', describe: () => tail(h.out(), 40) });
    const st = await stat(path.join(data, 'demo.json'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(existsSync(path.join(data, 'demo-agent', 'agent.json')));
    // the relay's log (DATA/relay.log, not the terminal: nothing buries the
    // banner) never holds the code
    const relayLog = await readFile(path.join(data, 'relay.log'), 'utf8');
    assert.match(relayLog, /msg="listening"/);
    assert.ok(!relayLog.includes(code), 'the one-time code is in the relay log');
    assert.ok(!h.out().split('\n').some((l) => l.startsWith('ts=')), `no relay log line on the terminal:\n${h.out()}`);
    // the banner is the last thing printed, and says how to stop, get a new link, pair another machine
    const banner = h.out().trimEnd().split('\n');
    assert.match(banner.at(-1), /Stop:\s+Ctrl-C/, h.out());
    assert.match(h.out(), /clawlink is running at http:\/\/127\.0\.0\.1:\d+\n/);
    assert.match(h.out(), new RegExp(`make login LISTEN=127\\.0\\.0\\.1:${port} DATA=`));
    assert.match(h.out(), /Pair another machine:/);

    const info = await stop(h);
    assert.ok(info, `run-demo did not stop on SIGTERM\n${tail(h.out(), 30)}`);
    assert.deepEqual(info, { code: 0, signal: null }, `SIGTERM stops run-demo cleanly (exit 0)\n${tail(h.out(), 10)}`);
    await waitFor(async () => {
      try { await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }); return false; } catch { return true; }
    }, { what: 'the relay to be gone' });

    // again on the same data: a new link that works; the agent comes back without pairing
    h = run();
    const m2 = await linkOf(h);
    assert.notEqual(m2[1], code);
    const r2 = await api(relay, 'POST', '/api/v1/auth/one-time', { code: m2[1] });
    expectStatus(r2, 200);
    const web2 = { cookie: `cl_session=${setCookie(r2).value}` };
    await waitFor(async () => {
      const ds = expectStatus(await withCookie(relay, web2, 'GET', `/api/v1/projects/${projects[0].id}/devices`, undefined, { csrf: null }), 200).devices;
      return ds.length === 1 && ds[0].status === 'online';
    }, { timeout: ms(20_000), what: 'the demo device online again', describe: () => tail(h.out(), 40) });
    assert.ok(!/pairing this machine failed/.test(h.out()));
  } finally {
    if (h.p.exitCode === null && h.p.signalCode === null) await stop(h);
  }

  // DEMO=0: just the relay, no demo file
  const data2 = await tempDir('clawlink-run-demo-');
  const port2 = await freePort();
  const p = spawn(RUN_DEMO, [BIN_DIR, `127.0.0.1:${port2}`, data2], { env: { PATH: process.env.PATH, HOME: home, DEMO: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stderr.on('data', (d) => { out += d; });
  p.stdout.on('data', (d) => { out += d; });
  try {
    await waitFor(async () => {
      try { return (await fetch(`http://127.0.0.1:${port2}/healthz`)).status === 200; } catch { return false; }
    }, { what: 'the relay (DEMO=0)', describe: () => out });
    assert.match(out, /DEMO=0: no demo/);
    assert.equal(existsSync(path.join(data2, 'demo.json')), false);
    assert.ok(!/one-time=/.test(out));
  } finally {
    p.kill('SIGTERM');
    await new Promise((resolve) => (p.exitCode !== null ? resolve() : p.on('exit', resolve)));
  }
}));

test('scripts/run-demo on a port that is taken: exits 1, shows the relay\'s error and how to choose another LISTEN', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const busy = await startRelay();
  const data = await tempDir('clawlink-run-demo-');
  const home = await tempDir('clawlink-run-demo-home-');
  const res = await new Promise((resolve) => {
    const p = spawn(RUN_DEMO, [BIN_DIR, `127.0.0.1:${busy.port}`, data], { env: { PATH: process.env.PATH, HOME: home, LANG: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('close', (code) => resolve({ code, out }));
  });
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  assert.match(res.out, /choose another address: LISTEN=127\.0\.0\.1:8081 make run/);
  assert.doesNotMatch(res.out, /one-time=/);
}));


// The way back in once the demo's link is used (its password is random and
// never shown): an operator command on the relay's machine prints a new
// one-time link, for the demo user or any user by email, from the database.
test('login-link: a new one-time link for the demo user (or --email) while the relay runs; hashed at rest, never logged, single use', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const dataDir = await tempDir('clawlink-demo-');
  const file = path.join(dataDir, 'demo.json');
  const relay = await startRelay({ dataDir, extraArgs: ['--demo', file] });
  await waitFor(() => existsSync(file), { what: 'the demo file' });
  const demo = JSON.parse(await readFile(file, 'utf8'));
  expectStatus(await api(relay, 'POST', '/api/v1/auth/one-time', { code: demo.signin_code }), 200, relay);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/one-time', { code: demo.signin_code }), 401, relay); // used: the way in is gone

  const out = await loginLink(['--data', dataDir, '--listen', `127.0.0.1:${relay.port}`]);
  assert.equal(out.code, 0, `login-link: ${out.stderr}`);
  const m = out.stdout.match(/^(http:\/\/127\.0\.0\.1:(\d+)\/auth#one-time=(clo_[A-Za-z0-9_-]{43}))\n$/);
  assert.ok(m, `stdout is the link alone: ${JSON.stringify(out.stdout)}`);
  assert.equal(Number(m[2]), relay.port);
  assert.match(out.stderr, /demo@clawlink\.local.*once, for 15 minutes/);
  const code = m[3];
  // stored as its hash only: the code's text is nowhere in the database files
  for (const f of ['clawlink.db', 'clawlink.db-wal']) {
    const bytes = await readFile(path.join(dataDir, f)).catch(() => Buffer.alloc(0));
    assert.equal(bytes.includes(Buffer.from(code)), false, `the code in plain text in ${f}`);
  }
  const r = await api(relay, 'POST', '/api/v1/auth/one-time', { code }, undefined, { headers: { Origin: relay.url } });
  assert.equal(expectStatus(r, 200, relay).user.email, 'demo@clawlink.local');
  setCookie(r);
  assert.equal((await api(relay, 'POST', '/api/v1/auth/one-time', { code })).status, 401, 'single use');

  // any user, by email (normalised); 0.0.0.0 in --listen → a 127.0.0.1 link
  const u = await signup(relay, `Ops-${randomId(4)}@Example.test`);
  const o2 = await loginLink(['--data', dataDir, '--email', u.email.toUpperCase(), '--listen', `0.0.0.0:${relay.port}`]);
  assert.equal(o2.code, 0, o2.stderr);
  const m2 = o2.stdout.match(/^http:\/\/127\.0\.0\.1:\d+\/auth#one-time=(clo_[A-Za-z0-9_-]{43})\n$/);
  assert.ok(m2, o2.stdout);
  const r2 = expectStatus(await api(relay, 'POST', '/api/v1/auth/one-time', { code: m2[1] }), 200, relay);
  assert.equal(r2.user.id, u.user.id);
  const o3 = await loginLink(['--data', dataDir, '--url', 'https://127.0.0.1:8443/']);
  assert.match(o3.stdout, /^https:\/\/127\.0\.0\.1:8443\/auth#one-time=clo_/);

  // refusals: no such user, a directory without a database (none is made), bad arguments
  const none = await loginLink(['--data', dataDir, '--email', 'nobody@example.test']);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no user nobody@example\.test/);
  const empty = await tempDir('clawlink-empty-');
  const nodb = await loginLink(['--data', empty]);
  assert.equal(nodb.code, 1);
  assert.match(nodb.stderr, /no relay database/);
  assert.equal(existsSync(path.join(empty, 'clawlink.db')), false, 'login-link made no database');
  assert.equal((await loginLink(['--data', dataDir, '--email', 'not-an-email'])).code, 2);
  assert.equal((await loginLink(['--bogus'])).code, 2);

  assertNoSecrets(relay, [code, m2[1], o3.stdout.trim().split('=').at(-1)], 'relay');
}));

test('under TLS the session cookie is __Host-cl_session (Secure, Path=/, no Domain), the only name read; every reply carries HSTS', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const { makeSelfSigned, startTlsRelay } = await import('./lib/extra.mjs');
  const https = await import('node:https');
  const dir = await tempDir('clawlink-web-tls-');
  const cert = await makeSelfSigned(dir);
  const relay = await startTlsRelay(scope, { cert: cert.cert, key: cert.key, ca: cert.pem });
  const request = (method, pathname, body, headers = {}) => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(`${relay.url}${pathname}`, {
      method, ca: cert.pem, timeout: ms(20_000),
      headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
  const email = `tls-${randomId(4)}@example.com`;
  const r = await request('POST', '/api/v1/auth/signup', { email, password: 'correct horse battery' }, WEB);
  assert.equal(r.status, 201, r.text);
  const cookie = String(r.headers['set-cookie']);
  const shown = cookie.replace(/=[^;]+/, '=…');
  assert.match(cookie, /^__Host-cl_session=clu_/, `the __Host- name under TLS: ${shown}`);
  assert.match(cookie, /;\s*Secure(;|$)/i, `Secure under TLS: ${shown}`);
  assert.match(cookie, /;\s*Path=\/(;|$)/, `Path=/ (a __Host- cookie needs it): ${shown}`);
  assert.doesNotMatch(cookie, /;\s*Domain=/i, `no Domain (a __Host- cookie must not have one): ${shown}`);
  assert.match(cookie, /;\s*HttpOnly(;|$)/i);
  assert.match(cookie, /;\s*SameSite=Strict(;|$)/i);
  assert.equal(JSON.parse(r.text).token, undefined, 'no token in the body');
  const pair = cookie.split(';')[0];
  const value = pair.slice(pair.indexOf('=') + 1);
  for (const p of ['/api/v1/auth/session', '/', '/healthz']) {
    const x = await request('GET', p, undefined, { Cookie: pair });
    assert.match(String(x.headers['strict-transport-security']), /max-age=\d+/, `HSTS on ${p}`);
  }

  // the __Host- cookie is the session everywhere the relay reads one
  const session = await request('GET', '/api/v1/auth/session', undefined, { Cookie: pair });
  assert.equal(session.status, 200, session.text);
  const csrf = JSON.parse(session.text).csrf_token;
  const status = await request('GET', '/api/v1/auth/status', undefined, { ...WEB, Cookie: pair });
  assert.equal(JSON.parse(status.text).signed_in, true, status.text);
  const ws = new WebSocket(`${relay.wsUrl}/events`, { headers: { Cookie: pair }, origin: relay.url, ca: cert.pem });
  const first = await new Promise((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', data: {} })));
    ws.on('message', (d) => resolve(JSON.parse(String(d))));
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`events closed ${code} before answering`)));
  });
  ws.close();
  assert.equal(first.type, 'auth_ok', `/events takes the __Host- cookie: ${JSON.stringify(first)}`);
  // the plain name is not read under TLS: a cl_session planted by a
  // sibling subdomain or an http answer is nobody's session here
  const plain = await request('GET', '/api/v1/auth/session', undefined, { Cookie: `cl_session=${value}` });
  assert.equal(plain.status, 401, `cl_session is not read under TLS: ${plain.text}`);
  const planted = await request('GET', '/api/v1/auth/session', undefined, { Cookie: `cl_session=clu_planted; ${pair}` });
  assert.equal(planted.status, 200, `the __Host- one wins over a planted plain one: ${planted.text}`);

  // sign-out clears the __Host- cookie, with the same attributes
  const out = await request('POST', '/api/v1/auth/logout', undefined, { ...WEB, Cookie: pair, 'X-CSRF-Token': csrf, Origin: relay.url });
  assert.equal(out.status, 204, out.text);
  const cleared = String(out.headers['set-cookie']);
  assert.match(cleared, /^__Host-cl_session=;/, cleared);
  assert.match(cleared, /Max-Age=0/, cleared);
  assert.match(cleared, /;\s*Secure(;|$)/i, cleared);
  assert.match(cleared, /;\s*Path=\/(;|$)/, cleared);
  const gone = await request('GET', '/api/v1/auth/session', undefined, { Cookie: pair });
  assert.equal(gone.status, 401, 'the signed-out cookie is dead');
}));
