// HTTP API of clawlink-relay, black-box, against docs/api.md.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, pairViaHttp, randomId, tail, connectorHello, browserAuth,
} from './lib/harness.mjs';
import { addMember, verifyEmail, acceptInvitation } from './lib/mail.mjs';

after(cleanupAll);

const CODE_RE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$/;
const USER_TOKEN_RE = /^clu_[A-Za-z0-9_-]{43}$/;
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const randomCode = () => Array.from({ length: 8 }, () => ALPHABET[Math.floor(Math.random() * ALPHABET.length)]).join('');

/** Asserts status and the error envelope {"error": {"code", "message"}}. */
function assertError(r, status, code, relay) {
  const ctx = `${show(r)}\n--- relay log ---\n${tail(relay.logs(), 20)}`;
  assert.equal(r.status, status, `status: ${ctx}`);
  assert.ok(r.body && typeof r.body.error === 'object' && r.body.error !== null, `error envelope: ${ctx}`);
  assert.equal(typeof r.body.error.message, 'string', `error.message: ${ctx}`);
  if (code !== undefined) {
    if (Array.isArray(code)) assert.ok(code.includes(r.body.error.code), `error.code in ${code}: ${ctx}`);
    else assert.equal(r.body.error.code, code, `error.code: ${ctx}`);
  }
  assert.match(r.headers.get('content-type') || '', /application\/json/, `content-type: ${ctx}`);
}

test('healthz answers 200 {ok, version}', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const r = await api(relay, 'GET', '/healthz');
  assert.equal(r.status, 200, show(r));
  assert.equal(r.body?.ok, true, show(r));
  assert.equal(typeof r.body?.version, 'string', show(r));
  assert.match(r.headers.get('content-type') || '', /application\/json/, show(r));
}));

