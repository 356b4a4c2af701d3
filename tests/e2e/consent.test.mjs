// Issue 14, findings 1 and 6: an invitation grants nothing until the
// invitee has proven the address (a mailed, hashed, expiring, single-use
// link) and said yes; invite-member answers the same whoever owns the
// address, within per-inviter and per-project rate limits and a cap on
// pending invitations; invitees decline; members leave (not the last
// owner), and leaving closes their terminals at once. docs/security.md
// "Invitations need consent".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, pairViaHttp, connectorHello, startSession, browserAuth, randomId, RELAY_BIN, assertNoSecrets,
  waitFor, tail,
} from './lib/harness.mjs';
import { outbox, mailsTo, verificationToken, verifyEmail, acceptInvitation, addMember, VERIFY_LINK_RE } from './lib/mail.mjs';

after(cleanupAll);

function assertError(r, status, code, relay) {
  const ctx = `${show(r)}${relay ? `\n${tail(relay.logs(), 15)}` : ''}`;
  assert.equal(r.status, status, ctx);
  assert.equal(r.body?.error?.code, code, ctx);
}

const invite = (relay, token, projectId, email) =>
  api(relay, 'POST', '/functions/v1/invite-member', { project_id: projectId, email }, token);
const inbox = async (relay, u) => expectStatus(await api(relay, 'GET', '/api/v1/me/invitations', undefined, u.token), 200, relay);
const projectsOf = async (relay, u) => expectStatus(await api(relay, 'GET', '/api/v1/projects', undefined, u.token), 200, relay).projects.map((p) => p.id);
const pendingIds = async (relay, owner, projectId) =>
  expectStatus(await api(relay, 'GET', `/api/v1/projects/${projectId}/invitations`, undefined, owner.token), 200, relay).invitations;

function run(args) {
  return new Promise((resolve) => {
    const p = spawn(RELAY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sqlite = (db, sql) => new Promise((resolve, reject) => {
  const p = spawn('sqlite3', ['-cmd', '.timeout 5000', db, sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`sqlite3: ${err}`))));
});

/** An owner with a project whose device has a connector online. */
async function ownerWithDevice(relay) {
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Corp');
  const { device, pairing_code } = await createDevice(relay, owner.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  const connector = await connectorHello(relay, device.id, paired.token);
  return { owner, project, device, paired, connector };
}

test('a stranger who registers an invited address gets nothing until the address is proven, then only by accepting', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { owner, project, device } = await ownerWithDevice(relay);
  const hire = `new.hire.${randomId(4)}@corp.example`;
  const r = await invite(relay, owner.token, project.id, hire);
  assert.deepEqual(Object.keys(expectStatus(r, 200, relay)).sort(), ['invitation_id', 'message', 'status']);
  assert.equal(r.body.status, 'invited');
  // the address is told, by mail, with no secret in it
  const [note] = await mailsTo(relay, hire, /invited you to the clawlink project "Corp"/);
  assert.match(note.text, new RegExp(`${relay.url}/invitations`), note.text);
  assert.doesNotMatch(note.text, /#token=/, 'an invitation mail carries no token');

  // someone signs up with the address: no membership, no device, no list
  const stranger = await signup(relay, hire);
  assert.equal(stranger.user.email_verified, false, JSON.stringify(stranger.user));
  assert.deepEqual(await projectsOf(relay, stranger), []);
  assertError(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, stranger.token), 404, 'not_found', relay);
  assert.deepEqual(await inbox(relay, stranger), { email_verified: false, invitations: [] });
  const [pending] = await pendingIds(relay, owner, project.id);
  for (const verb of ['accept', 'decline']) {
    assertError(await api(relay, 'POST', `/api/v1/me/invitations/${pending.id}/${verb}`, undefined, stranger.token), 403, 'email_unverified', relay);
  }
  // an unproven caller learns nothing from ids either: the same 403
  assertError(await api(relay, 'POST', `/api/v1/me/invitations/${crypto.randomUUID()}/accept`, undefined, stranger.token), 403, 'email_unverified', relay);
  assert.deepEqual(await projectsOf(relay, stranger), []);

  // whoever holds the mailbox proves it: the invitation shows, still not a member
  await verifyEmail(relay, stranger);
  const me = expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, stranger.token), 200, relay).user;
  assert.equal(me.email_verified, true);
  const box = await inbox(relay, stranger);
  assert.equal(box.email_verified, true);
  assert.deepEqual(box.invitations.map((i) => [i.id, i.project_id, i.project_name, i.invited_by?.email]),
    [[pending.id, project.id, 'Corp', owner.email]], JSON.stringify(box));
  assert.deepEqual(await projectsOf(relay, stranger), [], 'proving the address joins nothing by itself');
  // accepting makes a member
  expectStatus(await api(relay, 'POST', `/api/v1/me/invitations/${pending.id}/accept`, undefined, stranger.token), 200, relay);
  assert.deepEqual(await projectsOf(relay, stranger), [project.id]);
  assert.deepEqual((await inbox(relay, stranger)).invitations, []);
  assert.deepEqual(await pendingIds(relay, owner, project.id), []);
  assertError(await api(relay, 'POST', `/api/v1/me/invitations/${pending.id}/accept`, undefined, stranger.token), 404, 'not_found', relay);
  expectStatus(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, stranger.token), 200, relay);
}));

