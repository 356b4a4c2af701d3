// The terminal page in a real browser, beyond seed 001's Getting Started:
// a device that was never paired reads as offline; /terminal/:device/new
// starts a session and replaces the URL with its id; the latency shows;
// WebGL context loss falls back to the DOM renderer; the Paste button and
// Ctrl+Shift+V paste once, Copy copies the selection, search finds; a
// manual reconnect resumes without repeating anything; output far larger
// than the agent's flow-control window arrives whole (only possible if the
// page acknowledges what xterm.js has drawn); at 375 px the key row shows
// and its Ctrl is sticky for one key; ending the session shows it ended
// and nothing reconnects; a sign-in ended elsewhere makes Reconnect fail
// for good (no retry loop) and offers to sign in again. Then a connection
// cut by the network while the shell writes: the page reconnects by
// itself and shows every line once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, ms, sleep, waitFor, startRelay, signup, createProject, createDevice, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { openViewer, startProxy } from '../lib/extra.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, waitTermState, waitTermLine, termText, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

// The agent's flow-control window: the smallest it allows, so the large
// output below is many windows long and stalls unless the page acks.
const WINDOW = 64 * 1024;
const SEQ_N = 200000;
// `seq 1 N` through a PTY: every line ends in \r\n.
const seqBytes = (n) => {
  let b = 0;
  for (let i = 1; i <= n; i++) b += String(i).length + 2;
  return b;
};

const termState = (page) => page.evaluate(() => window.__clawlinkTerm?.state?.());
const termOffset = (page) => page.evaluate(() => window.__clawlinkTerm?.offset?.() ?? 0);

// Counts the page's WebSockets to /session (each connection attempt).
function countSessionSockets(page) {
  const c = { n: 0 };
  page.on('websocket', (ws) => { if (new URL(ws.url()).pathname === '/session') c.n++; });
  return c;
}

