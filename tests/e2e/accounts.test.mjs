// Accounts, black-box: profile, sign-in sessions, password change, account
// deletion, password reset (outbox and SMTP) and the sign-in/sign-up/reset
// rate limits, against docs/api.md "Accounts".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { outbox as mailOutbox, RESET_LINK_RE, VERIFY_LINK_RE, addMember } from './lib/mail.mjs';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, pairViaHttp, randomId, tail, connectorHello, browserAuth, startSession, waitFor,
  assertNoSecrets, freePort, isType, sleep, expectClose, wsClient, msg,
} from './lib/harness.mjs';
import { apiFrom } from './lib/extra.mjs';

after(cleanupAll);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Asserts status and the error envelope {"error": {"code", "message"}}. */
function assertError(r, status, code, relay) {
  const ctx = `${show(r)}\n--- relay log ---\n${tail(relay.logs(), 20)}`;
  assert.equal(r.status, status, `status: ${ctx}`);
  assert.ok(r.body && typeof r.body.error === 'object' && r.body.error !== null, `error envelope: ${ctx}`);
  assert.equal(typeof r.body.error.message, 'string', `error.message: ${ctx}`);
  assert.ok(r.body.error.message.length > 0, `error.message is not empty: ${ctx}`);
  if (code !== undefined) assert.equal(r.body.error.code, code, `error.code: ${ctx}`);
}

const login = (relay, email, password) => api(relay, 'POST', '/api/v1/auth/login', { email, password });

/** The .eml files in the relay's outbox that carry a password reset link
 * (none yet: []); sign-up's verification mail (lib/mail.mjs) is not one. */
async function outbox(relay) {
  return (await mailOutbox(relay)).filter((m) => RESET_LINK_RE.test(m.text)).map((m) => m.file).sort();
}

/** Waits for the outbox to hold n messages; returns [{file, text, link, token}]. */
async function outboxMessages(relay, n) {
  const files = await waitFor(async () => { const f = await outbox(relay); return f.length >= n ? f : null; },
    { what: `${n} message(s) in ${relay.dataDir}/outbox`, describe: () => tail(relay.logs(), 20) });
  const out = [];
  for (const file of files) {
    const text = await readFile(path.join(relay.dataDir, 'outbox', file), 'utf8');
    const m = RESET_LINK_RE.exec(text);
    out.push({ file, text, link: m?.[1], token: m?.[2] });
  }
  return out;
}

