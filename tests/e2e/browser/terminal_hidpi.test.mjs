// The terminal on HiDPI screens, read from the screen itself, not the DOM:
// at device pixel ratios 1, 1.5 and 2 (1000×600) and on a 375 px phone at
// ratio 2, with the WebGL renderer and with the DOM renderer, a ruler line
// of exactly `stty size` columns is printed and a screenshot must show ink
// in every one of those columns of its row, inside the window, and none in
// an empty row below; the WebGL canvas holds CSS size × ratio device
// pixels. Also on a screen of ratio 2 without emulation (chromium's
// --force-device-scale-factor, as a HiDPI laptop). The renderer follows the ratio when it changes while the page is
// open (a window moved to another screen), and /settings' renderer and
// font size reach an open terminal at once. At 375 px the toolbar fits:
// End session is on screen and works.
//
// The ratio comes from Playwright's deviceScaleFactor (Chromium's
// device-metrics emulation, as DevTools' device mode): that is where the
// WebGL addon's device-pixel box and devicePixelRatio disagree (see
// web/src/terminal/renderer.ts). Headless chromium here has a software
// WebGL (SwiftShader) even with --disable-gpu; a chromium without any
// WebGL skips the WebGL cases with a diagnostic.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { e2e, cleanupAll, ms, waitFor, startRelay, signup, createProject, pairAgent, startAgent } from '../lib/harness.mjs';
import {
  launchBrowser, openPage, screenshot, screenPixels, signInContext, tid, waitTermState, waitTermLine, WEB_ARGS,
} from '../lib/browser.mjs';

after(cleanupAll);

const PREFS_KEY = 'clawlink.terminal';
const BG = [7, 11, 22]; // the terminal theme's background, #070b16
// A pixel is ink when it is this far (sum over R, G, B) from the background.
const INK = 96;

const renderer = (page) => page.evaluate(() => window.__clawlinkTerm?.renderer?.());
const hasWebgl = (page) => page.evaluate(() => !!document.createElement('canvas').getContext('webgl2'));

// Ink pixels in the device-pixel rectangle [x0, x1) × [y0, y1) of img.
function inkIn(img, x0, y0, x1, y1) {
  let n = 0;
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(img.height, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(img.width, Math.round(x1)); x++) {
      const o = (y * img.width + x) * 4;
      if (Math.abs(img.data[o] - BG[0]) + Math.abs(img.data[o + 1] - BG[1]) + Math.abs(img.data[o + 2] - BG[2]) > INK) n++;
    }
  }
  return n;
}

