// Shared sessions (docs/api.md, "Shared sessions"): the share endpoints'
// error paths, who is watching (GET …/viewers), and several browsers of one
// user on one session. Sharing with another member needs a second member
// in the project, which only an invitation API (issue 5, not built yet) can
// add: those paths are test.todo below.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, signup, createProject, pairAgent, startAgent,
  startSession, waitFor, api, show,
} from './lib/harness.mjs';
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

const NEEDS_INVITES = '(needs a second project member: no API adds one until the invitation API, issue 5)';
test.todo(`share view-only with a member: the member attaches, sees output, stdin/resize/session_start/session_end → error view_only ${NEEDS_INVITES}`);
test.todo(`share with control: the member can type; session_end from the member → error forbidden ${NEEDS_INVITES}`);
test.todo(`sharing again changes the mode; the member's live viewer follows at once (view → control) ${NEEDS_INVITES}`);
test.todo(`DELETE …/shares/{user_id}: the member's live viewers get error share_revoked and close 4003; they cannot attach again ${NEEDS_INVITES}`);
test.todo(`GET …/shares lists {user_id, email, mode, created_at}; GET …/viewers shows the member with mode view ${NEEDS_INVITES}`);
test.todo(`a member without a share gets 404 for the share endpoints and cannot attach; the project owner gets 403 for someone else's session ${NEEDS_INVITES}`);
test.todo(`the starter and a member (two users) watching one session: one slow, one fast, each at its own pace ${NEEDS_INVITES}`);