test('profile: GET and PATCH display_name and avatar_url, with validation', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  let r = await api(relay, 'GET', '/api/v1/me', undefined, u.token);
  let me = expectStatus(r, 200, relay).user;
  assert.equal(me.display_name, 'E2E User', show(r));
  assert.equal(me.avatar_url, null, `no avatar yet: ${show(r)}`);

  r = await api(relay, 'PATCH', '/api/v1/me', { display_name: 'Zoë Ω', avatar_url: 'https://img.example.test/z.png' }, u.token);
  me = expectStatus(r, 200, relay).user;
  assert.equal(me.display_name, 'Zoë Ω', show(r));
  assert.equal(me.avatar_url, 'https://img.example.test/z.png', show(r));
  assert.equal(me.email, u.email, show(r));
  r = await api(relay, 'GET', '/api/v1/me', undefined, u.token);
  assert.equal(expectStatus(r, 200, relay).user.display_name, 'Zoë Ω', show(r));

  // one field at a time; the other stays
  r = await api(relay, 'PATCH', '/api/v1/me', { display_name: 'Zoe' }, u.token);
  me = expectStatus(r, 200, relay).user;
  assert.deepEqual([me.display_name, me.avatar_url], ['Zoe', 'https://img.example.test/z.png'], show(r));
  // "" and null clear the avatar; "" is a valid display name
  r = await api(relay, 'PATCH', '/api/v1/me', { avatar_url: '' }, u.token);
  assert.equal(expectStatus(r, 200, relay).user.avatar_url, null, show(r));
  r = await api(relay, 'PATCH', '/api/v1/me', { avatar_url: 'https://a.test/x' }, u.token);
  expectStatus(r, 200, relay);
  r = await api(relay, 'PATCH', '/api/v1/me', { avatar_url: null, display_name: '' }, u.token);
  me = expectStatus(r, 200, relay).user;
  assert.deepEqual([me.display_name, me.avatar_url], ['', null], show(r));

  // bad input: each a 400 with a message, nothing changed
  for (const body of [
    {},
    { display_name: 42 },
    { display_name: ['x'] },
    { display_name: 'x'.repeat(129) },
    { display_name: 'tab\there' },
    { display_name: 'red\u001b[31mname' },
    { display_name: 'csi\u009b31m' },
    { display_name: 'nel\u0085' },
    { avatar_url: 'http://img.example.test/z.png' },
    { avatar_url: 'javascript:alert(1)' },
    { avatar_url: 'https://' },
    { avatar_url: 'https://a.test/with space' },
    { avatar_url: `https://a.test/${'a'.repeat(1024)}` },
    { avatar_url: 7 },
  ]) {
    r = await api(relay, 'PATCH', '/api/v1/me', body, u.token);
    assertError(r, 400, 'invalid_request', relay);
  }
  r = await api(relay, 'PATCH', '/api/v1/me', '[1]', u.token);
  assertError(r, 400, 'bad_json', relay);
  r = await api(relay, 'GET', '/api/v1/me', undefined, u.token);
  me = expectStatus(r, 200, relay).user;
  assert.deepEqual([me.display_name, me.avatar_url], ['', null], `bad input changed nothing: ${show(r)}`);

  // one rule at signup too: a name PATCH refuses, signup refuses
  for (const display_name of ['red\u001b[31mname', 'csi\u009b31m', 'bell\u0007']) {
    r = await api(relay, 'POST', '/api/v1/auth/signup', { email: `c${randomId()}@example.test`, password: 'correct horse battery', display_name });
    assertError(r, 400, 'invalid_request', relay);
    assert.match(r.body.error.message, /display_name contains a control character/);
  }

  // the longest allowed values pass
  r = await api(relay, 'PATCH', '/api/v1/me', { display_name: 'n'.repeat(128), avatar_url: `https://a.test/${'a'.repeat(1024 - 15)}` }, u.token);
  expectStatus(r, 200, relay);

  r = await api(relay, 'PATCH', '/api/v1/me', { display_name: 'anon' });
  assertError(r, 401, 'unauthorized', relay);
}));

test('a revoked token\'s WebSockets close at once: a revoked sign-in, a sign-out, a password change', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay(); // the default 20 s ping: what closes them here is not a ping
  const alice = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { pairing_code } = await createDevice(relay, alice.token, project.id, 'revoke-box');
  const paired = await pairViaHttp(relay, pairing_code);
  await connectorHello(relay, paired.device_id, paired.token);
  const sessionId = await startSession(relay, alice.token, paired.device_id);
  const signIn = async () => expectStatus(await login(relay, alice.email, alice.password), 200, relay).token;
  const events = async (token, label) => {
    const c = await wsClient(`${relay.wsUrl}/events`, { label });
    c.send(msg('auth', { token }));
    await c.next('auth_ok');
    return c;
  };
  const idOf = async (token) => expectStatus(await api(relay, 'GET', '/api/v1/me/sessions', undefined, token), 200, relay)
    .sessions.find((x) => x.current).id;
  const closedNow = async (c, what) => {
    const info = await expectClose(c, 1008, ms(3_000));
    assert.match(info.reason, /token revoked|auth failed/, `${what}: ${JSON.stringify(info)}`);
  };

  const b = await signIn();
  const c = await signIn();
  const viewB = await browserAuth(relay, b, sessionId, paired.device_id, { label: 'viewer b' });
  const viewC = await browserAuth(relay, c, sessionId, paired.device_id, { label: 'viewer c' });
  const evB = await events(b, 'events b');
  const evC = await events(c, 'events c');

  // b is revoked from another sign-in: b's sockets close, c's stay.
  expectStatus(await api(relay, 'DELETE', `/api/v1/me/sessions/${await idOf(b)}`, undefined, alice.token), 200, relay);
  await closedNow(viewB, 'viewer b');
  await closedNow(evB, 'events b');
  assert.ok(viewB.received.some((m) => m.type === 'error' && m.data?.code === 'auth_failed'), viewB.describe());
  await sleep(300);
  assert.equal(viewC.closeInfo, null, 'c\'s viewer stays');
  assert.equal(evC.closeInfo, null, 'c\'s events stay');

  // c signs out: its sockets close.
  const out = await api(relay, 'POST', '/api/v1/auth/logout', undefined, c);
  assert.ok(out.status === 200 || out.status === 204, show(out));
  await closedNow(viewC, 'viewer c');
  await closedNow(evC, 'events c');

  // A password change keeps the sign-in that made it and revokes the rest.
  const d = await signIn();
  const e = await signIn();
  const viewE = await browserAuth(relay, e, sessionId, paired.device_id, { label: 'viewer e' });
  const evE = await events(e, 'events e');
  const evD = await events(d, 'events d');
  const next = `pw-${randomId(12)}`;
  expectStatus(await api(relay, 'POST', '/api/v1/me/password', { current_password: alice.password, new_password: next }, d), 200, relay);
  await closedNow(viewE, 'viewer e');
  await closedNow(evE, 'events e');
  await sleep(300);
  assert.equal(evD.closeInfo, null, 'the sign-in that changed the password keeps its socket');
}));

