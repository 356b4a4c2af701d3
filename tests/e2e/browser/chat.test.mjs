// The Chat view (web/src/pages/chat.ts, issue 15) in a real browser,
// against the real chat bridge: a real OpenClaw gateway with the fake
// streaming model, the agent's chat store, the relay's chat routes. A
// message sent from the browser gets its reply streamed in and rendered as
// Markdown (bold, a code block with its Copy button); after a reload the
// history is there; search finds the old message with its words marked;
// Stop cuts a slow reply; a message sent by a script shows up live; a
// workspace is made and the thread moved, renamed, given memory; a memory
// note is added, found, deleted; a phone-sized screen (375 px) shows it
// all without sideways scrolling, the threads in a drawer; the thread is
// deleted (the confirmation names the OpenClaw session); with the agent
// stopped the view says the device is offline; and no page error, console
// error or CSP violation happened on the way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, api, signup, createProject, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { startFakeModel } from '../lib/fake-model.mjs';
import { startGateway, postSse } from '../lib/openclaw.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

// Markdown the view must render: bold, a list, a fenced code block.
const REPLY = 'The **zebra** answer:\n\n- one\n- two\n\n```sh\necho striped\n```\n\nThat is all.';
const QUESTION = 'Tell me about quagga zebras please';

test('the chat view: send, streamed Markdown reply, reload, search, stop, live, workspaces, memory, 375 px, delete, offline', { timeout: ms(10 * 60_000) }, e2e(async (t, scope) => {
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
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });

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

  // Live: a message sent from elsewhere (the API, as a script would) shows
  // up in the open view, with its reply, through GET /events.
  const threadId = Number(threadUrl.split('/').pop());
  const other = await postSse(relay, `/api/v1/devices/${paired.deviceId}/chat/threads/${threadId}/messages`, { content: 'sent from a script about okapis' }, owner.token);
  assert.equal(other.status, 200, JSON.stringify(other.body ?? other.events.slice(-1)));
  await page.locator('[data-testid="chat-msg"][data-role="user"]', { hasText: 'okapis' }).waitFor({ timeout: ms(30_000) });
  // its reply too (the first one, the stopped one, this one)
  const replies = page.locator('[data-testid="chat-msg"][data-role="assistant"]');
  await waitFor(async () => (await replies.count()) === 3 && (await replies.last().getAttribute('data-state')) === 'final', {
    timeout: ms(30_000), what: 'the reply to the script\'s message, live',
    describe: async () => `replies: ${JSON.stringify(await replies.evaluateAll((els) => els.map((e) => e.dataset.state)))}`,
  });

  // Workspaces: one made, the thread moved into it, renamed; the list groups it.
  await tid(page, 'chat-new-workspace').click();
  await tid(page, 'chat-ws-name').fill('Research');
  await tid(page, 'chat-ws-submit').click();
  await page.locator('[data-testid="chat-group"] h2', { hasText: 'Research' }).waitFor();
  await tid(page, 'chat-move').selectOption({ label: 'Research' });
  await page.locator('[data-testid="chat-group"]', { hasText: 'Research' }).locator('[data-testid="chat-thread"]').waitFor();
  await tid(page, 'chat-rename').click();
  await tid(page, 'chat-rename-title').fill('Zebra facts');
  await tid(page, 'chat-rename-submit').click();
  await waitFor(async () => (await tid(page, 'chat-title').textContent()) === 'Zebra facts', { what: 'the new title' });
  // memory on for this thread, kept by the agent
  await tid(page, 'chat-use-memory').check();
  await page.reload();
  await page.locator('[data-testid="chat-group"]', { hasText: 'Research' }).locator('[data-testid="chat-thread"]', { hasText: 'Zebra facts' }).waitFor();
  await waitFor(async () => tid(page, 'chat-use-memory').isChecked(), { what: 'memory on after a reload' });

  // Memory: a note added, found, deleted.
  await tid(page, 'chat-memory-btn').click();
  await tid(page, 'chat-note-text').fill('The user likes striped animals');
  await tid(page, 'chat-note-add').click();
  await tid(page, 'chat-note').filter({ hasText: 'striped animals' }).waitFor();
  await tid(page, 'chat-note-search').fill('striped');
  await tid(page, 'chat-note').locator('mark').first().waitFor();
  await tid(page, 'chat-note-search').fill('');
  await tid(page, 'chat-note').filter({ hasText: 'striped animals' }).getByRole('button', { name: 'Delete note' }).click();
  await page.locator('dialog').getByRole('button', { name: 'Delete note' }).click();
  await waitFor(async () => (await tid(page, 'chat-note').filter({ hasText: 'striped animals' }).count()) === 0, { what: 'the note gone' });
  await tid(page, 'chat-memory-btn').click();

  // History in pages: a thread of 52 messages shows the newest 50, and the
  // rest when the log is scrolled to its top (the view stays where it was).
  model.state.chunks = 1;
  model.state.delayMs = 0;
  const long = await api(relay, 'POST', `/api/v1/devices/${paired.deviceId}/chat/threads`, { title: 'A long one' }, owner.token);
  assert.equal(long.status, 201, long.text);
  for (let i = 1; i <= 26; i++) {
    const r = await postSse(relay, `/api/v1/devices/${paired.deviceId}/chat/threads/${long.body.id}/messages`, { content: `numbered message ${i}` }, owner.token);
    assert.equal(r.events.at(-1)?.event, 'done', `send ${i}: ${JSON.stringify(r.events.at(-1) ?? r.body)}`);
  }
  await page.goto(`/device/${paired.deviceId}/chat/${long.body.id}`);
  const msgs = tid(page, 'chat-msg');
  await waitFor(async () => (await msgs.count()) === 50, { timeout: ms(30_000), what: 'the newest page', describe: async () => `${await msgs.count()} shown` });
  assert.match(await msgs.first().textContent(), /numbered message 2\b/, 'the page starts at the second message');
  await tid(page, 'chat-load-older').waitFor();
  await page.locator('.chat-log').evaluate((el) => { el.scrollTop = 0; });
  await waitFor(async () => (await msgs.count()) === 52, { timeout: ms(30_000), what: 'the older page on scrolling up' });
  assert.match(await msgs.first().textContent(), /numbered message 1\b/);
  await page.getByText('The beginning of this conversation.').waitFor();

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

  await phone.context.close();

  // Delete (the long thread, open now): the confirmation says the OpenClaw session goes too.
  await tid(page, 'chat-delete').click();
  const confirm = page.locator('dialog');
  assert.match(await confirm.textContent(), /OpenClaw session/);
  await confirm.getByRole('button', { name: 'Delete thread' }).click();
  await waitFor(async () => (await tid(page, 'chat-thread').count()) === 1, { timeout: ms(30_000), what: 'the long thread gone from the list' });
  assert.match(await tid(page, 'chat-thread').textContent(), /Zebra facts/);
  assert.equal(new URL(page.url()).pathname, `/device/${paired.deviceId}/chat`);

  // Refusals in words: the agent stopped, the device is offline.
  await agent.stop();
  await page.reload();
  await waitFor(async () => /offline/i.test((await tid(page, 'chat-banner').textContent()) ?? ''), {
    timeout: ms(30_000), what: 'the offline refusal shown',
    describe: async () => `banner: ${await tid(page, 'chat-banner').textContent()}`,
  });

  // ... and comes back by itself when the agent does (the events stream
  // asks again, the device's online event hurries it): no reload.
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  await waitFor(async () => !(await tid(page, 'chat-banner').isVisible()) && (await tid(page, 'chat-thread').count()) === 1, {
    timeout: ms(60_000), what: 'the view back without a reload (its thread listed)',
    describe: async () => `banner: ${await tid(page, 'chat-banner').textContent()}`,
  });

  assert.deepEqual([...problems, ...phone.problems], [], 'no page errors, console errors or CSP violations');
}));
