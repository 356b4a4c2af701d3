// The device page's details card in a real browser (issue 13, item 4): it
// shows what the real agent told about its machine (hostname, OS and
// architecture, agent version, shell, uptime) and the address it connects
// from, "Online since" while online and "Last seen" only while offline; it
// is as tall as its content, not stretched to a long session list with its
// rows far apart; and a PrivaClaw connector's meta_update fields show too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, signup, createProject, pairAgent, startAgent, startSession,
  wsClient, msg, api, expectStatus,
} from '../lib/harness.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

test('the details card shows the device information, compactly', { timeout: ms(180_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Machines');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'info-box' });
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  // a session list much longer than the details
  for (let i = 0; i < 14; i++) await startSession(relay, owner.token, paired.deviceId);

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);
  await page.goto(`/device/${paired.deviceId}`);
  await tid(page, 'device-hostname').waitFor();

  assert.equal(await tid(page, 'device-hostname').textContent(), os.hostname());
  assert.equal(await tid(page, 'device-os').textContent(), `${os.type()} ${os.release()} · ${os.machine()}`);
  assert.match(await tid(page, 'device-agent-version').textContent(), /^clawlink \d+\.\d+\.\d+/);
  assert.equal(await tid(page, 'device-shell').textContent(), '/bin/bash');
  assert.match(await tid(page, 'device-uptime').textContent(), /^\d+ (s|min)$/);
  assert.equal(await tid(page, 'device-address').textContent(), '127.0.0.1');
  assert.match(await tid(page, 'device-online-since').textContent(), /just now|min ago/);
  assert.equal(await tid(page, 'device-last-seen').count(), 0, 'no "Last seen" for an online device');

  // compact: the card ends with its content, its rows stay close together
  await tid(page, 'session-row').nth(13).waitFor();
  const card = await page.locator('.device-info').boundingBox();
  const sessions = await page.locator('section[aria-labelledby="dev-sessions-h"]').boundingBox();
  const dts = await page.locator('.device-info dt').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top));
  const gaps = dts.slice(1).map((top, i) => top - dts[i]);
  assert.ok(sessions.height > card.height + 100, `the session list is the taller (${sessions.height} vs ${card.height})`);
  assert.ok(Math.max(...gaps) < 60, `rows of the details ${JSON.stringify(gaps)} px apart`);
  await screenshot(page, '40-device-details');

  // offline: "Last seen", no "Online since"
  await agent.stop();
  await tid(page, 'device-last-seen').waitFor({ timeout: ms(20_000) });
  assert.equal(await tid(page, 'device-online-since').count(), 0);
  assert.equal(await tid(page, 'device-hostname').textContent(), os.hostname(), 'what it told stays');

  // a PrivaClaw connector's metadata
  const conn = await setupDeviceIn(relay, owner, project);
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector' });
  c.send(msg('hello', { device_id: conn.deviceId, token: conn.deviceToken, meta: { name: 'go-box' } }));
  await c.next('hello_ok');
  c.send(msg('meta_update', { shell: '/bin/zsh', os: 'darwin', arch: 'arm64', gpu: 'none' }));
  await waitFor(async () => {
    const d = await api(relay, 'GET', `/api/v1/devices/${conn.deviceId}`, undefined, owner.token);
    return d.body?.device?.meta?.gpu === 'none';
  }, { what: 'the relay to keep the meta_update' });
  await page.goto(`/device/${conn.deviceId}`);
  await tid(page, 'device-meta-gpu').waitFor();
  assert.equal(await tid(page, 'device-meta-gpu').textContent(), 'none');
  assert.equal(await tid(page, 'device-shell').textContent(), '/bin/zsh');
  assert.equal(await tid(page, 'device-os').textContent(), 'darwin · arm64');
  await c.close();

  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));

/** A device in the owner's project, paired over HTTP (a PrivaClaw connector's way). */
async function setupDeviceIn(relay, owner, project) {
  const created = expectStatus(await api(relay, 'POST', `/api/v1/projects/${project.id}/devices`, { name: 'go-box' }, owner.token), 201, relay);
  const paired = expectStatus(await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: created.pairing_code, name: 'go-box' }), 200, relay);
  return { deviceId: created.device.id, deviceToken: paired.token };
}

test("a PrivaClaw skill's device page: the node panel at once, a streamed reply, workflows run by name", { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const { SkillPeer } = await import('../lib/skill-peer.mjs');
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Skills');
  const dev = await setupDeviceIn(relay, owner, project);
  const peer = new SkillPeer(relay.wsUrl, { nodeId: dev.deviceId, token: dev.deviceToken, heartbeatMs: 600_000,
    reply: ['Streamed ', 'by ', 'the ', 'skill.'] });
  scope.add({ name: 'skill peer', cleanup: () => peer.close() });
  assert.equal((await peer.connect()).type, 'hello_ok');

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);
  await page.goto(`/device/${dev.deviceId}`);
  await tid(page, 'oc-panel').waitFor(); // a node from its hello: no heartbeat yet
  assert.equal(await tid(page, 'device-kind').textContent(), 'OpenClaw node');

  await tid(page, 'oc-prompt').fill('Say it.');
  await tid(page, 'oc-send').click();
  await waitFor(async () => ((await tid(page, 'oc-reply').last().textContent()) ?? '').includes('Streamed by the skill.'),
    { what: 'the streamed reply', describe: async () => tid(page, 'oc-reply').last().textContent() });

  // no workflow list: a form runs one by name
  await tid(page, 'workflow-name').fill('nightly');
  await tid(page, 'workflow-run-named').click();
  await waitFor(async () => peer.workflows.length === 1, { what: 'the workflow to reach the skill' });
  assert.deepEqual(peer.workflows, [{ workflow_id: 'nightly', params: {} }]);
  await screenshot(page, '41-skill-node');
  assert.deepEqual(peer.ignored, [], 'nothing the skill cannot answer was sent to it');
  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations (no workflow list asked: no 501)');
}));
