// Session names and titles (issue 13, docs/api.md "Session history",
// docs/protocol.md "session_title"), on the real relay, the real agent and
// real PTYs: the automatic title follows what runs in the shell and where
// (cd, a foreground sleep, back to the shell), reaches open dashboards as
// session.title and is stored; PATCH /api/v1/sessions/{id} names a session
// for its starter and the project's owner only, bounded and without control
// characters; a PrivaClaw-style v1 connector that never sends a title still
// works; ending from the list's point of view.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, signup, createProject, pairAgent, startAgent,
  openTerminal, waitFor, api, show, expectStatus, wsClient, msg, setupDevice, connectorHello,
  startSession, ms,
} from './lib/harness.mjs';
import { addMember } from './lib/mail.mjs';

after(cleanupAll);

async function subscribe(relay, token) {
  const c = await wsClient(`${relay.wsUrl}/events`, { label: 'events' });
  c.send(msg('auth', { token }));
  await c.next('auth_ok');
  return c;
}

/** The session's row in its project's list (any state). */
async function row(relay, token, projectId, sessionId) {
  const r = await api(relay, 'GET', `/api/v1/projects/${projectId}/sessions?limit=200`, undefined, token);
  expectStatus(r, 200, relay);
  return r.body.sessions.find((s) => s.id === sessionId) ?? null;
}

const DOT = '\u00b7';

test('titles: the foreground program and its directory, as it changes; dashboards hear session.title; the store keeps the last', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const user = await signup(relay);
  const project = await createProject(relay, user.token);
  const paired = await pairAgent(relay, { token: user.token, projectId: project.id });
  const agent = await startAgent(paired.configPath, { relay, token: user.token, projectId: project.id, deviceId: paired.deviceId });
  const events = await subscribe(relay, user.token);
  const term = await openTerminal(relay, user.token, paired.deviceId);
  const sid = term.sessionId;
  await term.readUntil(/\$ $/);

  const titleIs = async (want) => {
    await waitFor(async () => (await row(relay, user.token, project.id, sid))?.title === want, {
      timeout: ms(15_000),
      what: `the session's title to be ${JSON.stringify(want)}`,
      describe: async () => `row: ${JSON.stringify(await row(relay, user.token, project.id, sid))}\nagent log:\n${agent.logs().slice(-1500)}`,
    });
    await events.next((m) => m.type === 'event' && m.data?.kind === 'session.title' && m.data.session_id === sid && m.data.title === want, ms(15_000));
  };

  // the shell starts in $HOME, shown as ~
  await titleIs(`bash ${DOT} ~`);
  term.write('mkdir -p ~/src/clawlink && cd ~/src/clawlink\r');
  await titleIs(`bash ${DOT} ~/src/clawlink`);
  term.write('cd /tmp\r');
  await titleIs(`bash ${DOT} /tmp`);
  term.write('sleep 30\r');
  await titleIs(`sleep ${DOT} /tmp`);
  term.write('\x03'); // Ctrl-C: back to the shell
  await titleIs(`bash ${DOT} /tmp`);

  const live = await row(relay, user.token, project.id, sid);
  assert.equal(live.status, 'active');
  assert.equal(live.name, null, 'no name was given');
  assert.equal(live.viewers, 1, `one browser attached: ${JSON.stringify(live)}`);

  // ended: the stored title stays with the history
  expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: sid }, user.token), 200, relay);
  await waitFor(async () => (await row(relay, user.token, project.id, sid))?.status === 'ended', { what: 'the session to end' });
  const ended = await row(relay, user.token, project.id, sid);
  assert.equal(ended.title, `bash ${DOT} /tmp`, JSON.stringify(ended));
  assert.equal(ended.viewers, 0);
  assert.equal(ended.end_reason, 'ended_by_user');
}));

