// Seed 001's "Getting Started", done by a person in a real browser against
// the real relay (with its embedded web app) and a real agent:
// sign up → create a project → add a device → pair the agent with the
// command the page shows → open a terminal → `echo $((6*7))` shows 42 →
// resize the window and check `stty size` → invite a second user, who
// confirms their address with the mailed link, accepts, and sees the
// member's view → kill and restart the relay, and the terminal
// reconnects by itself without losing or repeating output.
//
// Screenshots of each main page are saved (see lib/browser.mjs SHOT_DIR).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { mkdir, symlink } from 'node:fs/promises';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, sleep, waitFor, startRelay, startAgent, tempDir, randomId, AGENT_BIN, api,
} from '../lib/harness.mjs';
import { launchBrowser, openPage, screenshot, tid, waitTermState, waitTermLine, termText, WEB_ARGS, openTerminalAndEcho } from '../lib/browser.mjs';
import { verificationToken } from '../lib/mail.mjs';

after(cleanupAll);

const PASSWORD = 'correct horse battery staple';

// Runs the pairing command exactly as the page shows it, pasted into a
// shell, with `clawlink` on PATH being the build's agent and a config file
// of the test's own.
async function runShownPairCommand(command, configPath, home) {
  assert.match(command, /^clawlink pair /, `the page's pairing command: ${command}`);
  const bin = path.join(home, 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(AGENT_BIN, path.join(bin, 'clawlink'));
  const env = { PATH: `${bin}:${process.env.PATH}`, HOME: home, LANG: 'C.UTF-8', CL_CONFIG: configPath };
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', `${command} --config "$CL_CONFIG"`], { env, timeout: ms(30_000) },
      (err, stdout, stderr) => (err ? reject(new Error(`${command} failed: ${err.message}\n${stderr}\n${stdout}`)) : resolve(stdout)));
  });
}

async function signUpInBrowser(page, email, name) {
  await page.goto('/');
  await page.getByRole('link', { name: /sign in|get started/i }).first().click();
  await page.waitForURL(/\/auth/);
  await tid(page, 'auth-tab-signup').click();
  await tid(page, 'auth-email').fill(email);
  await tid(page, 'auth-name').fill(name);
  await tid(page, 'auth-password').fill(PASSWORD);
  await tid(page, 'auth-submit').click();
  await page.waitForURL(/\/dashboard/);
}

async function signInInBrowser(page, email) {
  await page.goto('/auth');
  await tid(page, 'auth-email').fill(email);
  await tid(page, 'auth-password').fill(PASSWORD);
  await tid(page, 'auth-submit').click();
  await page.waitForURL(/\/dashboard/);
}

