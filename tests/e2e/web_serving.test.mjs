// web_serving: the relay serves the web app (embedded, or --web-dir), the
// machine-readable docs, and the security headers on every reply.
//
// Works whether or not the real web app was built into the relay: exact
// contents are checked against --web-dir temp dirs; for the embedded app
// only index.html (or the "not built" page) and its headers are checked.
// Requests go through node:http, so nothing is decompressed, normalised
// or cached behind the test's back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import { mkdir, writeFile, symlink, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import {
  e2e, cleanupAll, startRelay, tempDir, signup, createProject, createDevice, TEST_TIMEOUT, ms,
} from './lib/harness.mjs';
import { makeSelfSigned, startTlsRelay } from './lib/extra.mjs';
import https from 'node:https';

after(cleanupAll);

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** One raw request: {status, headers, body (Buffer), text}. The path is sent as given. */
function raw(relay, method, pathname, headers = {}, { ca } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(relay.url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request({ hostname: u.hostname, port: u.port, path: pathname, method, headers, ca, agent: false, timeout: ms(20_000) }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body, text: body.toString('utf8'), method, path: pathname });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends `first` (method, path, headers) and then GET /healthz on ONE
 * keep-alive connection, without waiting in between, and returns all the
 * bytes the relay wrote until it closed. A reply to HEAD that carries a
 * body shows as bytes between its headers and the second status line.
 */
function pipelined(relay, method, pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(relay.url);
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks = [];
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.setTimeout(ms(20_000), () => sock.destroy(new Error(`${method} ${pathname}: timeout`)));
    sock.on('connect', () => sock.write(`${method} ${pathname} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}\r\n` +
      `GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
  });
}

/** The web app's page routes, as web/src/main.ts declares them (the catch-all "*" left out). */
async function appRoutes() {
  const main = await readFile(fileURLToPath(new URL('../../web/src/main.ts', import.meta.url)), 'utf8');
  return [...main.matchAll(/^route\("([^"]+)"/gm)].map((m) => m[1]).filter((p) => p !== '*');
}

/** Whether a path is one of a route pattern's (its :params any one segment), as web/src/router.ts matches. */
function routeMatches(pattern, path) {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  return p.length === s.length && p.every((seg, i) => seg.startsWith(':') || seg === s[i]);
}

const show = (r) => `${r.method} ${r.path} → ${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 200)}`;

function securityHeaders(r, { tls = false } = {}) {
  assert.equal(r.headers['content-security-policy'], CSP, show(r));
  assert.equal(r.headers['x-content-type-options'], 'nosniff', show(r));
  assert.equal(r.headers['referrer-policy'], 'no-referrer', show(r));
  assert.equal(r.headers['x-frame-options'], 'DENY', show(r));
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', show(r));
  if (tls) assert.match(r.headers['strict-transport-security'] ?? '', /^max-age=\d+/, show(r));
  else assert.equal(r.headers['strict-transport-security'], undefined, `no HSTS without TLS: ${show(r)}`);
}

const INDEX = '<!doctype html>\n<html><head><title>disk app</title><script type="module" src="/assets/app-abc123.js"></script></head><body><div id="app"></div></body></html>\n';
const APP_JS = `console.log("app");\n${'// the same line again, to make gzip worth it\n'.repeat(200)}`;

/** A --web-dir: index.html, assets/app-abc123.js, logo.svg, a hidden file, and symlinks out. */
async function webDir() {
  const base = await tempDir('clawlink-webdir-');
  const dir = path.join(base, 'dist');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(dir, 'assets'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(dir, 'index.html'), INDEX);
  await writeFile(path.join(dir, 'assets', 'app-abc123.js'), APP_JS);
  await writeFile(path.join(dir, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(path.join(dir, '.env'), 'SECRET=hidden');
  await writeFile(path.join(outside, 'secret.txt'), 'outside the web dir');
  await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'leak.txt'));
  await symlink(outside, path.join(dir, 'out'));
  return { dir, base };
}

test('API replies and pages carry the security headers; unknown API paths stay JSON 404', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const health = await raw(relay, 'GET', '/healthz');
  assert.equal(health.status, 200, show(health));
  securityHeaders(health);
  assert.equal(health.headers['cache-control'], 'no-store');

  for (const p of ['/api/v1/nope', '/api/v1', '/functions/v1/nope', '/api/v1/nope.js']) {
    const r = await raw(relay, 'GET', p);
    assert.equal(r.status, 404, show(r));
    assert.match(r.headers['content-type'], /^application\/json/, show(r));
    assert.equal(JSON.parse(r.text).error.code, 'no_route', show(r));
    securityHeaders(r);
  }
  const unauth = await raw(relay, 'GET', '/api/v1/projects');
  assert.equal(unauth.status, 401, show(unauth));
  securityHeaders(unauth);
  const spec = await raw(relay, 'GET', '/api/v1/openapi.json');
  assert.equal(spec.status, 200, show(spec));
  assert.equal(JSON.parse(spec.text).openapi, '3.1.0');

  // the embedded app: index.html for / and every page route, or the page
  // saying the app was not built (a relay built without web/dist)
  const root = await raw(relay, 'GET', '/');
  securityHeaders(root);
  assert.match(root.headers['content-type'], /^text\/html; charset=utf-8/, show(root));
  if (root.status === 503) {
    assert.match(root.text, /not built/, show(root));
    return;
  }
  assert.equal(root.status, 200, show(root));
  assert.equal(root.headers['cache-control'], 'no-cache', show(root));
  assert.match(root.headers.etag, /^"[0-9a-f]{32}"$/, show(root));
  // the built app has no inline script (the CSP would block it)
  for (const m of root.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    assert.match(m[1], /\bsrc=/, `inline <script> in index.html: ${m[0].slice(0, 200)}`);
    assert.equal(m[2].trim(), '', 'a <script src> with a body');
  }
  assert.doesNotMatch(root.text, /\son[a-z]+\s*=/i, 'inline event handler attribute in index.html');
  for (const p of ['/auth', '/reset-password', '/docs', '/dashboard', '/settings', '/project/x', '/device/abc',
    '/terminal/a/b', '/terminal/a/new', '/dashboard/']) {
    const r = await raw(relay, 'GET', p);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.text, root.text, `${p} is index.html`);
    assert.equal(r.headers.etag, root.headers.etag);
    securityHeaders(r);
  }
  // a page the app has no route for: its not-found page (index.html) with 404
  for (const p of ['/no/such/page', '/project', '/terminal/a', '/dashboardx', '/wp-login']) {
    const r = await raw(relay, 'GET', p);
    assert.equal(r.status, 404, show(r));
    assert.equal(r.text, root.text, `${p} is index.html`);
    assert.match(r.headers['content-type'], /^text\/html; charset=utf-8/, show(r));
    assert.equal(r.headers.etag, undefined, `a 404 has no ETag to revalidate: ${show(r)}`);
    securityHeaders(r);
    const again404 = await raw(relay, 'GET', p, { 'If-None-Match': root.headers.etag });
    assert.equal(again404.status, 404, `If-None-Match never turns a 404 into a 304: ${show(again404)}`);
  }
  const etag = root.headers.etag;
  const again = await raw(relay, 'GET', '/', { 'If-None-Match': etag });
  assert.equal(again.status, 304, show(again));
  assert.equal(again.body.length, 0);
  assert.equal(again.headers.etag, etag);
  securityHeaders(again);
  const head = await raw(relay, 'HEAD', '/project/x');
  assert.equal(head.status, 200, show(head));
  assert.equal(head.body.length, 0);
  assert.equal(Number(head.headers['content-length']), root.body.length);
  // every script and stylesheet index.html names is served with a long cache life
  for (const m of root.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
    const r = await raw(relay, 'GET', m[1], { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', show(r));
    securityHeaders(r);
  }
}));

// The relay answers 200 exactly for the app's routes, read from the same
// place the app's router reads them (web/src/main.ts), and 404 for others.
test('every page route of the app (web/src/main.ts) answers 200; the same paths one segment off answer 404', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const routes = await appRoutes();
  assert.ok(routes.length >= 8, `routes read from main.ts: ${routes}`);
  const root = await raw(relay, 'GET', '/');
  if (root.status === 503) return; // built without the web app: nothing to route
  for (const pattern of routes) {
    const p = pattern.replace(/:[A-Za-z]+/g, () => crypto.randomUUID());
    for (const method of ['GET', 'HEAD']) {
      const r = await raw(relay, method, p);
      assert.equal(r.status, 200, `${pattern}: ${show(r)}`);
    }
    if (pattern === '/') continue;
    // one more segment; and where the last segment is literal, that segment changed
    const offs = [`${p}/extra`, ...(/\/:[A-Za-z]+$/.test(pattern) ? [] : [`${p}x`])]
      .filter((off) => !routes.some((r) => routeMatches(r, off))); // /device/:id/chat + /extra is /device/:id/chat/:thread
    for (const off of offs) {
      const r = await raw(relay, 'GET', off);
      assert.equal(r.status, 404, `${pattern} → ${off}: ${show(r)}`);
      assert.equal(r.text, root.text, `${off}: the app's page, to show its not-found view`);
    }
  }
}));

