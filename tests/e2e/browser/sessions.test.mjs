// Sessions that a user can tell apart and tidy up (issue 13), in a real
// browser against the real relay and agent: "Open terminal" on a device
// with no session of the user's goes straight to a new shell; with one,
// /terminal/:device/new first offers it (its title, Reattach) beside "Start
// a new session"; the project's Sessions tab, the device page and the
// dashboard show each session's name or automatic title; a session is
// renamed from the Sessions tab and ended from it (with a confirm), and the
// ended ones are collapsed below the active ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, api, expectStatus, signup, createProject, pairAgent, startAgent,
  attachTerminal,
} from '../lib/harness.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, waitTermState, waitTermLine, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const DOT = '\u00b7';

test('sessions: reattach chooser, titles and names in the lists, rename and End from the Sessions tab', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Tidy lab');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'tidy-box' });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const listed = async () => {
    const r = await api(relay, 'GET', `/api/v1/projects/${project.id}/sessions?status=active`, undefined, owner.token);
    return expectStatus(r, 200, relay).sessions;
  };

  const browser = await launchBrowser(scope);
  const { page, context } = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(context, owner.email, owner.password);

  // No session yet: "Open terminal" starts one at once, no chooser.
  await page.goto('/dashboard');
  await tid(page, 'open-terminal').click();
  await waitTermState(page, 'online');
  assert.equal(await tid(page, 'reattach').count(), 0, 'no chooser without a session to offer');
  const first = page.url().split('/').pop();
  assert.match(first, /^[0-9a-f-]{36}$/);
  await tid(page, 'terminal').click();
  await page.keyboard.type('cd /tmp\n');
  await waitTermLine(page, /^\$ $/);
  await waitFor(async () => (await listed()).find((s) => s.id === first)?.title === `bash ${DOT} /tmp`, { what: 'the title to follow cd' });

  // Open terminal again: the chooser offers the live session by its title.
  await page.goto('/dashboard');
  // the dashboard lists the live session under its device, by title
  await tid(page, 'dashboard-live-sessions').locator(`[data-session-id="${first}"] [data-testid="session-label"]`).filter({ hasText: `bash ${DOT} /tmp` }).waitFor();
  await screenshot(page, '80-dashboard-live-sessions');
  await tid(page, 'open-terminal').click();
  const offer = tid(page, 'reattach-row').filter({ has: page.locator(`[data-testid="session-label"]`, { hasText: `bash ${DOT} /tmp` }) });
  await offer.waitFor();
  assert.equal(await tid(page, 'reattach-row').count(), 1);
  assert.match(await offer.textContent(), /1 viewer|nobody watching/);
  await screenshot(page, '81-terminal-reattach-chooser');
  assert.equal((await listed()).length, 1, 'the chooser started no shell');
  await offer.locator('[data-testid="reattach-attach"]').click();
  await page.waitForURL(new RegExp(`/terminal/${paired.deviceId}/${first}$`));
  await waitTermState(page, 'online');

  // And once more: "Start a new session" starts a second shell.
  await page.goto(`/terminal/${paired.deviceId}/new`);
  await tid(page, 'reattach-new').waitFor();
  await tid(page, 'reattach-new').click();
  await waitTermState(page, 'online');
  const second = page.url().split('/').pop();
  assert.notEqual(second, first);
  assert.equal((await listed()).length, 2);

  // The Sessions tab: both live, told apart by title; rename the first.
  await page.goto(`/project/${project.id}?tab=sessions`);
  const row = (id) => page.locator(`[data-testid="session-row"][data-session-id="${id}"]`);
  await row(first).locator('[data-testid="session-label"]').filter({ hasText: `bash ${DOT} /tmp` }).waitFor();
  await row(second).locator('[data-testid="session-label"]').filter({ hasText: /^bash/ }).waitFor();
  await row(first).locator('[data-testid="session-rename"]').click();
  await tid(page, 'session-rename-name').fill('deploy');
  await tid(page, 'session-rename-submit').click();
  await row(first).locator('[data-testid="session-label"]').filter({ hasText: /^deploy$/ }).waitFor();
  await row(first).locator('[data-testid="session-title"]').filter({ hasText: `bash ${DOT} /tmp` }).waitFor();
  const named = (await listed()).find((s) => s.id === first);
  assert.equal(named.name, 'deploy');
  // a new title reaches the open tab over /events, redrawn in place
  let reads = 0;
  page.on('request', (r) => { if (r.url().includes('/sessions?')) reads++; });
  const viewer = await attachTerminal(relay, owner.token, first, paired.deviceId, { resumeOffset: 0, anyStart: true, label: 'api viewer' });
  viewer.write('cd /var\r');
  await row(first).locator('[data-testid="session-title"]').filter({ hasText: `bash ${DOT} /var` }).waitFor();
  assert.equal(reads, 0, 'the title changed without rereading the list');
  await viewer.ws.close();

  // End the second from the list: a confirm first; cancelling keeps it.
  await row(second).locator('[data-testid="session-end"]').click();
  await page.locator('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await listed()).length, 2, 'cancelled: still running');
  await screenshot(page, '82-project-sessions-named');
  await row(second).locator('[data-testid="session-end"]').click();
  await page.locator('dialog').getByRole('button', { name: 'End session' }).click();
  await waitFor(async () => !(await listed()).some((s) => s.id === second), { what: 'the second session to end' });
  // it leaves the active list; the ended ones are collapsed until opened
  await tid(page, 'sessions-active').locator(`[data-session-id="${second}"]`).waitFor({ state: 'detached' });
  assert.equal(await row(second).isVisible(), false, 'ended sessions start collapsed');
  await tid(page, 'sessions-ended-toggle').click();
  await row(second).filter({ hasText: /ended by/i }).waitFor();
  assert.equal(await row(second).locator('[data-testid="session-end"]').count(), 0, 'no End on an ended session');
  await screenshot(page, '83-project-sessions-ended');

  // The device page lists the live one by its name.
  await page.goto(`/device/${paired.deviceId}`);
  await tid(page, 'device-sessions').locator(`[data-session-id="${first}"] [data-testid="session-label"]`).filter({ hasText: /^deploy$/ }).waitFor();
  assert.equal(await tid(page, 'device-sessions').locator('[data-testid="session-row"]').count(), 1);
  await screenshot(page, '84-device-sessions-named');
  // its "New terminal" asks for a new shell: no chooser, though one is live
  await tid(page, 'device-new-terminal').click();
  await waitTermState(page, 'online');
  assert.equal(await tid(page, 'reattach').count(), 0);
  assert.notEqual(page.url().split('/').pop(), first);
  assert.equal((await listed()).length, 2);
}));
