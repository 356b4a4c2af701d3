// The control plane, black-box: projects (rename, delete), members (list,
// remove), invitations (list, cancel), devices (get, rename, new pairing
// code, re-pairing, delete), session history, relay-nodes and
// download-connector, against docs/api.md. Who may do what follows seed 001
// "Roles & Permissions": owners change, members look, outsiders get 404,
// anonymous 401. Sign-up is rate-limited per address (10 a minute), so each
// test starts its own relay and signs up only a few users.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, pairViaHttp, randomId, tail, connectorHello, browserAuth, startSession, waitFor,
  assertNoSecrets, isType, isError, expectClose, wsClient, msg, openTerminal, listDevices, tempDir,
  AGENT_BIN,
} from './lib/harness.mjs';
import { addMember } from './lib/mail.mjs';
import { setupAgent } from './lib/extra.mjs';

after(cleanupAll);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** Asserts status and the error envelope {"error": {"code", "message"}}. */
function assertError(r, status, code, relay) {
  const ctx = `${show(r)}\n--- relay log ---\n${tail(relay.logs(), 20)}`;
  assert.equal(r.status, status, `status: ${ctx}`);
  assert.ok(r.body && typeof r.body.error === 'object' && r.body.error !== null, `error envelope: ${ctx}`);
  assert.equal(typeof r.body.error.message, 'string', `error.message: ${ctx}`);
  assert.ok(r.body.error.message.length > 0, `error.message is not empty: ${ctx}`);
  if (code !== undefined) assert.equal(r.body.error.code, code, `error.code: ${ctx}`);
}

/** The same request as owner, member, outsider and anonymous → the four statuses. */
async function asEach(relay, method, pathname, body, { owner, member, other }, want) {
  const who = [['owner', owner.token], ['member', member.token], ['other user', other.token], ['anonymous', undefined]];
  const codes = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' };
  for (let i = 0; i < who.length; i++) {
    const r = await api(relay, method, pathname, body, who[i][1]);
    if (want[i] >= 400) assertError(r, want[i], codes[want[i]], relay);
    else assert.equal(r.status, want[i], `${who[i][0]}: ${show(r)}`);
  }
}

const invite = (relay, token, projectId, email) =>
  api(relay, 'POST', '/functions/v1/invite-member', { project_id: projectId, email }, token);

/** A hand-made connector's hello with a token the relay must refuse. */
async function helloRefused(relay, deviceId, token) {
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'refused connector' });
  c.send(msg('hello', { device_id: deviceId, token, meta: { name: 'x' } }));
  await c.next(isError('auth_failed'));
  await expectClose(c, 1008);
}

/** Alice owns a project, Bob is a member of it, Carol is a stranger with a project of her own. */
async function trio(relay) {
  const alice = await signup(relay);
  const bob = await signup(relay);
  const carol = await signup(relay);
  const project = await createProject(relay, alice.token, 'Home Lab');
  await createProject(relay, carol.token, 'Carol\'s');
  await addMember(relay, alice.token, project.id, bob);
  return { alice, bob, carol, project, who: { owner: alice, member: bob, other: carol } };
}