test('/favicon.ico and /favicon.svg are served; index.html links the icon', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const root = await raw(relay, 'GET', '/');
  if (root.status === 503) return; // built without the web app
  assert.match(root.text, /<link rel="icon" href="\/favicon\.svg"/, 'index.html names its icon');
  const ico = await raw(relay, 'GET', '/favicon.ico');
  assert.equal(ico.status, 200, show(ico));
  assert.equal(ico.headers['content-type'], 'image/x-icon');
  assert.deepEqual([...ico.body.subarray(0, 4)], [0, 0, 1, 0], 'an ICO file (reserved 0, type 1)');
  assert.ok(ico.body.readUInt16LE(4) >= 1, 'with at least one image');
  securityHeaders(ico);
  const svg = await raw(relay, 'GET', '/favicon.svg');
  assert.equal(svg.status, 200, show(svg));
  assert.equal(svg.headers['content-type'], 'image/svg+xml');
}));

// RFC 9110 9.3.2: HEAD is GET without the body. A body after the headers
// of a HEAD reply is read by a keep-alive client as the start of the next
// reply (Go's client logs "Unsolicited response"), so every route is asked
// with HEAD and then GET /healthz on the same connection.
test('HEAD on every route (API, functions, pages, files, errors): GET\'s status and headers, Content-Length, and no body', { timeout: TEST_TIMEOUT * 2 }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const project = await createProject(relay, u.token);
  const { device } = await createDevice(relay, u.token, project.id);
  const spec = JSON.parse((await raw(relay, 'GET', '/api/v1/openapi.json')).text);
  const ids = { id: null, user_id: u.user?.id ?? crypto.randomUUID(), invitation_id: crypto.randomUUID(), name: 'nope' };
  const targets = [];
  for (const [p, ops] of Object.entries(spec.paths)) {
    ids.id = p.includes('/projects/') ? project.id : p.includes('/devices/') ? device.id : crypto.randomUUID();
    const concrete = p.replace(/\{([a-z_]+)\}/g, (_, k) => ids[k] ?? crypto.randomUUID());
    // GET routes with and without a token; a path with no GET: HEAD is 405 like GET
    targets.push({ path: concrete, auth: true, get: Boolean(ops.get) });
    if (ops.get) targets.push({ path: concrete, auth: false, get: true });
  }
  const info = JSON.parse((await raw(relay, 'GET', '/functions/v1/download-connector', { Authorization: `Bearer ${u.token}` })).text);
  targets.push({ path: `/functions/v1/download-connector?platform=${info.host_platform}`, auth: true, get: true });
  for (const p of ['/', '/dashboard', '/no/such/page', '/favicon.ico', '/favicon.svg', '/llms.txt', '/assets/none.js', '/api/v1/nope']) {
    targets.push({ path: p, auth: false, get: true });
  }
  const statuses = new Set();
  for (const t of targets) {
    const headers = t.auth ? { Authorization: `Bearer ${u.token}` } : {};
    const get = await raw(relay, 'GET', t.path, headers);
    const head = await raw(relay, 'HEAD', t.path, headers);
    const what = `HEAD ${t.path}${t.auth ? ' (signed in)' : ''}`;
    assert.equal(head.status, get.status, `${what}: ${show(head)} vs GET ${show(get)}`);
    statuses.add(head.status);
    assert.equal(head.headers['content-type'], get.headers['content-type'], what);
    assert.equal(head.headers['cache-control'], get.headers['cache-control'], what);
    if (get.status !== 304 && get.headers['content-length'] !== undefined) {
      assert.equal(head.headers['content-length'], get.headers['content-length'], `${what}: Content-Length as GET's`);
    } else if (get.status !== 304) {
      assert.equal(Number(head.headers['content-length']), get.body.length, `${what}: Content-Length, the length of GET's body`);
    }
    const wire = await pipelined(relay, 'HEAD', t.path, headers);
    const end = wire.indexOf('\r\n\r\n');
    assert.ok(end > 0, `${what}: no header block in ${JSON.stringify(wire.slice(0, 300))}`);
    assert.match(wire.slice(end + 4), /^HTTP\/1\.1 200 /, `${what}: the next reply follows the headers at once (no body): ${JSON.stringify(wire.slice(0, 600))}`);
  }
  for (const s of [200, 401, 404, 405]) assert.ok(statuses.has(s), `HEAD was tried with replies of status ${s}: ${[...statuses]}`);
}));

