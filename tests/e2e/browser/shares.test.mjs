// Sharing a live terminal session with a project member, in two real
// browsers: the owner shares from the terminal page's share panel, view
// only; the member's terminal (375 px, a phone) shows the output, marks the
// session view only and does not send their typing; the owner's "Watching
// now" lists the member. Upgraded to control, the member's typing runs in
// the shell; revoked, the member's terminal says so and stops for good.
// A session not shared with a member offers them no Attach and its page
// says "not shared with you".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, ms, sleep, waitFor, startRelay, api, expectStatus, signup, createProject, pairAgent, startAgent,
} from '../lib/harness.mjs';
import { addMember } from '../lib/mail.mjs';
import { launchBrowser, openPage, screenshot, signInContext, tid, waitTermState, waitTermLine, termText, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const hasLine = (text, re) => text.split('\n').some((l) => re.test(l));

/**
 * A relay, an owner and a member of one project, the owner's real agent,
 * and the owner's browser with a terminal open on it (the session both
 * tests share or keep to the owner).
 */
async function ownerWithTerminal(scope, projectName, deviceName) {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const member = await signup(relay);
  const project = await createProject(relay, owner.token, projectName);
  await addMember(relay, owner.token, project.id, member);
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: deviceName });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const browser = await launchBrowser(scope);
  const o = await openPage(scope, browser, relay, { label: 'owner' });
  await signInContext(o.context, owner.email, owner.password);
  await o.page.goto(`/terminal/${paired.deviceId}/new`);
  await waitTermState(o.page, 'online');
  return { relay, owner, member, project, paired, browser, o, sessionId: o.page.url().split('/').pop() };
}

test('sharing a live session: view only, then control, then revoked', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const { relay, owner, member, paired, browser, o, sessionId } = await ownerWithTerminal(scope, 'Shared lab', 'shared-box');
  await tid(o.page, 'terminal').click();
  await o.page.keyboard.type('echo BEFORE_$((20+1))\n');
  await waitTermLine(o.page, /^BEFORE_21\s*$/);

  // The owner shares it, view only, from the share panel.
  await tid(o.page, 'term-share').click();
  await tid(o.page, 'share-member').selectOption(member.email);
  await tid(o.page, 'share-mode').selectOption('view');
  await tid(o.page, 'share-submit').click();
  const shareRow = tid(o.page, 'share-list').locator('li').filter({ hasText: member.email });
  await shareRow.filter({ hasText: 'view' }).waitFor();

  // The member opens it on a phone: the output so far, the view-only mark.
  const m = await openPage(scope, browser, relay, { label: 'member', viewport: { width: 375, height: 740 } });
  await signInContext(m.context, member.email, member.password);
  let memberSockets = 0;
  m.page.on('websocket', (ws) => { if (new URL(ws.url()).pathname === '/session') memberSockets++; });
  await m.page.goto(`/terminal/${paired.deviceId}/${sessionId}`);
  await waitTermState(m.page, 'online');
  await tid(m.page, 'term-view-only').waitFor({ state: 'visible' });
  await waitTermLine(m.page, /^BEFORE_21\s*$/);
  assert.equal(await tid(m.page, 'term-end').isVisible(), false, 'a viewer cannot end the session');
  assert.equal(await tid(m.page, 'term-paste').isDisabled(), true, 'a view-only viewer cannot paste');

  // New output reaches the member live (the owner's keyboard goes back to
  // the terminal from the share panel).
  await tid(o.page, 'terminal').click();
  await o.page.keyboard.type('echo LIVE_$((30+2))\n');
  await waitTermLine(m.page, /^LIVE_32\s*$/);

  // The member's typing is not sent, and the page says why; nor is a key
  // from the on-screen key row. A marker the owner types afterwards shows
  // in both terminals, the member's text in neither.
  await tid(m.page, 'terminal').click();
  await m.page.keyboard.type('echo NOPE_$((1+1))\n');
  await m.page.locator('#toasts').getByText(/view only/i).first().waitFor();
  await m.page.locator('[data-testid="key-row"] [data-key="tab"]').click();
  await o.page.keyboard.type('echo AFTER_NOPE_$((2+2))\n');
  await waitTermLine(o.page, /^AFTER_NOPE_4\s*$/);
  await waitTermLine(m.page, /^AFTER_NOPE_4\s*$/);
  for (const [who, text] of [['owner', await termText(o.page)], ['member', await termText(m.page)]]) {
    assert.ok(!text.includes('NOPE_$((1+1))') && !hasLine(text, /^NOPE_2\s*$/), `the view-only member's typing did not reach the shell (${who}'s screen):\n${text}`);
  }

  // The owner's "Watching now" lists the member, as a viewer.
  const watching = tid(o.page, 'viewers-list').locator('li').filter({ hasText: member.email });
  await watching.waitFor({ timeout: ms(15_000) });
  assert.match(await watching.textContent(), /view/);
  await screenshot(o.page, '40-share-owner-panel');
  await screenshot(m.page, '41-share-member-view-only-375');

  // Control: sharing again changes the mode; the member's page follows.
  await tid(o.page, 'share-mode').selectOption('control');
  await tid(o.page, 'share-submit').click();
  await shareRow.filter({ hasText: 'control' }).waitFor();
  await tid(m.page, 'term-view-only').waitFor({ state: 'hidden', timeout: ms(20_000) });
  await tid(m.page, 'terminal').click();
  await m.page.keyboard.type('echo MEMBER_$((3+4))\n');
  await tid(o.page, 'terminal').click();
  await waitTermLine(o.page, /^MEMBER_7\s*$/);
  await waitTermLine(m.page, /^MEMBER_7\s*$/);
  await watching.filter({ hasText: 'control' }).waitFor({ timeout: ms(15_000) });

  // Revoke: the member's terminal says the session is no longer shared with
  // them, stops for good (no reconnection), and the owner's list empties.
  await shareRow.locator('[data-testid="share-revoke"]').click();
  await waitTermState(m.page, 'failed');
  await waitFor(async () => /no longer shared/i.test((await tid(m.page, 'term-message').textContent()) ?? ''), {
    what: 'the member to be told the share was revoked', describe: async () => `message: ${await tid(m.page, 'term-message').textContent()}`,
  });
  await tid(o.page, 'share-list').getByText(/not shared with anyone/i).waitFor();
  await watching.waitFor({ state: 'detached', timeout: ms(15_000) });
  const socketsAtRevoke = memberSockets;
  await sleep(ms(3_000)); // longer than the first reconnection backoff (1 s)
  assert.equal(memberSockets, socketsAtRevoke, 'a revoked viewer does not reconnect');
  await m.page.keyboard.type('echo REVOKED_$((5+5))\n');
  await tid(o.page, 'terminal').click();
  await o.page.keyboard.type('echo OWNER_END_$((6+6))\n');
  const ownerText = await waitTermLine(o.page, /^OWNER_END_12\s*$/);
  assert.ok(!hasLine(ownerText, /^REVOKED_10\s*$/), `a revoked member's typing does not reach the shell:\n${ownerText}`);
  await screenshot(m.page, '42-share-member-revoked-375');

  assert.deepEqual([...o.problems, ...m.problems], [], 'no page errors, console errors or CSP violations');
}));

