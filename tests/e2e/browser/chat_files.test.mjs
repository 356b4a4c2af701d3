// The Chat view's Files panel (web/src/chat/filespanel.ts, issue 15) in a
// real browser against the real agent's files API through the relay
// (docs/chat.md, "Files"): the agent's own temporary $HOME listed from ~
// (folders first), a folder opened and left by its breadcrumb; a file
// uploaded by the Upload button and one dropped onto the panel (a
// synthetic DataTransfer drop), each written byte for byte in the agent's
// $HOME; a new folder; one uploaded again and replaced after the question;
// a file of several chunks downloaded back byte for byte, another download
// cancelled; a link inside ~ opened, one out of it refused; refusals in
// words: an upload into /tmp (outside $HOME), /etc, a file over the size
// limit, a path that is not there; attachments in the composer: by the
// Attach button, pasted (an image) and dropped on the conversation, each
// uploaded under ~/.clawlink/uploads and shown as a chip, one removed, one
// too large refused in words, then sent with the message through a real
// OpenClaw gateway (the fake model) and listed on it, also after a reload;
// a phone (375 px) gets the panel as the whole screen with nothing
// scrolling sideways; no page error, console error or CSP violation on the
// way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile, chmod, mkdir, readdir, stat, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, signup, createProject, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { startFakeModel } from '../lib/fake-model.mjs';
import { startGateway } from '../lib/openclaw.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

// A real PNG of one pixel, as a pasted image (the gateway checks images).
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

// A transfer row's final state ('done', 'error', 'cancelled') and its words.
async function transferEnd(page, kind, name, timeout = ms(60_000)) {
  const row = page.locator(`[data-testid="chat-transfer"][data-kind="${kind}"][data-name="${name}"]`).first();
  await waitFor(async () => (await row.count()) > 0 && (await row.getAttribute('data-state')) !== 'running', {
    timeout, what: `the ${kind === 'up' ? 'upload' : 'download'} of ${name} to end`,
    describe: async () => `row: ${(await row.count()) ? await row.textContent() : '(none)'}`,
  });
  return { state: await row.getAttribute('data-state'), text: (await row.locator('[data-testid="chat-transfer-status"]').textContent()) ?? '' };
}

// Drops files made in the page (name, bytes as base64) onto a locator, as
// a person dragging them from the desktop would: dragenter, dragover, drop
// with a DataTransfer holding them.
async function dropFiles(page, locator, files) {
  const dt = await page.evaluateHandle((list) => {
    const d = new DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      d.items.add(new File([bytes], f.name, { type: f.type || 'application/octet-stream' }));
    }
    return d;
  }, files.map((f) => ({ name: f.name, type: f.type, b64: Buffer.from(f.bytes).toString('base64') })));
  for (const ev of ['dragenter', 'dragover', 'drop']) await locator.dispatchEvent(ev, { dataTransfer: dt });
}

// The crumbs' labels, as shown.
const crumbs = (page) => tid(page, 'chat-files-crumb').allTextContents();