test('sessions: list own sign-in tokens, revoke one by id, never someone else\'s', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const b = expectStatus(await login(relay, alice.email, alice.password), 200, relay).token;
  const c = expectStatus(await login(relay, alice.email, alice.password), 200, relay).token;

  let r = await api(relay, 'GET', '/api/v1/me/sessions', undefined, alice.token);
  const list = expectStatus(r, 200, relay).sessions;
  assert.equal(list.length, 3, show(r));
  for (const s of list) {
    assert.match(s.id, UUID_RE, show(r));
    assert.equal(typeof s.created_at, 'number', show(r));
    assert.ok(s.expires_at > s.created_at, show(r));
    assert.equal(typeof s.current, 'boolean', show(r));
    assert.equal(JSON.stringify(s).includes('clu_'), false, `no token or hash is listed: ${show(r)}`);
  }
  const current = list.filter((s) => s.current);
  assert.equal(current.length, 1, `exactly one current: ${show(r)}`);
  assert.equal(typeof current[0].last_used, 'number', `the calling token was just used: ${show(r)}`);
  assert.ok(list.indexOf(current[0]) === list.length - 1, `newest first (the signup token is oldest): ${show(r)}`);

  // which id is b? list with b: its current one
  r = await api(relay, 'GET', '/api/v1/me/sessions', undefined, b);
  const bId = expectStatus(r, 200, relay).sessions.find((s) => s.current).id;
  r = await api(relay, 'GET', '/api/v1/me/sessions', undefined, bob.token);
  const bobList = expectStatus(r, 200, relay).sessions;
  assert.equal(bobList.length, 1, `bob sees only his own: ${show(r)}`);

  // someone else's id, an unknown id, garbage: 404, and nothing revoked
  r = await api(relay, 'DELETE', `/api/v1/me/sessions/${bobList[0].id}`, undefined, alice.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'DELETE', `/api/v1/me/sessions/${bId}`, undefined, bob.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'DELETE', '/api/v1/me/sessions/00000000-0000-4000-8000-000000000000', undefined, alice.token);
  assertError(r, 404, 'not_found', relay);
  r = await api(relay, 'DELETE', '/api/v1/me/sessions/not-a-uuid', undefined, alice.token);
  assertError(r, 404, 'not_found', relay);
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, bob.token), 200, relay);
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, b), 200, relay);

  // revoke b from the signup token: b stops working, c does not
  r = await api(relay, 'DELETE', `/api/v1/me/sessions/${bId}`, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, b), 401, 'unauthorized', relay);
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, c), 200, relay);
  r = await api(relay, 'GET', '/api/v1/me/sessions', undefined, c);
  const left = expectStatus(r, 200, relay).sessions;
  assert.equal(left.length, 2, show(r));
  assert.ok(!left.some((s) => s.id === bId), show(r));

  // revoking your own current token is signing out
  const cId = left.find((s) => s.current).id;
  r = await api(relay, 'DELETE', `/api/v1/me/sessions/${cId}`, undefined, c);
  expectStatus(r, 200, relay);
  assertError(await api(relay, 'GET', '/api/v1/me/sessions', undefined, c), 401, 'unauthorized', relay);

  assertError(await api(relay, 'GET', '/api/v1/me/sessions'), 401, 'unauthorized', relay);
  assertError(await api(relay, 'DELETE', `/api/v1/me/sessions/${cId}`), 401, 'unauthorized', relay);
  assertNoSecrets(relay, [alice.token, bob.token, b, c, alice.password, bob.password], 'relay');
}));

