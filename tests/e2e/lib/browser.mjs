// browser: a real browser for the web-app tests.
//
// Drives Debian's chromium (/usr/bin/chromium, installed by
// scripts/install-deps) through playwright-core, which never downloads a
// browser of its own. Every browser, context and page is owned by the
// test's scope (see extra.mjs own()), so it closes with the test, also on
// failure. Each page records what would otherwise go unseen: uncaught
// errors, console errors and Content-Security-Policy violations; the tests
// assert the list stays empty.
//
// Screenshots of the main pages go to $CL_TEST_OUT/browser (default
// $CL_BIN_DIR/test-output/browser) so a person can look at them.

import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BIN_DIR, ms, waitFor } from './harness.mjs';
import { own } from './extra.mjs';

export const CHROMIUM = process.env.CL_CHROMIUM || '/usr/bin/chromium';
// CL_E2E_WEB_DIR: relays serve the web app from a fresh `vite build`
// directory (--web-dir) instead of the one embedded in the relay, to test a
// web change without rebuilding the relay. Pass to startRelay's extraArgs.
export const WEB_ARGS = process.env.CL_E2E_WEB_DIR ? ['--web-dir', process.env.CL_E2E_WEB_DIR] : [];
export const SHOT_DIR = path.resolve(process.env.CL_TEST_OUT || path.join(BIN_DIR, 'test-output'), 'browser');

// The flags Debian's chromium needs on a closed, headless machine: no
// sandbox (we run as root in CI), no GPU process, and none of the
// background connections to Google's services, which this network refuses.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

/** Launches headless chromium, owned by the scope; args: extra flags. */
export async function launchBrowser(scope, { args = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: run scripts/install-deps (it installs Debian's chromium)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, ...args], timeout: ms(60_000) });
  own(scope, { name: 'chromium', cleanup: () => browser.close() });
  return browser;
}

/**
 * A fresh context (its own cookies) and page on the relay, at the given
 * viewport and device pixel ratio (Chromium's device-metrics emulation;
 * viewport null: none, the browser window's own). Returns
 * {context, page, problems}: problems collects page errors, console errors
 * and CSP violations as strings. ignoreHTTPSErrors: trust a TLS relay's
 * self-signed certificate.
 */
export async function openPage(scope, browser, relay, { viewport = { width: 1280, height: 800 }, label = 'page', deviceScaleFactor = 1, ignoreHTTPSErrors = false } = {}) {
  // viewport null: no emulation, the window's own size and ratio
  const screen = viewport === null ? { viewport: null } : { viewport, deviceScaleFactor };
  const context = await browser.newContext({ baseURL: relay.url, ...screen, ignoreHTTPSErrors, permissions: ['clipboard-read', 'clipboard-write'] });
  own(scope, { name: `browser context ${label}`, cleanup: () => context.close() });
  context.setDefaultTimeout(ms(15_000));
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // A failed fetch the app handles itself (401 while signed out, a
    // WebSocket refused while the relay restarts) is logged by chromium
    // as a console error; those are expected, real errors are not.
    if (/Failed to load resource: the server responded with a status of (401|403|404|409)/.test(text)) return;
    // Only a socket the relay could not take at all (it is restarting) is
    // expected; a protocol error on a socket (say, a second close frame)
    // is a real problem and stays in the list.
    if (/WebSocket connection to .* failed: (Error in connection establishment: net::ERR_CONNECTION_REFUSED|Connection closed before receiving a handshake response)/.test(text)) return;
    if (/Failed to load resource: net::ERR_CONNECTION_REFUSED/.test(text)) return;
    problems.push(`${label}: console error: ${text}`);
  });
  // CSP violations are reported to the page as events; make them visible.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  return { context, page, problems };
}