test('accounts: signup, login, me, logout and their errors', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const email = `a${randomId()}@example.test`;
  const password = `correct-horse-${randomId(6)}`;

  // signup → 201 {token, user}
  let r = await api(relay, 'POST', '/api/v1/auth/signup', { email, password, display_name: 'Alice' });
  const s = expectStatus(r, 201, relay);
  assert.match(s.token, USER_TOKEN_RE, `token shape: ${show(r)}`);
  assert.equal(s.user.email, email, show(r));
  assert.equal(s.user.display_name, 'Alice', show(r));
  assert.ok(s.user.id, `user.id: ${show(r)}`);
  assert.equal(typeof s.user.created_at, 'number', `user.created_at (Unix seconds): ${show(r)}`);
  assert.ok(Math.abs(s.user.created_at - Date.now() / 1000) < 24 * 3600, `created_at is Unix seconds: ${show(r)}`);
  assert.equal(JSON.stringify(s).includes(password), false, 'the password is never echoed back');

  // me with the signup token
  r = await api(relay, 'GET', '/api/v1/me', undefined, s.token);
  const me = expectStatus(r, 200, relay);
  assert.equal(me.user.id, s.user.id, show(r));
  assert.equal(me.user.email, email, show(r));

  // login → 200 {token, user}
  r = await api(relay, 'POST', '/api/v1/auth/login', { email, password });
  const l = expectStatus(r, 200, relay);
  assert.match(l.token, USER_TOKEN_RE, show(r));
  assert.equal(l.user.id, s.user.id, show(r));
  r = await api(relay, 'GET', '/api/v1/me', undefined, l.token);
  expectStatus(r, 200, relay);

  // wrong password and unknown email: same 401 invalid_credentials
  r = await api(relay, 'POST', '/api/v1/auth/login', { email, password: 'wrong-password-123' });
  assertError(r, 401, 'invalid_credentials', relay);
  r = await api(relay, 'POST', '/api/v1/auth/login', { email: `nobody${randomId()}@example.test`, password });
  assertError(r, 401, 'invalid_credentials', relay);

  // duplicate email → 409 email_taken
  r = await api(relay, 'POST', '/api/v1/auth/signup', { email, password: 'another-password-1' });
  assertError(r, 409, 'email_taken', relay);

  // validation → 400
  r = await api(relay, 'POST', '/api/v1/auth/signup', { email: `b${randomId()}@example.test`, password: 'short' });
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/api/v1/auth/signup', { email: 'no-at-sign.example.test', password: 'long-enough-pw' });
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/api/v1/auth/signup', { email: `c${randomId()}@example.test` });
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/api/v1/auth/signup', { email: 42, password: 'long-enough-pw' });
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/api/v1/auth/login', { email });
  assertError(r, 400, 'invalid_request', relay);

  // malformed JSON / not an object → 400 bad_json
  r = await api(relay, 'POST', '/api/v1/auth/signup', '{"email": "x@y.z", "password": ');
  assertError(r, 400, 'bad_json', relay);
  r = await api(relay, 'POST', '/api/v1/auth/login', '[1, 2, 3]');
  assertError(r, 400, 'bad_json', relay);
  r = await api(relay, 'POST', '/api/v1/auth/login', 'not json at all');
  assertError(r, 400, 'bad_json', relay);

  // body over 64 KiB → 413 body_too_large
  const big = JSON.stringify({ email: `d${randomId()}@example.test`, password: 'long-enough-pw', display_name: 'x'.repeat(70 * 1024) });
  let r413;
  try {
    r413 = await api(relay, 'POST', '/api/v1/auth/signup', big);
  } catch (e) {
    assert.fail(`POST of a ${big.length}-byte body: no HTTP response (expected 413 body_too_large): ${e.message}` +
      `${e.cause ? ` (${e.cause.message})` : ''}\n--- relay log ---\n${tail(relay.logs(), 20)}`);
  }
  assertError(r413, 413, 'body_too_large', relay);

  // no token, malformed token, token in the query string → 401 unauthorized
  r = await api(relay, 'GET', '/api/v1/me');
  assertError(r, 401, 'unauthorized', relay);
  r = await api(relay, 'GET', '/api/v1/me', undefined, undefined, { headers: { Authorization: `Basic ${s.token}` } });
  assertError(r, 401, 'unauthorized', relay);
  r = await api(relay, 'GET', '/api/v1/me', undefined, `clu_${'A'.repeat(43)}`);
  assertError(r, 401, 'unauthorized', relay);
  r = await api(relay, 'GET', `/api/v1/me?token=${encodeURIComponent(s.token)}`);
  assertError(r, 401, 'unauthorized', relay);
  r = await api(relay, 'GET', `/api/v1/me?access_token=${encodeURIComponent(s.token)}`);
  assertError(r, 401, 'unauthorized', relay);

  // unknown path → 404 JSON error (no_route); known path, other method → 405
  r = await api(relay, 'GET', '/api/v1/no-such-thing', undefined, s.token);
  assertError(r, 404, 'no_route', relay);
  r = await api(relay, 'GET', '/api/v1/auth/signup');
  assertError(r, 405, 'method_not_allowed', relay);

  // logout revokes the token
  r = await api(relay, 'POST', '/api/v1/auth/logout', undefined, l.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  r = await api(relay, 'GET', '/api/v1/me', undefined, l.token);
  assertError(r, 401, 'unauthorized', relay);
  // ... and only that token
  r = await api(relay, 'GET', '/api/v1/me', undefined, s.token);
  expectStatus(r, 200, relay);
}));

test('projects: create, list and get only your own', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);

  let r = await api(relay, 'POST', '/api/v1/projects', { name: 'Home Lab' }, alice.token);
  const p = expectStatus(r, 201, relay).project;
  assert.ok(p.id, show(r));
  assert.equal(p.name, 'Home Lab', show(r));
  assert.equal(p.owner_id, alice.user.id, show(r));
  assert.equal(p.role, 'owner', show(r));
  assert.equal(typeof p.created_at, 'number', show(r));
  assert.equal(typeof p.updated_at, 'number', show(r));

  r = await api(relay, 'POST', '/api/v1/projects', { name: 'Bob stuff' }, bob.token);
  const pb = expectStatus(r, 201, relay).project;

  r = await api(relay, 'GET', '/api/v1/projects', undefined, alice.token);
  let list = expectStatus(r, 200, relay).projects;
  assert.ok(Array.isArray(list), show(r));
  assert.deepEqual(list.map((x) => x.id), [p.id], `alice sees only her project: ${show(r)}`);

  r = await api(relay, 'GET', '/api/v1/projects', undefined, bob.token);
  list = expectStatus(r, 200, relay).projects;
  assert.deepEqual(list.map((x) => x.id), [pb.id], `bob sees only his project: ${show(r)}`);

  r = await api(relay, 'GET', `/api/v1/projects/${p.id}`, undefined, alice.token);
  const got = expectStatus(r, 200, relay).project;
  assert.equal(got.id, p.id, show(r));
  assert.equal(got.role, 'owner', show(r));

  r = await api(relay, 'GET', `/api/v1/projects/${p.id}`, undefined, bob.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'GET', '/api/v1/projects/00000000-0000-0000-0000-000000000000', undefined, alice.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'GET', '/api/v1/projects', undefined);
  assertError(r, 401, 'unauthorized', relay);

  r = await api(relay, 'POST', '/api/v1/projects', {}, alice.token);
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/api/v1/projects', { name: 'x' }, undefined);
  assertError(r, 401, 'unauthorized', relay);
}));