test('an account registered first and invited later is not a member until proven and accepted; others cannot answer for it', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { owner, project } = await ownerWithDevice(relay);
  const cfo = await signup(relay, `cfo.${randomId(4)}@corp.example`);
  const other = await signup(relay);
  await verifyEmail(relay, other);
  expectStatus(await invite(relay, owner.token, project.id, cfo.email), 200, relay);
  assert.deepEqual(await projectsOf(relay, cfo), []);
  assert.deepEqual(await inbox(relay, cfo), { email_verified: false, invitations: [] });
  await verifyEmail(relay, cfo);
  const [inv] = (await inbox(relay, cfo)).invitations;
  assert.equal(inv.project_id, project.id);
  // another proven user cannot see or answer it
  assert.deepEqual((await inbox(relay, other)).invitations, []);
  assertError(await api(relay, 'POST', `/api/v1/me/invitations/${inv.id}/accept`, undefined, other.token), 404, 'not_found', relay);
  assertError(await api(relay, 'POST', `/api/v1/me/invitations/${inv.id}/accept`), 401, 'unauthorized', relay);
  assert.deepEqual(await projectsOf(relay, other), []);
  assert.deepEqual(await projectsOf(relay, cfo), []);
  await acceptInvitation(relay, cfo, project.id);
  assert.deepEqual(await projectsOf(relay, cfo), [project.id]);
  // already a member: inviting again says so (the owner sees members anyway)
  assertError(await invite(relay, owner.token, project.id, cfo.email), 409, 'already_member', relay);
}));