test('/llms.txt and /llms-full.txt: the machine-readable docs', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const short = await raw(relay, 'GET', '/llms.txt');
  assert.equal(short.status, 200, show(short));
  assert.equal(short.headers['content-type'], 'text/plain; charset=utf-8');
  assert.match(short.text, /^# clawlink/);
  assert.match(short.text, /\/llms-full\.txt/);
  assert.match(short.text, /\/api\/v1\/openapi\.json/);
  securityHeaders(short);
  const full = await raw(relay, 'GET', '/llms-full.txt');
  assert.equal(full.status, 200, show(full));
  assert.equal(full.headers['content-type'], 'text/plain; charset=utf-8');
  assert.ok(full.text.startsWith(short.text), 'llms-full.txt begins with llms.txt');
  assert.ok(full.text.length > 20_000, 'llms-full.txt carries the README, the API and the protocol');
  assert.match(full.text, /## Quickstart/); // README
  const gz = await raw(relay, 'GET', '/llms-full.txt', { 'Accept-Encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString('utf8'), full.text);
  // the same with --web-dir: the docs are always the built-in ones
  const { dir } = await webDir();
  const dev = await startRelay({ extraArgs: ['--web-dir', dir] });
  assert.equal((await raw(dev, 'GET', '/llms.txt')).text, short.text);
}));

test('--web-dir: files, SPA fallback, caching, ETag → 304, gzip and HEAD', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { dir } = await webDir();
  const relay = await startRelay({ extraArgs: ['--web-dir', dir] });

  const root = await raw(relay, 'GET', '/');
  assert.equal(root.status, 200, show(root));
  assert.equal(root.text, INDEX);
  assert.equal(root.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(root.headers['cache-control'], 'no-cache');
  assert.match(root.headers.etag, /^"[0-9a-f]{32}"$/);
  securityHeaders(root);
  for (const p of ['/index.html', '/project/x', '/terminal/dev-1/new', '/dashboard']) {
    const r = await raw(relay, 'GET', p);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.text, INDEX, p);
    assert.equal(r.headers.etag, root.headers.etag, p);
  }
  const missing = await raw(relay, 'GET', '/a/b/c/d');
  assert.equal(missing.status, 404, show(missing));
  assert.equal(missing.text, INDEX, 'a page with no route: the app (its not-found page), with 404');
  // an asset: long-lived, a strong ETag per representation
  const js = await raw(relay, 'GET', '/assets/app-abc123.js');
  assert.equal(js.status, 200, show(js));
  assert.equal(js.text, APP_JS);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(js.headers['content-encoding'], undefined);
  securityHeaders(js);
  const svg = await raw(relay, 'GET', '/logo.svg');
  assert.equal(svg.headers['content-type'], 'image/svg+xml');
  assert.equal(svg.headers['cache-control'], 'no-cache');

  const hit = await raw(relay, 'GET', '/assets/app-abc123.js', { 'If-None-Match': js.headers.etag });
  assert.equal(hit.status, 304, show(hit));
  assert.equal(hit.body.length, 0);
  assert.equal(hit.headers.etag, js.headers.etag);
  const weak = await raw(relay, 'GET', '/assets/app-abc123.js', { 'If-None-Match': `"nope", W/${js.headers.etag}` });
  assert.equal(weak.status, 304, show(weak));
  const miss = await raw(relay, 'GET', '/assets/app-abc123.js', { 'If-None-Match': '"0000"' });
  assert.equal(miss.status, 200, show(miss));

  const head = await raw(relay, 'HEAD', '/assets/app-abc123.js');
  assert.equal(head.status, 200, show(head));
  assert.equal(head.body.length, 0);
  assert.equal(Number(head.headers['content-length']), Buffer.byteLength(APP_JS));
  assert.equal(head.headers.etag, js.headers.etag);

  // the file changes on disk: a new ETag, the old one no longer matches
  await writeFile(path.join(dir, 'index.html'), INDEX.replace('disk app', 'disk app 2'));
  const changed = await raw(relay, 'GET', '/', { 'If-None-Match': root.headers.etag });
  assert.equal(changed.status, 200, show(changed));
  assert.notEqual(changed.headers.etag, root.headers.etag);
}));