test('password change: needs the current password, keeps this token, revokes the others', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const other = expectStatus(await login(relay, u.email, u.password), 200, relay).token;
  const next = `new-pw-${randomId(8)}`;

  let r = await api(relay, 'POST', '/api/v1/me/password', { current_password: 'not-the-password', new_password: next }, u.token);
  assertError(r, 403, 'wrong_password', relay);
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, other), 200, relay);
  for (const body of [
    { current_password: u.password, new_password: 'short' },
    { current_password: u.password },
    { new_password: next },
    { current_password: u.password, new_password: 12345678 },
    { current_password: u.password, new_password: 'x'.repeat(1025) },
  ]) {
    r = await api(relay, 'POST', '/api/v1/me/password', body, u.token);
    assertError(r, 400, 'invalid_request', relay);
  }
  assertError(await api(relay, 'POST', '/api/v1/me/password', { current_password: u.password, new_password: next }),
    401, 'unauthorized', relay);

  r = await api(relay, 'POST', '/api/v1/me/password', { current_password: u.password, new_password: next }, u.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, u.token), 200, relay);
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, other), 401, 'unauthorized', relay);
  assertError(await login(relay, u.email, u.password), 401, 'invalid_credentials', relay);
  expectStatus(await login(relay, u.email, next), 200, relay);
  assertNoSecrets(relay, [u.token, other, u.password, next], 'relay');
}));

test('delete account: refused while owning a shared project; deletes projects, ends sessions', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const project = await createProject(relay, alice.token);
  const solo = await createProject(relay, alice.token);
  await addMember(relay, alice.token, project.id, bob);
  let r;
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  const agent = await connectorHello(relay, device.id, paired.token);
  const { device: soloDev } = await createDevice(relay, alice.token, solo.id);

  // bob (a member, owning nothing) has a live session on alice's device
  const bobSid = await startSession(relay, bob.token, device.id);
  const bobView = await browserAuth(relay, bob.token, bobSid, device.id);
  const aliceSid = await startSession(relay, alice.token, device.id);
  const aliceView = await browserAuth(relay, alice.token, aliceSid, device.id);
  // ... and watches alice's, shared with him
  r = await api(relay, 'POST', `/api/v1/sessions/${aliceSid}/shares`, { email: bob.email, mode: 'view' }, alice.token);
  expectStatus(r, 201, relay);
  const bobWatch = await browserAuth(relay, bob.token, aliceSid, device.id, { label: 'bob watching alice' });

  // alice owns a project with another member: 409, nothing deleted
  r = await api(relay, 'POST', '/api/v1/me/delete', { password: alice.password }, alice.token);
  assertError(r, 409, 'owns_shared_projects', relay);
  assert.match(r.body.error.message, /member/, show(r));
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, alice.token), 200, relay);
  // wrong or missing password
  assertError(await api(relay, 'POST', '/api/v1/me/delete', { password: 'wrong-password' }, bob.token), 403, 'wrong_password', relay);
  assertError(await api(relay, 'POST', '/api/v1/me/delete', {}, bob.token), 400, 'invalid_request', relay);
  assertError(await api(relay, 'POST', '/api/v1/me/delete', { password: 5 }, bob.token), 400, 'invalid_request', relay);
  assertError(await api(relay, 'POST', '/api/v1/me/delete', { password: bob.password }), 401, 'unauthorized', relay);

  // bob goes: his session ends (its viewer hears why), alice's project stays
  r = await api(relay, 'POST', '/api/v1/me/delete', { password: bob.password }, bob.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  const end1 = await bobView.next(isType('session_end', (m) => m.data?.session_id === bobSid));
  assert.equal(end1.data.reason, 'account_deleted', JSON.stringify(end1));
  await agent.next(isType('session_end', (m) => m.data?.session_id === bobSid));
  await expectClose(bobWatch, 4003); // his share went with him
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, bob.token), 401, 'unauthorized', relay);
  assertError(await login(relay, bob.email, bob.password), 401, 'invalid_credentials', relay);
  expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, alice.token), 200, relay);
  assert.equal(aliceView.pending(isType('session_end')).length, 0, 'alice\'s session goes on');

  // now alice may go, with both her projects, their devices and sessions
  r = await api(relay, 'POST', '/api/v1/me/delete', { password: alice.password }, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  const end2 = await aliceView.next(isType('session_end', (m) => m.data?.session_id === aliceSid));
  assert.equal(end2.data.reason, 'account_deleted', JSON.stringify(end2));
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, alice.token), 401, 'unauthorized', relay);

  // the email is free again, and the new account sees nothing of the old one
  const again = await signup(relay, alice.email);
  r = await api(relay, 'GET', '/api/v1/projects', undefined, again.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects, [], show(r));
  for (const id of [project.id, solo.id]) {
    assertError(await api(relay, 'GET', `/api/v1/projects/${id}`, undefined, again.token), 404, 'not_found', relay);
  }
  r = await api(relay, 'POST', '/functions/v1/start-session', { device_id: soloDev.id }, again.token);
  assertError(r, 404, 'not_found', relay);
  assertNoSecrets(relay, [alice.token, bob.token, alice.password, bob.password, paired.token], 'relay');
}));

