// The dashboard's realtime WebSocket (/events), black-box against
// docs/api.md "Realtime": a real agent going offline and online, a real
// shell's session starting and ending, members added and removed, devices
// added, renamed and deleted — each event reaches the project's members
// and nobody else; membership is decided when the event is published.
// Sign-up is rate-limited per address (10 a minute): each test starts its
// own relay and signs up a few users.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, wsClient, msg, isError, isType, expectClose, openTerminal, startAgent, waitFor, tail, sleep,
} from './lib/harness.mjs';
import { addMember, verifyEmail, acceptInvitation } from './lib/mail.mjs';
import { setupAgent } from './lib/extra.mjs';

after(cleanupAll);

/** Opens /events and authenticates; resolves once auth_ok arrived. */
async function subscribe(relay, token, label) {
  const c = await wsClient(`${relay.wsUrl}/events`, { label: `events ${label}` });
  c.send(msg('auth', { token }));
  const ok = await c.next('auth_ok');
  assert.equal(typeof ok.data?.user_id, 'string', JSON.stringify(ok));
  return c;
}

const isEvent = (kind, pred = () => true) => {
  const f = (m) => m.type === 'event' && m.data?.kind === kind && pred(m.data);
  f.description = `event "${kind}"`;
  return f;
};

/** Events c received about project (consumed or not). */
const about = (c, projectId) => c.received.filter((m) => m.type === 'event' && m.data?.project_id === projectId);

/**
 * Proves a negative: makes an event in the subscriber's own project and
 * waits for it; the relay writes events to one socket in order, so what
 * was published before it and not received was not sent.
 */
async function barrier(relay, sub, user, projectId) {
  const { device } = await createDevice(relay, user.token, projectId, `barrier-${Date.now()}`);
  await sub.next(isEvent('device.added', (d) => d.device?.id === device.id));
}

const invite = (relay, token, projectId, email) =>
  api(relay, 'POST', '/functions/v1/invite-member', { project_id: projectId, email }, token);

test('events: device offline/online and a session started and ended reach the members, not an outsider', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const s = await setupAgent({ relay });
  const owner = s.user;
  const bob = await signup(relay);
  const carol = await signup(relay);
  const carolProject = await createProject(relay, carol.token);
  await addMember(relay, owner.token, s.projectId, bob);

  const evOwner = await subscribe(relay, owner.token, 'owner');
  const evBob = await subscribe(relay, bob.token, 'member');
  const evCarol = await subscribe(relay, carol.token, 'outsider');

  // the real agent goes away and comes back
  await s.agent.stop();
  for (const c of [evOwner, evBob]) {
    const e = await c.next(isEvent('device.offline', (d) => d.device_id === s.deviceId), ms(15_000));
    assert.equal(e.data.project_id, s.projectId, JSON.stringify(e));
    assert.equal(typeof e.data.at, 'number', JSON.stringify(e));
  }
  await startAgent(s.paired.configPath, { relay, token: owner.token, projectId: s.projectId, deviceId: s.deviceId });
  for (const c of [evOwner, evBob]) await c.next(isEvent('device.online', (d) => d.device_id === s.deviceId), ms(15_000));

  // a member's terminal: started, then its shell exits
  const term = await openTerminal(relay, bob.token, s.deviceId);
  for (const c of [evOwner, evBob]) {
    const e = await c.next(isEvent('session.started', (d) => d.session_id === term.sessionId));
    assert.equal(e.data.device_id, s.deviceId, JSON.stringify(e));
    assert.equal(e.data.user_id, bob.user.id, JSON.stringify(e));
  }
  term.write('exit 0\r');
  for (const c of [evOwner, evBob]) {
    const e = await c.next(isEvent('session.ended', (d) => d.session_id === term.sessionId), ms(15_000));
    assert.equal(e.data.reason, 'exit', JSON.stringify(e));
  }
  // another ended by the user through the API
  const term2 = await openTerminal(relay, owner.token, s.deviceId);
  await evBob.next(isEvent('session.started', (d) => d.session_id === term2.sessionId));
  expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: term2.sessionId }, owner.token), 200, relay);
  const ended = await evBob.next(isEvent('session.ended', (d) => d.session_id === term2.sessionId));
  assert.equal(ended.data.reason, 'ended_by_user', JSON.stringify(ended));

  // the outsider heard nothing of it
  await barrier(relay, evCarol, carol, carolProject.id);
  assert.deepEqual(about(evCarol, s.projectId), [], evCarol.describe());
  // and the owner nothing of the outsider's project
  await barrier(relay, evOwner, owner, s.projectId);
  assert.deepEqual(about(evOwner, carolProject.id), [], evOwner.describe());
  // ping / pong, as on the other sockets
  evBob.send(msg('ping'));
  await evBob.next('pong');
}));

