// The web app over TLS in a real browser (docs/security.md, "The web app's
// session"; decisions.md): behind https the session cookie is
// __Host-cl_session (Secure, Path=/, no Domain), and everything that reads
// it still works in Chromium — the dashboard's signed-in state, its live
// /events socket, a reload, sign-out and sign-in again. The relay's
// certificate is self-signed (lib/extra.mjs makeSelfSigned): the browser
// context ignores HTTPS errors.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2e, cleanupAll, TEST_TIMEOUT, ms, tempDir, randomId } from '../lib/harness.mjs';
import { makeSelfSigned, startTlsRelay } from '../lib/extra.mjs';
import { launchBrowser, openPage, tid, WEB_ARGS } from '../lib/browser.mjs';

after(cleanupAll);

const PASSWORD = 'correct horse battery staple';

test('over TLS the browser holds __Host-cl_session and the app works with it: sign-up, live events, reload, sign-out, sign-in', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t, scope) => {
  const dir = await tempDir('clawlink-browser-tls-');
  const cert = await makeSelfSigned(dir);
  const relay = await startTlsRelay(scope, { cert: cert.cert, key: cert.key, ca: cert.pem, extraArgs: WEB_ARGS });
  const browser = await launchBrowser(scope);
  const { page, context, problems } = await openPage(scope, browser, relay, { label: 'tls', ignoreHTTPSErrors: true });

  const email = `tls-${randomId(4)}@example.com`;
  await page.goto('/auth');
  await tid(page, 'auth-tab-signup').click();
  await tid(page, 'auth-email').fill(email);
  await tid(page, 'auth-name').fill('Tess Tls');
  await tid(page, 'auth-password').fill(PASSWORD);
  await tid(page, 'auth-submit').click();
  await page.waitForURL(/\/dashboard/);

  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name), ['__Host-cl_session'], 'one cookie, the __Host- one');
  const [c] = cookies;
  assert.equal(c.secure, true);
  assert.equal(c.path, '/');
  assert.equal(c.domain, '127.0.0.1', 'host-only (no Domain attribute)');
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'script cannot see the session cookie');

  // the dashboard's /events socket authenticates with the cookie
  await page.locator('[data-testid="events-status"][data-state="live"]').waitFor({ timeout: ms(20_000) });
  // a reload asks /auth/status with the cookie and stays signed in
  await page.reload();
  await page.waitForURL(/\/dashboard/);
  await page.locator('[data-testid="events-status"][data-state="live"]').waitFor({ timeout: ms(20_000) });

  // sign-out clears it; signing in sets it again
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForFunction(() => location.pathname === '/');
  assert.deepEqual((await context.cookies()).map((x) => x.name), [], 'sign-out cleared the cookie');
  await page.goto('/auth');
  await tid(page, 'auth-email').fill(email);
  await tid(page, 'auth-password').fill(PASSWORD);
  await tid(page, 'auth-submit').click();
  await page.waitForURL(/\/dashboard/);
  assert.deepEqual((await context.cookies()).map((x) => x.name), ['__Host-cl_session']);
  await page.locator('[data-testid="events-status"][data-state="live"]').waitFor({ timeout: ms(20_000) });

  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));
