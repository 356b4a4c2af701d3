// The relay's NATS connection (--nats; src/relay/bus.c, docs/operations.md
// "A cluster"), against a real nats-server (Debian's) started once for
// this file: /healthz says "nats": connected; NATS killed with -9 makes
// /healthz say what is wrong while the relay goes on serving its own
// agents and browsers (/readyz stays ready), and the relay recovers by
// itself when NATS is back; a relay started while NATS is down serves at
// once and joins when it comes; the NATS password is never logged, and a
// bad --nats is refused at start without echoing it. Two relays on one
// database and one NATS: a dashboard on one hears the other's events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, waitFor, tail, startSession, assertNoSecrets, RELAY_BIN,
  api, expectStatus, signup, createProject, createDevice, pairAgent, startAgent, wsClient, msg, expectClose,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent } from './lib/extra.mjs';
import { startNats } from './lib/nats.mjs';
import { metricsRelay, scrape, sample } from './lib/metrics.mjs';

const PASS = 'nats-pw-5f0c2a9e1b';
let nats;

before(async () => { nats = await startNats({ user: 'relay', pass: PASS }); });
after(async () => { await cleanupAll(); await nats?.close(); });

async function health(relay) {
  const r = await fetch(`${relay.url}/healthz`, { signal: AbortSignal.timeout(ms(5_000)) });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text), text };
}

async function ready(relay) {
  const r = await fetch(`${relay.url}/readyz`, { signal: AbortSignal.timeout(ms(5_000)) });
  return r.status;
}

async function shellWorks(scope, env, label) {
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const s = new OutputStream();
  const v = await openViewer(scope, {
    wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream: s, resumeOffset: 0, label,
  });
  await s.waitFor('$ ');
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n');
  v.close();
}

test('--nats: /healthz says connected; NATS killed: the relay says so and serves its own; NATS back: it recovers by itself', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  await nats.start();
  const { relay, token: mtoken } = await metricsRelay(['--nats', nats.url]);
  await waitFor(async () => (await health(relay)).body.nats === 'connected', { what: '/healthz to say nats connected', describe: () => tail(relay.logs(), 20) });
  const ok = await health(relay);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.ok, true);
  assert.ok(!ok.text.includes('127.0.0.1:' + nats.port), 'the NATS address is not public');
  assert.match(relay.logs(), /NATS connected/);
  let m = await scrape(relay, mtoken);
  assert.equal(sample(m, 'clawlink_nats_connected'), 1);
  assert.equal(sample(m, 'clawlink_nats_reconnects_total'), 0);
  const p = spawnSync('promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
  assert.equal(p.status, 0, `promtool check metrics:\n${p.stdout}${p.stderr}`);

  const env = await setupAgent({ relay, scope });
  await shellWorks(scope, env, 'with NATS');

  await nats.kill();
  await waitFor(async () => (await health(relay)).status === 503, { what: '/healthz to report the loss', describe: () => tail(relay.logs(), 20) });
  const lost = await health(relay);
  assert.equal(lost.body.ok, false);
  assert.equal(lost.body.nats, 'reconnecting');
  const problem = lost.body.problems.find((p) => p.check === 'nats');
  assert.ok(problem, lost.text);
  assert.match(problem.detail, /not connected to NATS \(reconnecting for \d+ s\)/);
  assert.equal(await ready(relay), 200, 'a load balancer keeps the relay: it still serves its own');
  assert.match(relay.logs(), /NATS connection lost, retrying/);
  assert.equal(sample(await scrape(relay, mtoken), 'clawlink_nats_connected'), 0);
  // what is connected to this relay goes on working
  await shellWorks(scope, env, 'NATS down');

  await nats.start();
  await waitFor(async () => (await health(relay)).status === 200, { timeout: ms(15_000), what: '/healthz ok again', describe: () => tail(relay.logs(), 20) });
  assert.equal((await health(relay)).body.nats, 'connected');
  assert.match(relay.logs(), /NATS connection back/);
  m = await scrape(relay, mtoken);
  assert.equal(sample(m, 'clawlink_nats_connected'), 1);
  assert.equal(sample(m, 'clawlink_nats_reconnects_total'), 1);
  await shellWorks(scope, env, 'NATS back');
  assertNoSecrets(relay, [PASS], 'relay');
  await relay.stop();
  assertNoSecrets(relay, [PASS], 'relay');
}));

