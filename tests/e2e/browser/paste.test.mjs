// A large paste through the real page (xterm.js, the Paste button) into a
// program that reads only later (docs/protocol.md, "Input flow control"):
// 1 MiB arrives byte-exact (the page sends no more than the relay's input
// window beyond what the relay acknowledged; the relay and the agent hold
// the rest), and a paste larger than the page lets wait (INPUT_MAX,
// 4 MiB) is refused whole with a notice, none of it sent. Before the fix
// the agent kept 64 KiB for a PTY that did not read and dropped the rest.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { e2e, cleanupAll, ms, startRelay, signup, createProject, pairAgent, startAgent } from '../lib/harness.mjs';
import { sha256 } from '../lib/extra.mjs';
import { launchBrowser, openPage, signInContext, tid, waitTermState, waitTermLine, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const MiB = 1024 * 1024;

/** One line of n printable characters (xterm.js turns newlines into CR). */
function line(n) {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x21 + ((x >>> 16) % 90);
  }
  return b.toString('latin1');
}

async function paste(page, text) {
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await tid(page, 'term-paste').click();
}

test('a 1 MiB paste into a program that reads late arrives byte-exact; a paste over 4 MiB is refused whole with a notice', { timeout: ms(5 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Paste lab');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'paste-box' });
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });

  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);
  await page.goto(`/terminal/${paired.deviceId}/new`);
  await waitTermState(page, 'online');
  await tid(page, 'terminal').click();

  // Raw mode first: a canonical tty line holds 4096 bytes and the kernel
  // drops the rest, whoever sends it. (Raw mode also turns off output
  // processing: __DONE__ starts where __READY__ ended, hence \s*.)
  const text = line(1 * MiB);
  await page.keyboard.type(`stty raw -echo; echo __RE""ADY__; sleep 4; timeout 120 head -c ${text.length} > paste.bin; sha256sum < paste.bin > paste.sha; stty sane; echo __DO""NE__\n`);
  await waitTermLine(page, /^__READY__\s*$/);
  await paste(page, text);
  await waitTermLine(page, /^\s*__DONE__\s*$/, ms(180_000));
  const got = await readFile(path.join(agent.home, 'paste.bin'));
  const sha = (await readFile(path.join(agent.home, 'paste.sha'), 'utf8')).split(/\s/)[0];
  assert.equal(got.length, text.length, 'the program read the whole paste');
  assert.equal(sha, sha256(Buffer.from(text, 'latin1')), 'byte-exact');

  // Over what the page lets wait: refused whole, with a notice; the
  // program (reading this time) gets none of it.
  const over = line(4 * MiB + 1024);
  await page.keyboard.type('stty raw -echo; echo __RE""ADY2__; timeout 6 cat > over.bin; stty sane; echo __DO""NE2__\n');
  await waitTermLine(page, /^\s*__READY2__\s*$/);
  await paste(page, over);
  await page.locator('.toast-error').filter({ hasText: /Paste too large.*Nothing was sent/ }).waitFor({ timeout: ms(15_000) });
  await waitTermLine(page, /^\s*__DONE2__\s*$/, ms(30_000));
  assert.equal((await stat(path.join(agent.home, 'over.bin'))).size, 0, 'nothing of the refused paste reached the program');

  // and the terminal still types
  await page.keyboard.type('echo after-$((6*7))\n');
  await waitTermLine(page, /^after-42\s*$/);
  assert.deepEqual(problems, []);
}));
