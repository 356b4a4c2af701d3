// web/src/router.ts with just enough of a browser stubbed (location,
// history, window, document): patterns and :params (decoded), the auth
// guard's redirect, cleanups, and a seeded fuzz of paths: any path a user
// can type renders a page (the not-found one at worst) and never rejects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from './lib/load.mjs';
import { SEED } from './lib/prng.mjs';

const RUNS = Number(process.env.FUZZ_RUNS || 20000);

const loc = { pathname: '/', search: '', hash: '', origin: 'https://relay.example', href: 'https://relay.example/' };
function go(path) {
  const [, pathname, search = '', hash = ''] = /^([^?#]*)(\?[^#]*)?(#.*)?$/s.exec(path);
  Object.assign(loc, { pathname, search, hash, href: loc.origin + path });
}
globalThis.location = loc;
globalThis.history = { pushState: (_s, _t, p) => go(p), replaceState: (_s, _t, p) => go(p) };
const popstate = [];
globalThis.window = { addEventListener: (n, f) => n === 'popstate' && popstate.push(f), scrollTo() {} };
globalThis.document = { addEventListener() {}, getElementById: () => null };

const R = await load('router.ts');
const rejections = [];
process.on('unhandledRejection', (e) => rejections.push(e));

const shown = []; // [name, params]
const cleaned = [];
const page = (name) => async () => (root, params) => {
  shown.push([name, params]);
  return () => cleaned.push(name);
};
let signedIn = false;
R.route('/', page('landing'));
R.route('/project/:id', page('project'), true);
R.route('/terminal/:deviceId/:sessionId', page('terminal'), true);
R.route('/auth', page('auth'));
R.route('*', page('notfound'));
const root = { replaceChildren() {} };
const settle = async () => { for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r)); };
R.start(root, async (needsAuth) => (needsAuth && !signedIn ? `/auth?next=${encodeURIComponent(loc.pathname)}` : null));
await settle();

async function visit(path) {
  go(path);
  popstate.forEach((f) => f());
  await settle();
  return shown.at(-1);
}

test('patterns and :params', async () => {
  assert.deepEqual(shown.at(-1), ['landing', {}]);
  signedIn = true;
  assert.deepEqual(await visit('/project/p1'), ['project', { id: 'p1' }]);
  assert.deepEqual(await visit('/project/p1/'), ['project', { id: 'p1' }], 'a trailing slash');
  assert.deepEqual(await visit('/project/a%20b%2Fc'), ['project', { id: 'a b/c' }], 'decoded');
  assert.deepEqual(await visit('/terminal/d1/new'), ['terminal', { deviceId: 'd1', sessionId: 'new' }]);
  assert.deepEqual(await visit('/project'), ['notfound', {}]);
  assert.deepEqual(await visit('/project/a/b'), ['notfound', {}]);
  assert.deepEqual(await visit('/nope'), ['notfound', {}]);
  assert.ok(cleaned.length >= 6, 'each page cleaned up when left');
});

test('a page that needs a user sends a signed-out one to /auth?next=', async () => {
  signedIn = false;
  assert.deepEqual(await visit('/project/p9'), ['auth', {}]);
  assert.equal(loc.pathname, '/auth');
  assert.equal(loc.search, '?next=%2Fproject%2Fp9');
  signedIn = true;
  R.navigate('/project/p9');
  await settle();
  assert.deepEqual(shown.at(-1), ['project', { id: 'p9' }]);
});

// Found by the fuzz below: a malformed %-escape in a :param made
// decodeURIComponent throw, render() reject, and the page stay blank.
test('regression: a malformed %-escape is the not-found page, not a blank one', async () => {
  for (const p of ['/project/%', '/project/%zz', '/project/%E0%A4%A', '/terminal/%C3/x']) {
    assert.deepEqual(await visit(p), ['notfound', {}], p);
  }
  assert.deepEqual(rejections, []);
});

test('fuzz: any path renders a page and never rejects', { timeout: 30_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (FUZZ_SEED to replay), ${RUNS / 20} paths`);
  let a = SEED;
  const int = (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
  const parts = ['project', 'terminal', 'auth', 'p1', 'd1', 'new', '', '%', '%2', '%zz', '%20', '%2F', '%C3%A9', '%E0%A4%A', '%ff', 'é', '..', '.', ':id', '*', '?', '#'];
  const n = Math.max(200, RUNS / 20);
  for (let i = 0; i < n; i++) {
    const path = '/' + Array.from({ length: int(5) }, () => parts[int(parts.length)]).join('/');
    const before = shown.length;
    await visit(path.split(/[?#]/)[0] || '/');
    assert.equal(shown.length, before + 1, `seed ${SEED} case ${i}: ${path} rendered nothing`);
    const [name, params] = shown.at(-1);
    for (const v of Object.values(params)) assert.equal(typeof v, 'string');
    assert.ok(['landing', 'project', 'terminal', 'auth', 'notfound'].includes(name));
  }
  assert.deepEqual(rejections, [], `seed ${SEED}`);
});
