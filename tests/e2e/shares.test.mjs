// Shared sessions (docs/api.md, "Shared sessions", "Members"): the share
// endpoints' error paths, who is watching (GET …/viewers), several browsers
// of one user on one session, and sharing with a member added through
// invite-member (view, control, mode change, revoke, the owner's 403).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, signup, createProject, pairAgent, startAgent,
  startSession, waitFor, api, show,
} from './lib/harness.mjs';
import { addMember as joinProject } from './lib/mail.mjs';
import { OutputStream, openViewer } from './lib/extra.mjs';

after(cleanupAll);

async function setup() {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  const agent = await startAgent(paired.configPath, {
    relay, token: user.token, projectId: project.id, deviceId: paired.deviceId,
  });
  return { relay, user, token: user.token, projectId: project.id, deviceId: paired.deviceId, paired, agent };
}

const vopts = (env, sessionId, stream, extra = {}) => ({
  wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream, ...extra,
});

function expectError(r, status, code) {
  assert.equal(r.status, status, show(r));
  if (code) assert.equal(r.body?.error?.code, code, show(r));
  assert.equal(typeof r.body?.error?.message, 'string', `error shape {error: {code, message}}: ${show(r)}`);
}

test('share endpoints: not_a_member, yourself, bad mode, no such share, outsiders 404, anonymous 401, ended 409', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { relay, token } = env;
  const outsider = await signup(relay);
  const sessionId = await startSession(relay, token, env.deviceId);
  const s = new OutputStream();
  const v = await openViewer(scope, vopts(env, sessionId, s, { resumeOffset: 0, label: 'starter' }));
  await s.waitFor('$ ');
  const base = `/api/v1/sessions/${sessionId}`;

  // the starter
  expectError(await api(relay, 'POST', `${base}/shares`, { email: outsider.email, mode: 'view' }, token), 404, 'not_a_member');
  expectError(await api(relay, 'POST', `${base}/shares`, { email: `nobody-${Date.now()}@example.test`, mode: 'control' }, token), 404, 'not_a_member');
  expectError(await api(relay, 'POST', `${base}/shares`, { email: env.user.email, mode: 'view' }, token), 400);
  expectError(await api(relay, 'POST', `${base}/shares`, { email: env.user.email.toUpperCase(), mode: 'view' }, token), 400);
  expectError(await api(relay, 'POST', `${base}/shares`, { email: outsider.email, mode: 'admin' }, token), 400, 'invalid_request');
  expectError(await api(relay, 'POST', `${base}/shares`, { mode: 'view' }, token), 400, 'invalid_request');
  expectError(await api(relay, 'POST', `${base}/shares`, { email: outsider.email }, token), 400, 'invalid_request');
  expectError(await api(relay, 'POST', `${base}/shares`, '[1,2]', token), 400, 'bad_json');
  const list = await api(relay, 'GET', `${base}/shares`, undefined, token);
  assert.equal(list.status, 200, show(list));
  assert.deepEqual(list.body, { shares: [] }, show(list));
  expectError(await api(relay, 'DELETE', `${base}/shares/${outsider.user.id}`, undefined, token), 404);
  expectError(await api(relay, 'POST', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/shares', { email: outsider.email, mode: 'view' }, token), 404);
  expectError(await api(relay, 'GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/viewers', undefined, token), 404);

  // an outsider may not know the session exists
  expectError(await api(relay, 'POST', `${base}/shares`, { email: env.user.email, mode: 'control' }, outsider.token), 404);
  expectError(await api(relay, 'GET', `${base}/shares`, undefined, outsider.token), 404);
  expectError(await api(relay, 'DELETE', `${base}/shares/${env.user.user.id}`, undefined, outsider.token), 404);
  expectError(await api(relay, 'GET', `${base}/viewers`, undefined, outsider.token), 404);
  // and cannot attach either
  const intruder = await openViewer(scope, { ...vopts(env, sessionId, new OutputStream(), { expectAuthOk: false, label: 'outsider browser' }), token: outsider.token });
  const err = await intruder.next('error');
  assert.ok(['not_found', 'auth_failed'].includes(err.data?.code), JSON.stringify(err));
  assert.equal((await intruder.closed).code, 1008);

  // anonymous, or a token that is not one
  for (const tok of [undefined, 'clu_not-a-real-token']) {
    expectError(await api(relay, 'POST', `${base}/shares`, { email: outsider.email, mode: 'view' }, tok), 401, 'unauthorized');
    expectError(await api(relay, 'GET', `${base}/shares`, undefined, tok), 401, 'unauthorized');
    expectError(await api(relay, 'DELETE', `${base}/shares/${outsider.user.id}`, undefined, tok), 401, 'unauthorized');
    expectError(await api(relay, 'GET', `${base}/viewers`, undefined, tok), 401, 'unauthorized');
  }

  // the starter's own session is unaffected by all that
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n');

  // an ended session cannot be shared
  const end = await api(relay, 'POST', '/functions/v1/end-session', { session_id: sessionId }, token);
  assert.equal(end.status, 200, show(end));
  await v.next('session_end');
  expectError(await api(relay, 'POST', `${base}/shares`, { email: outsider.email, mode: 'view' }, token), 409, 'session_ended');
}));

