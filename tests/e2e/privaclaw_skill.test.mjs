// PrivaClaw's peers as they really are (issue 13, items 2 and 4): the
// OpenClaw skill (tests/e2e/lib/skill-peer.mjs, written from the message
// shapes, not from the skill's code) is a node from its hello on, and a
// prompt, status, restart and workflow go through our API to it and back;
// a workflow list gets a clear refusal at once; a hello the relay cannot
// accept gets an error and a close; the connector's meta_update is kept
// and shown; our own agent tells hostname, OS, architecture, version,
// shell and uptime, and the relay adds the address it connects from.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  e2e, cleanupAll, ms, sleep, startRelay, api, show, expectStatus, setupDevice, signup, createProject,
  pairAgent, startAgent, wsClient, msg, isError, expectClose, waitFor, tail, randomId,
} from './lib/harness.mjs';
import { postSse } from './lib/openclaw.mjs';
import { SkillPeer } from './lib/skill-peer.mjs';

after(cleanupAll);

const getDevice = (relay, token, id) => api(relay, 'GET', `/api/v1/devices/${id}`, undefined, token);

/** The relay's log lines about bad messages, for assertions. */
const badLines = (relay) => relay.logs().split('\n').filter((l) => l.includes('msg="bad message from a peer"'));

test('the PrivaClaw skill, unchanged: a node at hello; prompt, status, restart and workflow through the API', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  // heartbeats only after the test is over: the relay must not need one
  const peer = new SkillPeer(relay.wsUrl, { nodeId: dev.deviceId, token: dev.deviceToken, heartbeatMs: 600_000 });
  scope.add({ name: 'skill peer', cleanup: () => peer.close() });
  const hello = await peer.connect();
  assert.equal(hello.type, 'hello_ok', `hello answered with ${JSON.stringify(hello)}\n${tail(relay.logs(), 20)}`);

  // the kind comes from meta.kind at hello
  const d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(d.kind, 'openclaw');
  assert.equal(d.status, 'online');

  // a prompt at once (before any heartbeat): tokens in order, then done
  const r = await postSse(relay, `/api/v1/devices/${dev.deviceId}/prompt`, { prompt: 'say hello' }, dev.token);
  assert.equal(r.status, 200, `prompt: ${r.status} ${r.text}\n${tail(relay.logs(), 20)}`);
  assert.deepEqual(r.events.filter((e) => e.event === 'token').map((e) => e.data.content), peer.reply);
  assert.equal(r.events.at(-1).event, 'done', r.text);
  assert.deepEqual(peer.prompts, ['say hello'], 'the prompt reached the skill in data.data.prompt');

  // a long reply keeps its order
  peer.reply = Array.from({ length: 200 }, (_, i) => `t${i} `);
  const long = await postSse(relay, `/api/v1/devices/${dev.deviceId}/prompt`, { prompt: 'count' }, dev.token);
  assert.equal(long.events.filter((e) => e.event === 'token').map((e) => e.data.content).join(''), peer.reply.join(''));

  // status: the skill's heartbeat fields, with what the skill can do
  const st = expectStatus(await api(relay, 'GET', `/api/v1/devices/${dev.deviceId}/status`, undefined, dev.token), 200, relay).status;
  assert.equal(st.node_id, dev.deviceId);
  assert.equal(st.connection_state, 'online');
  assert.equal(st.active_tasks, 0);
  assert.equal(st.last_error, null);
  assert.equal(typeof st.uptime, 'number');
  assert.deepEqual(st.capabilities, ['chat', 'status', 'restart', 'workflow']);
  assert.equal(st.workflow_list, false);

  // workflow: the name as data.data.workflow_id, params beside it
  const w = await api(relay, 'POST', `/api/v1/devices/${dev.deviceId}/workflows/nightly-report`, { params: { depth: 2, who: 'me' } }, dev.token);
  expectStatus(w, 200, relay);
  assert.deepEqual(peer.workflows, [{ workflow_id: 'nightly-report', params: { depth: 2, who: 'me' } }]);
  const wf = await api(relay, 'POST', `/api/v1/devices/${dev.deviceId}/workflows/fails`, {}, dev.token);
  assert.equal(wf.status, 502, show(wf));
  assert.equal(wf.body.error.message, 'workflow failed on purpose', show(wf));
  assert.deepEqual(peer.workflows[1], { workflow_id: 'fails', params: {} });

  // a workflow list: the skill has no handler, so the relay says so itself
  const list = await api(relay, 'GET', `/api/v1/devices/${dev.deviceId}/workflows`, undefined, dev.token);
  assert.equal(list.status, 501, show(list));
  assert.equal(list.body.error.code, 'not_supported', show(list));
  assert.deepEqual(peer.ignored, [], 'nothing was sent to the skill that it cannot answer');

  // restart (the owner's)
  const rs = await api(relay, 'POST', `/api/v1/devices/${dev.deviceId}/restart`, undefined, dev.token);
  assert.equal(expectStatus(rs, 200, relay).ok, true);
  assert.equal(peer.restarts, 1);

  // the skill's top-level heartbeat is understood (no bad-message line)
  peer.lastError = 'model overloaded';
  peer.heartbeat();
  await waitFor(async () => {
    const n = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, dev.token);
    return n.status === 200 && n.body.nodes.some((x) => x.device_id === dev.deviceId && x.kind === 'openclaw');
  }, { what: 'the skill in relay-nodes' });
  assert.deepEqual(badLines(relay), [], 'the relay understood every message of the skill');
  assert.deepEqual(peer.received.filter((m) => m.type === 'error'), [], 'the relay sent the skill no error');
}));

