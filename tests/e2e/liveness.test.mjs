// Liveness: a network path that stalls without closing (pings on both
// sides), SIGHUP with and without TLS (certificate reload without dropping
// connections), and the agent's --idle-grace (docs/protocol.md; README.md
// relay flags; docs/operations.md "Signals").
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, rename } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, sleep, startRelay, signup, createProject, pairAgent, startAgent,
  startSession, waitFor, waitDeviceStatus, api, tempDir, tail,
} from './lib/harness.mjs';
import {
  OutputStream, openViewer, startProxy, setRelayUrl, makeSelfSigned, httpsJson, peerFingerprint,
  startTlsRelay, pairAgentTls, taggedProcesses, todoUnlessRelayFlag,
  setupAgent,
} from './lib/extra.mjs';

after(cleanupAll);

const setup = setupAgent;

const vopts = (env, sessionId, stream, extra = {}) => ({
  wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream, ...extra,
});

async function shellWorks(scope, env, label) {
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const s = new OutputStream();
  const v = await openViewer(scope, vopts(env, sessionId, s, { resumeOffset: 0, label }));
  await s.waitFor('$ ');
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n');
  return { v, s, sessionId };
}

test('a stalled path (no close, no bytes): the agent (--ping-interval 2) drops the silent link and is back once the path heals', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup({ agentArgs: ['--ping-interval', '2'], viaProxy: true, scope });
  await shellWorks(scope, env, 'before the stall');
  const logBefore = env.agent.logs().length;
  const acceptedBefore = env.proxy.accepted;

  env.proxy.stall(); // both directions stop; nothing is closed; new connections are held the same way
  await waitFor(() => /disconnected from relay/.test(env.agent.logs().slice(logBefore)), {
    timeout: ms(30_000), what: 'the agent to log that it dropped the silent link',
    describe: () => tail(env.agent.logs(), 20),
  });
  await waitFor(() => env.proxy.accepted > acceptedBefore, { timeout: ms(30_000), what: 'the agent to try to reconnect', describe: () => tail(env.agent.logs(), 20) });

  env.proxy.forward(); // the path heals; what was stalled is reset, as a real path's stuck connections eventually are
  env.proxy.dropAll();
  const acceptedHealed = env.proxy.accepted;
  await waitFor(() => env.proxy.accepted > acceptedHealed && /connected to relay/.test(env.agent.logs().slice(logBefore)), {
    timeout: ms(60_000), what: 'the agent to reconnect through the healed path', describe: () => tail(env.agent.logs(), 20),
  });
  await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'online', { procs: [env.agent] });
  await shellWorks(scope, env, 'after the stall');
}));

test('a stalled path with relay --ping-interval 2 and agent --ping-interval 2: the relay marks the device offline, the agent reconnects', { timeout: TEST_TIMEOUT, ...todoUnlessRelayFlag('--ping-interval') }, e2e(async (t, scope) => {
  const env = await setup({ relayArgs: ['--ping-interval', '2'], agentArgs: ['--ping-interval', '2'], viaProxy: true, scope });
  await shellWorks(scope, env, 'before the stall');
  const logBefore = env.agent.logs().length;

  env.proxy.stall();
  await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'offline', { timeout: ms(30_000), procs: [env.agent] });
  await waitFor(() => /disconnected from relay/.test(env.agent.logs().slice(logBefore)), {
    timeout: ms(30_000), what: 'the agent to log that it dropped the silent link and reconnects',
    describe: () => tail(env.agent.logs(), 20),
  });
  env.proxy.forward();
  env.proxy.dropAll();
  // The silent link was dropped once, and said so once (not once a second
  // until the close went through).
  const drops = env.relay.logs().split('\n').filter((l) => /peer silent: dropping it/.test(l));
  assert.equal(drops.length, 1, `one drop line:\n${drops.join('\n')}`);
  await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'online', { timeout: ms(60_000), procs: [env.agent] });
  await shellWorks(scope, env, 'after the stall');
}));

test('SIGHUP without TLS: the relay keeps running and serving; connections stay', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup();
  const { v, s } = await shellWorks(scope, env, 'terminal');
  env.relay.proc.kill('SIGHUP');
  await waitFor(() => /SIGHUP/.test(env.relay.logs()), { what: 'the relay to log the SIGHUP', describe: () => tail(env.relay.logs(), 10) });
  await sleep(ms(300));
  assert.equal(env.relay.proc.exitCode, null, 'still running');
  assert.equal(env.relay.proc.signalCode, null, 'still running');
  const r = await api(env.relay, 'GET', '/healthz');
  assert.equal(r.status, 200, `healthz after SIGHUP: ${r.status} ${r.text}`);
  v.write('echo A_$((1+2))\r');
  await s.waitFor('A_3');
  assert.equal(v.closeInfo, null);
  const d = await waitDeviceStatus(env.relay, env.token, env.projectId, env.deviceId, 'online');
  assert.ok(d);
}));