test('password reset: 202 either way, a one-time link in the outbox, all tokens revoked', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const other = expectStatus(await login(relay, u.email, u.password), 200, relay).token;

  // same answer for an account and for no account; only the first writes mail
  const r1 = await api(relay, 'POST', '/api/v1/auth/password-reset', { email: u.email.toUpperCase() });
  const r2 = await api(relay, 'POST', '/api/v1/auth/password-reset', { email: `nobody${randomId()}@example.test` });
  expectStatus(r1, 202, relay);
  expectStatus(r2, 202, relay);
  assert.deepEqual(r1.body, r2.body, `${show(r1)}\n${show(r2)}`);
  const [mail] = await outboxMessages(relay, 1);
  assert.match(mail.file, /^\d+-[0-9a-f-]{36}\.eml$/, mail.file);
  assert.ok(mail.token, `a reset link with #token= in the message:\n${mail.text}`);
  assert.equal(mail.link, `${relay.url}/reset-password`, `the link points at the relay, the token in the fragment:\n${mail.text}`);
  assert.equal(mail.text.includes('?token') || mail.text.includes('&token'), false, 'never in a query string');
  assert.match(mail.text, new RegExp(`^To: <${u.email}>\\r$`, 'm'), mail.text);
  assert.match(mail.text, /^Subject: .+\r$/m, mail.text);
  assert.equal((await stat(path.join(relay.dataDir, 'outbox', mail.file))).mode & 0o777, 0o600, 'the message is 0600');
  assert.equal((await stat(path.join(relay.dataDir, 'outbox'))).mode & 0o777, 0o700, 'the outbox is 0700');
  await sleep(ms(300));
  assert.equal((await outbox(relay)).length, 1, 'no mail for an unknown address');
  await waitFor(() => relay.logs().includes(`outbox/${mail.file}`), { what: 'the outbox file named in the log' });

  // bad input
  for (const body of [{}, { email: 42 }, { email: 'not-an-email' }, { email: `${'a'.repeat(300)}@example.test` }]) {
    assertError(await api(relay, 'POST', '/api/v1/auth/password-reset', body), 400, 'invalid_request', relay);
  }
  const next = `reset-pw-${randomId(8)}`;
  for (const body of [
    { token: mail.token, new_password: 'short' },
    { token: mail.token },
    { new_password: next },
    { token: 1, new_password: next },
    { token: 'x'.repeat(200), new_password: next },
  ]) {
    assertError(await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', body), 400, 'invalid_request', relay);
  }
  assertError(await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token: `clr_${'A'.repeat(43)}`, new_password: next }),
    400, 'invalid_token', relay);

  // the right token: new password, every token revoked, the link spent
  let r = await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token: mail.token, new_password: next });
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, u.token), 401, 'unauthorized', relay);
  assertError(await api(relay, 'GET', '/api/v1/me', undefined, other), 401, 'unauthorized', relay);
  assertError(await login(relay, u.email, u.password), 401, 'invalid_credentials', relay);
  expectStatus(await login(relay, u.email, next), 200, relay);
  r = await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token: mail.token, new_password: 'yet-another-pw' });
  assertError(r, 400, 'invalid_token', relay);

  // a newer request leaves the older link working; using it voids the newer
  expectStatus(await api(relay, 'POST', '/api/v1/auth/password-reset', { email: u.email }), 202, relay);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/password-reset', { email: u.email }), 202, relay);
  const msgs = await outboxMessages(relay, 3);
  const fresh = msgs.filter((m) => m.token !== mail.token);
  assert.equal(fresh.length, 2);
  const tokens = new Set(fresh.map((m) => m.token));
  assert.equal(tokens.size, 2, 'each request makes a new token');
  const byTime = [];
  for (const m of fresh) byTime.push({ ...m, mtime: (await stat(path.join(relay.dataDir, 'outbox', m.file))).mtimeMs });
  byTime.sort((a, b) => a.mtime - b.mtime);
  const results = [];
  for (const m of byTime) {
    results.push((await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token: m.token, new_password: `${next}-2` })).status);
  }
  assert.deepEqual(results, [200, 400], `the older link works after a newer request, and voids it: ${results}`);

  assertNoSecrets(relay, [u.token, other, u.password, next, mail.token, ...tokens], 'relay');
}));

