// web/src/terminal/prefs.ts and renderer.ts's pure parts: stored terminal
// preferences are normalised (unknown renderer: auto; font size clamped to
// 8–32 and whole), saving tells this tab's listeners, a storage event from
// another tab is heard; the renderer choice: automatic takes WebGL only
// from a hardware driver (never SwiftShader or llvmpipe), DOM and WebGL as
// chosen, DOM where there is no WebGL at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from './lib/load.mjs';

// a localStorage and the window's event target, as a browser has them
const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
const events = new EventTarget();
globalThis.addEventListener = events.addEventListener.bind(events);
globalThis.removeEventListener = events.removeEventListener.bind(events);

const prefs = await load('terminal/prefs.ts');
const { chooseRenderer, isSoftwareRenderer } = await load('terminal/renderer.ts');

test('preferences: defaults, normalised, stored, heard', () => {
  const { PREFS_KEY, loadPrefs, savePrefs, onPrefsChange, normalizePrefs } = prefs;
  assert.deepEqual(loadPrefs(), { renderer: 'auto', fontSize: 14 });
  store.set(PREFS_KEY, '{not json');
  assert.deepEqual(loadPrefs(), { renderer: 'auto', fontSize: 14 });
  for (const [v, want] of [
    [{ renderer: 'canvas', fontSize: 13 }, { renderer: 'auto', fontSize: 13 }],
    [{ renderer: 'dom', fontSize: 2 }, { renderer: 'dom', fontSize: 8 }],
    [{ renderer: 'webgl', fontSize: 99.6 }, { renderer: 'webgl', fontSize: 32 }],
    [{ fontSize: 15.4 }, { renderer: 'auto', fontSize: 15 }],
    [{ fontSize: Infinity }, { renderer: 'auto', fontSize: 14 }],
    [{ fontSize: '20' }, { renderer: 'auto', fontSize: 14 }],
    [null, { renderer: 'auto', fontSize: 14 }],
    [[1, 2], { renderer: 'auto', fontSize: 14 }],
  ]) assert.deepEqual(normalizePrefs(v), want, JSON.stringify(v));

  const heard = [];
  const off = onPrefsChange((p) => heard.push(p));
  assert.deepEqual(savePrefs({ fontSize: 18 }), { renderer: 'auto', fontSize: 18 });
  assert.deepEqual(savePrefs({ renderer: 'dom' }), { renderer: 'dom', fontSize: 18 });
  assert.deepEqual(JSON.parse(store.get(PREFS_KEY)), { renderer: 'dom', fontSize: 18 });
  // another tab wrote them: the storage event
  store.set(PREFS_KEY, JSON.stringify({ renderer: 'webgl', fontSize: 11 }));
  const ev = new Event('storage');
  ev.key = PREFS_KEY;
  events.dispatchEvent(ev);
  const other = new Event('storage');
  other.key = 'something.else';
  events.dispatchEvent(other);
  off();
  savePrefs({ fontSize: 12 });
  assert.deepEqual(heard, [
    { renderer: 'auto', fontSize: 18 },
    { renderer: 'dom', fontSize: 18 },
    { renderer: 'webgl', fontSize: 11 },
  ]);
});

test('the renderer: automatic takes WebGL from a GPU only', () => {
  const swift = 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)';
  for (const n of [swift, 'llvmpipe (LLVM 15.0.6, 256 bits)', 'softpipe', 'Microsoft Basic Render Driver', 'lavapipe']) {
    assert.equal(isSoftwareRenderer(n), true, n);
  }
  for (const n of ['ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)', 'Apple M2', 'NVIDIA GeForce RTX 3060/PCIe/SSE2', '']) {
    assert.equal(isSoftwareRenderer(n), false, n);
  }
  const gpu = { available: true, software: false, name: 'Apple M2' };
  const sw = { available: true, software: true, name: swift };
  const none = { available: false, software: false, name: '' };
  const k = (pref, info) => chooseRenderer(pref, info).kind;
  assert.equal(k('auto', gpu), 'webgl');
  assert.equal(k('auto', sw), 'dom');
  assert.equal(k('auto', none), 'dom');
  assert.equal(k('webgl', sw), 'webgl');
  assert.equal(k('webgl', none), 'dom');
  assert.equal(k('dom', gpu), 'dom');
  assert.match(chooseRenderer('auto', sw).why, /software.*SwiftShader/);
});