// Prints a ruler of exactly $COLUMNS '#' (as the PTY's size says) and
// checks the screen: the terminal's size is stty's, every column of the
// ruler's row has ink inside the window, an empty row has none, and the
// canvases hold CSS size × ratio device pixels. Returns what it measured.
async function checkRuler(page, what, tag) {
  await tid(page, 'terminal').click();
  await page.keyboard.type(`clear; stty size; printf '%*s\\n' "$(stty size | cut -d' ' -f2)" '' | tr ' ' '#'; echo RULER_${tag}_END\n`);
  const text = await waitTermLine(page, new RegExp(`^RULER_${tag}_END\\s*$`));
  const size = await page.evaluate(() => window.__clawlinkTerm.size());
  const lines = text.split('\n');
  const stty = lines.map((l) => /^(\d+) (\d+)\s*$/.exec(l)).find(Boolean);
  assert.ok(stty, `${what}: stty size printed:\n${text}`);
  assert.deepEqual({ rows: Number(stty[1]), cols: Number(stty[2]) }, size, `${what}: the PTY has the terminal's size`);
  const row = lines.findIndex((l) => /^#+\s*$/.test(l) && l.trim().length === size.cols);
  assert.ok(row >= 0, `${what}: a ruler of ${size.cols} columns in the buffer:\n${text}`);
  const empty = size.rows - 1; // below the prompt: nothing drawn there
  assert.ok(row + 2 < empty, `${what}: the screen has an empty last row`);

  const geo = await page.evaluate(() => {
    const screen = document.querySelector('[data-testid="terminal"] .xterm-screen');
    const r = screen.getBoundingClientRect();
    const canvases = [...screen.querySelectorAll('canvas')]
      .map((c) => ({ cls: c.className, w: c.width, h: c.height, rect: c.getBoundingClientRect().toJSON() }))
      .filter((c) => c.rect.width > 0);
    return { box: { x: r.x, y: r.y, width: r.width, height: r.height }, dpr: devicePixelRatio, vw: innerWidth, vh: innerHeight, canvases };
  });
  // the whole grid is inside the window (not cropped)
  assert.ok(geo.box.x >= 0 && geo.box.x + geo.box.width <= geo.vw + 0.5, `${what}: the terminal's columns fit the window: ${JSON.stringify(geo.box)} in ${geo.vw} px`);
  assert.ok(geo.box.y + geo.box.height <= geo.vh + 0.5, `${what}: the terminal's rows fit the window`);
  for (const c of geo.canvases) {
    const want = { w: Math.round(c.rect.width * geo.dpr), h: Math.round(c.rect.height * geo.dpr) };
    assert.ok(Math.abs(c.w - want.w) <= 1 && Math.abs(c.h - want.h) <= 1,
      `${what}: canvas ${c.cls || '(renderer)'} holds ${c.w}×${c.h} device pixels for ${c.rect.width}×${c.rect.height} CSS px at ratio ${geo.dpr}: want ${want.w}×${want.h}`);
  }

  // what is on screen: ink in each cell of the ruler's row, none in the empty row
  let last = '';
  const measured = await waitFor(async () => {
    const img = await screenPixels(page, geo.box);
    if (Math.abs(img.scale - geo.dpr) >= 0.02) {
      last = `the screenshot holds ${img.scale} device pixels per CSS pixel (${img.width}×${img.height} for ${geo.box.width}×${geo.box.height}) at ratio ${geo.dpr}`;
      return null;
    }
    const cw = img.width / size.cols, ch = img.height / size.rows;
    const inset = Math.max(1, Math.floor(img.scale)); // keep off the neighbours' edges
    let inkCols = 0, lastCol = 0;
    for (let c = 0; c < size.cols; c++) {
      const n = inkIn(img, c * cw + inset, row * ch + inset, (c + 1) * cw - inset, (row + 1) * ch - inset);
      if (n > 0) inkCols++;
      if (c === size.cols - 1) lastCol = n;
    }
    const emptyInk = inkIn(img, 0, empty * ch, img.width, (empty + 1) * ch);
    const all = inkIn(img, 0, 0, img.width, img.height);
    last = `ruler row ${row}: ${inkCols} of ${size.cols} columns inked (last column: ${lastCol} px), empty row ${empty}: ${emptyInk} px, whole screen: ${all} ink px of ${img.width}×${img.height}`;
    return inkCols === size.cols && lastCol > 0 && emptyInk === 0 ? { inkCols, all, img } : null;
  }, { timeout: ms(10_000), what: `${what}: the ruler drawn across every column`, describe: () => last });
  return { size, geo, ...measured };
}

test('the terminal at device pixel ratios 1, 1.5 and 2 and on a phone, WebGL and DOM: what the screen shows', { timeout: ms(6 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'HiDPI lab');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'hidpi-box' });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const browser = await launchBrowser(scope);

  // A screen of ratio 2 as a HiDPI laptop has it (no emulation: the
  // browser's own scale factor), where the device-pixel box is right.
  const hidpi = await launchBrowser(scope, { args: ['--force-device-scale-factor=2', '--window-size=1000,700'] });

  const cases = [];
  for (const r of ['webgl', 'dom']) {
    for (const dpr of [1, 1.5, 2]) cases.push({ r, dpr, viewport: { width: 1000, height: 600 } });
    cases.push({ r, dpr: 2, viewport: { width: 375, height: 700 }, phone: true });
    cases.push({ r, dpr: 2, viewport: null, screen: true });
  }
  for (const c of cases) {
    const where = c.viewport ? `${c.viewport.width}×${c.viewport.height}, ratio ${c.dpr}` : `a ratio-${c.dpr} screen (no emulation)`;
    const what = `${c.r} at ${where}`;
    const label = `${c.r}-${c.viewport?.width ?? 'screen'}-${c.dpr}`;
    const { context, page, problems } = await openPage(scope, c.screen ? hidpi : browser, relay, { label, viewport: c.viewport, deviceScaleFactor: c.dpr });
    await context.addInitScript(([k, v]) => localStorage.setItem(k, v), [PREFS_KEY, JSON.stringify({ renderer: c.r, fontSize: 14 })]);
    await signInContext(context, owner.email, owner.password);
    await page.goto(`/terminal/${paired.deviceId}/new?start=1`); // a new shell each time, not the reattach chooser
    await waitTermState(page, 'online');
    if (c.r === 'webgl' && !(await hasWebgl(page))) {
      t.diagnostic(`${what}: this chromium offers no WebGL2; skipped`);
      await context.close();
      continue;
    }
    await waitFor(async () => (await renderer(page)) === c.r, { what: `${what}: the ${c.r} renderer`, describe: async () => `renderer: ${await renderer(page)}` });
    assert.equal(await page.evaluate(() => devicePixelRatio), c.dpr, `${what}: the page's ratio`);
    const m = await checkRuler(page, what, 'A');
    t.diagnostic(`${what}: ${m.size.cols}×${m.size.rows}, ${m.inkCols} columns drawn, ${m.all} ink px`);
    if (c.phone) {
      // the toolbar fits: End session is on screen, nothing scrolls sideways
      const end = tid(page, 'term-end');
      await end.waitFor({ state: 'visible' });
      const b = await end.boundingBox();
      assert.ok(b && b.x >= 0 && b.x + b.width <= c.viewport.width, `${what}: End session is inside the window: ${JSON.stringify(b)}`);
      const overflow = await page.evaluate(() => [...document.querySelectorAll('.term-toolbar, .term-toolbar *')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible').map((e) => e.className));
      assert.deepEqual(overflow, [], `${what}: nothing in the toolbar scrolls sideways`);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `${what}: the page does not scroll sideways`);
      await end.click();
      await page.locator('dialog').getByRole('button', { name: 'Cancel' }).click();
      await waitTermState(page, 'online');
      await screenshot(page, `35-terminal-${label}`);
    }
    assert.deepEqual(problems, [], `${what}: no page errors, console errors or CSP violations`);
    await context.close();
  }
}));