// A stranger cannot lock the owner out (docs/security.md "Accounts"): the
// limits that a stranger's failures use up are their own address's and
// their own address-and-account's. Clients come from different loopback
// addresses (lib/extra.mjs apiFrom).
test('sign-in limits: a stranger failing for victim@ does not stop the victim signing in from another address', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const victim = await signup(relay);
  const loginFrom = (from, password) => apiFrom(relay, from, 'POST', '/api/v1/auth/login', { email: victim.email, password });

  // one stranger uses up what one address may try against the account
  const stranger = '127.0.0.5';
  for (let i = 0; i < 10; i++) assertError(await loginFrom(stranger, `wrong-${i}-password`), 401, 'invalid_credentials', relay);
  assertError(await loginFrom(stranger, victim.password), 429, 'rate_limited', relay);
  // the victim, at home: in
  expectStatus(await loginFrom('127.0.0.6', victim.password), 200, relay);

  // the stranger is still held back (and elsewhere the owner keeps signing
  // in). The account-wide ceiling, which spares a fresh address, takes 100
  // Argon2id sign-ins a minute to reach: test_accounts.c covers it.
  assertError(await loginFrom(stranger, victim.password), 429, 'rate_limited', relay);
  expectStatus(await loginFrom('127.0.0.7', victim.password), 200, relay);
}));