// Someone else's session that was not shared with a member: the lists
// (project Sessions tab, device page) offer no Attach for it and say it is
// not shared, the relay's history names the caller's access per row, and
// opening its terminal URL says "not shared with you" (not "offline" or
// "no such session") without opening a terminal socket. Once shared, the
// lists offer Attach.
test('a session not shared with a member: no Attach, and the terminal page says why', { timeout: ms(3 * 60_000) }, e2e(async (t, scope) => {
  const { relay, owner, member, project, paired, browser, o, sessionId } = await ownerWithTerminal(scope, 'Private lab', 'private-box');

  // the relay's history: each row says how the caller may attach
  const rows = async (token) => expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}/sessions?status=active`, undefined, token), 200, relay).sessions;
  assert.equal((await rows(owner.token)).find((s) => s.id === sessionId)?.attach, 'control', 'the starter attaches with control');
  assert.equal((await rows(member.token)).find((s) => s.id === sessionId)?.attach, null, 'not shared with the member');

  const m = await openPage(scope, browser, relay, { label: 'member' });
  await signInContext(m.context, member.email, member.password);
  let memberSockets = 0;
  m.page.on('websocket', (ws) => { if (new URL(ws.url()).pathname === '/session') memberSockets++; });
  const row = (page) => page.locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`);

  // the project's Sessions tab and the device page: no Attach, said why
  await m.page.goto(`/project/${project.id}?tab=sessions`);
  await row(m.page).locator('[data-testid="session-not-shared"]').waitFor();
  assert.equal(await row(m.page).locator('[data-testid="session-attach"]').count(), 0, 'no Attach in the Sessions tab');
  await m.page.goto(`/device/${paired.deviceId}`);
  await row(m.page).locator('[data-testid="session-not-shared"]').waitFor();
  assert.equal(await row(m.page).locator('[data-testid="session-attach"]').count(), 0, 'no Attach on the device page');
  await screenshot(m.page, '43-session-not-shared-device');

  // the terminal's URL anyway: said plainly, nothing connects
  await m.page.goto(`/terminal/${paired.deviceId}/${sessionId}`);
  await tid(m.page, 'term-message').filter({ hasText: 'This session is not shared with you' }).waitFor();
  assert.equal((await tid(m.page, 'term-state').textContent()).trim(), 'not shared', 'the badge says not shared, not offline');
  assert.doesNotMatch(await m.page.locator('.term-toolbar').textContent(), /shared by|offline/, 'no "shared by", no "offline"');
  assert.doesNotMatch(await tid(m.page, 'term-message').textContent(), /no such session/i);
  assert.equal(memberSockets, 0, 'no terminal socket for a session the member may not attach to');
  await screenshot(m.page, '44-session-not-shared-terminal');

  // shared (view only): the lists offer Attach
  expectStatus(await api(relay, 'POST', `/api/v1/sessions/${sessionId}/shares`, { email: member.email, mode: 'view' }, owner.token), 201, relay);
  assert.equal((await rows(member.token)).find((s) => s.id === sessionId)?.attach, 'view');
  await m.page.goto(`/device/${paired.deviceId}`);
  await row(m.page).locator('[data-testid="session-attach"]').click();
  await waitTermState(m.page, 'online');
  await tid(m.page, 'term-view-only').waitFor({ state: 'visible' });
  assert.deepEqual([...o.problems, ...m.problems], [], 'no page errors, console errors or CSP violations');
}));
