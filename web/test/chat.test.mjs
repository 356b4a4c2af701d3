// The chat view's pure parts (web/src/chat/): the server-sent-events parser
// the reply and /events streams go through, a search hit's snippet split
// into marked runs, and the Markdown renderer's sanitizing (marked +
// DOMPurify, run here on jsdom's DOM): what a model or another surface
// writes can never run script, load from elsewhere or restyle the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JSDOM } from 'jsdom';
import { load } from './lib/load.mjs';
import { prng, SEED } from './lib/prng.mjs';

const S = await load('chat/sse.ts');
const N = await load('chat/snippet.ts');
const M = await load('chat/markdown.ts');
const RUNS = Number(process.env.FUZZ_RUNS || 20000);

const win = new JSDOM('<!doctype html><html><body></body></html>').window;
const md = (text) => M.markdownToSafeHtml(text, win);

// ---- SSE -------------------------------------------------------------------

test('sse: events, names, multi-line data, comments, CRLF', () => {
  const p = new S.SseParser();
  assert.deepEqual(p.push('event: message\ndata: {"a":1}\n\n'), [{ event: 'message', data: '{"a":1}' }]);
  assert.deepEqual(p.push(': keep-alive\n\n'), []);
  assert.deepEqual(p.push('data: x\ndata: y\n\n'), [{ event: 'message', data: 'x\ny' }]);
  assert.deepEqual(p.push('event: delta\r\ndata:{"text":"hi"}\r\n\r\n'), [{ event: 'delta', data: '{"text":"hi"}' }]);
  assert.deepEqual(p.push('event: ping\n\n'), [], 'no data: no event');
  // lone CRs end lines too; a CR at the end of a chunk waits (it may be half a CRLF)
  assert.deepEqual(p.push('event: done\rdata: {}\r\r'), []);
  assert.deepEqual(p.push(': next\n'), [{ event: 'done', data: '{}' }]);
});

test('sse: any split of a stream gives the same events', () => {
  const stream = 'event: message\ndata: {"id":1}\n\n: c\n\nevent: delta\r\ndata: {"text":"a\\nb"}\r\n\r\nevent: done\ndata: {"message":{"id":2}}\n\n';
  const whole = new S.SseParser().push(stream);
  assert.equal(whole.length, 3);
  const rnd = prng(SEED).next;
  for (let r = 0; r < 2000; r++) {
    const p = new S.SseParser();
    const got = [];
    let i = 0;
    while (i < stream.length) {
      const n = 1 + Math.floor(rnd() * 8);
      got.push(...p.push(stream.slice(i, i + n)));
      i += n;
    }
    assert.deepEqual(got, whole, `# seed ${SEED}, run ${r}`);
  }
});

test('sse: an event past the limit is dropped and the parser resyncs', () => {
  const p = new S.SseParser();
  assert.deepEqual(p.push('data: ' + 'x'.repeat(S.SSE_MAX_EVENT + 10)), []);
  assert.deepEqual(p.push('yyy\n\n'), [], 'the rest of the huge event is skipped');
  assert.deepEqual(p.push('event: delta\ndata: 1\n\n'), [{ event: 'delta', data: '1' }]);
});

test('sse: sseJson takes objects only', () => {
  assert.deepEqual(S.sseJson({ event: 'x', data: '{"a":1}' }), { a: 1 });
  for (const d of ['[1]', '1', 'null', '"s"', '{', '']) assert.equal(S.sseJson({ event: 'x', data: d }), null, d);
});

test('sse: fuzzed input never throws and events are well-formed', () => {
  const rnd = prng(SEED + 1).next;
  const alphabet = ['event:', 'data:', ' ', '\n', '\r', ':', 'x', '{', '}', '"', 'é', '\u0000'];
  for (let r = 0; r < RUNS / 10; r++) {
    const p = new S.SseParser();
    let s = '';
    const n = Math.floor(rnd() * 60);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    for (const ev of p.push(s)) {
      assert.equal(typeof ev.event, 'string', `# seed ${SEED + 1}: ${JSON.stringify(s)}`);
      assert.ok(ev.event.length > 0 && !/[\r\n]/.test(ev.event));
      assert.ok(!ev.data.includes('\r'));
    }
  }
});

// ---- snippets ----------------------------------------------------------------

test('snippet: [[ ]] marks, the rest is plain text', () => {
  assert.deepEqual(N.snippetRuns('a [[b]] c'), [{ text: 'a ', mark: false }, { text: 'b', mark: true }, { text: ' c', mark: false }]);
  assert.deepEqual(N.snippetRuns('[[x]][[y]]'), [{ text: 'xy', mark: true }]);
  assert.deepEqual(N.snippetRuns('no marks'), [{ text: 'no marks', mark: false }]);
  assert.deepEqual(N.snippetRuns('cut [[off'), [{ text: 'cut [[off', mark: false }], 'an unclosed marker is text');
  assert.deepEqual(N.snippetRuns('a ]] b [[c]]'), [{ text: 'a ]] b ', mark: false }, { text: 'c', mark: true }]);
  assert.deepEqual(N.snippetRuns('<b>[[<img src=x onerror=alert(1)>]]</b>'), [
    { text: '<b>', mark: false },
    { text: '<img src=x onerror=alert(1)>', mark: true },
    { text: '</b>', mark: false },
  ], 'markup stays text (the page makes text nodes of it)');
  assert.deepEqual(N.snippetRuns(''), []);
});