test('two browsers of the starter on one session: both see everything; GET …/viewers lists who is attached', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { relay, token } = env;
  const sessionId = await startSession(relay, token, env.deviceId);
  const viewersNow = async () => {
    const r = await api(relay, 'GET', `/api/v1/sessions/${sessionId}/viewers`, undefined, token);
    assert.equal(r.status, 200, show(r));
    assert.ok(Array.isArray(r.body?.viewers), show(r));
    return r.body.viewers;
  };
  assert.deepEqual(await viewersNow(), [], 'nobody attached yet');

  const sa = new OutputStream();
  const sb = new OutputStream();
  const a = await openViewer(scope, vopts(env, sessionId, sa, { resumeOffset: 0, ack: 'explicit', label: 'browser A' }));
  await sa.waitFor('$ ');
  const b = await openViewer(scope, vopts(env, sessionId, sb, { resumeOffset: 0, label: 'browser B' }));
  await sb.waitFor('$ ');
  const b2started = await b.next((m) => m.type === 'session_started');
  assert.equal(b2started.data?.session_id, sessionId, 'a second browser gets session_started at once');

  const list = await viewersNow();
  assert.equal(list.length, 2, JSON.stringify(list));
  for (const w of list) {
    assert.deepEqual(Object.keys(w).sort(), ['display_name', 'email', 'mode', 'user_id'], JSON.stringify(w));
    assert.equal(w.user_id, env.user.user.id);
    assert.equal(w.email, env.user.email);
    assert.equal(w.display_name, env.user.user.display_name);
    assert.equal(w.mode, 'control', 'the starter controls its session');
  }

  a.write('echo FROM_A_$((1+1))\r');
  await sa.waitFor('FROM_A_2\r\n');
  await sb.waitFor('FROM_A_2\r\n');
  b.write('echo FROM_B_$((2+2))\r');
  await sb.waitFor('FROM_B_4\r\n');
  await sa.waitFor('FROM_B_4\r\n');
  for (const [v, st] of [[a, sa], [b, sb]]) {
    assert.deepEqual(v.problems, [], `${v.label}: offsets continuous`);
    assert.deepEqual(v.gaps, []);
    assert.equal(st.dups, 0);
  }
  const n = Math.min(sa.next, sb.next);
  assert.ok(sa.buffer().subarray(0, n).equals(sb.buffer().subarray(0, n)), 'both browsers got the same stream');

  await a.close();
  await waitFor(async () => (await viewersNow()).length === 1, { what: 'the closed browser to leave the viewer list' });
  await b.close();
  await waitFor(async () => (await viewersNow()).length === 0, { what: 'the viewer list to be empty' });

  // the session outlived its browsers
  const sc = new OutputStream();
  const c = await openViewer(scope, vopts(env, sessionId, sc, { resumeOffset: sb.next, label: 'browser C' }));
  c.write('echo BACK_$((3*3))\r');
  await sc.waitFor('BACK_9');
  assert.equal((await viewersNow()).length, 1);
}));

/** Signs up a second user who joins env's project (invited, proves the address, accepts). */
async function addMember(env) {
  const m = await signup(env.relay);
  await joinProject(env.relay, env.token, env.projectId, m);
  return m;
}

const isErr = (code) => (m) => m.type === 'error' && m.data?.code === code;