test('reset links: a second request leaves the first link working, a completed reset voids the others, at most 5 live per account', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const ask = (from) => apiFrom(relay, from, 'POST', '/api/v1/auth/password-reset', { email: u.email });
  const confirm = (token, pw) => api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token, new_password: pw });

  // the owner asks; a stranger asks again from elsewhere
  expectStatus(await ask('127.0.0.6'), 202, relay);
  const [first] = await outboxMessages(relay, 1);
  expectStatus(await ask('127.0.0.5'), 202, relay);
  const second = (await outboxMessages(relay, 2)).find((m) => m.token !== first.token);
  assert.ok(second?.token, 'a second link was sent');

  // the owner's (first) link still works, and voids the stranger's
  const pw = `reset-pw-${randomId(8)}`;
  assert.equal(expectStatus(await confirm(first.token, pw), 200, relay).ok, true);
  assertError(await confirm(second.token, `${pw}-2`), 400, 'invalid_token', relay);
  expectStatus(await login(relay, u.email, pw), 200, relay);

  // at most 5 live links: a 6th request sends nothing (and answers the same)
  for (const from of ['127.0.0.11', '127.0.0.11', '127.0.0.12', '127.0.0.12', '127.0.0.13', '127.0.0.13']) {
    expectStatus(await ask(from), 202, relay);
  }
  const all = await outboxMessages(relay, 7);
  await waitFor(() => /password reset not sent: links still live/.test(relay.logs()), { what: 'the relay to log the 6th request unsent' });
  assert.equal((await outbox(relay)).length, 7, 'two earlier mails and five new links: the sixth was not sent');
  // each of the five works until one is used
  const live = all.filter((m) => m.token !== first.token && m.token !== second.token);
  assert.equal(live.length, 5);
  expectStatus(await confirm(live[4].token, `${pw}-3`), 200, relay);
  for (const m of live.slice(0, 4)) assertError(await confirm(m.token, `${pw}-4`), 400, 'invalid_token', relay);
  assertNoSecrets(relay, [pw, first.token, second.token, ...live.map((m) => m.token)], 'relay');
}));

/** A minimal SMTP server on loopback: records each message's envelope and data. */
async function fakeSmtp() {
  const port = await freePort();
  const messages = [];
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = '';
    let inData = false;
    let cur = { rcpt: [] };
    sock.write('220 fake-smtp ready\r\n');
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          cur.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          messages.push(cur);
          cur = { rcpt: [] };
          sock.write('250 queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') sock.write('250 fake-smtp\r\n');
        else if (verb === 'MAIL') { cur.from = line; sock.write('250 ok\r\n'); }
        else if (verb === 'RCPT') { cur.rcpt.push(line); sock.write('250 ok\r\n'); }
        else if (verb === 'DATA') { inData = true; sock.write('354 go on\r\n'); }
        else if (verb === 'QUIT') { sock.end('221 bye\r\n'); return; }
        else sock.write('250 ok\r\n');
      }
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); }),
  };
}

test('password reset by SMTP (--smtp-url), and the outbox when the server is down', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const smtp = await fakeSmtp();
  try {
    const relay = await startRelay({ extraArgs: ['--smtp-url', smtp.url, '--smtp-from', 'relay@example.test'] });
    const u = await signup(relay);
    expectStatus(await api(relay, 'POST', '/api/v1/auth/password-reset', { email: u.email }), 202, relay);
    const resets = () => smtp.messages.filter((x) => RESET_LINK_RE.test(x.data));
    await waitFor(() => resets().length === 1, { what: 'one reset message at the fake SMTP server', describe: () => tail(relay.logs(), 20) });
    const m = resets()[0];
    // sign-up's verification link went the same way
    assert.ok(smtp.messages.some((x) => VERIFY_LINK_RE.test(x.data) && x.rcpt.some((t) => t.includes(u.email))), 'the verification mail by SMTP');
    assert.match(m.from, /<relay@example\.test>/, m.from);
    assert.deepEqual(m.rcpt.map((x) => x.replace(/^RCPT TO:/i, '')), [`<${u.email}>`]);
    assert.match(m.data, /^From: .*<relay@example\.test>\r$/m, m.data);
    const token = RESET_LINK_RE.exec(m.data)?.[2];
    assert.ok(token, m.data);
    assert.deepEqual(await outbox(relay), [], 'sent by SMTP: nothing in the outbox');
    const next = `smtp-pw-${randomId(6)}`;
    expectStatus(await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token, new_password: next }), 200, relay);
    expectStatus(await login(relay, u.email, next), 200, relay);
    assertNoSecrets(relay, [token, next, u.password, u.token], 'relay');
  } finally {
    await smtp.close();
  }

  // nothing listens there: the message lands in the outbox, with a warning
  const deadPort = await freePort();
  const relay2 = await startRelay({ extraArgs: ['--smtp-url', `smtp://127.0.0.1:${deadPort}`] });
  const v = await signup(relay2);
  expectStatus(await api(relay2, 'POST', '/api/v1/auth/password-reset', { email: v.email }), 202, relay2);
  const [mail] = await outboxMessages(relay2, 1);
  assert.ok(mail.token, mail.text);
  assert.match(relay2.logs(), /SMTP delivery failed/);
  assertNoSecrets(relay2, [mail.token], 'relay');
}));

