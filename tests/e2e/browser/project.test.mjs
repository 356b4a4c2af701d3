// Seed 001's "Projects & Devices" and "Teams" on the project page, in a
// real browser, by the owner: rename a device; a new pairing code (the old
// one stops working, the new one pairs); delete a device; invite an email
// with no account (a pending invitation) and cancel it; invite a user, who
// accepts (issue 14: nobody joins without saying yes) and the owner's team
// list follows without a reload; remove them again, and their dashboard
// drops the project without a reload; the Sessions tab's history with its
// state and device filters, attaching to a live session from it; rename
// and delete the project.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, api, expectStatus, signup, createProject, createDevice, pairAgent, startAgent,
  startSession, randomId,
} from '../lib/harness.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, waitTermState, WEB_ARGS } from '../lib/browser.mjs';
import { verifyEmail, acceptInvitation } from '../lib/mail.mjs';

after(cleanupAll);

const pairStatus = async (relay, code) => (await api(relay, 'POST', '/functions/v1/pair-device', { pairing_code: code, name: 'x' })).status;

test('the project page: devices, pairing codes, team and invitations, session history, rename and delete', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const member = await signup(relay);
  const project = await createProject(relay, owner.token, 'Workshop');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'bench' });
  const agent = await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  await createDevice(relay, owner.token, project.id, 'spare');

  const browser = await launchBrowser(scope);
  const o = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(o.context, owner.email, owner.password);
  const page = o.page;
  await page.goto(`/project/${project.id}`);
  const row = (name) => tid(page, 'device-row').filter({ has: page.locator('[data-testid="device-link"]', { hasText: new RegExp(`^${name}$`) }) });
  await row('bench').locator('[data-testid="device-status"]').filter({ hasText: /online/i }).waitFor();

  // Rename a device.
  await row('spare').locator('[data-testid="device-rename"]').click();
  await tid(page, 'device-rename-name').fill('spare-bench');
  await tid(page, 'device-rename-submit').click();
  await row('spare-bench').waitFor();
  assert.equal(await row('spare').count(), 0, 'the old name is gone');

  // A pairing code, then a new one: the first stops working, the second pairs.
  const codeFromDialog = async () => {
    const code = (await tid(page, 'pairing-code').first().textContent()).trim();
    await tid(page, 'pairing-done').click();
    await tid(page, 'pairing-code').first().waitFor({ state: 'detached' });
    return code;
  };
  await row('spare-bench').locator('[data-testid="device-pairing-code"]').click();
  const code1 = await codeFromDialog();
  await row('spare-bench').locator('[data-testid="device-pairing-code"]').click();
  const code2 = await codeFromDialog();
  assert.notEqual(code1, code2, 'a new code each time');
  assert.notEqual(await pairStatus(relay, code1), 200, 'the replaced code no longer pairs');
  assert.equal(await pairStatus(relay, code2), 200, 'the new code pairs');

  // Delete it.
  await row('spare-bench').locator('[data-testid="device-delete"]').click();
  await page.locator('dialog').getByRole('button', { name: 'Delete device' }).click();
  await row('spare-bench').waitFor({ state: 'detached' });
  await page.locator('#toasts').getByText('Deleted spare-bench').waitFor();
  await screenshot(page, '70-project-devices');

  // Team: an email without an account is invited (pending), then cancelled.
  await tid(page, 'project-tab-team').click();
  const stranger = `stranger-${randomId(4)}@example.com`;
  await tid(page, 'invite-email').fill(stranger);
  await tid(page, 'invite-submit').click();
  const invitation = tid(page, 'invitation-row').filter({ hasText: stranger });
  await invitation.waitFor();
  await screenshot(page, '71-project-team-invitation');
  await invitation.locator('[data-testid="invitation-cancel"]').click();
  await page.locator('dialog').getByRole('button', { name: 'Cancel invitation' }).click();
  await tid(page, 'invitations-empty').waitFor();

  // A user is invited: pending until they accept (browser/consent.test.mjs
  // clicks through that); accepted, the owner's team list shows them
  // without a reload. Removed, their dashboard drops the project the same way.
  await tid(page, 'invite-email').fill(member.email);
  await tid(page, 'invite-submit').click();
  await tid(page, 'invitation-row').filter({ hasText: member.email }).waitFor();
  const memberRow = tid(page, 'member-row').filter({ hasText: member.email });
  assert.equal(await memberRow.count(), 0, 'an invited user is no member until they accept');
  await verifyEmail(relay, member);
  await acceptInvitation(relay, member, project.id);
  await memberRow.waitFor();
  await tid(page, 'invitation-row').filter({ hasText: member.email }).waitFor({ state: 'detached' });
  const m = await openPage(scope, browser, relay, { label: 'member' });
  await signInContext(m.context, member.email, member.password);
  await m.page.goto('/dashboard');
  await m.page.locator('[data-testid="events-status"][data-state="live"]').waitFor();
  let memberLoads = 0;
  m.page.on('load', () => memberLoads++);
  await tid(m.page, 'project-card').filter({ hasText: 'Workshop' }).waitFor({ timeout: ms(15_000) });
  await memberRow.locator('[data-testid="member-remove"]').click();
  await page.locator('dialog').getByRole('button', { name: /remove/i }).click();
  await memberRow.waitFor({ state: 'detached' });
  // A removed member hears of their own removal (and of nothing after it,
  // docs/api.md "Who hears what"): the card goes without a reload.
  await tid(m.page, 'project-card').filter({ hasText: 'Workshop' }).waitFor({ state: 'detached', timeout: ms(15_000) });
  await tid(m.page, 'dashboard-empty').waitFor();
  assert.equal(memberLoads, 0, 'the member\'s dashboard followed without a reload');
  expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, member.token), 404, relay);

  // Sessions: one ended, one live; the filters; attach to the live one.
  const ended = await startSession(relay, owner.token, paired.deviceId);
  expectStatus(await api(relay, 'POST', '/functions/v1/end-session', { session_id: ended }, owner.token), 200, relay);
  const live = await startSession(relay, owner.token, paired.deviceId);
  await tid(page, 'project-tab-sessions').click();
  const sessionRow = (id) => page.locator(`[data-testid="session-row"][data-session-id="${id}"]`);
  await sessionRow(live).waitFor();
  // ended sessions are collapsed below the active ones (issue 13)
  assert.equal(await sessionRow(ended).isVisible(), false, 'ended sessions start collapsed');
  await tid(page, 'sessions-ended-toggle').click();
  await sessionRow(ended).waitFor();
  await tid(page, 'sessions-status').selectOption('active');
  await sessionRow(ended).waitFor({ state: 'detached' });
  await sessionRow(live).waitFor();
  await tid(page, 'sessions-status').selectOption('ended');
  await sessionRow(live).waitFor({ state: 'detached' });
  await sessionRow(ended).waitFor();
  assert.equal(await sessionRow(ended).locator('[data-testid="session-attach"]').count(), 0, 'no attaching to an ended session');
  await tid(page, 'sessions-status').selectOption('');
  await tid(page, 'sessions-device').selectOption(paired.deviceId);
  await sessionRow(live).waitFor();
  await sessionRow(ended).waitFor();
  await screenshot(page, '72-project-sessions');
  await sessionRow(live).locator('[data-testid="session-attach"]').click();
  await page.waitForURL(new RegExp(`/terminal/${paired.deviceId}/${live}$`));
  await waitTermState(page, 'online');

  // Rename the project, then delete it (its agent stops first: deleting
  // the device closes it for good).
  await page.goto(`/project/${project.id}`);
  await tid(page, 'project-rename').click();
  await tid(page, 'project-rename-name').fill('Workshop 2');
  await tid(page, 'project-rename-submit').click();
  await tid(page, 'project-name').filter({ hasText: /^Workshop 2$/ }).waitFor();
  await agent.stop();
  await tid(page, 'project-delete').click();
  await page.locator('dialog').getByRole('button', { name: 'Delete project' }).click();
  await page.waitForURL(/\/dashboard$/);
  await waitFor(async () => (await tid(page, 'project-card').filter({ hasText: 'Workshop' }).count()) === 0, { what: 'the project gone from the dashboard' });
  expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}`, undefined, owner.token), 404, relay);

  assert.deepEqual([...o.problems, ...m.problems], [], 'no page errors, console errors or CSP violations');
}));