test('the files panel and attachments: browse ~, upload by button and by drop, replace, download byte-exact, cancel, links, refusals in words, attach by button/paste/drop and send, 375 px', { timeout: ms(6 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: 'Thanks for the files; the fake model read none of them.', chunks: 3, delayMs: 20 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Files');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'files-box' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token }; // for sending with attachments; the files API needs none
  cfg.capabilities = ['terminal', 'chat', 'files', 'status'];
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const home = agent.home;

  // What the agent's $HOME holds: a folder, a text file, a file of three
  // download chunks (512 KiB each), a big one to cancel.
  await mkdir(path.join(home, 'docs', 'deeper'), { recursive: true });
  await writeFile(path.join(home, 'docs', 'notes.md'), '# notes\nzebras are striped\n');
  const threeChunks = randomBytes(512 * 1024 * 2 + 12345);
  await writeFile(path.join(home, 'three.bin'), threeChunks);
  await writeFile(path.join(home, 'huge.bin'), randomBytes(48 * 1024 * 1024));
  await symlink('docs', path.join(home, 'docs-link')); // a link inside ~: followed
  await symlink('/etc', path.join(home, 'etc-link')); // a link out of ~: refused

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'desktop' });
  await signInContext(context, owner.email, owner.password);
  await page.goto(`/device/${paired.deviceId}/chat`);

  // Files beside Memory: ~ listed, folders first.
  await tid(page, 'chat-files-btn').click();
  const panel = tid(page, 'chat-files');
  await panel.waitFor({ state: 'visible' });
  const rows = tid(page, 'chat-file-row');
  await waitFor(async () => (await rows.count()) >= 3, {
    timeout: ms(60_000), what: 'the home folder listed',
    describe: async () => `error: ${await tid(page, 'chat-files-error').textContent()}; rows: ${await rows.count()}`,
  });
  assert.deepEqual(await crumbs(page), ['~'], 'the breadcrumb starts at ~');
  const names = await rows.evaluateAll((els) => els.map((e) => `${e.dataset.type}:${e.dataset.name}`));
  const firstFile = names.findIndex((n) => !n.startsWith('dir:'));
  assert.ok(names.includes('dir:docs') && names.includes('file:three.bin') && names.includes('file:huge.bin'), names.join(' '));
  assert.ok(names.slice(firstFile).every((n) => !n.startsWith('dir:')), `folders first: ${names.join(' ')}`);
  assert.match(await rows.filter({ hasText: 'three.bin' }).textContent(), /1\.0 MiB/, 'a file\'s size in words');
  assert.equal(await tid(page, 'chat-files-where').isVisible(), false, 'no outside-home note in ~');

  // A folder opened (by the keyboard), and left by its breadcrumb.
  await page.getByRole('button', { name: 'Open folder docs' }).focus();
  await page.keyboard.press('Enter');
  await waitFor(async () => JSON.stringify(await crumbs(page)) === JSON.stringify(['~', 'docs']), { what: 'the crumbs ~ / docs' });
  await rows.filter({ hasText: 'notes.md' }).waitFor();
  assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.name)), ['deeper', 'notes.md']);

  // Upload by the button, into the open folder (~/docs): two chunks and a bit.
  const viaButton = randomBytes(40 * 1024 * 2 + 777);
  await tid(page, 'chat-files-input').setInputFiles({ name: 'by-button.bin', mimeType: 'application/octet-stream', buffer: viaButton });
  let end = await transferEnd(page, 'up', 'by-button.bin');
  assert.equal(end.state, 'done', end.text);
  assert.match(end.text, /Uploaded 80\.8 KiB to ~\/docs\/by-button\.bin/);
  assert.ok(Buffer.from(await readFile(path.join(home, 'docs', 'by-button.bin'))).equals(viaButton), 'the uploaded file is byte for byte the chosen one');
  await rows.filter({ hasText: 'by-button.bin' }).waitFor();

  // New folder, in ~/docs; made 0700 by the agent.
  await tid(page, 'chat-files-mkdir').click();
  await tid(page, 'chat-files-mkdir-name').fill('made here');
  await tid(page, 'chat-files-mkdir-submit').click();
  await rows.filter({ hasText: 'made here/' }).waitFor();
  assert.ok((await stat(path.join(home, 'docs', 'made here'))).isDirectory());

  // Back to ~ by the crumb; a file dropped onto the panel lands there.
  await tid(page, 'chat-files-crumb').filter({ hasText: '~' }).click();
  await waitFor(async () => JSON.stringify(await crumbs(page)) === JSON.stringify(['~']), { what: 'back at ~' });
  const viaDrop = randomBytes(100_000);
  await dropFiles(page, panel, [{ name: 'dropped one.bin', bytes: viaDrop }]);
  end = await transferEnd(page, 'up', 'dropped one.bin');
  assert.equal(end.state, 'done', end.text);
  assert.ok(Buffer.from(await readFile(path.join(home, 'dropped one.bin'))).equals(viaDrop), 'the dropped file is byte for byte in $HOME');
  await rows.filter({ hasText: 'dropped one.bin' }).waitFor();

  // The same name again: the question, then the file replaced atomically.
  const again = Buffer.from('the second version\n');
  await dropFiles(page, panel, [{ name: 'dropped one.bin', bytes: again }]);
  const ask = page.locator('dialog');
  await ask.waitFor();
  assert.match(await ask.textContent(), /~\/dropped one\.bin exists already/);
  await ask.getByRole('button', { name: 'Replace' }).click();
  await waitFor(async () => (await page.locator('[data-testid="chat-transfer"][data-name="dropped one.bin"][data-state="done"]').count()) === 2, { what: 'the replacing upload done' });
  assert.ok(Buffer.from(await readFile(path.join(home, 'dropped one.bin'))).equals(again), 'replaced');
  assert.deepEqual((await readdir(home)).filter((n) => n.startsWith('.clawlink-upload-')), [], 'no temporary file left');

  // Download a file of three chunks: saved byte for byte.
  const [dl] = await Promise.all([
    page.waitForEvent('download', { timeout: ms(60_000) }),
    page.getByRole('button', { name: /^Download three\.bin/ }).click(),
  ]);
  assert.equal(dl.suggestedFilename(), 'three.bin');
  assert.ok(Buffer.from(await readFile(await dl.path())).equals(threeChunks), 'the download is byte for byte the file');
  end = await transferEnd(page, 'down', 'three.bin');
  assert.equal(end.state, 'done');
  assert.match(end.text, /Downloaded 1\.0 MiB/);
  // ... and the one dropped, back again
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /^Download dropped one\.bin/ }).click()]);
  assert.ok(Buffer.from(await readFile(await dl2.path())).equals(again));

  // A big download cancelled: progress shown, then nothing saved.
  let saved = 0;
  page.on('download', () => saved++);
  await page.getByRole('button', { name: /^Download huge\.bin/ }).click();
  const hugeRow = page.locator('[data-testid="chat-transfer"][data-name="huge.bin"]');
  await waitFor(async () => /%.* of 48\.0 MiB/.test((await hugeRow.locator('[data-testid="chat-transfer-status"]').textContent()) ?? ''), { what: 'the big download\'s progress' });
  await hugeRow.getByRole('button', { name: 'Cancel' }).click();
  end = await transferEnd(page, 'down', 'huge.bin');
  assert.equal(end.state, 'cancelled', end.text);
  await page.waitForTimeout(500);
  assert.equal(saved, 0, 'a cancelled download saves nothing');

  // Refusals in words. /tmp is readable but not writable: the panel says
  // so, and the agent's refusal is shown.
  await tid(page, 'chat-files-go').fill('/tmp');
  await tid(page, 'chat-files-go').press('Enter');
  await waitFor(async () => JSON.stringify(await crumbs(page)) === JSON.stringify(['/', 'tmp']), { what: 'the crumbs / tmp' });
  assert.match(await tid(page, 'chat-files-where').textContent(), /\/tmp is outside your home directory/);
  const tmpName = `clawlink-refused-${process.pid}-${Date.now()}.txt`;
  await dropFiles(page, panel, [{ name: tmpName, bytes: Buffer.from('should not be written') }]);
  end = await transferEnd(page, 'up', tmpName);
  assert.equal(end.state, 'error');
  assert.match(end.text, /^Not allowed there\. The agent says: writes are allowed only inside \$HOME.*\(forbidden_path\)$/, end.text);
  assert.ok(!existsSync(path.join('/tmp', tmpName)), 'nothing written in /tmp');

  // over the size limit (64 MiB): refused before a byte is sent
  await tid(page, 'chat-files-go').fill('~');
  await tid(page, 'chat-files-go').press('Enter');
  await waitFor(async () => JSON.stringify(await crumbs(page)) === JSON.stringify(['~']), { what: 'back at ~ by typing it' });
  await page.evaluate(() => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(64 * 1024 * 1024 + 1)], 'too-big.bin'));
    const p = document.querySelector('[data-testid="chat-files"]');
    for (const type of ['dragenter', 'dragover', 'drop']) p.dispatchEvent(new DragEvent(type, { dataTransfer: d, bubbles: true, cancelable: true }));
  });
  end = await transferEnd(page, 'up', 'too-big.bin');
  assert.equal(end.state, 'error');
  assert.match(end.text, /^Too large: the agent takes uploads of at most 64\.0 MiB\. \(upload_too_large\)$/, end.text);
  assert.ok(!existsSync(path.join(home, 'too-big.bin')));

  // a path that is not there
  await tid(page, 'chat-files-go').fill('~/no/such/folder');
  await tid(page, 'chat-files-go').press('Enter');
  await waitFor(async () => /^Not found.*\(not_found\)$/.test((await tid(page, 'chat-files-error').textContent()) ?? ''), {
    what: 'the not-found refusal', describe: async () => `error: ${await tid(page, 'chat-files-error').textContent()}`,
  });
  assert.deepEqual(await crumbs(page), ['~'], 'the folder shown stays');
  // ... and what is outside every allowed root
  await tid(page, 'chat-files-go').fill('/etc');
  await tid(page, 'chat-files-go').press('Enter');
  await waitFor(async () => /^Not allowed there\. The agent says: \/etc is outside the allowed roots.*\(forbidden_path\)$/.test((await tid(page, 'chat-files-error').textContent()) ?? ''), { what: 'the refusal of /etc' });

  // Links: listed as links; one inside ~ opens its folder, one out is refused.
  await tid(page, 'chat-files-go').fill('~');
  await tid(page, 'chat-files-go').press('Enter');
  await page.getByRole('button', { name: 'Open link etc-link' }).click();
  await waitFor(async () => /^etc-link: Not allowed there\. The agent says: .*link.*\(forbidden_path\)$/.test((await tid(page, 'chat-files-error').textContent()) ?? ''), {
    what: 'the link out refused', describe: async () => `error: ${await tid(page, 'chat-files-error').textContent()}`,
  });
  await page.getByRole('button', { name: 'Open link docs-link' }).click();
  await waitFor(async () => JSON.stringify(await crumbs(page)) === JSON.stringify(['~', 'docs-link']), { what: 'the linked folder open' });
  await rows.filter({ hasText: 'notes.md' }).waitFor();

  // Keyboard: Esc closes the panel and gives the focus back to its button.
  await tid(page, 'chat-files-go').focus();
  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'chat-files-btn');
  // ... Memory and Files are one at a time
  await page.keyboard.press('Enter');
  await panel.waitFor({ state: 'visible' });
  await tid(page, 'chat-memory-btn').click();
  await panel.waitFor({ state: 'hidden' });
  await tid(page, 'chat-memory-btn').click();

  // Attachments: by the Attach button, pasted into the composer, dropped
  // on the conversation; each uploaded at once under ~/.clawlink/uploads
  // and shown as a chip; one removed; one too large refused in words; then
  // sent with the message (attachments: [{path}]) through the real gateway.
  const chips = tid(page, 'chat-chip');
  const note = tid(page, 'chat-attach-note');
  const notes = Buffer.from('zebra notes, attached\n');
  await tid(page, 'chat-attach-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: notes });
  await tid(page, 'chat-input').evaluate((el, b64) => {
    const bin = atob(b64);
    const d = new DataTransfer();
    d.items.add(new File([Uint8Array.from(bin, (c) => c.charCodeAt(0))], 'image.png', { type: 'image/png' }));
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: d, bubbles: true, cancelable: true }));
  }, PNG_1x1);
  const url = page.url();
  await dropFiles(page, tid(page, 'chat-log'), [{ name: 'dropped.txt', bytes: Buffer.from('dropped on the log\n') }]);
  assert.equal(page.url(), url, 'the drop did not navigate away');
  await waitFor(async () => (await chips.count()) === 3 && (await page.locator('[data-testid="chat-chip"][data-state="ready"]').count()) === 3, {
    what: 'three chips, uploaded', describe: async () => `chips: ${JSON.stringify(await chips.evaluateAll((els) => els.map((e) => `${e.dataset.name}:${e.dataset.state}`)))}; note: ${await note.textContent()}`,
  });
  const chipNames = await chips.evaluateAll((els) => els.map((e) => e.dataset.name));
  assert.equal(chipNames[0], 'notes.txt');
  assert.match(chipNames[1], /^pasted-\d{8}-\d{6}\.png$/, 'a pasted image gets a name of its own');
  assert.equal(chipNames[2], 'dropped.txt');
  await page.getByRole('button', { name: 'Remove dropped.txt' }).click();
  await waitFor(async () => (await chips.count()) === 2, { what: 'the chip removed' });
  await dropFiles(page, tid(page, 'chat-log'), [{ name: 'too-big.bin', bytes: randomBytes(3 * 1024 * 1024) }]);
  await waitFor(async () => /too-big\.bin \(3\.0 MiB\) is too large to attach/.test((await note.textContent()) ?? ''), { what: 'the too-large attachment refused in words' });
  assert.equal(await chips.count(), 2, 'nothing attached for it');
  await screenshot(page, '35-chat-attach-chips');
  // uploaded byte for byte into a folder of its own
  const ups = await readdir(path.join(home, '.clawlink', 'uploads'));
  const notesAt = ups.map((d) => path.join(home, '.clawlink', 'uploads', d, 'notes.txt')).find((f) => existsSync(f));
  assert.ok(notesAt && Buffer.from(await readFile(notesAt)).equals(notes), `notes.txt uploaded: ${ups.join(' ')}`);

  await tid(page, 'chat-input').fill('Please read the attached notes');
  await tid(page, 'chat-send').click();
  const sent = page.locator('[data-testid="chat-msg"][data-role="user"]', { hasText: 'Please read the attached notes' });
  await waitFor(async () => {
    if (await tid(page, 'chat-banner').isVisible()) {
      const why = (await tid(page, 'chat-banner').textContent()) ?? '';
      // the gateway link can lag the agent's at start: send again (the files stay attached)
      if (/gateway/i.test(why) && (await tid(page, 'chat-input').inputValue())) {
        await page.waitForTimeout(1000);
        await tid(page, 'chat-send').click();
        return false;
      }
      if (!/gateway/i.test(why)) throw new Error(`the send failed: ${why}`);
    }
    return (await sent.count()) === 1;
  }, { timeout: ms(90_000), interval: 100, what: 'the message sent with its attachments' });
  const listed = () => sent.locator('[data-testid="chat-msg-attachment"]').allTextContents();
  await waitFor(async () => (await listed()).length === 2, { what: 'the message listing its attachments' });
  assert.match((await listed())[0], /notes\.txt \(22 B\)/);
  assert.match((await listed())[1], /pasted-.*\.png \(\d+ B\)/);
  assert.equal(await chips.count(), 0, 'the chips are gone once the message is taken');
  const answer = page.locator('[data-testid="chat-msg"][data-role="assistant"]').last();
  await waitFor(async () => (await answer.count()) === 1 && (await answer.getAttribute('data-state')) === 'final', { timeout: ms(60_000), what: 'the reply' });
  assert.match(await answer.textContent(), /fake model/);
  await page.reload();
  await sent.waitFor({ timeout: ms(30_000) });
  await waitFor(async () => (await listed()).length === 2, { what: 'the attachments after a reload' });
  await screenshot(page, '36-chat-attached');

  // A phone: the panel is the whole screen, nothing scrolls sideways.
  const phone = await openPage(scope, browser, relay, { label: 'phone', viewport: { width: 375, height: 740 } });
  await signInContext(phone.context, owner.email, owner.password);
  await phone.page.goto(`/device/${paired.deviceId}/chat`);
  await tid(phone.page, 'chat-files-btn').click();
  await tid(phone.page, 'chat-file-row').filter({ hasText: 'three.bin' }).waitFor({ timeout: ms(30_000) });
  await tid(phone.page, 'chat-files-go').fill('~/docs');
  await tid(phone.page, 'chat-files-go').press('Enter');
  await tid(phone.page, 'chat-file-row').filter({ hasText: 'by-button.bin' }).waitFor();
  const box = await tid(phone.page, 'chat-files').boundingBox();
  assert.ok(box && box.x <= 0.5 && Math.abs(box.width - 375) <= 1, `the panel covers the screen's width: ${JSON.stringify(box)}`);
  const widths = await phone.page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, panel: document.querySelector('[data-testid="chat-files"]').scrollWidth }));
  assert.ok(widths.doc <= 375 && widths.body <= 375 && widths.panel <= 375, `nothing wider than the screen: ${JSON.stringify(widths)}`);
  await screenshot(phone.page, '33-chat-files-375');
  await screenshot(page, '34-chat-files');
  await phone.context.close();

  // The agent's $HOME holds what was uploaded and nothing more.
  assert.ok((await stat(path.join(home, 'docs', 'by-button.bin'))).isFile());
  assert.deepEqual([...problems, ...phone.problems], [], 'no page errors, console errors or CSP violations');
}));
