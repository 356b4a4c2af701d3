// OpenClaw nodes against a REAL gateway (issue 6; docs/openclaw.md): the
// gateway is `openclaw` from the npm registry (scripts/install-openclaw,
// cached), offline on loopback with a fake OpenAI-compatible model that
// streams a known reply in several chunks. The real relay and the real
// agent sit in between: prompts stream back as server-sent events, status
// reports the gateway link, stopping the gateway makes prompts fail fast,
// restart is for owners, and what the agent's config does not declare the
// agent refuses itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, mkdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, sleep, startRelay, api, show, expectStatus, signup, createProject,
  pairAgent, startAgent, waitFor, tail, tempDir, AGENT_BIN,
} from './lib/harness.mjs';
import { addMember } from './lib/mail.mjs';
import { startFakeModel } from './lib/fake-model.mjs';
import { startGateway, postSse } from './lib/openclaw.mjs';

after(cleanupAll);

const REPLY = 'The quick brown fox jumps over the lazy dog, and the relay streams every word of it back in order.';
const ALL_CAPS = ['terminal', 'chat', 'status', 'restart', 'workflow'];

/** Pairs an agent, writes its openclaw section and capabilities, starts it. */
async function nodeAgent(relay, owner, project, gw, { capabilities, name } = {}) {
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token };
  if (capabilities) cfg.capabilities = capabilities;
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  return { ...paired, agent };
}

async function status(relay, token, deviceId) {
  return api(relay, 'GET', `/api/v1/devices/${deviceId}/status`, undefined, token);
}

async function waitState(relay, token, deviceId, state, procs, timeout = ms(90_000)) {
  let last;
  await waitFor(async () => {
    last = await status(relay, token, deviceId);
    return last.status === 200 && last.body.status.connection_state === state;
  }, { timeout, interval: 250, what: `the node to report connection_state ${state}`, describe: () => `${show(last)}\n${procs.map((p) => `--- ${p.name} ---\n${tail(p.logs(), 25)}`).join('\n')}` });
  return last.body.status;
}

function tokensOf(r) {
  return r.events.filter((e) => e.event === 'token').map((e) => e.data.content);
}