test('names: PATCH /api/v1/sessions/{id} for the starter and the owner; bounds, control characters, clearing; session.renamed', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const owner = await signup(relay);
  const member = await signup(relay);
  const outsider = await signup(relay);
  const project = await createProject(relay, owner.token);
  await addMember(relay, owner.token, project.id, member);
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const ownerSid = await startSession(relay, owner.token, paired.deviceId);
  const memberSid = await startSession(relay, member.token, paired.deviceId);
  const events = await subscribe(relay, owner.token);
  const rename = (sid, body, token) => api(relay, 'PATCH', `/api/v1/sessions/${sid}`, body, token);

  // the starter names it; spaces around are dropped
  let r = await rename(memberSid, { name: '  build server  ' }, member.token);
  assert.equal(r.status, 200, show(r));
  assert.deepEqual(r.body, { session: { id: memberSid, name: 'build server' } });
  assert.equal((await row(relay, owner.token, project.id, memberSid)).name, 'build server');
  await events.next((m) => m.type === 'event' && m.data?.kind === 'session.renamed' && m.data.session_id === memberSid && m.data.name === 'build server');
  // the owner may rename a member's session
  r = await rename(memberSid, { name: 'logs' }, owner.token);
  assert.equal(r.status, 200, show(r));
  assert.equal((await row(relay, member.token, project.id, memberSid)).name, 'logs');
  // a member may not rename the owner's session, shared with them or not
  assert.equal((await rename(ownerSid, { name: 'x' }, member.token)).status, 404);
  expectStatus(await api(relay, 'POST', `/api/v1/sessions/${ownerSid}/shares`, { email: member.email, mode: 'control' }, owner.token), 201, relay);
  assert.equal((await rename(ownerSid, { name: 'x' }, member.token)).status, 404, 'a share with control does not grant renaming');
  // outsiders do not learn it exists; anonymous is 401
  assert.equal((await rename(memberSid, { name: 'x' }, outsider.token)).status, 404);
  assert.equal((await rename(memberSid, { name: 'x' }, undefined)).status, 401);
  assert.equal((await rename('00000000-0000-4000-8000-000000000000', { name: 'x' }, owner.token)).status, 404);

  // bounds: 64 bytes after trimming, no control characters, a string
  for (const [body, what] of [
    [{ name: 'x'.repeat(65) }, '65 bytes'],
    [{ name: '\u00e9'.repeat(33) }, '66 bytes of UTF-8'],
    [{ name: 'a\tb' }, 'a tab'],
    [{ name: 'a\u001b[31mb' }, 'an escape sequence'],
    [{ name: 'a\u0085b' }, 'a C1 control'],
    [{ name: 7 }, 'a number'],
    [{}, 'no name'],
  ]) {
    r = await rename(memberSid, body, member.token);
    assert.equal(r.status, 400, `${what}: ${show(r)}`);
    assert.equal(r.body?.error?.code, 'invalid_request', show(r));
  }
  assert.equal((await row(relay, member.token, project.id, memberSid)).name, 'logs', 'refused names change nothing');
  r = await rename(memberSid, { name: 'x'.repeat(64) }, member.token);
  assert.equal(r.status, 200, show(r));
  r = await rename(memberSid, { name: 'vim \u00b7 ~/src \u{1F980}' }, member.token);
  assert.equal(r.status, 200, show(r));

  // "" and null clear it
  r = await rename(memberSid, { name: '' }, member.token);
  assert.deepEqual(r.body, { session: { id: memberSid, name: null } }, show(r));
  assert.equal((await row(relay, member.token, project.id, memberSid)).name, null);
  expectStatus(await rename(memberSid, { name: 'again' }, member.token), 200, relay);
  r = await rename(memberSid, { name: null }, member.token);
  assert.equal(r.body?.session?.name, null, show(r));

  // an ended session may still be named (history)
  expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: ownerSid }, owner.token), 200, relay);
  r = await rename(ownerSid, { name: 'the deploy' }, owner.token);
  assert.equal(r.status, 200, show(r));
  const ended = await row(relay, owner.token, project.id, ownerSid);
  assert.equal(ended.status, 'ended');
  assert.equal(ended.name, 'the deploy');
}));

test('a PrivaClaw-style v1 connector never sends session_title: its sessions work, untitled, and can be named', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const env = await setupDevice(relay);
  const conn = await connectorHello(relay, env.deviceId, env.deviceToken);
  const sid = await startSession(relay, env.token, env.deviceId);
  const r0 = await row(relay, env.token, env.projectId, sid);
  assert.equal(r0.title, null, JSON.stringify(r0));
  assert.equal(r0.name, null);
  const rn = await api(relay, 'PATCH', `/api/v1/sessions/${sid}`, { name: 'pc' }, env.token);
  assert.equal(rn.status, 200, show(rn));
  assert.equal((await row(relay, env.token, env.projectId, sid)).name, 'pc');
  // and it may still end them
  conn.send(msg('session_end', { session_id: sid, reason: 'exit' }));
  await waitFor(async () => (await row(relay, env.token, env.projectId, sid))?.status === 'ended', { what: 'the session to end' });
  // a title for an unknown session from an agent is answered like any message for one
  conn.send(msg('session_title', { session_id: sid, title: 'bash' }));
  const end = await conn.next((m) => m.type === 'session_end' && m.data?.session_id === sid && m.data?.reason === 'unknown_session');
  assert.ok(end);
}));