test('invite-member answers the same for an address with an account and one without', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  const existing = await signup(relay);
  const verified = await signup(relay);
  await verifyEmail(relay, verified);
  const answers = [];
  for (const email of [existing.email, verified.email, `nobody.${randomId()}@example.test`]) {
    const r = await invite(relay, owner.token, project.id, email);
    answers.push(r);
  }
  const shape = (r) => ({
    status: r.status,
    type: r.headers.get('content-type'),
    body: { ...r.body, invitation_id: typeof r.body.invitation_id },
  });
  for (const r of answers) assert.deepEqual(shape(r), shape(answers[2]), `${show(r)}\nvs\n${show(answers[2])}`);
  assert.equal(answers[0].body.status, 'invited');
  // and nobody was added: the owner is the only member
  const members = expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}/members`, undefined, owner.token), 200, relay).members;
  assert.deepEqual(members.map((m) => m.user_id), [owner.user.id]);
  // every address was mailed alike
  for (const email of [existing.email, verified.email]) await mailsTo(relay, email, /invited you to the clawlink project/);
}));

test('limits: invitations per project and per inviter an hour (429 Retry-After), pending invitations per project (409)', { timeout: TEST_TIMEOUT }, e2e(async () => {
  // the cap, small on this relay
  const small = await startRelay({ extraArgs: ['--max-pending-invitations', '3'] });
  const o = await signup(small);
  const p = await createProject(small, o.token);
  for (let i = 0; i < 3; i++) expectStatus(await invite(small, o.token, p.id, `cap${i}.${randomId(3)}@example.test`), 200, small);
  const over = await invite(small, o.token, p.id, `cap-over.${randomId(3)}@example.test`);
  assertError(over, 409, 'too_many_invitations', small);
  assert.match(over.body.error.message, /3 pending invitations/);
  // cancelling one makes room
  const [first] = await pendingIds(small, o, p.id);
  expectStatus(await api(small, 'DELETE', `/api/v1/projects/${p.id}/invitations/${first.id}`, undefined, o.token), 200, small);
  expectStatus(await invite(small, o.token, p.id, `cap-again.${randomId(3)}@example.test`), 200, small);
  await small.stop();

  // the rates, at their defaults (CL_INVITE_RATE_PER_PROJECT 20, _PER_USER 30)
  const relay = await startRelay();
  const owner = await signup(relay);
  const a = await createProject(relay, owner.token, 'a');
  const b = await createProject(relay, owner.token, 'b');
  const assert429 = (r, what) => {
    assertError(r, 429, 'rate_limited', relay);
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 3600, `${what}: Retry-After ${r.headers.get('retry-after')}`);
  };
  for (let i = 0; i < 20; i++) expectStatus(await invite(relay, owner.token, a.id, `a${i}.${randomId(3)}@example.test`), 200, relay);
  assert429(await invite(relay, owner.token, a.id, `a-over.${randomId(3)}@example.test`), 'per project');
  for (let i = 0; i < 8; i++) expectStatus(await invite(relay, owner.token, b.id, `b${i}.${randomId(3)}@example.test`), 200, relay);
  // 21 counted for the inviter on a (the refused one too), 8 on b: the 30th goes through, the 31st not
  expectStatus(await invite(relay, owner.token, b.id, `b9.${randomId(3)}@example.test`), 200, relay);
  assert429(await invite(relay, owner.token, b.id, `b-over.${randomId(3)}@example.test`), 'per inviter');
  assert.equal((await pendingIds(relay, owner, a.id)).length, 20);
  // someone else's project is not slowed by it
  const other = await signup(relay);
  const c = await createProject(relay, other.token);
  expectStatus(await invite(relay, other.token, c.id, `c.${randomId(3)}@example.test`), 200, relay);
}));

test('decline: no membership, gone from both lists; the owner may invite again', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  const u = await signup(relay);
  expectStatus(await invite(relay, owner.token, project.id, u.email), 200, relay);
  await verifyEmail(relay, u);
  const [inv] = (await inbox(relay, u)).invitations;
  const r = await api(relay, 'POST', `/api/v1/me/invitations/${inv.id}/decline`, undefined, u.token);
  assert.deepEqual(expectStatus(r, 200, relay), { ok: true, project_id: project.id });
  assert.deepEqual(await projectsOf(relay, u), []);
  assert.deepEqual((await inbox(relay, u)).invitations, []);
  assert.deepEqual(await pendingIds(relay, owner, project.id), []);
  assertError(await api(relay, 'POST', `/api/v1/me/invitations/${inv.id}/accept`, undefined, u.token), 404, 'not_found', relay);
  expectStatus(await invite(relay, owner.token, project.id, u.email), 200, relay);
  await acceptInvitation(relay, u, project.id);
  assert.deepEqual(await projectsOf(relay, u), [project.id]);
}));

test('leave: a member leaves and their terminals close at once; the last owner cannot; outsiders get 404', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { owner, project, device } = await ownerWithDevice(relay);
  const m = await signup(relay);
  await addMember(relay, owner.token, project.id, m);
  const sid = await startSession(relay, m.token, device.id);
  const view = await browserAuth(relay, m.token, sid, device.id, { label: 'member viewer' });
  // a session of the owner's, shared with the member, watched by them
  const ownerSid = await startSession(relay, owner.token, device.id);
  expectStatus(await api(relay, 'POST', `/api/v1/sessions/${ownerSid}/shares`, { email: m.email, mode: 'view' }, owner.token), 201, relay);
  const watch = await browserAuth(relay, m.token, ownerSid, device.id, { label: 'member watching the owner' });

  const outsider = await signup(relay);
  assertError(await api(relay, 'POST', `/api/v1/projects/${project.id}/leave`, undefined, outsider.token), 404, 'not_found', relay);
  assertError(await api(relay, 'POST', `/api/v1/projects/${project.id}/leave`), 401, 'unauthorized', relay);
  const refused = await api(relay, 'POST', `/api/v1/projects/${project.id}/leave`, undefined, owner.token);
  assertError(refused, 409, 'last_owner', relay);
  assert.match(refused.body.error.message, /delete/);

  expectStatus(await api(relay, 'POST', `/api/v1/projects/${project.id}/leave`, undefined, m.token), 200, relay);
  // both sockets close now, not at the next ping
  const end = await view.next((x) => x.type === 'session_end');
  assert.equal(end.data.reason, 'member_removed', JSON.stringify(end));
  await watch.next((x) => x.type === 'error' && x.data?.code === 'share_revoked');
  assert.deepEqual(await projectsOf(relay, m), []);
  assertError(await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, m.token), 404, 'not_found', relay);
  assertError(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, m.token), 404, 'not_found', relay);
  const s = expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}/sessions?status=ended`, undefined, owner.token), 200, relay);
  assert.ok(s.sessions.some((x) => x.id === sid && x.end_reason === 'member_removed'), JSON.stringify(s));
  // the owner's own session goes on
  expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, owner.token), 200, relay);
  assertError(await api(relay, 'POST', `/api/v1/projects/${project.id}/leave`, undefined, m.token), 404, 'not_found', relay);
}));