test('a hello the relay cannot accept gets an error and the socket is closed', { timeout: ms(60_000) }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const cases = [
    ['no token', JSON.stringify(msg('hello', { node_id: dev.deviceId, meta: { kind: 'openclaw' } })), 'bad_message'],
    ['no id at all', JSON.stringify(msg('hello', { token: dev.deviceToken })), 'bad_message'],
    ['not JSON', '{"type":"hello","data":', 'bad_json'],
    ['an unknown type first', JSON.stringify(msg('hullo', { node_id: dev.deviceId })), 'unknown_type'],
    ['meta too large', JSON.stringify(msg('hello', { node_id: dev.deviceId, token: dev.deviceToken, meta: { kind: 'openclaw', blob: 'x'.repeat(9000) } })), 'bad_message'],
  ];
  for (const [what, text, code] of cases) {
    const c = await wsClient(`${relay.wsUrl}/connect`, { label: `hello: ${what}` });
    c.send(text);
    const e = await c.next(isError(code));
    assert.match(e.data.message, /^hello refused: /, `${what}: ${JSON.stringify(e)}`);
    await expectClose(c, 1008);
  }
  // the wrong token: refused and closed as before
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'hello: wrong token' });
  c.send(msg('hello', { node_id: dev.deviceId, token: 'not-the-token', meta: { kind: 'openclaw' } }));
  await c.next(isError('auth_failed'));
  await expectClose(c, 1008);

  // every bad message is logged at info, with the peer and the reason
  let lines = [];
  await waitFor(() => (lines = badLines(relay)).length >= cases.length, { what: 'a log line per case', describe: () => lines.join('\n') });
  assert.equal(lines.length, cases.length, lines.join('\n'));
  for (const l of lines) {
    assert.match(l, /level=info/, l);
    assert.match(l, /peer=127\.0\.0\.1/, l);
    assert.match(l, /reason="[^"]+"/, l);
  }
  const d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(d.status, 'offline', 'no refused hello made the device online');
}));

test('bad messages from an authenticated peer are logged at info with the peer and the reason', { timeout: ms(60_000) }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector' });
  c.send(msg('hello', { device_id: dev.deviceId, token: dev.deviceToken, meta: { name: 'box' } }));
  await c.next('hello_ok');
  c.send(msg('frobnicate', { x: 1 }));
  await c.next(isError('unknown_type'));
  c.send(msg('stdin', { session_id: 's1', data_b64: 'aGk=' }));
  await c.next(isError('bad_message'));
  // the log comes through the relay's stderr pipe, which may trail its socket
  let lines = [];
  await waitFor(() => (lines = badLines(relay)).length >= 2, { what: 'both log lines', describe: () => tail(relay.logs(), 20) });
  assert.equal(lines.length, 2, tail(relay.logs(), 20));
  assert.match(lines[0], new RegExp(`level=info .*peer=127\\.0\\.0\\.1 device=${dev.deviceId} .*code=unknown_type reason="unknown message type \\?frobnicate\\?"`), lines[0]);
  assert.match(lines[1], /code=bad_message reason="message type not valid from an agent"/, lines[1]);
}));