test('share view-only with a member: before the share it is invisible; after, the member watches but cannot type, resize, start or end', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { relay, token } = env;
  const member = await addMember(env);
  const sessionId = await startSession(relay, token, env.deviceId);
  const base = `/api/v1/sessions/${sessionId}`;
  const so = new OutputStream();
  const owner = await openViewer(scope, vopts(env, sessionId, so, { resumeOffset: 0, label: 'starter' }));
  await so.waitFor('$ ');

  // a member without a share does not learn of the session
  expectError(await api(relay, 'GET', `${base}/viewers`, undefined, member.token), 404);
  expectError(await api(relay, 'GET', `${base}/shares`, undefined, member.token), 404);
  expectError(await api(relay, 'POST', `${base}/shares`, { email: env.user.email, mode: 'view' }, member.token), 404);
  const early = await openViewer(scope, { ...vopts(env, sessionId, new OutputStream(), { expectAuthOk: false, label: 'member, no share' }), token: member.token });
  const e0 = await early.next('error');
  assert.ok(['not_found', 'auth_failed'].includes(e0.data?.code), JSON.stringify(e0));
  assert.equal((await early.closed).code, 1008);

  const r = await api(relay, 'POST', `${base}/shares`, { email: member.email.toUpperCase(), mode: 'view' }, token);
  assert.equal(r.status, 201, show(r));
  assert.deepEqual(r.body, { share: { user_id: member.user.id, email: member.email, mode: 'view' } }, show(r));
  const list = await api(relay, 'GET', `${base}/shares`, undefined, token);
  assert.equal(list.status, 200, show(list));
  assert.equal(list.body.shares.length, 1, show(list));
  assert.equal(list.body.shares[0].user_id, member.user.id);
  assert.equal(list.body.shares[0].email, member.email);
  assert.equal(list.body.shares[0].mode, 'view');
  assert.equal(typeof list.body.shares[0].created_at, 'number', show(list));
  expectError(await api(relay, 'GET', `${base}/shares`, undefined, member.token), 404); // only the starter manages shares

  const sm = new OutputStream();
  const mv = await openViewer(scope, { ...vopts(env, sessionId, sm, { resumeOffset: 0, ack: 'explicit', start: null, label: 'member (view)' }), token: member.token });
  await sm.waitFor('$ '); // the history from 0
  owner.write('echo SEEN_$((20+1))\r');
  await sm.waitFor('SEEN_21\r\n');
  const w = await api(relay, 'GET', `${base}/viewers`, undefined, member.token);
  assert.equal(w.status, 200, show(w));
  const modes = Object.fromEntries(w.body.viewers.map((x) => [x.user_id, x.mode]));
  assert.deepEqual(modes, { [env.user.user.id]: 'control', [member.user.id]: 'view' }, show(w));

  mv.write('echo TYPED_BY_VIEWER\r');
  mv.send({ type: 'resize', data: { session_id: sessionId, cols: 100, rows: 30 } });
  mv.send({ type: 'session_start', data: { session_id: sessionId, cols: 100, rows: 30 } });
  mv.send({ type: 'session_end', data: { session_id: sessionId, reason: 'user_disconnect' } });
  for (let i = 0; i < 4; i++) {
    const e = await mv.next(isErr('view_only'));
    assert.equal(e.data.session_id, sessionId, JSON.stringify(e));
  }
  assert.equal(mv.closeInfo, null, 'refused messages leave the connection open');
  owner.write('stty size; echo AFTER_$((5+5))\r');
  await so.waitFor('AFTER_10\r\n');
  await sm.waitFor('AFTER_10\r\n');
  assert.equal(so.buffer().includes('TYPED_BY_VIEWER'), false, 'the view-only input never reached the shell');
  assert.match(so.buffer().toString(), /\r\n50 200\r\nAFTER_10/, 'the view-only resize did not change the PTY size');
  assert.deepEqual(owner.seen('session_end'), [], 'the session was not ended');
  assert.deepEqual(mv.problems, []);
}));