test('--web-dir stays inside its directory: .., encoded .., hidden files, symlinks out → 400/404', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const { dir } = await webDir();
  const relay = await startRelay({ extraArgs: ['--web-dir', dir] });
  const attempts = ['/../outside/secret.txt', '/assets/../../outside/secret.txt', '/%2e%2e/outside/secret.txt',
    '/assets/%2e%2e/%2e%2e/outside/secret.txt', '/..%2foutside%2fsecret.txt', '/assets/..%2f..%2foutside/secret.txt',
    '/leak.txt', '/out/secret.txt', '/.env', '/assets/.%2e/.env', '/a%5c..%5csecret.txt', '/etc/passwd.txt',
    '/nothere.js', '/assets/nothere-1.js'];
  for (const p of attempts) {
    const r = await raw(relay, 'GET', p);
    assert.ok(r.status === 404 || r.status === 400, `${p} must be refused: ${show(r)}`);
    assert.doesNotMatch(r.text, /outside the web dir|SECRET=hidden/, `${p} leaked a file`);
    securityHeaders(r);
  }
  // lws folds "//" into "/": a page path the app has no route for, so the
  // app (its not-found page, 404), not the system's file
  const slashes = await raw(relay, 'GET', '//etc/passwd');
  assert.ok(slashes.status === 404 && slashes.text === INDEX, show(slashes));
  // a .. that lands inside the directory is just that file
  const inside = await raw(relay, 'GET', '/assets/../index.html');
  assert.ok(inside.status === 200 || inside.status === 400, show(inside));
  if (inside.status === 200) assert.equal(inside.text, INDEX);
  // the API's namespaces never fall back to the app
  for (const p of ['/api/v1/nope', '/functions/v1/nope', '/session', '/events', '/connect']) {
    const r = await raw(relay, 'GET', p);
    assert.equal(r.status, 404, show(r));
    assert.equal(JSON.parse(r.text).error.code, 'no_route', show(r));
  }
  // a directory without index.html: the page saying so
  const empty = await tempDir('clawlink-webdir-empty-');
  const bare = await startRelay({ extraArgs: ['--web-dir', empty] });
  const nb = await raw(bare, 'GET', '/dashboard');
  assert.equal(nb.status, 503, show(nb));
  assert.match(nb.text, /not built/);
  securityHeaders(nb);
}));