test('snippet: fuzzed, the runs put back together are the snippet without markers', () => {
  const rnd = prng(SEED + 2).next;
  const parts = ['[[', ']]', 'a', ' ', '[', ']', '<', 'é'];
  for (let r = 0; r < RUNS / 10; r++) {
    let s = '';
    const n = Math.floor(rnd() * 20);
    for (let i = 0; i < n; i++) s += parts[Math.floor(rnd() * parts.length)];
    const runs = N.snippetRuns(s);
    const joined = runs.map((x) => x.text).join('');
    assert.ok(joined.length <= s.length, `# seed ${SEED + 2}: ${s}`);
    for (const x of runs) assert.ok(x.text.length > 0);
    for (let i = 1; i < runs.length; i++) assert.notEqual(runs[i].mark, runs[i - 1].mark, 'adjacent runs merged');
  }
});

// ---- Markdown ------------------------------------------------------------------

test('markdown: renders what a reply uses', () => {
  assert.match(md('Hello **from** the fake model.'), /Hello <strong>from<\/strong> the fake model\./);
  assert.match(md('# Title\n\n- a\n- b'), /<h1>Title<\/h1>[\s\S]*<li>a<\/li>/);
  assert.match(md('```js\nlet x = 1 < 2;\n```'), /<pre><code class="language-js">let x = 1 &lt; 2;\n<\/code><\/pre>/);
  assert.match(md('| a | b |\n|---|---|\n| 1 | 2 |'), /<table>/);
  assert.match(md('line one\nline two'), /line one<br>\s*line two/, 'single newlines break lines');
  assert.match(md('[site](https://example.com)'), /<a href="https:\/\/example.com" target="_blank" rel="noopener noreferrer nofollow">site<\/a>/);
});