test('share with control, mode change live, revoke: the member types; session_end is the starter\'s; revoke closes 4003', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { relay, token } = env;
  const member = await addMember(env);
  const sessionId = await startSession(relay, token, env.deviceId);
  const base = `/api/v1/sessions/${sessionId}`;
  const so = new OutputStream();
  const owner = await openViewer(scope, vopts(env, sessionId, so, { resumeOffset: 0, label: 'starter' }));
  await so.waitFor('$ ');

  let r = await api(relay, 'POST', `${base}/shares`, { email: member.email, mode: 'view' }, token);
  assert.equal(r.status, 201, show(r));
  const sm = new OutputStream();
  const mv = await openViewer(scope, { ...vopts(env, sessionId, sm, { resumeOffset: 0, start: null, label: 'member' }), token: member.token });
  await sm.waitFor('$ ');
  mv.write('echo NOPE\r');
  await mv.next(isErr('view_only'));

  // sharing again changes the mode; the live viewer follows at once
  r = await api(relay, 'POST', `${base}/shares`, { email: member.email, mode: 'control' }, token);
  assert.equal(r.status, 201, show(r));
  assert.equal(r.body?.share?.mode, 'control', show(r));
  const list = await api(relay, 'GET', `${base}/shares`, undefined, token);
  assert.equal(list.body?.shares?.length, 1, `sharing again does not add a second share: ${show(list)}`);
  mv.write('echo MEMBER_$((3*11))\r');
  await sm.waitFor('MEMBER_33\r\n');
  await so.waitFor('MEMBER_33\r\n');
  const w = await api(relay, 'GET', `${base}/viewers`, undefined, token);
  assert.equal(w.body.viewers.find((x) => x.user_id === member.user.id)?.mode, 'control', show(w));
  // only the starter ends a session from a browser
  mv.send({ type: 'session_end', data: { session_id: sessionId, reason: 'user_disconnect' } });
  await mv.next(isErr('forbidden'));
  expectError(await api(relay, 'POST', `${base}/shares`, { email: env.user.email, mode: 'control' }, member.token), 404);

  // revoke: the member's live viewer is told and closed with 4003
  r = await api(relay, 'DELETE', `${base}/shares/${member.user.id}`, undefined, token);
  assert.equal(r.status, 200, show(r));
  assert.deepEqual(r.body, { ok: true }, show(r));
  const e = await mv.next(isErr('share_revoked'));
  assert.equal(e.data.session_id, sessionId);
  const closed = await mv.closed;
  assert.equal(closed.code, 4003, JSON.stringify(closed));
  expectError(await api(relay, 'DELETE', `${base}/shares/${member.user.id}`, undefined, token), 404);
  assert.deepEqual((await api(relay, 'GET', `${base}/shares`, undefined, token)).body, { shares: [] });
  const again = await openViewer(scope, { ...vopts(env, sessionId, new OutputStream(), { expectAuthOk: false, label: 'member after revoke' }), token: member.token });
  const e2 = await again.next('error');
  assert.ok(['not_found', 'auth_failed'].includes(e2.data?.code), JSON.stringify(e2));
  expectError(await api(relay, 'GET', `${base}/viewers`, undefined, member.token), 404);
  // the starter carries on
  owner.write('echo OWNER_$((2+2))\r');
  await so.waitFor('OWNER_4');
  assert.equal(owner.closeInfo, null);
}));

test('the project owner gets 403 for a member\'s session (may end it, not watch or share it)', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { relay, token } = env;
  const member = await addMember(env);
  const sessionId = await startSession(relay, member.token, env.deviceId);
  const base = `/api/v1/sessions/${sessionId}`;
  const sm = new OutputStream();
  const mv = await openViewer(scope, { ...vopts(env, sessionId, sm, { resumeOffset: 0, label: 'member (starter)' }), token: member.token });
  await sm.waitFor('$ ');
  const r = await api(relay, 'POST', `${base}/shares`, { email: env.user.email, mode: 'view' }, member.token);
  assert.equal(r.status, 201, `a member shares their own session with the owner: ${show(r)}`);
  assert.equal((await api(relay, 'DELETE', `${base}/shares/${env.user.user.id}`, undefined, member.token)).status, 200);

  expectError(await api(relay, 'POST', `${base}/shares`, { email: member.email, mode: 'view' }, token), 403, 'forbidden');
  expectError(await api(relay, 'GET', `${base}/shares`, undefined, token), 403, 'forbidden');
  expectError(await api(relay, 'DELETE', `${base}/shares/${member.user.id}`, undefined, token), 403, 'forbidden');
  expectError(await api(relay, 'GET', `${base}/viewers`, undefined, token), 403, 'forbidden');
  const ov = await openViewer(scope, vopts(env, sessionId, new OutputStream(), { expectAuthOk: false, label: 'owner browser' }));
  const e = await ov.next('error');
  assert.equal(e.data?.code, 'forbidden', JSON.stringify(e));
  assert.equal((await ov.closed).code, 1008);
  // ... but may end it
  const end = await api(relay, 'POST', '/functions/v1/end-session', { session_id: sessionId }, token);
  assert.equal(end.status, 200, show(end));
  const se = await mv.next('session_end');
  assert.equal(se.data?.reason, 'ended_by_user', JSON.stringify(se));
}));