test('verification links: mailed at sign-up, hashed at rest, single-use, expiring; resend is rate-limited; the operator command', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const token = await verificationToken(relay, u.email);
  const [mail] = await mailsTo(relay, u.email, VERIFY_LINK_RE);
  assert.equal(mail.m[1], `${relay.url}/verify-email`, `the link points at the relay, the token in the fragment:\n${mail.text}`);
  assert.equal(/[?&]token/.test(mail.text), false, 'never in a query string');
  // hashed at rest: the database does not hold the token
  const db = path.join(relay.dataDir, 'clawlink.db');
  const rows = await sqlite(db, 'SELECT hex(token_hash), email FROM email_verifications');
  assert.match(rows, new RegExp(`^[0-9A-F]{64}\\|${u.email.replace(/[.]/g, '\\.')}$`, 'm'), rows);
  assert.equal(rows.includes(token), false);

  // bad tokens
  assertError(await api(relay, 'POST', '/api/v1/auth/verify-email', {}), 400, 'invalid_request', relay);
  assertError(await api(relay, 'POST', '/api/v1/auth/verify-email', { token: `clv_${'A'.repeat(43)}` }), 400, 'invalid_token', relay);
  // once
  const ok = await api(relay, 'POST', '/api/v1/auth/verify-email', { token });
  assert.deepEqual(expectStatus(ok, 200, relay), { ok: true, email: u.email });
  assertError(await api(relay, 'POST', '/api/v1/auth/verify-email', { token }), 400, 'invalid_token', relay);
  assertError(await api(relay, 'POST', '/api/v1/me/verify-email', undefined, u.token), 409, 'already_verified', relay);
  const audit = await sqlite(db, `SELECT email_verified_at > 0 FROM users WHERE id = '${u.user.id}'`);
  assert.equal(audit.trim(), '1', 'users.email_verified_at is set');

  // expiring: a link past its time is refused (410) and spent
  const v = await signup(relay);
  const vt = await verificationToken(relay, v.email);
  await sqlite(db, `UPDATE email_verifications SET expires_at = 1 WHERE user_id = '${v.user.id}'`);
  assertError(await api(relay, 'POST', '/api/v1/auth/verify-email', { token: vt }), 410, 'token_expired', relay);
  assertError(await api(relay, 'POST', '/api/v1/auth/verify-email', { token: vt }), 400, 'invalid_token', relay);
  assert.equal(expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, v.token), 200, relay).user.email_verified, false);

  // resend: a new link replaces the old; at most 5 links an hour (sign-up's included)
  const before = (await outbox(relay)).length;
  expectStatus(await api(relay, 'POST', '/api/v1/me/verify-email', undefined, v.token), 202, relay);
  await waitFor(async () => (await outbox(relay)).length > before, { what: 'the resent link' });
  const fresh = await verificationToken(relay, v.email);
  assert.notEqual(fresh, vt);
  let last;
  for (let i = 0; i < 4; i++) last = await api(relay, 'POST', '/api/v1/me/verify-email', undefined, v.token);
  assertError(last, 429, 'rate_limited', relay);
  assert.match(last.headers.get('retry-after') || '', /^\d+$/);
  assertError(await api(relay, 'POST', '/api/v1/me/verify-email'), 401, 'unauthorized', relay);

  // the operator's command, for a relay without mail
  const w = await signup(relay);
  let out = await run(['verify-email', '--data', relay.dataDir, w.email.toUpperCase()]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /address proven/);
  assert.equal(expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, w.token), 200, relay).user.email_verified, true);
  out = await run(['verify-email', '--data', relay.dataDir, `nobody.${randomId()}@example.test`]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /no user/);
  out = await run(['verify-email', '--data', relay.dataDir]);
  assert.equal(out.code, 2);

  assertNoSecrets(relay, [token, vt, fresh], 'relay');
}));

test('accounts from before the consent migration start unproven; their memberships stay', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  const m = await signup(relay);
  await addMember(relay, owner.token, project.id, m);
  // as migration 9 leaves an existing account: NULL
  const db = path.join(relay.dataDir, 'clawlink.db');
  await sqlite(db, `UPDATE users SET email_verified_at = NULL WHERE id = '${m.user.id}'`);
  assert.equal(expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, m.token), 200, relay).user.email_verified, false);
  assert.deepEqual(await projectsOf(relay, m), [project.id]);
  const p2 = await createProject(relay, owner.token);
  expectStatus(await invite(relay, owner.token, p2.id, m.email), 200, relay);
  assert.deepEqual(await inbox(relay, m), { email_verified: false, invitations: [] });
}));