// No element or attribute in the output that could run script, load from
// elsewhere or restyle the page.
function assertInert(out, what) {
  const d = win.document.createElement('div');
  d.innerHTML = out;
  for (const el of d.querySelectorAll('*')) {
    const tag = el.tagName.toUpperCase();
    assert.ok(!['SCRIPT', 'STYLE', 'IMG', 'SVG', 'MATH', 'IFRAME', 'OBJECT', 'EMBED', 'BASE', 'META', 'FORM', 'LINK', 'BUTTON'].includes(tag), `${what}: <${tag}> in ${out}`);
    for (const a of el.attributes) {
      assert.ok(!/^on/i.test(a.name), `${what}: ${a.name} in ${out}`);
      assert.ok(!['style', 'id', 'name', 'srcset', 'action', 'formaction'].includes(a.name) && !a.name.startsWith('data-'), `${what}: ${a.name} in ${out}`);
      if (a.name === 'href') assert.match(a.value, /^(https?:|mailto:|#|\/(?!\/))/i, `${what}: href ${a.value}`);
      if (a.name === 'class') assert.ok(tag === 'CODE' && /^language-/.test(a.value), `${what}: class ${a.value}`);
    }
  }
  return d;
}

test('markdown: script, event handlers, javascript: links and styles are removed', () => {
  const evil = [
    '<script>alert(1)</script>',
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '[x](javascript:alert(1))',
    '[x](JaVaScRiPt:alert(1))',
    '[x](  javascript:alert(1))',
    '[x](&#106;avascript:alert(1))',
    '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[x](vbscript:msgbox(1))',
    '<div onclick="alert(1)" onmouseover=alert(1)>d</div>',
    '<svg onload=alert(1)><circle/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<style>body{display:none}</style>',
    '<p style="position:fixed;inset:0">cover</p>',
    '<form action="https://evil.example"><input name="password"></form>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<object data="x"></object><embed src="x">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    '![tracker](https://evil.example/pixel.png)',
    '![x](javascript:alert(1))',
    '<p id="app" class="danger">clobber</p>',
    '<div data-link="1">x</div>',
    'inline <b onmouseover=alert(1)>bold</b> and <script>x</script> in a line',
    '[link](https://ok.example "t\" onmouseover=\"alert(1)")',
  ];
  for (const e of evil) assertInert(md(e), e);
  // HTML in a message is shown as the text it is
  assert.equal(assertInert(md('<script>alert(1)</script>'), 'text').textContent.trim(), '<script>alert(1)</script>');
  assert.match(assertInert(md('a <b onmouseover=alert(1)>b</b>'), 'text').textContent, /<b onmouseover=alert\(1\)>b<\/b>/);
  // an image becomes a link to it (the CSP loads images from the relay only)
  assert.match(md('![tracker](https://evil.example/pixel.png)'), /<a href="https:\/\/evil.example\/pixel.png"[^>]*>tracker<\/a>/);
});

test('markdown: renderMarkdown puts a Copy button after each code block', () => {
  const frag = M.renderMarkdown('text\n\n```\ncode 1\n```\n\n```sh\necho 2\n```', win);
  const div = win.document.createElement('div');
  div.append(frag);
  const blocks = div.querySelectorAll('.chat-code');
  assert.equal(blocks.length, 2);
  for (const b of blocks) {
    assert.equal(b.children[0].tagName, 'PRE');
    assert.equal(b.children[1].tagName, 'BUTTON');
    assert.equal(b.children[1].className, 'small chat-copy');
  }
  assert.equal(blocks[1].querySelector('pre').textContent, 'echo 2\n');
  // a button written in the Markdown is not one of ours
  const f2 = M.renderMarkdown('<button class="chat-copy" onclick="x()">no</button>', win);
  const d2 = win.document.createElement('div');
  d2.append(f2);
  assert.equal(d2.querySelectorAll('button').length, 0);
});

test('markdown: fuzzed HTML-ish input never yields a handler or script', () => {
  const rnd = prng(SEED + 3).next;
  const parts = ['<', '>', 'img', 'script', ' src=x', ' onerror=', 'alert(1)', '"', "'", '/', 'a', ' href=', 'javascript:', '[x](', ')', '`', '\n', '**', 'svg', ' style=', '&#106;avascript:', '<!--', '-->', '![i](', ' "t"', '    '];
  for (let r = 0; r < Math.min(RUNS / 20, 2000); r++) {
    let s = '';
    const n = Math.floor(rnd() * 30);
    for (let i = 0; i < n; i++) s += parts[Math.floor(rnd() * parts.length)];
    assertInert(md(s), `# seed ${SEED + 3}: ${JSON.stringify(s)}`);
  }
});

// ---- refusals in words ---------------------------------------------------------

test('refusals: each code the chat routes answer has its sentence', async () => {
  const A = await load('chat/api.ts');
  const { ApiError } = A;
  const text = (status, code, message = 'relay words') => A.chatErrorText(new ApiError(status, code, message));
  assert.match(text(409, 'device_offline'), /device is offline.*\(device_offline\)/);
  assert.match(text(501, 'no_chat_bridge'), /no chat bridge.*\(no_chat_bridge\)/);
  assert.match(text(501, 'http_501'), /no chat bridge/, 'a bare 501 is the missing bridge too');
  assert.match(text(409, 'gateway_offline'), /OpenClaw gateway is not connected.*\(gateway_offline\)/);
  assert.match(text(403, 'capability_denied'), /capabilities its owner declared.*\(capability_denied\)/);
  assert.match(text(429, 'busy'), /too many chat requests/);
  assert.match(text(400, 'something_new', 'what the agent said'), /^what the agent said \(something_new\)$/, 'an unknown code: the message as given');
  assert.match(A.chatErrorText(new Error('plain')), /^plain$/);
  // an SSE error event's body, both shapes
  assert.equal(A.eventError({ error: { code: 'gateway_offline', message: 'm' } }).code, 'gateway_offline');
  assert.equal(A.eventError({ code: 'timeout', message: 'm' }).code, 'timeout');
  assert.equal(A.eventError({}).code, 'error');
});

// ---- deltas: whole text first, then appends, per stream ----------------------
const D = await load('chat/deltas.ts');

test('a stream\'s deltas: the whole text, then appends; an append it cannot place is ignored', () => {
  const d = new D.DeltaTexts(2);
  assert.equal(d.apply({ run_id: 'r1', append: 'lost' }), null, 'an append before any text');
  assert.equal(d.apply({ run_id: 'r1', text: 'Hel' }), 'Hel');
  assert.equal(d.apply({ run_id: 'r1', append: 'lo' }), 'Hello');
  assert.equal(d.apply({ run_id: 'r1', append: ' **there**' }), 'Hello **there**');
  assert.equal(d.apply({ run_id: 'r1', text: 'Replaced' }), 'Replaced', 'a whole text replaces');
  assert.equal(d.apply({ run_id: 'r2', text: 'a' }), 'a');
  assert.equal(d.apply({ run_id: 'r3', text: 'b' }), 'b');
  // at most 2 runs kept: r1, the oldest, is forgotten
  assert.equal(d.apply({ run_id: 'r1', append: 'x' }), null);
  assert.equal(d.apply({ run_id: 'r2', append: 'b' }), 'ab');
  d.end('r2');
  assert.equal(d.apply({ run_id: 'r2', append: 'c' }), null, 'a settled run is forgotten');
  assert.equal(d.apply({ text: 'no run' }), null);
  assert.equal(d.apply({ run_id: 'r4', append: 5 }), null);
});

test('two streams of one run never add up (each its own copy)', () => {
  const send = new D.DeltaTexts();
  const events = new D.DeltaTexts();
  const seq = [{ run_id: 'r', text: 'Hi' }, { run_id: 'r', append: ' the' }, { run_id: 'r', append: 're' }];
  let a, b;
  for (const x of seq) { a = send.apply(x); b = events.apply(x); }
  assert.equal(a, 'Hi there');
  assert.equal(b, 'Hi there');
});