test('events: members added and removed; a removed member stops receiving at once, an added one starts', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const bob = await signup(relay);
  const carol = await signup(relay);
  const project = await createProject(relay, alice.token);
  const bobOwn = await createProject(relay, bob.token);
  const evAlice = await subscribe(relay, alice.token, 'alice');
  const evBob = await subscribe(relay, bob.token, 'bob');
  const evCarol = await subscribe(relay, carol.token, 'carol');

  // before Bob joins, he hears nothing of the project
  const { device } = await createDevice(relay, alice.token, project.id, 'box');
  await evAlice.next(isEvent('device.added', (d) => d.device?.id === device.id));
  await barrier(relay, evBob, bob, bobOwn.id);
  assert.deepEqual(about(evBob, project.id), [], evBob.describe());

  // joined (invited, accepted): both hear it, with who joined
  await addMember(relay, alice.token, project.id, bob);
  for (const c of [evAlice, evBob]) {
    const e = await c.next(isEvent('member.added', (d) => d.user_id === bob.user.id));
    assert.equal(e.data.project_id, project.id, JSON.stringify(e));
    assert.equal(e.data.email, bob.email, JSON.stringify(e));
    assert.equal(e.data.role, 'member', JSON.stringify(e));
  }
  // device renamed: members get the device as the API shows it
  expectStatus(await api(relay, 'PATCH', `/api/v1/devices/${device.id}`, { name: 'renamed box' }, alice.token), 200, relay);
  for (const c of [evAlice, evBob]) {
    const e = await c.next(isEvent('device.renamed', (d) => d.device?.id === device.id));
    assert.equal(e.data.device.name, 'renamed box', JSON.stringify(e));
  }

  // an address invited before it signed up joins when it accepts (signing
  // up alone is no event: bobHeard below lists exactly one member.added for Dave)
  const daveEmail = `dave-${Date.now()}@example.test`;
  assert.equal(expectStatus(await invite(relay, alice.token, project.id, daveEmail), 200, relay).status, 'invited');
  const dave = await signup(relay, daveEmail);
  await verifyEmail(relay, dave);
  await acceptInvitation(relay, dave, project.id);
  await evBob.next(isEvent('member.added', (d) => d.user_id === dave.user.id && d.project_id === project.id));

  // removed: the owner hears it, and so does Bob (his dashboard drops the
  // project); nothing after
  expectStatus(await api(relay, 'DELETE', `/api/v1/projects/${project.id}/members/${bob.user.id}`, undefined, alice.token), 200, relay);
  await evAlice.next(isEvent('member.removed', (d) => d.user_id === bob.user.id));
  expectStatus(await api(relay, 'PATCH', `/api/v1/devices/${device.id}`, { name: 'after bob' }, alice.token), 200, relay);
  await evAlice.next(isEvent('device.renamed', (d) => d.device?.name === 'after bob'));
  expectStatus(await api(relay, 'DELETE', `/api/v1/devices/${device.id}`, undefined, alice.token), 200, relay);
  const del = await evAlice.next(isEvent('device.deleted', (d) => d.device_id === device.id));
  assert.equal(del.data.project_id, project.id, JSON.stringify(del));
  await barrier(relay, evBob, bob, bobOwn.id);
  const bobHeard = about(evBob, project.id).map((m) => m.data.kind);
  assert.deepEqual(bobHeard, ['member.added', 'device.renamed', 'member.added', 'member.removed'], evBob.describe());
  // Carol never belonged
  await barrier(relay, evCarol, carol, (await createProject(relay, carol.token)).id);
  assert.deepEqual(about(evCarol, project.id), [], evCarol.describe());

  // a token revoked (sign out) while subscribed: closed at the next event
  expectStatus(await api(relay, 'POST', '/api/v1/auth/logout', undefined, carol.token), 200, relay);
  await createDevice(relay, alice.token, project.id, 'after logout');
  await evCarol.next(isError('auth_failed'));
  await expectClose(evCarol, 1008);
  // ... or at its next ping, on a relay where nothing happens
  const erin = await signup(relay);
  const evErin = await wsClient(`${relay.wsUrl}/events`, { label: 'erin' });
  evErin.send(msg('auth', { token: erin.token }));
  await evErin.next(isType('auth_ok'));
  evErin.send(msg('ping'));
  await evErin.next(isType('pong'));
  expectStatus(await api(relay, 'POST', '/api/v1/auth/logout', undefined, erin.token), 200, relay);
  evErin.send(msg('ping'));
  await evErin.next(isError('auth_failed'));
  await expectClose(evErin, 1008);
}));