/** Saves a full-page screenshot as SHOT_DIR/name.png; returns the path. */
export async function screenshot(page, name) {
  await mkdir(SHOT_DIR, { recursive: true });
  const file = path.join(SHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Decodes a PNG as page.screenshot() writes it (8-bit RGB or RGBA, not
 * interlaced) into {width, height, data}: data holds RGBA, 4 bytes a pixel,
 * row by row. Enough to read what a page drew without an image library.
 */
export function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8, width = 0, height = 0, channels = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8], color = body[9], interlace = body[12];
      if (depth !== 8 || (color !== 2 && color !== 6) || interlace) throw new Error(`PNG kind ${depth}/${color}/${interlace} not handled`);
      channels = color === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = cur[x * channels];
      data[o + 1] = cur[x * channels + 1];
      data[o + 2] = cur[x * channels + 2];
      data[o + 3] = channels === 4 ? cur[x * channels + 3] : 255;
    }
    prev.set(cur);
  }
  return { width, height, data };
}

/**
 * What is on screen in a CSS-pixel box of the page: a screenshot decoded
 * to {width, height, data, scale}, where scale is device pixels per CSS
 * pixel (the page's device pixel ratio).
 *
 * Taken through CDP's Page.captureScreenshot at the ratio the page has
 * now: Playwright's page.screenshot() draws at the context's
 * deviceScaleFactor and so ignores a ratio set later by
 * Emulation.setDeviceMetricsOverride (it measured a "ratio 2" page at 1).
 * CDP's clip scale multiplies the screen's own factor (a browser started
 * with --force-device-scale-factor) but not an emulated one, so a first
 * capture tells which applies and a second one makes up the difference.
 */
export async function screenPixels(page, box) {
  const dpr = await page.evaluate(() => devicePixelRatio);
  const cdp = await page.context().newCDPSession(page);
  const capture = async (scale) => {
    const { data } = await cdp.send('Page.captureScreenshot', {
      format: 'png',
      clip: { x: box.x, y: box.y, width: box.width, height: box.height, scale },
      captureBeyondViewport: false,
    });
    return decodePng(Buffer.from(data, 'base64'));
  };
  try {
    let img = await capture(1);
    const native = img.width / box.width;
    if (Math.abs(native - dpr) > 0.01) img = await capture(dpr / native);
    return { ...img, scale: img.width / box.width };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** The locator of a data-testid. */
export const tid = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Waits until the terminal page's test hook reports state s. */
export async function waitTermState(page, s, timeout = ms(30_000)) {
  await waitFor(async () => (await page.evaluate(() => window.__clawlinkTerm?.state?.())) === s, {
    timeout,
    what: `terminal state ${s}`,
    describe: async () => `state is ${await page.evaluate(() => window.__clawlinkTerm?.state?.())}`,
  });
}

/** The terminal's visible text (the page's test hook). */
export const termText = (page) => page.evaluate(() => window.__clawlinkTerm?.text?.() ?? '');

/** Waits until the terminal shows a line matching re; returns the text. */
export async function waitTermLine(page, re, timeout = ms(20_000)) {
  let text = '';
  await waitFor(async () => {
    text = await termText(page);
    return text.split('\n').some((l) => re.test(l));
  }, { timeout, what: `a terminal line matching ${re}`, describe: () => `terminal shows:\n${text.split('\n').slice(-15).join('\n')}` });
  return text;
}

/**
 * Signs the context in as a user that exists already, the way the web app
 * does (POST /api/v1/auth/login as the web client: the relay answers with
 * the HttpOnly cookie), for tests whose subject is not the sign-in page.
 */
export async function signInContext(context, email, password) {
  const r = await context.request.post('/api/v1/auth/login', {
    headers: { 'X-Clawlink-Client': 'web' },
    data: { email, password },
  });
  if (r.status() !== 200) throw new Error(`web sign-in of ${email}: ${r.status()} ${await r.text()}`);
  return r.json();
}

/**
 * Opens a terminal from a device row (its "Open terminal" button), waits
 * for it to be online and runs `echo $((6*7))` in it, expecting 42: the
 * proof that a browser reaches a real shell.
 */
export async function openTerminalAndEcho(page, row) {
  await row.locator('[data-testid="open-terminal"]').click();
  await page.waitForURL(/\/terminal\/[0-9a-f-]+\/[0-9a-f-]+$/);
  await waitTermState(page, 'online');
  await tid(page, 'terminal').click();
  await page.keyboard.type('echo $((6*7))\n');
  await waitTermLine(page, /^42\s*$/);
}