test('$CLAWLINK_NATS_URL with NATS down at start: the relay serves at once, says "connecting", and joins when NATS comes', { timeout: TEST_TIMEOUT }, e2e(async () => {
  await nats.kill();
  const relay = await startRelay({ env: { CLAWLINK_NATS_URL: nats.url }, until: '/readyz' });
  const h = await health(relay);
  assert.equal(h.status, 503, h.text);
  assert.equal(h.body.nats, 'connecting');
  assert.ok(h.body.problems.some((p) => p.check === 'nats'), h.text);
  assert.equal(await ready(relay), 200);
  // the relay's own work does not wait for NATS
  const r = await fetch(`${relay.url}/api/v1/openapi.json`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();

  await nats.start();
  await waitFor(async () => (await health(relay)).status === 200, { timeout: ms(15_000), what: 'the relay to connect when NATS comes', describe: () => tail(relay.logs(), 20) });
  assert.equal((await health(relay)).body.nats, 'connected');
  await relay.stop();
  assertNoSecrets(relay, [PASS], 'relay');
}));

test('a bad --nats stops the relay at start with exit 2, never echoing a password', { timeout: TEST_TIMEOUT }, e2e(async () => {
  for (const [spec, why] of [
    ['http://127.0.0.1:4222', /not nats:\/\/HOST\[:PORT\]/],
    [`nats://relay:${PASS}@127.0.0.1:0`, /bad port/],
    [`nats://relay:${PASS}@`, /no host/],
    ['nats://a,nats://b,nats://c,nats://d,nats://e,nats://f,nats://g,nats://h,nats://i', /more than 8 servers/],
  ]) {
    const p = spawnSync(RELAY_BIN, ['--nats', spec, '--data', '/nonexistent/never-created'], { encoding: 'utf8', timeout: ms(10_000) });
    assert.equal(p.status, 2, `${spec}: ${p.stderr}`);
    assert.match(p.stderr, why);
    assert.ok(!p.stderr.includes(PASS), p.stderr);
  }
}));

/** Opens /events on relay and authenticates. */
async function subscribe(relay, token, label) {
  const c = await wsClient(`${relay.wsUrl}/events`, { label: `events ${label}` });
  c.send(msg('auth', { token }));
  await c.next('auth_ok');
  return c;
}

const isEvent = (kind, pred = () => true) => {
  const f = (m) => m.type === 'event' && m.data?.kind === kind && pred(m.data);
  f.description = `event "${kind}"`;
  return f;
};

test('two relays on one database and one NATS: a dashboard on B hears the events of A (a device added, an agent online), members only; a sign-out on A closes its dashboard on B', { timeout: TEST_TIMEOUT }, e2e(async () => {
  await nats.start();
  const a = await startRelay({ extraArgs: ['--nats', nats.url] });
  const b = await startRelay({ dataDir: a.dataDir, extraArgs: ['--nats', nats.url] });
  for (const r of [a, b]) await waitFor(async () => (await health(r)).body.nats === 'connected', { what: 'nats connected', describe: () => tail(r.logs(), 10) });

  const owner = await signup(a);
  const project = await createProject(a, owner.token);
  const stranger = await signup(a);
  const evOwner = await subscribe(b, owner.token, 'owner on B');
  const evStranger = await subscribe(b, stranger.token, 'stranger on B');

  const { device } = await createDevice(a, owner.token, project.id, 'made on A');
  await evOwner.next(isEvent('device.added', (d) => d.device?.id === device.id));

  const paired = await pairAgent(a, { token: owner.token, projectId: project.id });
  await startAgent(paired.configPath, { relay: a, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  await evOwner.next(isEvent('device.online', (d) => d.device_id === paired.deviceId));

  // the stranger heard nothing of the owner's project: an event of their
  // own, published after, arrives; nothing about the other project did
  const own = await createProject(a, stranger.token);
  const mine = await createDevice(a, stranger.token, own.id, 'barrier');
  await evStranger.next(isEvent('device.added', (d) => d.device?.id === mine.device.id));
  assert.deepEqual(evStranger.received.filter((m) => m.data?.project_id === project.id), []);
  // each event reached B once (A's own delivery is not repeated)
  assert.equal(evOwner.received.filter((m) => m.data?.kind === 'device.added' && m.data?.device?.id === device.id).length, 1);

  // a second sign-in watching on B, signed out through A
  const second = expectStatus(await api(a, 'POST', '/api/v1/auth/login', { email: owner.email, password: owner.password }), 200, a);
  const evSecond = await subscribe(b, second.token, 'second sign-in on B');
  expectStatus(await api(a, 'POST', '/api/v1/auth/logout', {}, second.token), 200, a);
  await expectClose(evSecond, 1008);
  for (const c of [evOwner, evStranger]) c.close();
}));