test('TLS: the real agent over wss with --ca-file; SIGHUP reloads a replaced certificate without dropping connections', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t, scope) => {
  const dir = await tempDir('clawlink-tls-');
  const first = await makeSelfSigned(dir, 'first');
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  await copyFile(first.cert, certPath);
  await copyFile(first.key, keyPath);
  const ca = first.pem;

  const relay = await startTlsRelay(scope, { cert: certPath, key: keyPath, ca });
  const call = async (method, p, body, token, status) => {
    const r = await httpsJson(relay.url, method, p, body, token, ca);
    assert.equal(r.status, status, `${method} ${p} → ${r.status} ${r.text}\n${tail(relay.logs(), 20)}`);
    return r.body;
  };
  const u = await call('POST', '/api/v1/auth/signup', { email: `tls${Date.now()}@example.test`, password: 'pw-0123456789', display_name: 'TLS' }, undefined, 201);
  const project = (await call('POST', '/api/v1/projects', { name: 'tls' }, u.token, 201)).project;
  const { device, pairing_code: code } = await call('POST', `/api/v1/projects/${project.id}/devices`, { name: 'tls-dev' }, u.token, 201);
  const paired = await pairAgentTls(relay, { code, caFile: first.cert });
  assert.equal(paired.config.relay_url, `wss://127.0.0.1:${relay.port}`, 'pair-device hands out the wss:// relay URL');
  const agent = await startAgent(paired.configPath, { extraArgs: ['--ca-file', first.cert] });
  await waitFor(async () => {
    const devs = (await call('GET', `/api/v1/projects/${project.id}/devices`, undefined, u.token, 200)).devices;
    return devs.find((d) => d.id === device.id)?.status === 'online';
  }, { timeout: ms(20_000), what: 'the agent to come online over wss', describe: () => `${tail(agent.logs(), 15)}\n${tail(relay.logs(), 15)}` });

  const sessionId = (await call('POST', '/functions/v1/start-session', { device_id: device.id }, u.token, 200)).session_id;
  const s = new OutputStream();
  const v = await openViewer(scope, { wsUrl: relay.wsUrl, ca, token: u.token, sessionId, deviceId: device.id, stream: s, resumeOffset: 0, label: 'wss browser' });
  await s.waitFor('$ ');
  v.write('echo $((6*7))\r');
  await s.waitFor('\r\n42\r\n');
  assert.equal(await peerFingerprint(relay.port), first.fingerprint256, 'the relay presents the first certificate');

  // renewal: a new pair replaces the files, then SIGHUP
  const second = await makeSelfSigned(dir, 'second');
  assert.notEqual(second.fingerprint256, first.fingerprint256);
  await copyFile(second.cert, `${certPath}.new`);
  await copyFile(second.key, `${keyPath}.new`);
  await rename(`${keyPath}.new`, keyPath);
  await rename(`${certPath}.new`, certPath);
  relay.proc.kill('SIGHUP');
  await waitFor(async () => (await peerFingerprint(relay.port)) === second.fingerprint256, {
    timeout: ms(15_000), what: 'a new TLS handshake to present the new certificate', describe: () => tail(relay.logs(), 10),
  });

  // the connections made before the reload still work: the browser's and the agent's
  v.write('echo B_$((7*6))\r');
  await s.waitFor('B_42');
  assert.equal(v.closeInfo, null, 'the wss browser was not dropped by the reload');
  assert.equal(agent.proc.exitCode, null);
  assert.doesNotMatch(agent.logs(), /disconnected from relay/, 'the agent\'s wss link was not dropped by the reload');
  // and a new wss client trusting only the new certificate gets in
  const s2 = new OutputStream();
  const v2 = await openViewer(scope, { wsUrl: relay.wsUrl, ca: second.pem, token: u.token, sessionId, deviceId: device.id, stream: s2, resumeOffset: s.next, label: 'wss browser (new cert)' });
  v2.write('echo C_$((5*5))\r');
  await s2.waitFor('C_25');
  assert.equal((await httpsJson(relay.url, 'GET', '/healthz', undefined, undefined, second.pem)).status, 200);
}));

test('agent --idle-grace 2: a session left without viewers ends with reason idle', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const env = await setup({ agentArgs: ['--idle-grace', '2'] });
  const { v, s, sessionId } = await shellWorks(scope, env, 'terminal');
  // while watched, the grace does not run out
  await sleep(ms(3_000));
  v.write('echo STILL_$((1+1))\r');
  await s.waitFor('STILL_2');
  await v.close();

  const re = new RegExp(`session ended by agent.*session=${sessionId}.*reason=idle`);
  await waitFor(() => re.test(env.relay.logs()), {
    timeout: ms(30_000), what: 'the agent to end the session (reason idle)', describe: () => `${tail(env.relay.logs(), 10)}\n${tail(env.agent.logs(), 10)}`,
  });
  const late = await openViewer(scope, vopts(env, sessionId, new OutputStream(), { resumeOffset: s.next, expectAuthOk: false, label: 'late browser' }));
  const err = await late.next('error');
  assert.equal(err.data?.code, 'session_ended', JSON.stringify(err));
  assert.equal((await late.closed).code, 1008);
  // the shell is gone
  await waitFor(async () => (await taggedProcesses(env.agent.tag)).filter((p) => p.pid !== env.agent.proc.pid).length === 0, {
    timeout: ms(15_000), what: 'the idle session\'s shell to exit',
  });
}));
