// Seed 001's "/projects" (Getting Started step 2: "Go to /projects → New
// Project") and "/skill/privaclaw" in a real browser, against the real
// relay, a real agent and a real OpenClaw gateway (scripts/install-openclaw,
// with the fake streaming model): create a project from /projects and see
// it listed with its counts; pair an agent that bridges the gateway; the
// skill page lists the node with its health, links to its panel, and gives
// a pairing code and the config to copy; the node goes offline with its
// agent. Screenshots of both pages (lib/browser.mjs SHOT_DIR).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, signup, pairAgent, startAgent, randomId,
} from '../lib/harness.mjs';
import { startFakeModel } from '../lib/fake-model.mjs';
import { startGateway } from '../lib/openclaw.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

test('/projects and /skill/privaclaw: a project made and counted, an OpenClaw node listed with its health', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: 'ok', chunks: 2, delayMs: 20 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);

  // The top bar leads to /projects; with no project yet, the empty state.
  await page.goto('/dashboard');
  await tid(page, 'nav-projects').click();
  await page.waitForURL(/\/projects$/);
  await tid(page, 'projects-empty').waitFor();

  // The form checks the name before asking the relay (the dashboard's rules).
  await tid(page, 'projects-new-submit').click();
  assert.match(await tid(page, 'projects-new-error').textContent(), /Give the project a name/);

  // Create a project: it is listed with the owner's role and its counts.
  const projectName = `Claw Lab ${randomId(2)}`;
  await tid(page, 'projects-new-name').fill(projectName);
  await tid(page, 'projects-new-submit').click();
  const row = tid(page, 'projects-row').filter({ hasText: projectName });
  await row.waitFor();
  assert.equal(await row.locator('[data-testid="projects-role"]').textContent(), 'owner');
  assert.match(await row.locator('[data-testid="projects-members"]').textContent(), /^1 member$/);
  assert.equal(await tid(page, 'projects-new-name').inputValue(), '', 'the form clears after creating');
  const projectId = await row.getAttribute('data-project-id');
  assert.ok(projectId, 'the row carries the project id');

  // Pair an agent that bridges the OpenClaw gateway, into that project.
  const paired = await pairAgent(relay, { token: owner.token, projectId, name: 'claw-box' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token };
  cfg.capabilities = ['terminal', 'chat', 'status', 'workflow'];
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId, deviceId: paired.deviceId });

  // Read again from the server: one device, online.
  await page.reload();
  const counts = tid(page, 'projects-row').filter({ hasText: projectName }).locator('[data-testid="projects-devices"]');
  await waitFor(async () => (await counts.getAttribute('data-online')) === '1', {
    timeout: ms(20_000), what: 'the project to count its device online', describe: async () => `counts: ${await counts.textContent()}`,
  });
  assert.equal(await counts.getAttribute('data-devices'), '1');
  assert.match(await counts.textContent(), /1 device · 1 online/);
  await screenshot(page, '80-projects');

  // At 375 px wide the list and the form still fit.
  await page.setViewportSize({ width: 375, height: 740 });
  await tid(page, 'projects-row').first().waitFor();
  await screenshot(page, '81-projects-narrow');
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`));
  assert.deepEqual(wide, [], 'nothing sticks out at 375 px');
  await page.setViewportSize({ width: 1280, height: 800 });

  // The node panel links to the skill page; it lists the node with its
  // health from the heartbeats (the gateway link online).
  await page.goto(`/device/${paired.deviceId}`);
  await tid(page, 'oc-all-nodes').click();
  await page.waitForURL(/\/skill\/privaclaw$/);
  const node = tid(page, 'skill-node-row').filter({ hasText: 'claw-box' });
  await waitFor(async () => (await node.getAttribute('data-state').catch(() => null)) === 'online', {
    timeout: ms(90_000), what: 'the skill page to show the node online',
    describe: async () => `nodes: ${await tid(page, 'skill-nodes').textContent().catch(() => '(none)')}\n${agent.logs().slice(-1500)}`,
  });
  assert.equal(await tid(page, 'skill-node-row').count(), 1, 'only OpenClaw nodes are listed');
  assert.match(await node.locator('[data-testid="skill-node-state"]').textContent(), /gateway online/);
  assert.match(await node.locator('[data-testid="skill-node-heartbeat"]').textContent(), /last heartbeat (just now|\d+ minutes? ago)/);
  assert.match(await node.textContent(), new RegExp(projectName), 'the node names its project');

  // The config to copy: the openclaw section and the capabilities.
  const snippet = JSON.parse(await tid(page, 'skill-config-snippet').locator('code').textContent());
  assert.equal(snippet.openclaw.url, 'ws://127.0.0.1:18789');
  assert.deepEqual(snippet.capabilities, ['terminal', 'chat', 'status', 'workflow']);
  await tid(page, 'skill-config-snippet').getByRole('button', { name: /copy/i }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), JSON.stringify(snippet, null, 2), 'Copy puts the snippet on the clipboard');

  // A pairing code for a new node, with the command to run.
  await tid(page, 'skill-pair-name').fill('second claw');
  await tid(page, 'skill-pair-submit').click();
  const code = (await tid(page, 'skill-pair-code').textContent()).trim();
  const command = (await tid(page, 'skill-pair-command').locator('code').textContent()).trim();
  assert.equal(command, `clawlink pair ${code} --api ${relay.url}/functions/v1 --name 'second claw'`);
  await screenshot(page, '82-skill-privaclaw');

  // The row leads to the node's panel.
  await node.locator('[data-testid="skill-node-link"]').click();
  await page.waitForURL(new RegExp(`/device/${paired.deviceId}$`));
  await tid(page, 'oc-panel').waitFor();

  // The agent stops: the node stays listed, offline (read again live).
  await page.goto('/skill/privaclaw');
  await waitFor(async () => (await node.getAttribute('data-state').catch(() => null)) === 'online', { what: 'the node online again on the page' });
  await agent.stop();
  await waitFor(async () => (await node.getAttribute('data-state').catch(() => null)) === 'agent-offline', {
    timeout: ms(30_000), what: 'the node to show its agent offline',
    describe: async () => `node: ${await node.textContent().catch(() => '(none)')}`,
  });
  await screenshot(page, '83-skill-node-offline');

  // /docs links to the skill page.
  await page.goto('/docs');
  await tid(page, 'docs-skill-link').click();
  await page.waitForURL(/\/skill\/privaclaw$/);

  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));