test('events: bad auth closes 1008; a token in the URL is not read; ping before auth is refused; big messages 1009', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);

  let c = await wsClient(`${relay.wsUrl}/events`, { label: 'bad token' });
  c.send(msg('auth', { token: 'clu_not-a-real-token-at-all-0000000000000000000' }));
  await c.next(isError('auth_failed'));
  await expectClose(c, 1008);

  c = await wsClient(`${relay.wsUrl}/events?token=${u.token}`, { label: 'token in url' });
  c.send(msg('ping'));
  await c.next(isError('not_authenticated'));
  await expectClose(c, 1008);

  // no token and no session cookie (webauth: a same-origin cookie may stand in)
  c = await wsClient(`${relay.wsUrl}/events`, { label: 'no token' });
  c.send(msg('auth', {}));
  await c.next(isError('auth_failed'));
  await expectClose(c, 1008);

  c = await wsClient(`${relay.wsUrl}/events`, { label: 'bad json' });
  c.send('{"type":');
  await c.next(isError('bad_json'));
  await expectClose(c, 1008);

  c = await wsClient(`${relay.wsUrl}/events`, { label: 'too big' });
  c.send(msg('auth', { token: 'x'.repeat(8000) }));
  await expectClose(c, 1009);

  // after auth: unknown types and a second auth are errors, the socket stays
  c = await subscribe(relay, u.token, 'ok');
  c.send(msg('subscribe', { project_id: 'x' }));
  await c.next(isError('unknown_type'));
  c.send(msg('auth', { token: u.token }));
  await c.next(isError('bad_message'));
  c.send(msg('ping'));
  await c.next('pong');
  assert.ok(!relay.logs().includes(u.token), 'the token is never logged');
}));

test('events: a subscriber that does not read is dropped with 4008; one that reads is not', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const alice = await signup(relay);
  const project = await createProject(relay, alice.token);
  const { device } = await createDevice(relay, alice.token, project.id, 'box');
  const reader = await subscribe(relay, alice.token, 'reader');
  const stalled = await subscribe(relay, alice.token, 'stalled');
  stalled.ws._socket.pause(); // stop reading: the kernel buffers fill, then the relay's queue

  let n = 0;
  const name = (i) => `${String(i).padStart(6, '0')}-${'n'.repeat(100)}`;
  await waitFor(async () => {
    for (let i = 0; i < 50; i++) {
      const r = await api(relay, 'PATCH', `/api/v1/devices/${device.id}`, { name: name(++n) }, alice.token);
      assert.equal(r.status, 200, show(r));
    }
    return relay.logs().includes('events queue overflow');
  }, { timeout: ms(60_000), interval: 0, what: 'the relay to drop the stalled subscriber', describe: () => tail(relay.logs(), 20) });

  stalled.ws._socket.resume();
  const info = await expectClose(stalled, 4008);
  assert.equal(info.reason, 'events queue overflow');
  // the reader got every event, in order
  const last = await reader.next(isEvent('device.renamed', (d) => d.device?.name === name(n)), ms(15_000));
  assert.ok(last);
  const names = reader.received.filter((m) => m.data?.kind === 'device.renamed').map((m) => m.data.device.name);
  assert.equal(names.length, n, `reader got ${names.length} of ${n} renames`);
  assert.deepEqual(names, Array.from({ length: n }, (_, i) => name(i + 1)));
  await sleep(10);
}));