test('the terminal page: new session, latency, renderer fallback, clipboard, large output, key row, end, signed out', { timeout: ms(5 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Terminal lab');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'term-box' });
  await startAgent(paired.configPath, {
    relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId, extraArgs: ['--window', String(WINDOW)],
  });
  const { device: unpaired } = await createDevice(relay, owner.token, project.id, 'never-paired');

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner', viewport: { width: 1100, height: 720 } });
  await signInContext(context, owner.email, owner.password);
  // The WebGL renderer by choice (settings): automatic takes the DOM
  // renderer for this chromium's software WebGL, and the fallback from
  // WebGL to DOM on a lost context is tested below.
  await context.addInitScript(() => localStorage.setItem('clawlink.terminal', JSON.stringify({ renderer: 'webgl', fontSize: 14 })));
  const sockets = countSessionSockets(page);

  // A device that never paired: no session starts; the page says offline.
  await page.goto(`/terminal/${unpaired.id}/new`);
  await tid(page, 'term-state').filter({ hasText: 'offline' }).waitFor();
  assert.match(await tid(page, 'term-message').textContent(), /offline/i);
  assert.match(page.url(), new RegExp(`/terminal/${unpaired.id}/new$`), 'no session id for a device that is offline');
  assert.equal(sockets.n, 0, 'no terminal socket for a session that never started');

  // A new session: the URL gets the session's id, the terminal goes online
  // and the latency from ping/pong shows.
  await page.goto(`/terminal/${paired.deviceId}/new`);
  await waitTermState(page, 'online');
  assert.match(page.url(), new RegExp(`/terminal/${paired.deviceId}/[0-9a-f-]{36}$`), 'the URL names the new session');
  await waitFor(async () => /^\d+ ms$/.test((await tid(page, 'term-latency').textContent()).trim()), {
    timeout: ms(15_000), what: 'the latency indicator', describe: async () => `shows: ${await tid(page, 'term-latency').textContent()}`,
  });
  await tid(page, 'terminal').click();
  await page.keyboard.type('echo $((6*7))\n');
  await waitTermLine(page, /^42\s*$/);

  // WebGL context loss: the DOM renderer takes over and output goes on.
  // Headless chromium without a GPU may have no WebGL at all; then the
  // terminal already draws with the DOM renderer and there is nothing to lose.
  if (await page.evaluate(() => !!document.createElement('canvas').getContext('webgl2'))) {
    await waitFor(async () => (await page.evaluate(() => window.__clawlinkTerm.renderer())) === 'webgl', { what: 'the WebGL renderer' });
  }
  const webgl = await page.evaluate(() => {
    if (window.__clawlinkTerm.renderer() !== 'webgl') return false;
    const c = [...document.querySelectorAll('[data-testid="terminal"] .xterm-screen canvas:not(.xterm-link-layer)')].find((x) => x.getContext('webgl2'));
    if (!c) throw new Error('the WebGL renderer draws on no WebGL canvas');
    if (document.querySelectorAll('[data-testid="terminal"] .xterm-rows > div').length) throw new Error('DOM rows drawn beside the WebGL canvas');
    c.getContext('webgl2').getExtension('WEBGL_lose_context').loseContext();
    return true;
  });
  if (webgl) {
    t.diagnostic('the WebGL renderer lost its context: the DOM renderer takes over');
    await waitFor(() => page.evaluate(() => window.__clawlinkTerm.renderer() === 'dom' && document.querySelectorAll('[data-testid="terminal"] .xterm-rows > div').length > 0), {
      timeout: ms(15_000), what: 'the DOM renderer after the WebGL context was lost',
    });
  } else {
    t.diagnostic('this chromium offers no WebGL here: the terminal uses the DOM renderer, the context-loss step is skipped');
    assert.ok(await page.evaluate(() => document.querySelectorAll('[data-testid="terminal"] .xterm-rows > div').length > 0),
      'without WebGL the DOM renderer draws the rows');
  }
  await page.keyboard.type('echo DOM_$((9*9))\n');
  await waitTermLine(page, /^DOM_81\s*$/);

  // The Paste button and Ctrl+Shift+V: each pastes once.
  await page.evaluate(() => navigator.clipboard.writeText('echo PASTED_$((2*3))\n'));
  await tid(page, 'term-paste').click();
  await waitTermLine(page, /^PASTED_6\s*$/);
  await page.evaluate(() => navigator.clipboard.writeText('echo KEYPASTE_$((3*3))\n'));
  await page.keyboard.press('Control+Shift+V');
  await waitTermLine(page, /^KEYPASTE_9\s*$/);
  await page.keyboard.type('echo MARK_$((5*5))\n');
  const afterPaste = await waitTermLine(page, /^MARK_25\s*$/);
  assert.equal(afterPaste.split('\n').filter((l) => /^KEYPASTE_9\s*$/.test(l)).length, 1, `Ctrl+Shift+V pasted once:\n${afterPaste}`);
  assert.equal(afterPaste.split('\n').filter((l) => /^PASTED_6\s*$/.test(l)).length, 1, `the Paste button pasted once:\n${afterPaste}`);

  // Copy: select a word by double-clicking it, then the Copy button.
  const lines = afterPaste.split('\n');
  const row = lines.findIndex((l) => /^PASTED_6\s*$/.test(l));
  const rows = (await page.evaluate(() => window.__clawlinkTerm.size())).rows;
  const box = await page.locator('[data-testid="terminal"] .xterm-screen').boundingBox();
  await page.evaluate(() => navigator.clipboard.writeText(''));
  await page.mouse.dblclick(box.x + 20, box.y + (box.height / rows) * (row + 0.5));
  await tid(page, 'term-copy').click();
  await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'PASTED_6', {
    what: 'Copy to put the selected word on the clipboard',
    describe: async () => `clipboard: ${JSON.stringify(await page.evaluate(() => navigator.clipboard.readText()))}`,
  });
  await tid(page, 'terminal').click();
  await screenshot(page, '30-terminal-clipboard');

  // Search (Ctrl+Shift+F): a word on screen is found, one that is not is
  // marked invalid; Escape closes the box and gives the keyboard back.
  await page.keyboard.press('Control+Shift+F');
  const search = tid(page, 'term-search-input');
  await search.waitFor({ state: 'visible' });
  await search.fill('KEYPASTE_9');
  await search.press('Enter');
  assert.equal(await search.getAttribute('aria-invalid'), 'false', 'a word on screen is found');
  await search.fill('NOWHERE_ON_SCREEN');
  await search.press('Enter');
  assert.equal(await search.getAttribute('aria-invalid'), 'true', 'a word not on screen is marked');
  await search.press('Escape');
  await search.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea')), true, 'the terminal has the keyboard again');

  // Reconnect by hand: the page resumes where it was; nothing is shown
  // twice and nothing is lost.
  const socketsBefore = sockets.n;
  await tid(page, 'term-reconnect').click();
  await waitFor(() => sockets.n > socketsBefore, { what: 'a new terminal socket' });
  await waitTermState(page, 'online');
  await page.keyboard.type('echo AGAIN_$((1+1))\n');
  const again = await waitTermLine(page, /^AGAIN_2\s*$/);
  for (const re of [/^MARK_25\s*$/, /^KEYPASTE_9\s*$/, /^AGAIN_2\s*$/]) {
    assert.equal(again.split('\n').filter((l) => re.test(l)).length, 1, `${re} shown once after reconnecting:\n${again}`);
  }

  // Large output: SEQ_N lines, about 1.4 MB, over twenty times the agent's
  // window; it only arrives if the page acks what xterm.js has drawn.
  const before = await termOffset(page);
  await page.keyboard.type(`seq 1 ${SEQ_N}; echo SEQ_DONE_$((4*4))\n`);
  await waitTermLine(page, /^SEQ_DONE_16\s*$/, ms(120_000));
  const shown = await termText(page);
  assert.ok(shown.split('\n').some((l) => l.trim() === String(SEQ_N)), `the last line of seq is on screen:\n${shown}`);
  // The page's offset is where the agent's output ends: a second viewer
  // that replays the session from the relay's ring ends at the same byte.
  await waitFor(async () => /^\$\s*$/.test((await termText(page)).split('\n').filter((l) => l.trim()).at(-1)), { what: 'the prompt after the output' });
  const pageOffset = await termOffset(page);
  assert.ok(pageOffset - before >= seqBytes(SEQ_N), `the page took in all of seq's ${seqBytes(SEQ_N)} bytes (offset ${before} → ${pageOffset})`);
  const sessionId = page.url().split('/').pop();
  const side = await openViewer(scope, {
    wsUrl: relay.wsUrl, token: owner.token, sessionId, deviceId: paired.deviceId, resumeOffset: pageOffset - 64, start: null, label: 'side viewer',
  });
  await waitFor(() => side.stream.next !== null && side.stream.next >= pageOffset, {
    timeout: ms(15_000), what: 'the side viewer to replay the end of the output', describe: () => side.describe(),
  });
  assert.equal(side.stream.next, pageOffset, 'the page shows the output up to the last byte the agent produced');
  assert.equal(await termOffset(page), pageOffset, 'no output after the prompt');
  await side.close();

  // 375 px wide: the key row shows; its Ctrl applies to the next key only.
  await page.setViewportSize({ width: 375, height: 700 });
  await tid(page, 'key-row').waitFor({ state: 'visible' });
  const ctrl = page.locator('[data-testid="key-row"] [data-key="ctrl"]');
  await page.keyboard.type('sleep 100\n');
  await ctrl.click();
  assert.equal(await ctrl.getAttribute('aria-pressed'), 'true', 'Ctrl is armed');
  await page.keyboard.type('c');
  assert.equal(await ctrl.getAttribute('aria-pressed'), 'false', 'Ctrl applies to one key');
  await page.keyboard.type('echo INTERRUPTED_$((4+4))\n');
  await waitTermLine(page, /^INTERRUPTED_8\s*$/);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no horizontal overflow at 375 px');
  await screenshot(page, '31-terminal-375-key-row');
  await page.setViewportSize({ width: 1100, height: 720 });

  // End the session: every viewer sees it ended; nothing reconnects.
  await tid(page, 'term-end').click();
  await page.locator('dialog').getByRole('button', { name: 'End session' }).click();
  await waitTermState(page, 'ended');
  await tid(page, 'term-state').filter({ hasText: 'ended' }).waitFor();
  assert.match(await tid(page, 'term-message').textContent(), /ended/i);
  assert.equal(await tid(page, 'term-reconnect').isDisabled(), true, 'Reconnect is off for an ended session');
  const endedSockets = sockets.n;
  await sleep(ms(3_000)); // longer than the first reconnection backoff (1 s)
  assert.equal(sockets.n, endedSockets, 'no reconnection after the session ended');
  assert.equal(await termState(page), 'ended');
  await screenshot(page, '32-terminal-ended');

  // A new session from the ended page's link; then the sign-in ends
  // elsewhere (signed out): Reconnect is refused for good, the page offers
  // to sign in again and does not retry.
  await tid(page, 'term-new').click();
  await waitTermState(page, 'online');
  const hdr = { 'X-Clawlink-Client': 'web' };
  const sess = await (await context.request.get('/api/v1/auth/session', { headers: hdr })).json();
  const out = await context.request.post('/api/v1/auth/logout', { headers: { ...hdr, 'X-CSRF-Token': sess.csrf_token } });
  assert.equal(out.status(), 204);
  await tid(page, 'term-reconnect').click();
  await waitTermState(page, 'failed');
  await tid(page, 'term-signin').waitFor();
  assert.equal((await tid(page, 'term-state').textContent()).trim(), 'offline');
  const failedSockets = sockets.n;
  await sleep(ms(3_000));
  assert.equal(sockets.n, failedSockets, 'a refused sign-in is not retried');
  await screenshot(page, '33-terminal-signed-out');
  // "Sign in again" leads to the sign-in form (the page knows the user is
  // gone; it does not bounce back to the terminal), which returns there.
  await tid(page, 'term-signin').click();
  await tid(page, 'auth-email').waitFor();
  assert.match(page.url(), new RegExp(`/auth\\?next=%2Fterminal%2F${paired.deviceId}%2F`));
  await tid(page, 'auth-email').fill(owner.email);
  await tid(page, 'auth-password').fill(owner.password);
  await tid(page, 'auth-submit').click();
  await page.waitForURL(new RegExp(`/terminal/${paired.deviceId}/[0-9a-f-]{36}$`));
  await waitTermState(page, 'online');

  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));

