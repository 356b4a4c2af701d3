// Issue 14 in a real browser: a new user is told to confirm their address
// (the banner, a new link on request), opens the mailed link (the landing
// page clears the token from the address bar), finds the invitations on the
// dashboard and the Invitations page, declines one and accepts the other,
// lands in the project, and leaves it again from the project page; the
// owner's Leave is refused with the reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, ms, waitFor, startRelay, api, expectStatus, signup, createProject,
} from '../lib/harness.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, WEB_ARGS } from '../lib/browser.mjs';
import { mailsTo, verificationToken, VERIFY_LINK_RE } from '../lib/mail.mjs';

after(cleanupAll);

test('consent in the browser: confirm the address, see and answer invitations, leave a project', { timeout: ms(3 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const member = await signup(relay);
  const keep = await createProject(relay, owner.token, 'Lighthouse');
  const skip = await createProject(relay, owner.token, 'Side quest');
  for (const p of [keep, skip]) {
    expectStatus(await api(relay, 'POST', '/functions/v1/invite-member', { project_id: p.id, email: member.email }, owner.token), 200, relay);
  }

  const browser = await launchBrowser(scope);
  const m = await openPage(scope, browser, relay, { label: 'member' });
  await signInContext(m.context, member.email, member.password);
  const page = m.page;

  // unproven: the banner, no invitations shown, a new link on request
  await page.goto('/invitations');
  await tid(page, 'verify-banner').waitFor();
  await tid(page, 'invitations-unverified').waitFor();
  assert.equal(await tid(page, 'invitation-item').count(), 0);
  await screenshot(page, '80-invitations-unverified');
  await tid(page, 'verify-resend').click();
  await page.locator('#toasts').getByText('A new confirmation link is on its way.').waitFor();
  await mailsTo(relay, member.email, VERIFY_LINK_RE, 2);

  // the newest link: confirmed; the token leaves the address bar
  const token = await verificationToken(relay, member.email);
  await page.goto(`/verify-email#token=${token}`);
  await tid(page, 'verify-ok').waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the token is cleared from the address bar');
  assert.equal(await tid(page, 'verify-banner').count(), 0, 'the banner is gone');
  await screenshot(page, '81-verify-ok');
  // used once: the same link again says so
  const again = await openPage(scope, browser, relay, { label: 'second use' });
  await again.page.goto(`/verify-email#token=${token}`);
  await tid(again.page, 'verify-error').waitFor();

  // the dashboard points at the invitations
  await page.goto('/dashboard');
  await tid(page, 'dashboard-invitations').filter({ hasText: '2 invitations' }).waitFor();
  assert.equal(await tid(page, 'project-card').count(), 0, 'a member of nothing yet');
  await tid(page, 'dashboard-invitations-open').click();
  await page.waitForURL(/\/invitations$/);
  const item = (name) => tid(page, 'invitation-item').filter({ hasText: name });
  await item('Lighthouse').waitFor();
  await item('Side quest').waitFor();
  await screenshot(page, '82-invitations');
  await item('Side quest').locator('[data-testid="invitation-decline"]').click();
  await item('Side quest').waitFor({ state: 'detached' });
  await item('Lighthouse').locator('[data-testid="invitation-accept"]').click();
  await page.waitForURL(new RegExp(`/project/${keep.id}$`));
  const projects = expectStatus(await api(relay, 'GET', '/api/v1/projects', undefined, member.token), 200, relay).projects;
  assert.deepEqual(projects.map((p) => p.name), ['Lighthouse']);

  // leave it from the project page
  await tid(page, 'project-leave').click();
  await page.locator('dialog').getByRole('button', { name: 'Leave project' }).click();
  await page.waitForURL(/\/dashboard$/);
  await tid(page, 'dashboard-empty').waitFor();
  await waitFor(async () => (await api(relay, 'GET', `/api/v1/projects/${keep.id}`, undefined, member.token)).status === 404, { what: 'no longer a member' });

  // the owner has no Leave (the last owner cannot leave); the API says why
  const o = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(o.context, owner.email, owner.password);
  await o.page.goto(`/project/${keep.id}`);
  await tid(o.page, 'project-rename').waitFor();
  assert.equal(await tid(o.page, 'project-leave').count(), 0, 'no Leave for the owner');
  const r = await api(relay, 'POST', `/api/v1/projects/${keep.id}/leave`, undefined, owner.token);
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'last_owner');
}));
