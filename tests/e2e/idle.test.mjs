// Idle links stay up. The relay pings a quiet WebSocket peer every
// --ping-interval and drops one silent for two intervals and 5 s more
// (docs/protocol.md "Liveness"). Every peer that answers a ping as real
// ones do must stay: our agent (lws answers for it), a PrivaClaw-style v1
// connector and a viewer (ws answers like Go's gorilla and browsers: the
// ping's payload echoed), an /events socket, and a peer that answers every
// ping with an empty pong or sends them unsolicited (RFC 6455 allows both;
// lws 4.1 does not report an empty pong, which once made the relay drop
// every idle peer). A peer that stops answering is dropped once, and said
// so once. The relay runs with --ping-interval 1: 12 s of idling is 12
// intervals, well past the 7 s after which a silent peer goes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, sleep, startRelay, createDevice, pairViaHttp, startSession,
  wsClient, msg, waitFor, tail,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';
import { metricsRelay, scrape, sample } from './lib/metrics.mjs';

after(cleanupAll);

const PING_S = 1;
const HANGUP_MS = (2 * PING_S + 5) * 1000; // docs/protocol.md: 2 × interval + 5 s
const IDLE_MS = 12 * PING_S * 1000;

const lines = (text, re) => text.split('\n').filter((l) => re.test(l));

/** A connector on a new device of the project, hello'd with PrivaClaw's v1 shape. */
async function v1Connector(env, name, wsOptions = {}) {
  const { pairing_code: code } = await createDevice(env.relay, env.token, env.projectId, name);
  const cfg = await pairViaHttp(env.relay, code, name);
  const c = await wsClient(`${env.relay.wsUrl}/connect`, { label: name, wsOptions });
  c.pings = 0;
  c.ws.on('ping', () => { c.pings++; });
  c.send(msg('hello', { device_id: cfg.device_id, token: cfg.token, meta: { name } }));
  await c.next('hello_ok');
  return { c, deviceId: cfg.device_id };
}

test('idle peers stay connected through 12 ping intervals: agent, v1 connector, viewer, /events, an empty-pong peer', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: ['--ping-interval', String(PING_S)] });
  // Our agent keeps its own ping at the default 20 s: within the test only
  // the relay's pings (answered by lws) keep its link alive.
  const env = await setupAgent({ relay });

  const events = await wsClient(`${relay.wsUrl}/events`, { label: 'events' });
  events.pings = 0;
  events.ws.on('ping', () => { events.pings++; });
  events.send(msg('auth', { token: env.token }));
  await events.next('auth_ok');

  const sessionId = await startSession(relay, env.token, env.deviceId);
  const out = new OutputStream();
  const viewer = await openViewer(scope, {
    wsUrl: relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: out, resumeOffset: 0, label: 'viewer',
  });
  await out.waitFor('$ ');

  const v1 = await v1Connector(env, 'v1 connector');
  // A peer that answers every ping with an empty pong whatever the ping
  // carried, and another that never waits to be pinged: an unsolicited
  // empty pong every half interval, as a heartbeat.
  const emptyPong = await v1Connector(env, 'empty-pong peer', { autoPong: false });
  emptyPong.c.ws.on('ping', () => emptyPong.c.ws.pong());
  const heartbeat = await v1Connector(env, 'heartbeat peer', { autoPong: false });
  const beat = setInterval(() => heartbeat.c.ws.pong(), (PING_S * 1000) / 2);
  t.after(() => clearInterval(beat));

  const logFrom = relay.logs().length;
  const agentLogFrom = env.agent.logs().length;
  await sleep(IDLE_MS);

  const relayLog = relay.logs().slice(logFrom);
  const why = () => `relay log:\n${tail(relayLog, 30)}`;
  assert.deepEqual(lines(relayLog, /peer silent/), [], `no idle peer was dropped; ${why()}`);
  for (const [name, c] of [['events', events], ['v1 connector', v1.c], ['empty-pong peer', emptyPong.c], ['heartbeat peer', heartbeat.c]]) {
    assert.equal(c.closeInfo, null, `${name} is still connected; ${c.describe()}`);
  }
  assert.equal(viewer.closeInfo ?? null, null, 'the viewer is still connected');
  // The relay did ping them all along (not merely never got round to it).
  for (const [name, c] of [['events', events], ['v1 connector', v1.c], ['empty-pong peer', emptyPong.c]]) {
    assert.ok(c.pings >= 5, `${name} was pinged at least 5 times in ${IDLE_MS} ms, got ${c.pings}`);
  }
  assert.deepEqual(events.received.filter((m) => m.type === 'event' && /offline/.test(m.data?.kind ?? '')), [],
    `no device went offline; ${events.describe()}`);
  const agentLog = env.agent.logs().slice(agentLogFrom);
  assert.deepEqual(lines(agentLog, /disconnected|connected to relay/), [], `the agent never reconnected:\n${tail(agentLog, 20)}`);

  // Still a working terminal after the idle spell.
  viewer.write('echo $((6*7))\r');
  await out.waitFor('\r\n42\r\n');
}));

test('a peer that stops answering pings is dropped once, within 2 × interval + 5 s, logged once and counted once', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { relay, token: metricsToken } = await metricsRelay(['--ping-interval', String(PING_S)]);
  const env = await setupAgent({ relay });
  const events = await wsClient(`${relay.wsUrl}/events`, { label: 'events' });
  events.send(msg('auth', { token: env.token }));
  await events.next('auth_ok');

  const mute = await v1Connector(env, 'mute peer', { autoPong: false });
  const since = Date.now();
  const closed = await Promise.race([mute.c.closed, sleep(HANGUP_MS + ms(5_000)).then(() => null)]);
  assert.ok(closed, `the mute peer is dropped within ${HANGUP_MS} ms and a sweep; relay log:\n${tail(relay.logs(), 20)}`);
  assert.ok(Date.now() - since >= PING_S * 1000, 'not before it was even pinged');
  assert.ok(mute.c.pings >= 1, 'it was pinged first');
  await events.next((m) => m.type === 'event' && m.data?.kind === 'device.offline' && m.data?.device_id === mute.deviceId);

  // Let several sweeps pass: the drop is logged once, not once a second.
  await sleep(3_000);
  const dropped = lines(relay.logs(), /peer silent: dropping it/);
  assert.equal(dropped.length, 1, `one drop line:\n${dropped.join('\n')}`);
  assert.equal(sample(await scrape(relay, metricsToken), 'clawlink_ping_drops_total'), 1, 'clawlink_ping_drops_total counts the drop once');
  // The agent, answering all along, is unaffected.
  await waitFor(() => !/peer silent/.test(env.agent.logs()), { what: 'agent untouched' });
}));