test('devices: create with a pairing code, pair over HTTP, code is single-use', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const project = await createProject(relay, alice.token);

  let r = await api(relay, 'POST', `/api/v1/projects/${project.id}/devices`, { name: 'pi' }, alice.token);
  const created = expectStatus(r, 201, relay);
  assert.match(created.pairing_code, CODE_RE, show(r));
  const dev = created.device;
  assert.ok(dev.id, show(r));
  assert.equal(dev.project_id, project.id, show(r));
  assert.equal(dev.name, 'pi', show(r));
  assert.equal(dev.status, 'offline', show(r));
  assert.equal(dev.paired, false, show(r));

  // members list it; outsiders cannot list or add
  r = await api(relay, 'GET', `/api/v1/projects/${project.id}/devices`, undefined, alice.token);
  const devices = expectStatus(r, 200, relay).devices;
  assert.deepEqual(devices.map((d) => d.id), [dev.id], show(r));
  assert.equal(JSON.stringify(devices).includes(created.pairing_code), false, `the pairing code is shown only at creation: ${show(r)}`);
  r = await api(relay, 'GET', `/api/v1/projects/${project.id}/devices`, undefined, bob.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'POST', `/api/v1/projects/${project.id}/devices`, { name: 'evil' }, bob.token);
  assertError(r, 404, 'not_found', relay);

  // pair with the code → {device_id, token (cld_…), relay_url}
  r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: created.pairing_code, name: 'pi-host' });
  const paired = expectStatus(r, 200, relay);
  assert.equal(paired.device_id, dev.id, show(r));
  assert.match(paired.token, /^cld_[A-Za-z0-9_-]+$/, show(r));
  assert.equal(paired.relay_url.replace(/\/$/, ''), relay.wsUrl, `relay_url is --public-url with ws: and no /connect: ${show(r)}`);

  r = await api(relay, 'GET', `/api/v1/projects/${project.id}/devices`, undefined, alice.token);
  const after1 = expectStatus(r, 200, relay).devices.find((d) => d.id === dev.id);
  assert.equal(after1.paired, true, show(r));

  // the code is single-use
  r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: created.pairing_code, name: 'again' });
  assertError(r, 404, 'invalid_code', relay);

  // garbage codes
  r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: 'ZZZZ9999', name: 'x' });
  assertError(r, 404, 'invalid_code', relay);
  r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: '!!not a code at all!!', name: 'x' });
  assert.ok([400, 404].includes(r.status), `garbage code → 400 or 404: ${show(r)}`);
  r = await api(relay, 'POST', '/functions/v1/pair-device', { name: 'x' });
  assertError(r, 400, 'invalid_request', relay);

  // the code is matched case-insensitively, ignoring spaces and dashes
  const second = await createDevice(relay, alice.token, project.id, 'second');
  const c = second.pairing_code.toLowerCase();
  const sloppy = `${c.slice(0, 4)}-${c.slice(4, 6)} ${c.slice(6)}`;
  r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: sloppy, name: 'second-host' });
  const p2 = expectStatus(r, 200, relay);
  assert.equal(p2.device_id, second.device.id, show(r));
  assert.notEqual(p2.token, paired.token, 'each device gets its own token');
}));