test('rate limits: sign-in, sign-up and reset, per address and account and per address → 429 with Retry-After', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const assert429 = (r, what) => {
    assertError(r, 429, 'rate_limited', relay);
    const ra = r.headers.get('retry-after');
    assert.match(ra || '', /^\d+$/, `${what}: Retry-After header: ${JSON.stringify(ra)}`);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 15 * 60, `${what}: Retry-After ${ra}`);
  };
  const victim = await signup(relay);

  // sign-in per address and account: 10 a minute, right or wrong; then even
  // the right password waits, from this address (another address: below)
  const statuses = [];
  for (let i = 0; i < 10; i++) statuses.push((await login(relay, victim.email, `wrong-${i}-password`)).status);
  assert.deepEqual(statuses, Array(10).fill(401), `the first 10 are answered: ${statuses}`);
  assert429(await login(relay, victim.email, victim.password), 'sign-in per address and account');
  assert429(await login(relay, victim.email.toUpperCase(), victim.password), 'the account is the normalised email');
  // ... other accounts from the same address still get in
  const other = await signup(relay);
  expectStatus(await login(relay, other.email, other.password), 200, relay);

  // sign-in per address: 30 a minute over any accounts (12 used above)
  let limited = null;
  for (let i = 0; i < 30 && !limited; i++) {
    const r = await login(relay, `nobody${i}-${randomId(3)}@example.test`, 'whatever-password');
    if (r.status === 429) limited = { i, r };
    else assert.equal(r.status, 401, show(r));
  }
  assert.ok(limited, 'no 429 after 30 more sign-in attempts from one address');
  assert.ok(limited.i >= 17, `the address limit is 30 a minute (refused after ${12 + limited.i})`);
  assert429(limited.r, 'sign-in per address');

  // sign-up per address and account: 5 a minute for one email, the first sign-up and
  // the 409s included; per address 10 (2 used)
  const taken = victim.email;
  const signupStatuses = [];
  for (let i = 0; i < 5; i++) {
    signupStatuses.push((await api(relay, 'POST', '/api/v1/auth/signup', { email: taken, password: 'long-enough-pw' })).status);
  }
  assert.deepEqual(signupStatuses, [409, 409, 409, 409, 429], `sign-up per address and account: ${signupStatuses}`);
  const more = [];
  for (let i = 0; i < 4; i++) more.push((await api(relay, 'POST', '/api/v1/auth/signup', { email: `n${i}${randomId()}@example.test`, password: 'long-enough-pw' })).status);
  // 2 + 5 + 4 = 11 attempts from this address: the 11th is refused
  assert.deepEqual(more, [201, 201, 201, 429], `sign-up per address (10 a minute): ${more}`);
  assert429(await api(relay, 'POST', '/api/v1/auth/signup', { email: `x${randomId()}@example.test`, password: 'long-enough-pw' }), 'sign-up per address');

  // reset per address and account: 3 in 15 minutes for one email; another email still gets 202
  const resets = [];
  for (let i = 0; i < 4; i++) resets.push((await api(relay, 'POST', '/api/v1/auth/password-reset', { email: other.email })).status);
  assert.deepEqual(resets, [202, 202, 202, 429], `reset per address and account: ${resets}`);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/password-reset', { email: `unknown${randomId()}@example.test` }), 202, relay);
  // reset per address: 10 a minute, requests and confirms together (5 used)
  const confirmStatuses = [];
  for (let i = 0; i < 6; i++) {
    confirmStatuses.push((await api(relay, 'POST', '/api/v1/auth/password-reset/confirm', { token: `clr_${'B'.repeat(43)}`, new_password: 'long-enough-pw' })).status);
  }
  assert.deepEqual(confirmStatuses, [400, 400, 400, 400, 400, 429], `reset per address: ${confirmStatuses}`);
  // the limits are the relay's only: nothing about them reached the database
  assertNoSecrets(relay, [victim.password, other.password, victim.token, other.token], 'relay');
}));