test('getting started in a real browser: sign up, pair, terminal, resize, team, relay restart', { timeout: TEST_TIMEOUT * 3 }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const browser = await launchBrowser(scope);
  const { page, problems } = await openPage(scope, browser, relay, { label: 'owner' });

  // The landing page.
  await page.goto('/');
  await screenshot(page, '01-landing');

  // Sign up; the session is an HttpOnly cookie the page's script cannot read.
  const ownerEmail = `owner-${randomId(4)}@example.com`;
  await signUpInBrowser(page, ownerEmail, 'Ada Owner');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'cl_session'); // plain http: __Host- needs TLS (tls_session.test)
  assert.ok(session, 'signing up sets the cl_session cookie');
  assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('cl_session')), false, 'script cannot see the session cookie');
  await screenshot(page, '02-dashboard-empty');

  // Create a project from the dashboard.
  const projectName = `Lab ${randomId(2)}`;
  await tid(page, 'project-create-name').fill(projectName);
  await tid(page, 'project-create-submit').click();
  await tid(page, 'project-card').filter({ hasText: projectName }).getByRole('link', { name: projectName }).click();
  await page.waitForURL(/\/project\/[0-9a-f-]+/);
  const projectId = page.url().match(/\/project\/([0-9a-f-]+)/)[1];

  // Add a device: the dialog shows the pairing code and the exact command.
  await tid(page, 'add-device').click();
  await tid(page, 'add-device-name').fill('laptop one');
  await tid(page, 'add-device-submit').click();
  const command = (await tid(page, 'pairing-command').first().locator('code').textContent()).trim();
  const code = (await tid(page, 'pairing-code').first().textContent()).trim();
  assert.ok(command.includes(code), `the command carries the code: ${command}`);
  assert.ok(command.includes(relay.url), `the command names this relay: ${command}`);
  // The one-line installer for a new machine: this relay's script, the
  // code as an argument (tests/e2e/install.test.mjs runs it for real).
  const install = (await tid(page, 'pairing-install-command').first().locator('code').textContent()).trim();
  assert.equal(install, `curl -fsSL ${relay.url}/install.sh | sh -s -- ${code} --name 'laptop one'`);
  await screenshot(page, '03-add-device');
  await page.keyboard.press('Escape');

  // Pair with the shown command, then start the agent; the page sees it
  // come online by itself (live events, no reload).
  const dir = await tempDir('clawlink-browser-agent-');
  const configPath = path.join(dir, 'agent.json');
  await runShownPairCommand(command, configPath, dir);
  const agent = await startAgent(configPath);
  const row = tid(page, 'device-row').filter({ hasText: 'laptop one' });
  await waitFor(async () => /online/i.test(await row.locator('[data-testid="device-status"]').textContent()), {
    timeout: ms(20_000), what: 'the device row to show online', describe: async () => `row: ${await row.textContent()}\n${agent.logs().slice(-2000)}`,
  });
  await screenshot(page, '04-project-devices');

  // Open a terminal and run a command.
  await openTerminalAndEcho(page, row);
  await screenshot(page, '05-terminal');

  // Resize the window: the PTY follows the terminal's new size.
  const sizeOf = () => page.evaluate(() => window.__clawlinkTerm.size());
  const before = await sizeOf();
  await page.setViewportSize({ width: 900, height: 560 });
  await waitFor(async () => {
    const s = await sizeOf();
    return s.cols !== before.cols && s.rows !== before.rows;
  }, { what: 'xterm.js to fit the smaller window' });
  await sleep(300); // the resize message is debounced
  const after_ = await sizeOf();
  await page.keyboard.type('stty size\n');
  await waitTermLine(page, new RegExp(`^${after_.rows} ${after_.cols}\\s*$`));

  // A marker before the relay goes away, to check nothing is repeated.
  await page.keyboard.type('echo before-$((1+1))\n');
  await waitTermLine(page, /^before-2\s*$/);

  // Kill the relay and start it again on the same port and data: the
  // terminal shows it is reconnecting, then comes back by itself.
  await relay.stop();
  await waitFor(async () => ['reconnecting', 'connecting'].includes(await page.evaluate(() => window.__clawlinkTerm.state())), {
    timeout: ms(20_000), what: 'the terminal to notice the relay is gone',
  });
  await screenshot(page, '06-terminal-reconnecting');
  const relay2 = await startRelay({ dataDir: relay.dataDir, port: relay.port, extraArgs: WEB_ARGS });
  await waitTermState(page, 'online', ms(60_000));
  await page.keyboard.type('echo after-$((2+2))\n');
  const text = await waitTermLine(page, /^after-4\s*$/, ms(30_000));
  const lines = text.split('\n');
  assert.equal(lines.filter((l) => /^before-2\s*$/.test(l)).length, 1, `output before the restart shown exactly once:\n${text}`);
  assert.equal(lines.filter((l) => /^42\s*$/.test(l)).length, 1, `nothing repeated after reconnection:\n${text}`);

  // Invite a second user; they sign in, confirm their address with the
  // mailed link, accept, and see the project as a member: the devices and
  // the terminal, but none of the owner's controls.
  const memberEmail = `member-${randomId(4)}@example.com`;
  const r = await api(relay2, 'POST', '/api/v1/auth/signup', { email: memberEmail, password: PASSWORD, display_name: 'Bo Member' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await page.goto(`/project/${projectId}`);
  await tid(page, 'project-tab-team').click();
  await tid(page, 'invite-email').fill(memberEmail);
  await tid(page, 'invite-submit').click();
  await tid(page, 'invitation-row').filter({ hasText: memberEmail }).waitFor();

  const member = await openPage(scope, browser, relay2, { label: 'member' });
  await signInInBrowser(member.page, memberEmail);
  await tid(member.page, 'verify-banner').waitFor();
  await member.page.goto(`/verify-email#token=${await verificationToken(relay2, memberEmail)}`);
  await tid(member.page, 'verify-invitations').click();
  await tid(member.page, 'invitation-item').filter({ hasText: projectName }).locator('[data-testid="invitation-accept"]').click();
  await member.page.waitForURL(/\/project\//);
  await waitFor(async () => (await tid(page, 'member-row').filter({ hasText: memberEmail }).count()) === 1, { what: 'the member in the team list' });
  await screenshot(page, '07-project-team');
  await tid(member.page, 'device-row').filter({ hasText: 'laptop one' }).waitFor();
  assert.equal(await tid(member.page, 'add-device').count(), 0, 'a member has no "add device"');
  assert.equal(await tid(member.page, 'device-delete').count(), 0, 'a member cannot delete devices');
  await tid(member.page, 'project-tab-team').click();
  await tid(member.page, 'member-row').filter({ hasText: ownerEmail }).waitFor();
  assert.equal(await tid(member.page, 'invite-email').count(), 0, 'a member cannot invite');
  await screenshot(member.page, '08-member-view');

  // The remaining pages render.
  await page.goto('/settings');
  await page.getByRole('heading', { name: /settings/i }).first().waitFor();
  await screenshot(page, '09-settings');
  await page.goto('/docs');
  await screenshot(page, '10-docs');

  assert.deepEqual([...problems, ...member.problems], [], 'no page errors, console errors or CSP violations');
  assert.ok((await termText(page)) !== undefined);
  await agent.stop();
}));
