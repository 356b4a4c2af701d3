// The Chat view (web/src/pages/chat.ts, issue 15) in a real browser,
// against the real chat bridge: a real OpenClaw gateway with the fake
// streaming model, the agent's chat store, the relay's chat routes. A
// message sent from the browser gets its reply streamed in and rendered as
// Markdown (bold, a code block with its Copy button); after a reload the
// history is there; search finds the old message with its words marked;
// Stop cuts a slow reply; a phone-sized screen (375 px) shows it all
// without sideways scrolling, the threads in a drawer; and no page error,
// console error or CSP violation happened on the way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, signup, createProject, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { startFakeModel } from '../lib/fake-model.mjs';
import { startGateway } from '../lib/openclaw.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

// Markdown the view must render: bold, a list, a fenced code block.
const REPLY = 'The **zebra** answer:\n\n- one\n- two\n\n```sh\necho striped\n```\n\nThat is all.';
const QUESTION = 'Tell me about quagga zebras please';

test('the chat view: send, streamed Markdown reply, reload, search, stop, 375 px', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: REPLY, chunks: 10, delayMs: 150 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Chats');

  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'chat-box' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token };
  cfg.capabilities = ['terminal', 'chat', 'status'];
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  // (the agent's chat store: under its own temporary $HOME)
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'desktop' });
  await signInContext(context, owner.email, owner.password);

  // One click from the device page.
  await page.goto(`/device/${paired.deviceId}`);
  await tid(page, 'device-chat').click();
  await page.waitForURL(new RegExp(`/device/${paired.deviceId}/chat$`));
  await tid(page, 'toggle-terminal').waitFor();

  // The bridge is up once the view can list threads (the gateway link may
  // still be connecting: the banner says so until then).
  await waitFor(async () => (await tid(page, 'chat-group').count()) > 0 && !(await tid(page, 'chat-banner').isVisible()), {
    timeout: ms(90_000), what: 'the thread list without an error',
    describe: async () => `banner: ${await tid(page, 'chat-banner').textContent().catch(() => '(none)')}`,
  });

  // Send: a new thread is made; the reply streams in and ends as Markdown.
  const sendOnce = async () => {
    await tid(page, 'chat-input').fill(QUESTION);
    await tid(page, 'chat-send').click();
  };
  // what a streaming reply showed, recorded in the page as it changed
  await page.evaluate(() => {
    window.__streamed = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid="chat-msg"][data-state="streaming"] .chat-md')) window.__streamed.push(el.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await sendOnce();
  const reply = page.locator('[data-testid="chat-msg"][data-role="assistant"]').last();
  await waitFor(async () => {
    if (await tid(page, 'chat-banner').isVisible()) {
      const why = await tid(page, 'chat-banner').textContent();
      // the gateway link can lag the agent's link at start: try again
      if (/gateway/i.test(why ?? '')) {
        await page.waitForTimeout(1000);
        if (!(await tid(page, 'chat-input').inputValue())) return false;
        await tid(page, 'chat-send').click();
        return false;
      }
      throw new Error(`the send failed: ${why}`);
    }
    if ((await reply.count()) === 0) return false;
    const text = (await reply.textContent()) ?? '';
    return (await reply.getAttribute('data-state').catch(() => null)) === 'final' && text.includes('That is all.');
  }, { timeout: ms(90_000), interval: 20, what: 'the streamed reply, settled' });
  const streamed = await page.evaluate(() => window.__streamed);
  assert.ok(streamed.some((s) => s.includes('zebra') && !s.includes('That is all.')), `the reply was shown while it streamed, not only at the end: ${JSON.stringify(streamed.slice(0, 5))}`);
  assert.equal(await reply.locator('strong').first().textContent(), 'zebra', 'bold is rendered');
  assert.equal(await reply.locator('li').count(), 2, 'the list is rendered');
  assert.equal((await reply.locator('.chat-code pre').textContent()).trim(), 'echo striped', 'the code block is rendered');
  assert.equal(await reply.locator('.chat-code .chat-copy').count(), 1, 'the code block has its Copy button');
  await reply.locator('.chat-copy').click();
  assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trim(), 'echo striped', 'Copy copies the code');
  // one reply, settled: the same run's deltas on /events add no second one
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('[data-testid="chat-msg"][data-role="assistant"]').count(), 1, 'one reply shown');
  assert.equal(await page.locator('[data-testid="chat-msg"][data-state="streaming"]').count(), 0, 'nothing left streaming');
  await page.waitForURL(/\/chat\/\d+$/);
  const threadUrl = new URL(page.url()).pathname;
  // the thread is listed, titled from its first message
  await waitFor(async () => (await tid(page, 'chat-thread').count()) === 1, { what: 'the new thread in the list' });
  await screenshot(page, '30-chat');

  // Reload: the history is there, from the agent's store.
  await page.reload();
  const user = page.locator('[data-testid="chat-msg"][data-role="user"]');
  await user.first().waitFor({ timeout: ms(30_000) });
  assert.match(await user.first().textContent(), /quagga zebras/);
  const again = page.locator('[data-testid="chat-msg"][data-role="assistant"]').last();
  await again.locator('strong').waitFor();
  assert.equal(await again.locator('strong').textContent(), 'zebra');
  assert.equal(await again.getAttribute('data-state'), 'final');

  // Search finds the old message; its words are marked; the hit opens it.
  await tid(page, 'chat-search').fill('quagga');
  const hit = tid(page, 'chat-hit').first();
  await hit.waitFor({ timeout: ms(15_000) });
  assert.match(await hit.locator('mark').first().textContent(), /quagga/i);
  await hit.click();
  await page.waitForURL((u) => u.pathname === threadUrl);

  // Stop: a slow reply is cut and kept as stopped.
  model.state.delayMs = 1500;
  model.state.chunks = 20;
  await tid(page, 'chat-search').fill('');
  await tid(page, 'chat-input').fill('a slow one');
  await tid(page, 'chat-send').click();
  await tid(page, 'chat-stop').waitFor({ state: 'visible' });
  await waitFor(async () => ((await page.locator('[data-testid="chat-msg"][data-state="streaming"]').count()) > 0), {
    timeout: ms(60_000), what: 'the slow reply to start streaming',
  });
  await tid(page, 'chat-stop').click();
  await waitFor(async () => (await tid(page, 'chat-stop').isHidden()), { timeout: ms(30_000), what: 'the stream to end after Stop' });
  const stopped = page.locator('[data-testid="chat-msg"][data-role="assistant"]').last();
  await waitFor(async () => (await stopped.getAttribute('data-state')) === 'aborted', {
    timeout: ms(30_000), what: 'the stopped reply to be marked aborted',
    describe: async () => `state ${await stopped.getAttribute('data-state')}`,
  });
  model.state.delayMs = 30;

  // A phone: 375 px wide, nothing scrolls sideways, the threads in a drawer.
  const phone = await openPage(scope, browser, relay, { label: 'phone', viewport: { width: 375, height: 740 } });
  await signInContext(phone.context, owner.email, owner.password);
  await phone.page.goto(threadUrl);
  await phone.page.locator('[data-testid="chat-msg"][data-role="assistant"] strong').first().waitFor({ timeout: ms(30_000) });
  const widths = await phone.page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, log: document.querySelector('.chat-log').scrollWidth }));
  assert.ok(widths.doc <= 375 && widths.body <= 375 && widths.log <= 375, `nothing wider than the screen: ${JSON.stringify(widths)}`);
  assert.equal(await tid(phone.page, 'chat-thread').first().isVisible(), false, 'the thread list is a closed drawer');
  await screenshot(phone.page, '31-chat-375');
  await tid(phone.page, 'chat-drawer').click();
  await tid(phone.page, 'chat-thread').first().waitFor({ state: 'visible' });
  await phone.page.waitForTimeout(300); // the drawer's slide
  await screenshot(phone.page, '32-chat-375-drawer');

  assert.deepEqual([...problems, ...phone.problems], [], 'no page errors, console errors or CSP violations');
}));