test('projects: rename and delete are the owner\'s; deleting closes the agents and ends the sessions', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { alice, bob, carol, project, who } = await trio(relay);
  const base = `/api/v1/projects/${project.id}`;

  // rename: owner 200, member 403, outsider 404, anonymous 401
  await asEach(relay, 'PATCH', base, { name: 'Renamed' }, who, [200, 403, 404, 401]);
  let r = await api(relay, 'PATCH', base, { name: 'Home Lab 2' }, alice.token);
  const renamed = expectStatus(r, 200, relay).project;
  assert.equal(renamed.name, 'Home Lab 2', show(r));
  assert.equal(renamed.role, 'owner', show(r));
  assert.ok(renamed.updated_at >= project.updated_at, show(r));
  r = await api(relay, 'GET', base, undefined, bob.token);
  assert.equal(expectStatus(r, 200, relay).project.name, 'Home Lab 2', show(r));
  assert.equal(r.body.project.role, 'member', show(r));

  // bad input: nothing changes
  for (const body of [{}, { name: 5 }, { name: '   ' }, { name: 'a'.repeat(129) }, { name: 'tab\there' }, { name: null }]) {
    assertError(await api(relay, 'PATCH', base, body, alice.token), 400, 'invalid_request', relay);
  }
  assertError(await api(relay, 'PATCH', base, '{"name":', alice.token), 400, 'bad_json', relay);
  assertError(await api(relay, 'PATCH', base, '["x"]', alice.token), 400, 'bad_json', relay);
  assertError(await api(relay, 'PATCH', base, { name: 'x'.repeat(70_000) }, alice.token), 413, 'body_too_large', relay);
  assertError(await api(relay, 'PATCH', `/api/v1/projects/${crypto.randomUUID()}`, { name: 'x' }, alice.token), 404, 'not_found', relay);
  assertError(await api(relay, 'PATCH', '/api/v1/projects/not-a-uuid', { name: 'x' }, alice.token), 404, 'not_found', relay);
  r = await api(relay, 'GET', base, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).project.name, 'Home Lab 2', show(r));

  // the list is each user's own
  r = await api(relay, 'GET', '/api/v1/projects', undefined, carol.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects.map((p) => p.name), ['Carol\'s'], show(r));
  r = await api(relay, 'GET', '/api/v1/projects', undefined, bob.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects.map((p) => p.id), [project.id], show(r));

  // a device with a live agent, Bob watching his own session on it
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  const agent = await connectorHello(relay, device.id, paired.token);
  const sid = await startSession(relay, bob.token, device.id);
  const view = await browserAuth(relay, bob.token, sid, device.id);

  // delete: member 403, outsider 404, anonymous 401 — nothing happens
  assertError(await api(relay, 'DELETE', base, undefined, bob.token), 403, 'forbidden', relay);
  assertError(await api(relay, 'DELETE', base, undefined, carol.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', base, undefined), 401, 'unauthorized', relay);
  assert.equal(view.pending(isType('session_end')).length, 0, 'nothing ended yet');

  r = await api(relay, 'DELETE', base, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  const end = await view.next(isType('session_end', (m) => m.data?.session_id === sid));
  assert.equal(end.data.reason, 'project_deleted', JSON.stringify(end));
  await expectClose(agent, 4004);
  await helloRefused(relay, device.id, paired.token);
  for (const u of [alice, bob]) {
    assertError(await api(relay, 'GET', base, undefined, u.token), 404, 'not_found', relay);
    r = await api(relay, 'GET', '/api/v1/projects', undefined, u.token);
    assert.deepEqual(expectStatus(r, 200, relay).projects, [], show(r));
  }
  assertError(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, alice.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', base, undefined, alice.token), 404, 'not_found', relay);
  assertNoSecrets(relay, [alice.token, bob.token, carol.token, paired.token, pairing_code], 'relay');
}));

test('members and invitations: members see them, the owner removes and cancels; a removed member loses sessions and shares', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { alice, bob, carol, project, who } = await trio(relay);
  const dave = await signup(relay);
  const base = `/api/v1/projects/${project.id}`;
  await addMember(relay, alice.token, project.id, dave);

  // members: everyone in the project sees everyone, owner first
  await asEach(relay, 'GET', `${base}/members`, undefined, who, [200, 200, 404, 401]);
  let r = await api(relay, 'GET', `${base}/members`, undefined, bob.token);
  const members = expectStatus(r, 200, relay).members;
  assert.deepEqual(members.map((m) => [m.user_id, m.role]), [[alice.user.id, 'owner'], [bob.user.id, 'member'], [dave.user.id, 'member']], show(r));
  assert.equal(members[1].email, bob.email, show(r));
  assert.equal(members[1].display_name, 'E2E User', show(r));
  assert.equal(members[1].invited_by, alice.user.id, show(r));
  assert.equal(members[0].invited_by, null, show(r));
  assert.equal(typeof members[1].joined_at, 'number', show(r));

  // invitations: pending ones, visible to members; only the owner cancels
  const pendingEmail = `pending-${randomId()}@example.test`;
  r = await invite(relay, alice.token, project.id, pendingEmail);
  assert.equal(expectStatus(r, 200, relay).status, 'invited', show(r));
  assertError(await invite(relay, alice.token, project.id, pendingEmail.toUpperCase()), 409, 'already_invited', relay);
  assertError(await invite(relay, alice.token, project.id, dave.email), 409, 'already_member', relay);
  assertError(await invite(relay, alice.token, project.id, 'not-an-email'), 400, 'invalid_request', relay);
  assertError(await invite(relay, alice.token, project.id, 42), 400, 'invalid_request', relay);
  assertError(await invite(relay, bob.token, project.id, 'x@example.test'), 403, 'forbidden', relay);
  await asEach(relay, 'GET', `${base}/invitations`, undefined, who, [200, 200, 404, 401]);
  r = await api(relay, 'GET', `${base}/invitations`, undefined, bob.token);
  const invs = expectStatus(r, 200, relay).invitations;
  assert.equal(invs.length, 1, show(r));
  assert.equal(invs[0].email, pendingEmail, show(r));
  assert.equal(invs[0].status, 'pending', show(r));
  assert.equal(invs[0].invited_by, alice.user.id, show(r));
  assert.match(invs[0].id, UUID_RE, show(r));
  const invPath = `${base}/invitations/${invs[0].id}`;
  await asEach(relay, 'DELETE', invPath, undefined, { ...who, owner: { token: undefined } }, [401, 403, 404, 401]);
  r = await api(relay, 'DELETE', invPath, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  assertError(await api(relay, 'DELETE', invPath, undefined, alice.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', `${base}/invitations/${crypto.randomUUID()}`, undefined, alice.token), 404, 'not_found', relay);
  r = await api(relay, 'GET', `${base}/invitations`, undefined, alice.token);
  assert.deepEqual(expectStatus(r, 200, relay).invitations, [], show(r));
  // a cancelled invitation is not fulfilled when that address signs up
  const late = await signup(relay, pendingEmail);
  r = await api(relay, 'GET', '/api/v1/projects', undefined, late.token);
  assert.deepEqual(expectStatus(r, 200, relay).projects, [], show(r));

  // removing: owner only; the owner cannot be removed; members cannot remove themselves
  const bobPath = `${base}/members/${bob.user.id}`;
  assertError(await api(relay, 'DELETE', `${base}/members/${dave.user.id}`, undefined, bob.token), 403, 'forbidden', relay);
  assertError(await api(relay, 'DELETE', bobPath, undefined, bob.token), 403, 'forbidden', relay);
  assertError(await api(relay, 'DELETE', bobPath, undefined, carol.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', bobPath, undefined), 401, 'unauthorized', relay);
  assertError(await api(relay, 'DELETE', `${base}/members/${alice.user.id}`, undefined, alice.token), 409, 'owner_cannot_be_removed', relay);
  assertError(await api(relay, 'DELETE', `${base}/members/${carol.user.id}`, undefined, alice.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', `${base}/members/${crypto.randomUUID()}`, undefined, alice.token), 404, 'not_found', relay);

  // Bob has a live session on the project's device, and watches Alice's, shared with him
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  const agent = await connectorHello(relay, device.id, paired.token);
  const bobSid = await startSession(relay, bob.token, device.id);
  const bobView = await browserAuth(relay, bob.token, bobSid, device.id, { label: 'bob, own session' });
  const aliceSid = await startSession(relay, alice.token, device.id);
  const aliceView = await browserAuth(relay, alice.token, aliceSid, device.id, { label: 'alice' });
  expectStatus(await api(relay, 'POST', `/api/v1/sessions/${aliceSid}/shares`, { email: bob.email, mode: 'view' }, alice.token), 201, relay);
  const bobWatch = await browserAuth(relay, bob.token, aliceSid, device.id, { label: 'bob watching alice' });

  r = await api(relay, 'DELETE', bobPath, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  const end = await bobView.next(isType('session_end', (m) => m.data?.session_id === bobSid));
  assert.equal(end.data.reason, 'member_removed', JSON.stringify(end));
  const agentEnd = await agent.next(isType('session_end', (m) => m.data?.session_id === bobSid));
  assert.equal(agentEnd.data.reason, 'member_removed', JSON.stringify(agentEnd));
  await expectClose(bobWatch, 4003);
  assert.equal(aliceView.pending(isType('session_end')).length, 0, 'alice\'s session goes on');
  assertError(await api(relay, 'GET', base, undefined, bob.token), 404, 'not_found', relay);
  assertError(await api(relay, 'POST', '/functions/v1/start-session', { device_id: device.id }, bob.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', bobPath, undefined, alice.token), 404, 'not_found', relay);
  r = await api(relay, 'GET', `${base}/members`, undefined, alice.token);
  assert.deepEqual(expectStatus(r, 200, relay).members.map((m) => m.user_id), [alice.user.id, dave.user.id], show(r));
  // the history keeps Bob's session, ended, and his share of Alice's is gone
  r = await api(relay, 'GET', `${base}/sessions?status=ended`, undefined, alice.token);
  const ended = expectStatus(r, 200, relay).sessions;
  assert.deepEqual(ended.map((s) => [s.id, s.end_reason, s.user?.id]), [[bobSid, 'member_removed', bob.user.id]], show(r));
  r = await api(relay, 'GET', `/api/v1/sessions/${aliceSid}/shares`, undefined, alice.token);
  assert.deepEqual(expectStatus(r, 200, relay).shares, [], show(r));
  // added again, Bob gets no old share back
  await addMember(relay, alice.token, project.id, bob);
  const again = await wsClient(`${relay.wsUrl}/session`, { label: 'bob again' });
  again.send(msg('auth', { token: bob.token, session_id: aliceSid, device_id: device.id }));
  await again.next((m) => m.type === 'error');
  assertNoSecrets(relay, [alice.token, bob.token, carol.token, dave.token, paired.token], 'relay');
}));

test('devices: members see them, owners rename, re-code and delete; re-pairing retires the old token', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { alice, bob, project, who } = await trio(relay);
  const created = await createDevice(relay, alice.token, project.id, 'box');
  const dev = `/api/v1/devices/${created.device.id}`;
  assert.equal(created.device.kind, 'connector', JSON.stringify(created));
  assert.equal(created.device.pairing_code_expires_at, created.pairing_code_expires_at, JSON.stringify(created));

  // get: members yes, others no
  await asEach(relay, 'GET', dev, undefined, who, [200, 200, 404, 401]);
  let r = await api(relay, 'GET', dev, undefined, bob.token);
  let d = expectStatus(r, 200, relay).device;
  assert.deepEqual([d.id, d.name, d.status, d.paired, d.last_seen], [created.device.id, 'box', 'offline', false, null], show(r));
  assertError(await api(relay, 'GET', `/api/v1/devices/${crypto.randomUUID()}`, undefined, alice.token), 404, 'not_found', relay);

  // rename
  await asEach(relay, 'PATCH', dev, { name: 'box one' }, who, [200, 403, 404, 401]);
  for (const body of [{}, { name: 7 }, { name: '' }, { name: ' ' }, { name: 'x'.repeat(129) }]) {
    assertError(await api(relay, 'PATCH', dev, body, alice.token), 400, 'invalid_request', relay);
  }
  r = await api(relay, 'PATCH', dev, { name: 'büro-pc' }, alice.token);
  assert.equal(expectStatus(r, 200, relay).device.name, 'büro-pc', show(r));
  assert.equal((await listDevices(relay, bob.token, project.id))[0].name, 'büro-pc');

  // a new pairing code kills the old one
  assertError(await api(relay, 'POST', `${dev}/pairing-code`, undefined, bob.token), 403, 'forbidden', relay);
  r = await api(relay, 'POST', `${dev}/pairing-code`, undefined, alice.token);
  const code2 = expectStatus(r, 200, relay);
  assert.match(code2.pairing_code, /^[A-HJ-NP-Z2-9]{8}$/, show(r));
  assert.notEqual(code2.pairing_code, created.pairing_code, show(r));
  assert.equal(code2.device.pairing_code_expires_at, code2.pairing_code_expires_at, show(r));
  assertError(await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: created.pairing_code }), 404, 'invalid_code', relay);
  const first = await pairViaHttp(relay, code2.pairing_code, 'first');
  assert.equal(first.device_id, created.device.id);
  r = await api(relay, 'GET', dev, undefined, alice.token);
  d = expectStatus(r, 200, relay).device;
  assert.deepEqual([d.paired, d.pairing_code_expires_at], [true, null], show(r));

  // connected with the first token: a new code changes nothing yet ...
  const agent1 = await connectorHello(relay, d.id, first.token, { label: 'agent with the first token' });
  const sid = await startSession(relay, alice.token, d.id);
  const view = await browserAuth(relay, alice.token, sid, d.id);
  r = await api(relay, 'POST', `${dev}/pairing-code`, undefined, alice.token);
  const code3 = expectStatus(r, 200, relay).pairing_code;
  assert.equal(agent1.closeInfo, null, 'the agent stays until the new code is used');
  // ... using it replaces the token: the old connection goes, its sessions end
  const second = await pairViaHttp(relay, code3, 'second');
  await expectClose(agent1, 4004);
  const end = await view.next(isType('session_end', (m) => m.data?.session_id === sid));
  assert.equal(end.data.reason, 'device_repaired', JSON.stringify(end));
  await helloRefused(relay, d.id, first.token);
  const agent2 = await connectorHello(relay, d.id, second.token, { label: 'agent with the second token' });
  r = await api(relay, 'GET', dev, undefined, alice.token);
  assert.deepEqual([r.body.device.name, r.body.device.status], ['second', 'online'], show(r));

  // delete: owner only; the agent is closed and its token is dead
  await asEach(relay, 'DELETE', dev, undefined, { ...who, owner: { token: undefined } }, [401, 403, 404, 401]);
  assert.equal(agent2.closeInfo, null, 'refused deletes change nothing');
  r = await api(relay, 'DELETE', dev, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  await expectClose(agent2, 4004);
  await helloRefused(relay, d.id, second.token);
  assertError(await api(relay, 'GET', dev, undefined, alice.token), 404, 'not_found', relay);
  assertError(await api(relay, 'DELETE', dev, undefined, alice.token), 404, 'not_found', relay);
  assert.deepEqual(await listDevices(relay, alice.token, project.id), []);
  assertNoSecrets(relay, [alice.token, bob.token, first.token, second.token, code2.pairing_code, code3], 'relay');
}));

test('deleting a device with a live terminal: the viewer hears device_deleted, the real agent is closed, its token stops working', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setupAgent();
  const { relay, token, deviceId } = env;
  const term = await openTerminal(relay, token, deviceId);
  term.write('echo ok-$((6*7))\r');
  await term.readUntil(/ok-42/);
  const logFrom = env.agent.logs().length;

  const r = await api(relay, 'DELETE', `/api/v1/devices/${deviceId}`, undefined, token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  const end = await term.ws.next(isType('session_end', (m) => m.data?.session_id === term.sessionId));
  assert.equal(end.data.reason, 'device_deleted', JSON.stringify(end));
  await waitFor(() => /disconnected from relay.*close=4004/.test(env.agent.logs().slice(logFrom)), {
    what: 'the agent to log that the relay closed it with 4004', describe: () => tail(env.agent.logs(), 20),
  });
  await helloRefused(relay, deviceId, env.paired.config.token);
  assert.match(relay.logs(), /device removed: closing its agent.*reason=device_deleted/);
  await env.agent.stop();
}));

test('session history: who, which device, when, how it ended; filters and cursor pages; members only', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const { alice, bob, project, who } = await trio(relay);
  const devs = [];
  for (const name of ['one', 'two']) {
    const { device, pairing_code } = await createDevice(relay, alice.token, project.id, name);
    const p = await pairViaHttp(relay, pairing_code, name);
    devs.push({ id: device.id, name, agent: await connectorHello(relay, device.id, p.token, { label: name }) });
  }
  // seven sessions, most in the same second (ties are ordered by id)
  const started = [];
  for (let i = 0; i < 7; i++) {
    const d = devs[i % 2];
    const u = i === 3 ? bob : alice;
    started.push({ id: await startSession(relay, u.token, d.id), device: d, user: u });
  }
  for (const s of [started[0], started[3]]) {
    expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: s.id }, s.user.token), 200, relay);
  }
  const base = `/api/v1/projects/${project.id}/sessions`;
  await asEach(relay, 'GET', base, undefined, who, [200, 200, 404, 401]);

  let r = await api(relay, 'GET', base, undefined, bob.token);
  const all = expectStatus(r, 200, relay);
  assert.equal(all.sessions.length, 7, show(r));
  assert.equal(all.next_cursor, null, show(r));
  assert.deepEqual(new Set(all.sessions.map((s) => s.id)), new Set(started.map((s) => s.id)), show(r));
  for (let i = 1; i < all.sessions.length; i++) {
    const [a, b] = [all.sessions[i - 1], all.sessions[i]];
    assert.ok(a.started_at > b.started_at || (a.started_at === b.started_at && a.id > b.id), `newest first: ${show(r)}`);
  }
  const byId = Object.fromEntries(all.sessions.map((s) => [s.id, s]));
  const s3 = byId[started[3].id];
  assert.deepEqual([s3.status, s3.end_reason, s3.exit_code, s3.device_id, s3.device_name],
    ['ended', 'ended_by_user', null, devs[1].id, 'two'], JSON.stringify(s3));
  assert.deepEqual(s3.user, { id: bob.user.id, email: bob.email, display_name: 'E2E User' }, JSON.stringify(s3));
  assert.ok(s3.ended_at >= s3.started_at, JSON.stringify(s3));
  const s6 = byId[started[6].id];
  assert.deepEqual([s6.status, s6.ended_at, s6.end_reason], ['active', null, null], JSON.stringify(s6));

  // pages of three through next_cursor: every session once, in the same order
  const paged = [];
  let cursor = null;
  for (let page = 0; page < 5; page++) {
    r = await api(relay, 'GET', `${base}?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, alice.token);
    const b = expectStatus(r, 200, relay);
    assert.ok(b.sessions.length <= 3, show(r));
    paged.push(...b.sessions.map((s) => s.id));
    cursor = b.next_cursor;
    if (!cursor) break;
  }
  assert.equal(cursor, null, 'the last page says so');
  assert.deepEqual(paged, all.sessions.map((s) => s.id));

  // filters
  r = await api(relay, 'GET', `${base}?status=ended`, undefined, alice.token);
  assert.deepEqual(new Set(expectStatus(r, 200, relay).sessions.map((s) => s.id)), new Set([started[0].id, started[3].id]), show(r));
  r = await api(relay, 'GET', `${base}?status=active&device_id=${devs[0].id}`, undefined, alice.token);
  assert.deepEqual(new Set(expectStatus(r, 200, relay).sessions.map((s) => s.id)), new Set([started[2].id, started[4].id, started[6].id]), show(r));
  r = await api(relay, 'GET', `${base}?device_id=${devs[1].id}&limit=1`, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).sessions.length, 1, show(r));
  assert.equal(typeof r.body.next_cursor, 'string', show(r));

  // bad filters
  for (const q of ['status=live', `status=${'x'.repeat(100)}`, 'limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'limit=2x', 'cursor=garbage', 'cursor=1.2', `cursor=x.${crypto.randomUUID()}`]) {
    assertError(await api(relay, 'GET', `${base}?${q}`, undefined, alice.token), 400, 'invalid_request', relay);
  }
  assertError(await api(relay, 'GET', `${base}?device_id=${crypto.randomUUID()}`, undefined, alice.token), 404, 'not_found', relay);
  const other = await createProject(relay, alice.token, 'other');
  const { device: elsewhere } = await createDevice(relay, alice.token, other.id);
  assertError(await api(relay, 'GET', `${base}?device_id=${elsewhere.id}`, undefined, alice.token), 404, 'not_found', relay);
  r = await api(relay, 'GET', `${base}?limit=200`, undefined, alice.token);
  assert.equal(expectStatus(r, 200, relay).sessions.length, 7, show(r));
}));

test('relay-nodes: the paired devices of your own projects only, with kind, times and online', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const p1 = await createProject(relay, alice.token, 'p1');
  const p2 = await createProject(relay, alice.token, 'p2');
  const pb = await createProject(relay, bob.token, 'bob');
  const pairIn = async (token, project, name) => {
    const { device, pairing_code } = await createDevice(relay, token, project.id, name);
    return { id: device.id, ...(await pairViaHttp(relay, pairing_code, name)) };
  };
  const a1 = await pairIn(alice.token, p1, 'a1');
  const a2 = await pairIn(alice.token, p2, 'a2');
  await createDevice(relay, alice.token, p1.id, 'never paired');
  const b1 = await pairIn(bob.token, pb, 'b1');
  const before = Math.floor(Date.now() / 1000);
  const agent = await connectorHello(relay, a1.id, a1.token);
  await connectorHello(relay, b1.id, b1.token);

  assertError(await api(relay, 'GET', '/functions/v1/relay-nodes'), 401, 'unauthorized', relay);
  let r = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, alice.token);
  const nodes = expectStatus(r, 200, relay).nodes;
  assert.deepEqual(nodes.map((n) => [n.device_id, n.name, n.kind, n.online]).sort(),
    [[a1.id, 'a1', 'connector', true], [a2.id, 'a2', 'connector', false]].sort(), show(r));
  const n1 = nodes.find((n) => n.device_id === a1.id);
  assert.match(n1.connected_at, ISO_RE, show(r));
  assert.match(n1.last_heartbeat, ISO_RE, show(r));
  assert.ok(Date.parse(n1.connected_at) / 1000 >= before - 1, show(r));
  assert.equal(n1.project_id, p1.id, show(r));
  const n2 = nodes.find((n) => n.device_id === a2.id);
  assert.deepEqual([n2.connected_at, n2.last_heartbeat], [null, null], show(r));
  r = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, bob.token);
  assert.deepEqual(expectStatus(r, 200, relay).nodes.map((n) => n.device_id), [b1.id], show(r));

  // offline again: still listed, online false, connected_at kept
  agent.close();
  await waitFor(async () => {
    const x = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, alice.token);
    return x.body.nodes.find((n) => n.device_id === a1.id && n.online === false);
  }, { what: 'a1 to be offline in relay-nodes', describe: () => tail(relay.logs(), 10) });
  r = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, alice.token);
  assert.equal(r.body.nodes.find((n) => n.device_id === a1.id).connected_at, n1.connected_at, show(r));
}));

test('download-connector: the agent beside the relay for its platform, build steps otherwise, --connector-dir', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const fn = '/functions/v1/download-connector';
  assertError(await api(relay, 'GET', `${fn}?platform=linux-x86_64`), 401, 'unauthorized', relay);

  // no platform: what there is, and how to build
  let r = await api(relay, 'GET', fn, undefined, u.token);
  const info = expectStatus(r, 200, relay);
  assert.equal(info.available, false, show(r));
  assert.equal(info.platform, null, show(r));
  assert.match(info.host_platform, /^[a-z0-9_]+-[a-z0-9_]+$/, show(r));
  assert.deepEqual(info.platforms, [info.host_platform], `the build puts the agent beside the relay: ${show(r)}`);
  assert.ok(info.build.steps.some((s) => /cmake --build build --target clawlink/.test(s)), show(r));
  assert.ok(info.build.steps.some((s) => s.includes(`${relay.url}/functions/v1`)), show(r));

  // the host's platform: the very binary, as a download
  const res = await fetch(`${relay.url}${fn}?platform=${info.host_platform}`, { headers: { Authorization: `Bearer ${u.token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('content-disposition'), `attachment; filename="clawlink-${info.host_platform}"`);
  const got = Buffer.from(await res.arrayBuffer());
  const want = await readFile(AGENT_BIN);
  assert.equal(got.length, want.length);
  assert.ok(got.equals(want), 'the served bytes are the agent binary');
  // the connection is still good for JSON afterwards
  expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, u.token), 200, relay);

  // another platform: build steps, named
  r = await api(relay, 'GET', `${fn}?platform=darwin-arm64`, undefined, u.token);
  const other = expectStatus(r, 200, relay);
  assert.deepEqual([other.available, other.platform], [false, 'darwin-arm64'], show(r));
  assert.match(other.message, /darwin-arm64/, show(r));
  for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'linux', 'Linux-X86_64', 'a-b%2Fc', `${'a'.repeat(30)}-bbbb`, '-x86', 'linux-']) {
    assertError(await api(relay, 'GET', `${fn}?platform=${bad}`, undefined, u.token), 400, 'invalid_request', relay);
  }

  // --connector-dir: agents for other platforms by name; none for the host here
  const dir = await tempDir('clawlink-connectors-');
  await writeFile(path.join(dir, 'clawlink-linux-riscv64'), 'not really an agent\n');
  await chmod(path.join(dir, 'clawlink-linux-riscv64'), 0o755);
  await writeFile(path.join(dir, 'clawlink-..'), 'ignored\n');
  const relay2 = await startRelay({ extraArgs: ['--connector-dir', dir] });
  const u2 = await signup(relay2);
  r = await api(relay2, 'GET', fn, undefined, u2.token);
  assert.deepEqual(expectStatus(r, 200, relay2).platforms, ['linux-riscv64'], show(r));
  r = await api(relay2, 'GET', `${fn}?platform=linux-riscv64`, undefined, u2.token);
  assert.equal(r.status, 200, show(r));
  assert.equal(r.text, 'not really an agent\n');
  r = await api(relay2, 'GET', `${fn}?platform=${info.host_platform}`, undefined, u2.token);
  assert.equal(expectStatus(r, 200, relay2).available, false, show(r));
}));

test('deleting an account closes the agents of the devices that went with it', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { device, pairing_code } = await createDevice(relay, alice.token, project.id);
  const paired = await pairViaHttp(relay, pairing_code);
  const agent = await connectorHello(relay, device.id, paired.token);
  const r = await api(relay, 'POST', '/api/v1/me/delete', { password: alice.password }, alice.token);
  assert.equal(expectStatus(r, 200, relay).ok, true, show(r));
  await expectClose(agent, 4004);
  await helloRefused(relay, device.id, paired.token);
  assert.match(relay.logs(), /devices_removed=1/);
}));