test('start-session: offline device → 409, other user\'s device → 404', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  await pairViaHttp(relay, pairing_code);

  let r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, alice.token);
  assertError(r, 409, 'device_offline', relay);
  r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, bob.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: '00000000-0000-0000-0000-000000000000' }, alice.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id });
  assertError(r, 401, 'unauthorized', relay);
  r = await api(relay, 'POST', '/functions/v1/start-session', {}, alice.token);
  assertError(r, 400, 'invalid_request', relay);

  // ending a session that does not exist: not visible → 404
  r = await api(relay, 'POST', '/functions/v1/end-session', { session_id: '00000000-0000-0000-0000-000000000000' }, alice.token);
  assertError(r, 404, 'not_found', relay);
}));

test('start-session: at most 64 open sessions per device and 128 per user (409 too_many_sessions); ending one makes room', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const project = await createProject(relay, alice.token);
  const devices = [];
  for (let i = 0; i < 3; i++) {
    const { device, pairing_code } = await createDevice(relay, alice.token, project.id, `cap-${i}`);
    const paired = await pairViaHttp(relay, pairing_code);
    await connectorHello(relay, device.id, paired.token);
    devices.push(device.id);
  }
  const start = (deviceId) => api(relay, 'POST', '/functions/v1/start-session', { device_id: deviceId }, alice.token);
  const ids = [];
  for (let i = 0; i < 64; i++) ids.push(expectStatus(await start(devices[0]), 200, relay).session_id);
  let r = await start(devices[0]);
  assertError(r, 409, 'too_many_sessions', relay);
  assert.match(r.body.error.message, /this device has 64 open sessions/);
  // another device still takes them, up to the user's 128
  for (let i = 0; i < 64; i++) expectStatus(await start(devices[1]), 200, relay);
  r = await start(devices[2]);
  assertError(r, 409, 'too_many_sessions', relay);
  assert.match(r.body.error.message, /your account has 128 open sessions/);
  // ending one makes room again
  expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: ids[0] }, alice.token), 200, relay);
  expectStatus(await start(devices[2]), 200, relay);
}));

test('members: invite-member invites; the invitee proves the address and accepts; roles after', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const owner = await signup(relay);
  const bob = await signup(relay);
  const dave = await signup(relay);
  const project = await createProject(relay, owner.token);
  const invite = (email, token = owner.token) => api(relay, 'POST', '/functions/v1/invite-member', { project_id: project.id, email }, token);

  // an existing account is invited, not added: it joins when it accepts
  const b = await addMember(relay, owner.token, project.id, bob);
  assert.equal(b.status, 'invited', JSON.stringify(b));
  assert.equal(typeof b.message, 'string', JSON.stringify(b));
  let r = await api(relay, 'GET', '/api/v1/projects', undefined, bob.token);
  const seen = expectStatus(r, 200, relay).projects.find((p) => p.id === project.id);
  assert.equal(seen?.role, 'member', `bob sees the project as member: ${show(r)}`);
  r = await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, bob.token);
  assert.equal(expectStatus(r, 200, relay).project.role, 'member', show(r));
  r = await invite(bob.email);
  assertError(r, 409, 'already_member', relay);

  // someone without an account: invited; signing up joins nothing, the
  // proven address accepts (the full story is in consent.test.mjs)
  const carolEmail = `carol${randomId()}@example.test`;
  r = await invite(carolEmail);
  assert.equal(expectStatus(r, 200, relay).status, 'invited', show(r));
  r = await invite(carolEmail);
  assertError(r, 409, 'already_invited', relay);
  const carol = await signup(relay, carolEmail);
  r = await api(relay, 'GET', '/api/v1/projects', undefined, carol.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects, [], show(r));
  await verifyEmail(relay, carol);
  await acceptInvitation(relay, carol, project.id);
  r = await api(relay, 'GET', '/api/v1/projects', undefined, carol.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects.map((p) => [p.id, p.role]), [[project.id, 'member']], show(r));

  // members may look, not manage; outsiders learn nothing
  r = await invite(dave.email, bob.token);
  assertError(r, 403, 'forbidden', relay);
  r = await invite(bob.email, dave.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'POST', `/api/v1/projects/${project.id}/devices`, { name: 'by-member' }, bob.token);
  assertError(r, 403, 'forbidden', relay);
  const { device } = await createDevice(relay, owner.token, project.id);
  r = await api(relay, 'GET', `/api/v1/projects/${project.id}/devices`, undefined, bob.token);
  assert.deepEqual(expectStatus(r, 200, relay).devices.map((d) => d.id), [device.id], show(r));
  r = await api(relay, 'GET', `/api/v1/projects/${project.id}/devices`, undefined, dave.token);
  assertError(r, 404, 'not_found', relay);
  // a member may start a session on the project's device (offline here → 409, not 404)
  r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, bob.token);
  assertError(r, 409, 'device_offline', relay);

  r = await api(relay, 'POST', '/functions/v1/invite-member', { project_id: project.id }, owner.token);
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'POST', '/functions/v1/invite-member', { project_id: project.id, email: dave.email });
  assertError(r, 401, 'unauthorized', relay);
}));