test('the terminal follows a change of device pixel ratio, and /settings reaches an open terminal', { timeout: ms(4 * 60_000) }, e2e(async (t, scope) => {
  const relay = await startRelay({ extraArgs: WEB_ARGS });
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'HiDPI moves');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'moving-box' });
  await startAgent(paired.configPath, { relay, token: owner.token, projectId: project.id, deviceId: paired.deviceId });
  const browser = await launchBrowser(scope);
  const { context, page, problems } = await openPage(scope, browser, relay, { label: 'mover', viewport: { width: 1000, height: 600 }, deviceScaleFactor: 1 });
  await signInContext(context, owner.email, owner.password);

  // /settings: the renderer and font size are stored in this browser;
  // automatic says what it takes here and why.
  await page.goto('/settings');
  const sel = tid(page, 'settings-term-renderer');
  assert.equal(await sel.inputValue(), 'auto', 'automatic by default');
  assert.match(await tid(page, 'settings-term-auto').textContent(), /Here the terminal uses (WebGL|the DOM renderer)/);
  const webgl = await hasWebgl(page);
  if (webgl) {
    const info = await tid(page, 'settings-term-auto').textContent();
    t.diagnostic(`automatic, here: ${info}`);
    // this chromium's WebGL is SwiftShader: automatic must not take it
    if (/swiftshader|llvmpipe/i.test(await page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl2');
      const e = gl.getExtension('WEBGL_debug_renderer_info');
      return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : '';
    }))) assert.match(info, /DOM renderer: this browser's WebGL is drawn in software/);
  }
  await sel.selectOption(webgl ? 'webgl' : 'dom');
  await tid(page, 'settings-term-msg').filter({ hasText: 'Saved.' }).waitFor();
  await tid(page, 'settings-term-font').fill('99');
  await tid(page, 'settings-term-font').press('Tab');
  await tid(page, 'settings-term-msg').filter({ hasText: /8 to 32/ }).waitFor();
  await tid(page, 'settings-term-font').fill('14');
  await tid(page, 'settings-term-font').press('Tab');
  await tid(page, 'settings-term-msg').filter({ hasText: 'Saved.' }).waitFor();
  assert.deepEqual(JSON.parse(await page.evaluate((k) => localStorage.getItem(k), PREFS_KEY)), { renderer: webgl ? 'webgl' : 'dom', fontSize: 14 });

  await page.goto(`/terminal/${paired.deviceId}/new?start=1`); // a new shell each time, not the reattach chooser
  await waitTermState(page, 'online');
  const want = webgl ? 'webgl' : 'dom';
  await waitFor(async () => (await renderer(page)) === want, { what: `the ${want} renderer from the settings` });
  const at1 = await checkRuler(page, `${want} at ratio 1`, 'B');

  // The window moves to a screen of ratio 2, then is resized there, then
  // moves to one of ratio 1.5: the canvas follows the ratio and the whole
  // ruler shows each time. (Chromium's emulation tells the page of a new
  // ratio together with a new window size, so each move changes the size
  // a little too.)
  const cdp = await context.newCDPSession(page);
  const move = async (width, height, dpr) => {
    await cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: dpr, mobile: false });
    await waitFor(() => page.evaluate(([w, r]) => devicePixelRatio === r && innerWidth === w, [width, dpr]), { what: `ratio ${dpr} at ${width} px` });
  };
  await move(960, 600, 2);
  await checkRuler(page, `${want} moved to ratio 2`, 'C');
  await move(900, 560, 2);
  await waitFor(async () => (await page.evaluate(() => window.__clawlinkTerm.size().cols)) < at1.size.cols, { what: 'the refit to the narrower window' });
  await checkRuler(page, `${want} at ratio 2, resized`, 'D');
  await move(880, 560, 1.5);
  await checkRuler(page, `${want} moved to ratio 1.5`, 'E');

  // /settings in a second tab: a larger font and the other renderer reach
  // the open terminal at once (fewer columns, told to the PTY).
  const before = await page.evaluate(() => window.__clawlinkTerm.size());
  const other = await context.newPage();
  await other.goto('/settings');
  await tid(other, 'settings-term-font').fill('20');
  await tid(other, 'settings-term-font').press('Tab');
  await tid(other, 'settings-term-msg').filter({ hasText: 'Saved.' }).waitFor();
  if (webgl) {
    await tid(other, 'settings-term-renderer').selectOption('dom');
    await waitFor(async () => (await renderer(page)) === 'dom', { what: 'the open terminal to switch to the DOM renderer' });
  }
  await other.close();
  await waitFor(async () => (await page.evaluate(() => window.__clawlinkTerm.size().cols)) < before.cols, {
    what: 'fewer columns with the larger font', describe: async () => JSON.stringify(await page.evaluate(() => window.__clawlinkTerm.size())),
  });
  const big = await checkRuler(page, 'dom at font 20', 'F');
  assert.ok(big.size.cols < before.cols && big.size.rows < before.rows, `font 20: ${JSON.stringify(big.size)} < ${JSON.stringify(before)}`);
  await screenshot(page, '36-terminal-font-20');
  assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
}));