test("a PrivaClaw connector's meta_update is kept, bounded, and returned by the device API", { timeout: ms(60_000) }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector' });
  c.send(msg('hello', { device_id: dev.deviceId, token: dev.deviceToken, meta: { name: 'box' } }));
  await c.next('hello_ok');
  c.send(msg('meta_update', {
    shell: '/bin/zsh', os: 'linux', arch: 'arm64', cpus: 8, load: 0.5,
    nested: { a: 1 }, list: [1], flag: true, none: null, long: 'y'.repeat(300), 'bad key': 'v', ctl: 'a\nb',
  }));
  let d;
  await waitFor(async () => {
    d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
    return d.meta && d.meta.shell;
  }, { what: 'the metadata in the device API', describe: () => JSON.stringify(d) });
  assert.deepEqual(d.meta, { shell: '/bin/zsh', os: 'linux', arch: 'arm64', cpus: 8, load: 0.5 });
  assert.equal(d.remote_addr, '127.0.0.1');
  assert.equal(typeof d.meta_updated_at, 'number');
  assert.equal(typeof d.online_since, 'number');

  // a second one updates what it names and keeps the rest
  c.send(msg('meta_update', { shell: '/bin/bash', user: 'me' }));
  await waitFor(async () => {
    d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
    return d.meta.shell === '/bin/bash';
  }, { what: 'the update', describe: () => JSON.stringify(d) });
  assert.deepEqual(d.meta, { shell: '/bin/bash', user: 'me', os: 'linux', arch: 'arm64', cpus: 8, load: 0.5 });

  // over the limit: refused, nothing changes, the connection stays
  c.send(msg('meta_update', { blob: 'z'.repeat(9000) }));
  const e = await c.next(isError('bad_message'));
  assert.match(e.data.message, /larger than 8192 bytes/);
  d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(d.meta.shell, '/bin/bash');
  assert.deepEqual(c.pending(isError('unknown_type')), [], 'meta_update is not an unknown type');
  assert.equal(c.closeInfo, null);

  // a reconnect whose hello says nothing about the machine keeps it
  await c.close();
  const c2 = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector again' });
  c2.send(msg('hello', { device_id: dev.deviceId, token: dev.deviceToken, meta: { name: 'box' } }));
  await c2.next('hello_ok');
  d = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(d.meta.shell, '/bin/bash');

  // others do not see it
  const other = await signup(relay);
  const forbidden = await getDevice(relay, other.token, dev.deviceId);
  assert.equal(forbidden.status, 404, show(forbidden));
}));

test("'online since' survives a short reconnect; connected_at is the connection's own", { timeout: ms(60_000) }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const hello = async () => {
    const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector' });
    c.send(msg('hello', { device_id: dev.deviceId, token: dev.deviceToken, meta: { name: 'box' } }));
    await c.next('hello_ok');
    return c;
  };
  let c = await hello();
  const first = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(first.online_since, first.connected_at);
  await sleep(1100); // the next connection starts in a later second
  await c.close();
  await waitFor(async () => (await getDevice(relay, dev.token, dev.deviceId)).body.device.status === 'offline', { what: 'offline' });
  c = await hello();
  const again = expectStatus(await getDevice(relay, dev.token, dev.deviceId), 200, relay).device;
  assert.equal(again.status, 'online');
  assert.equal(again.online_since, first.online_since, 'a reconnect keeps online_since');
  assert.ok(again.connected_at > first.connected_at, `connected_at moves: ${JSON.stringify(again)}`);
  await c.close();
}));

test('our agent tells hostname, OS, architecture, version, shell and uptime; the relay adds its address', { timeout: ms(90_000) }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const project = await createProject(relay, u.token);
  const paired = await pairAgent(relay, { token: u.token, projectId: project.id, name: `info-${randomId(3)}` });
  const agent = await startAgent(paired.configPath, { relay, token: u.token, projectId: project.id, deviceId: paired.deviceId });
  let d;
  await waitFor(async () => {
    d = expectStatus(await getDevice(relay, u.token, paired.deviceId), 200, relay).device;
    return d.meta && d.meta.hostname;
  }, { what: 'device info', describe: () => `${JSON.stringify(d)}\n${tail(agent.logs(), 20)}` });
  assert.equal(d.meta.hostname, os.hostname());
  assert.equal(d.meta.arch, os.machine());
  assert.equal(d.meta.os, `${os.type()} ${os.release()}`);
  assert.match(d.meta.agent_version, /^\d+\.\d+\.\d+/);
  assert.equal(d.meta.shell, '/bin/bash');
  assert.equal(typeof d.meta.uptime, 'number');
  assert.ok(d.meta.system_uptime > 0);
  assert.equal(d.remote_addr, '127.0.0.1');
  assert.equal(typeof d.online_since, 'number');
  assert.equal(d.kind, 'connector', 'our agent without a gateway is no node');
}));