// Shares between members are in shares.test.mjs; here, the single-user paths.
test('shared sessions: shares and viewers endpoints, as far as one member can go', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  await connectorHello(relay, device.id, paired.token);
  const sid = expectStatus(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, alice.token), 200, relay).session_id;
  const viewer = await browserAuth(relay, alice.token, sid, device.id);

  let r = await api(relay, 'GET', `/api/v1/sessions/${sid}/shares`, undefined, alice.token);
  assert.deepEqual(expectStatus(r, 200, relay).shares, [], show(r));
  r = await api(relay, 'POST', `/api/v1/sessions/${sid}/shares`, { email: bob.email, mode: 'view' }, alice.token);
  assertError(r, 404, 'not_a_member', relay);
  r = await api(relay, 'POST', `/api/v1/sessions/${sid}/shares`, { email: alice.email, mode: 'view' }, alice.token);
  assertError(r, 400, undefined, relay);
  r = await api(relay, 'POST', `/api/v1/sessions/${sid}/shares`, { email: bob.email, mode: 'admin' }, alice.token);
  assertError(r, 400, 'invalid_request', relay);
  r = await api(relay, 'DELETE', `/api/v1/sessions/${sid}/shares/${bob.user.id}`, undefined, alice.token);
  assertError(r, 404, undefined, relay);

  r = await api(relay, 'GET', `/api/v1/sessions/${sid}/viewers`, undefined, alice.token);
  const viewers = expectStatus(r, 200, relay).viewers;
  assert.ok(Array.isArray(viewers) && viewers.some((v) => v.user_id === alice.user.id), `alice is watching: ${show(r)}`);

  // outsiders: 404 everywhere
  for (const [method, path, body] of [
    ['GET', `/api/v1/sessions/${sid}/shares`], ['GET', `/api/v1/sessions/${sid}/viewers`],
    ['POST', `/api/v1/sessions/${sid}/shares`, { email: alice.email, mode: 'control' }],
    ['DELETE', `/api/v1/sessions/${sid}/shares/${alice.user.id}`],
  ]) {
    r = await api(relay, method, path, body, bob.token);
    assertError(r, 404, undefined, relay);
  }
  r = await api(relay, 'GET', `/api/v1/sessions/${sid}/shares`);
  assertError(r, 401, 'unauthorized', relay);
  assert.equal(viewer.closeInfo, null);
}));

// Last, on its own relay: it poisons the per-address limiter.
test('pair-device rate limit: the 11th attempt in a minute → 429 with Retry-After', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const statuses = [];
  let limited = null;
  for (let i = 0; i < 25 && !limited; i++) {
    const r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: randomCode(), name: 'x' });
    statuses.push(r.status);
    if (r.status === 429) limited = { i, r };
  }
  assert.ok(limited, `no 429 after ${statuses.length} attempts: ${statuses.join(',')}`);
  assert.ok(statuses.slice(0, 10).every((st) => st !== 429), `the first 10 attempts are allowed: ${statuses.join(',')}`);
  // A fixed one-minute window may reset in the middle; then it takes at most 10 more.
  assert.ok(limited.i === 10 || limited.i <= 20, `429 on attempt ${limited.i + 1}, expected the 11th: ${statuses.join(',')}`);
  assertError(limited.r, 429, 'rate_limited', relay);
  const ra = limited.r.headers.get('retry-after');
  assert.match(ra || '', /^\d+$/, `Retry-After header (seconds): ${JSON.stringify(ra)}`);
  assert.ok(Number(ra) >= 1 && Number(ra) <= 60, `Retry-After within a minute: ${ra}`);

  // a valid code from the same address is refused too while limited
  const alice = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { pairing_code } = await createDevice(relay, alice.token, project.id);
  const r = await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code, name: 'x' });
  assertError(r, 429, 'rate_limited', relay);
}));