test('the terminal page across a dropped connection: it reconnects by itself and shows everything once', { timeout: ms(3 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'far-box' });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  // The browser reaches the relay through a proxy that can cut every
  // connection at once, as a network change does.
  const proxy = await startProxy(scope, relay.port);
  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, { url: `http://127.0.0.1:${proxy.port}` }, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);
  const sockets = countSessionSockets(page);
  await page.goto(`/terminal/${paired.deviceId}/new`);
  await waitTermState(page, 'online');
  await tid(page, 'terminal').click();
  await page.keyboard.type('echo START_$((2*2))\n');
  await waitTermLine(page, /^START_4\s*$/);

  // The shell writes while the connection is gone (half a second after
  // the command: the page's first retry comes after a second).
  await page.keyboard.type('sleep 0.5; seq 1 25 | sed s/^/L/; echo DROP_$((5*5))\n');
  await waitTermLine(page, /sleep 0\.5; seq 1 25/);
  proxy.dropAll();
  await waitFor(async () => ['reconnecting', 'connecting'].includes(await termState(page)), { what: 'the page to notice the drop' });
  await waitTermState(page, 'online', ms(30_000));
  const text = await waitTermLine(page, /^DROP_25\s*$/, ms(30_000));
  const lines = text.split('\n');
  for (let i = 1; i <= 25; i++) {
    assert.equal(lines.filter((l) => l.trim() === `L${i}`).length, 1, `L${i} shown exactly once:\n${text}`);
  }
  assert.equal(lines.filter((l) => /^START_4\s*$/.test(l)).length, 1, `nothing repeated after reconnecting:\n${text}`);
  assert.equal(sockets.n, 2, 'the page reconnected once, by itself');
  await screenshot(page, '34-terminal-after-drop');
  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));
