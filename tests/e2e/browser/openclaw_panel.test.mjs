// The device page's OpenClaw panel in a real browser, against a real
// OpenClaw gateway (npm registry, scripts/install-openclaw) with the fake
// streaming model: the node's health shows, a prompt typed in the chat
// panel gets its reply streamed in, the workflows are listed and one runs,
// and restart is offered to the owner only.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, api, expectStatus, signup, createProject, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { addMember } from '../lib/mail.mjs';
import { startFakeModel } from '../lib/fake-model.mjs';
import { startGateway } from '../lib/openclaw.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const REPLY = 'Streaming through the relay, word by word, into the browser.';

test('the OpenClaw panel: health, a streamed chat reply, workflows, owner-only restart', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: REPLY, chunks: 6, delayMs: 60 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const member = await signup(relay);
  const project = await createProject(relay, owner.token, 'Agents');
  await addMember(relay, owner.token, project.id, member);

  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'claw-box' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token };
  cfg.capabilities = ['terminal', 'chat', 'status', 'restart', 'workflow'];
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);
  await page.goto(`/device/${paired.deviceId}`);

  // Health from the node's heartbeats: the gateway link is online.
  await waitFor(async () => /online/i.test((await tid(page, 'oc-health').textContent()) ?? ''), {
    timeout: ms(90_000), what: 'the panel to show the node online',
    describe: async () => `panel: ${await tid(page, 'oc-health').textContent().catch(() => '(none)')}`,
  });

  // A prompt: the reply streams in, in pieces, and ends complete.
  await tid(page, 'oc-prompt').fill('Say the sentence.');
  await tid(page, 'oc-send').click();
  const seen = new Set();
  await waitFor(async () => {
    const text = (await tid(page, 'oc-reply').last().textContent()) ?? '';
    seen.add(text);
    return text.includes(REPLY);
  }, { timeout: ms(60_000), interval: 20, what: 'the streamed reply' });
  assert.ok([...seen].some((s) => s.length > 0 && !s.includes(REPLY)), 'the reply was shown while it streamed, not only at the end');
  await screenshot(page, '20-openclaw-panel');

  // Workflows are listed and one runs.
  const run = tid(page, 'workflow-run').first();
  await run.waitFor({ timeout: ms(30_000) });
  await run.click();
  await page.getByText(/started|ran|running|ok/i).first().waitFor({ timeout: ms(30_000) });

  // Restart is the owner's: the member does not get the button.
  assert.equal(await tid(page, 'oc-restart').isVisible(), true, 'the owner sees restart');
  const m = await openPage(scope, browser, relay, { label: 'member' });
  await signInContext(m.context, member.email, member.password);
  await m.page.goto(`/device/${paired.deviceId}`);
  await tid(m.page, 'oc-prompt').waitFor();
  await tid(m.page, 'oc-health').waitFor();
  assert.equal(await tid(m.page, 'oc-restart').isVisible(), false, 'a member is not offered restart');

  assert.deepEqual([...problems, ...m.problems], [], 'no page errors, console errors or CSP violations');
}));