test('gzip: with Accept-Encoding gzip the smaller copy goes out, with Vary; without, the bytes as they are', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  // the docs are embedded in every build, gzip copies included
  const plain = await raw(relay, 'GET', '/llms-full.txt');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers.vary, 'Accept-Encoding');
  const gz = await raw(relay, 'GET', '/llms-full.txt', { 'Accept-Encoding': 'br;q=1, gzip;q=0.5' });
  assert.equal(gz.status, 200, show(gz));
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gz.headers.vary, 'Accept-Encoding');
  assert.ok(gz.body.length < plain.body.length);
  assert.equal(Number(gz.headers['content-length']), gz.body.length);
  assert.equal(zlib.gunzipSync(gz.body).toString('utf8'), plain.text);
  assert.match(gz.headers.etag, /^"[0-9a-f]{32}-gz"$/, 'the gzip bytes have their own strong ETag');
  assert.equal(gz.headers.etag, plain.headers.etag.replace(/"$/, '-gz"'));
  const refused = await raw(relay, 'GET', '/llms-full.txt', { 'Accept-Encoding': 'gzip;q=0, identity' });
  assert.equal(refused.headers['content-encoding'], undefined);
  assert.equal(refused.text, plain.text);
  const head = await raw(relay, 'HEAD', '/llms-full.txt', { 'Accept-Encoding': 'gzip' });
  assert.equal(head.body.length, 0);
  assert.equal(Number(head.headers['content-length']), gz.body.length);
  // either ETag revalidates
  for (const etag of [plain.headers.etag, gz.headers.etag]) {
    const r = await raw(relay, 'GET', '/llms-full.txt', { 'Accept-Encoding': 'gzip', 'If-None-Match': etag });
    assert.equal(r.status, 304, show(r));
  }
  // the embedded app's index.html too, when the relay was built with it
  const root = await raw(relay, 'GET', '/', { 'Accept-Encoding': 'gzip' });
  if (root.status === 200 && root.headers['content-encoding'] === 'gzip') {
    assert.match(zlib.gunzipSync(root.body).toString('utf8'), /<!doctype html>/i);
  }
}));

test('a download (a file lws streams) carries the security headers too', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const u = await signup(relay);
  const fn = '/functions/v1/download-connector';
  const info = await raw(relay, 'GET', fn, { Authorization: `Bearer ${u.token}` });
  assert.equal(info.status, 200, show(info));
  securityHeaders(info);
  const platform = JSON.parse(info.text).host_platform;
  const r = await raw(relay, 'GET', `${fn}?platform=${platform}`, { Authorization: `Bearer ${u.token}` });
  assert.equal(r.status, 200, show(r));
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.equal(r.headers['cache-control'], 'no-store');
  securityHeaders(r);
}));

test('HSTS only under TLS', { timeout: TEST_TIMEOUT }, e2e(async (t, scope) => {
  const dir = await tempDir('clawlink-web-tls-');
  const { cert, key, pem } = await makeSelfSigned(dir);
  const relay = await startTlsRelay(scope, { cert, key, ca: pem });
  for (const p of ['/healthz', '/llms.txt', '/api/v1/nope', '/']) {
    const r = await raw(relay, 'GET', p, {}, { ca: pem });
    securityHeaders(r, { tls: true });
  }
}));