test('an OpenClaw node through the relay, against a real gateway', { timeout: ms(15 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: REPLY, chunks: 6, delayMs: 40 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay();
  const owner = await signup(relay);
  const member = await signup(relay);
  const project = await createProject(relay, owner.token, 'OpenClaw');
  await addMember(relay, owner.token, project.id, member);

  const a = await nodeAgent(relay, owner, project, gw, { capabilities: ALL_CAPS, name: 'node-a' });
  const procs = [a.agent, gw, relay];
  await waitState(relay, owner.token, a.deviceId, 'online', procs);
  assert.match(a.agent.logs(), /connected to the OpenClaw gateway/);
  // the device identity was made on first use, 0600 beside the config
  const idFile = path.join(path.dirname(a.configPath), 'openclaw-device.json');
  const { mode } = await (await import('node:fs/promises')).stat(idFile);
  assert.equal(mode & 0o777, 0o600, 'the device key file is 0600');

  const prompt = async (token, deviceId = a.deviceId, text = 'Say the sentence.') =>
    postSse(relay, `/api/v1/devices/${deviceId}/prompt`, { prompt: text }, token);

  await t.test('prompt: the tokens, joined, are the reply, in order', async () => {
    const r = await prompt(owner.token);
    assert.equal(r.status, 200, `prompt: ${r.status} ${r.text}`);
    assert.match(r.type, /^text\/event-stream/);
    const tokens = tokensOf(r);
    assert.ok(tokens.length >= 2, `several tokens, got ${JSON.stringify(tokens)}`);
    assert.equal(tokens.join(''), REPLY);
    assert.equal(r.events.at(-1).event, 'done', `ends with done: ${r.text}`);
    assert.ok(model.requests.some((q) => q.path.endsWith('/chat/completions') && q.body?.stream), 'the gateway asked the fake model');
    // members may prompt too
    const m = await prompt(member.token);
    assert.equal(m.status, 200);
    assert.equal(tokensOf(m).join(''), REPLY);
  });

  await t.test('status: online, a growing uptime; relay-nodes shows an online openclaw node', async () => {
    const s1 = (await status(relay, member.token, a.deviceId)).body.status;
    assert.equal(s1.connection_state, 'online');
    assert.equal(s1.node_id, a.deviceId);
    assert.deepEqual(s1.capabilities, ALL_CAPS);
    await sleep(2100);
    const s2 = (await status(relay, member.token, a.deviceId)).body.status;
    assert.ok(s2.uptime > s1.uptime, `uptime grows: ${s1.uptime} then ${s2.uptime}`);
    const nodes = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, owner.token);
    expectStatus(nodes, 200, relay);
    const n = nodes.body.nodes.find((x) => x.device_id === a.deviceId);
    assert.equal(n.kind, 'openclaw');
    assert.equal(n.online, true);
    assert.equal(n.connection_state, 'online');
    assert.ok(n.last_heartbeat, 'last_heartbeat is set');
  });

  await t.test('workflows: listed from the gateway, and one runs', async () => {
    const r = await api(relay, 'GET', `/api/v1/devices/${a.deviceId}/workflows`, undefined, member.token);
    expectStatus(r, 200, relay);
    assert.ok(Array.isArray(r.body.workflows) && r.body.workflows.length > 0, `workflows: ${show(r)}`);
    const wf = r.body.workflows[0];
    const run = await api(relay, 'POST', `/api/v1/devices/${a.deviceId}/workflows/${encodeURIComponent(wf.name)}`, {}, member.token);
    expectStatus(run, 200, relay);
    assert.equal(run.body.job_id, wf.id);
    const none = await api(relay, 'POST', `/api/v1/devices/${a.deviceId}/workflows/no-such-workflow`, {}, member.token);
    expectStatus(none, 404, relay);
    assert.equal(none.body.error.code, 'workflow_not_found');
  });

  await t.test('an undeclared capability is refused by the agent itself', async () => {
    const b = await nodeAgent(relay, owner, project, gw, { name: 'node-b' }); // default: all but restart
    await waitState(relay, owner.token, b.deviceId, 'online', [b.agent, gw]);
    const r = await api(relay, 'POST', `/api/v1/devices/${b.deviceId}/restart`, {}, owner.token);
    expectStatus(r, 403, relay);
    assert.equal(r.body.error.code, 'capability_denied');
    assert.match(b.agent.logs(), /refused: capability not declared in the agent config[^\n]*capability=restart/);
    // the gateway is still up: the node still chats
    assert.equal(tokensOf(await prompt(owner.token, b.deviceId)).join(''), REPLY);
    await b.agent.stop();
  });

  await t.test('gateway stopped: heartbeats say reconnecting, prompts fail fast; started again: online', async () => {
    await gw.stop();
    const s = await waitState(relay, owner.token, a.deviceId, 'reconnecting', procs, ms(30_000));
    assert.ok(s.last_error, 'last_error says why');
    const nodes = await api(relay, 'GET', '/functions/v1/relay-nodes', undefined, owner.token);
    assert.equal(nodes.body.nodes.find((x) => x.device_id === a.deviceId).online, false);
    const started = Date.now();
    const r = await prompt(owner.token);
    assert.equal(r.status, 409, `prompt while the gateway is down: ${r.status} ${r.text}`);
    assert.equal(r.body.error.code, 'node_offline');
    assert.match(r.body.error.message, /reconnecting/);
    // "fast": an answer, not a request timeout (30 s and more)
    assert.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`);

    await gw.start();
    await waitState(relay, owner.token, a.deviceId, 'online', procs);
    assert.equal(tokensOf(await prompt(owner.token)).join(''), REPLY);
  });

  await t.test('restart: refused to a member, done for the owner, and the node comes back', async () => {
    const denied = await api(relay, 'POST', `/api/v1/devices/${a.deviceId}/restart`, {}, member.token);
    expectStatus(denied, 403, relay);
    assert.equal(denied.body.error.code, 'forbidden');
    // a prompt still running when the restart comes is cancelled and reported
    model.state.delayMs = 3000;
    const asked = model.requests.length;
    const running = prompt(owner.token);
    await waitFor(async () => model.requests.length > asked
      && (await status(relay, owner.token, a.deviceId)).body.status?.active_tasks >= 1, {
      timeout: ms(30_000), what: 'the prompt to be running on the gateway', describe: () => tail(a.agent.logs(), 20),
    });
    const r = await api(relay, 'POST', `/api/v1/devices/${a.deviceId}/restart`, {}, owner.token);
    model.state.delayMs = 40;
    expectStatus(r, 200, relay);
    assert.equal(r.body.ok, true);
    assert.equal(r.body.cancelled.length, 1, `one prompt cancelled: ${show(r)}`);
    const cancelled = await running;
    const code = cancelled.events.find((e) => e.event === 'error')?.data.code ?? cancelled.body?.error?.code;
    assert.equal(code, 'cancelled', `the running prompt ended cancelled: ${cancelled.status} ${cancelled.text}`);
    assert.match(a.agent.logs(), /restarting the OpenClaw gateway at the relay's request/);
    await waitFor(() => /the gateway is restarting|restart mode: in-process restart/.test(`${a.agent.logs()}\n${gw.logs()}`), {
      timeout: ms(30_000), what: 'the gateway to restart', describe: () => tail(gw.logs(), 20),
    });
    await waitState(relay, owner.token, a.deviceId, 'online', procs);
    assert.equal(tokensOf(await prompt(owner.token)).join(''), REPLY);
  });
}));

test('clawlink status shows what OpenClaw discovery found and where from', { timeout: ms(60_000) }, e2e(async () => {
  const dir = await tempDir('clawlink-oc-status-');
  const configPath = path.join(dir, 'agent.json');
  await writeFile(configPath, JSON.stringify({
    device_id: 'dev-1', token: 'tok', relay_url: 'ws://127.0.0.1:9', name: 'x',
    capabilities: ['chat', 'status'], openclaw: { url: 'ws://127.0.0.1:7001', token: 'from-agent' },
  }));
  await chmod(configPath, 0o600);
  const run = (env) => new Promise((resolve) => {
    execFile(AGENT_BIN, ['status', '--config', configPath], { env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ stdout, stderr }));
  });
  let r = await run({});
  assert.match(r.stdout, /openclaw: {2}ws:\/\/127\.0\.0\.1:7001 \(from agent config /);
  assert.match(r.stdout, /capabilities: chat, status \(from agent config /);
  assert.doesNotMatch(r.stdout + r.stderr, /from-agent/, 'the token is never printed');

  await mkdir(path.join(dir, '.openclaw'), { recursive: true });
  await writeFile(path.join(dir, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { port: 7002, auth: { token: 'from-oc' } } }));
  r = await run({});
  assert.match(r.stdout, /openclaw: {2}ws:\/\/127\.0\.0\.1:7002 \(from .*openclaw\.json \(gateway\.port\)\)/);
  assert.match(r.stdout, /token from: {3}.*openclaw\.json \(gateway\.auth\.token\)/);

  r = await run({ OPENCLAW_GATEWAY_URL: 'ws://127.0.0.1:7003', OPENCLAW_GATEWAY_TOKEN: 'from-env' });
  assert.match(r.stdout, /openclaw: {2}ws:\/\/127\.0\.0\.1:7003 \(from environment \(OPENCLAW_GATEWAY_URL\)\)/);
  assert.match(r.stdout, /token from: {3}environment \(OPENCLAW_GATEWAY_TOKEN\)/);
  assert.doesNotMatch(r.stdout + r.stderr, /from-env|from-oc/);
}));
