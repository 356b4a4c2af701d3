// The policy matrix, black-box: every HTTP route the relay describes in
// GET /api/v1/openapi.json, and every WebSocket it lists there
// (x-clawlink-websockets), is called as the project's owner, a member,
// another user, anonymous (no token) and with a revoked token, and each
// answer is checked against the row for that route below (docs/security.md,
// "Authorization: one policy module"). A route in the document without a
// row here fails the test, and so does a row for a route the document does
// not have; tests/unit/test_http_routes.c checks that the document lists
// exactly the routes the relay serves, with the same policy action.
//
// One relay, four accounts (sign-up allows 10 a minute per address).
// Destructive calls get fresh resources from the row's make(), and each
// row's callers run errors first, so the one that succeeds runs last.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  e2e, cleanupAll, TEST_TIMEOUT, startRelay, api, show, expectStatus, signup, createProject,
  createDevice, pairViaHttp, connectorHello, startSession, wsClient, msg, expectClose, tail,
} from './lib/harness.mjs';
import { addMember, verifyEmail, acceptInvitation } from './lib/mail.mjs';

after(cleanupAll);

const WHO = ['owner', 'member', 'other', 'anonymous', 'revoked'];
const CODES = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' };

/**
 * One row per operation: 'METHOD /openapi/path' → {policy (the document's
 * x-clawlink-policy), want: [owner, member, other, anonymous, revoked]
 * statuses, make(ctx) → {path, body} (path defaults to the key's path with
 * ctx's ids), codes: {status: error code} where it is not the usual one,
 * fresh: each caller gets a token of its own (the call revokes it)}.
 */
const ALL_OK = (s) => [s, s, s, 401, 401];
const SAME = (s) => [s, s, s, s, s];
const CHAT = [501, 501, 404, 401, 401];
const ROWS = {
  'GET /healthz': { policy: 'public', want: SAME(200) },
  'GET /readyz': { policy: 'public', want: SAME(200) },
  // off unless the relay runs with --metrics-token-file (metrics.test.mjs)
  'GET /metrics': { policy: 'public', want: SAME(404), codes: { 404: 'no_route' } },
  'GET /install.sh': { policy: 'public', want: SAME(200) },
  'GET /api/v1/openapi.json': { policy: 'public', want: SAME(200) },
  // public routes answer the same whoever calls; invalid bodies keep the
  // rate limits out of it (a 400 is not counted) and prove no token was needed
  'POST /api/v1/auth/signup': { policy: 'public', want: SAME(400), make: () => ({ body: { email: 'not-an-email', password: 'x' } }) },
  'POST /api/v1/auth/login': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  // loopback (this test's address) passes; no code is a 400 before any lookup
  'POST /api/v1/auth/one-time': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  'POST /api/v1/auth/password-reset': { policy: 'public', want: SAME(400), make: () => ({ body: { email: 'nope' } }) },
  'POST /api/v1/auth/password-reset/confirm': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  // the mailed link's token is the credential (issue 14)
  'POST /api/v1/auth/verify-email': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  'POST /functions/v1/pair-device': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  // the pairing code is the credential: a bearer token changes nothing
  'POST /functions/v1/download-connector': { policy: 'public', want: SAME(400), make: () => ({ body: {} }) },
  'POST /api/v1/auth/logout': { policy: 'self', want: ALL_OK(200), fresh: true },
  'GET /api/v1/me': { policy: 'self', want: ALL_OK(200) },
  'GET /api/v1/auth/session': { policy: 'self', want: ALL_OK(200) },
  // 200 for everyone: {signed_in: false} without a cookie (this matrix uses bearer tokens)
  'GET /api/v1/auth/status': { policy: 'public', want: SAME(200) },
  'PATCH /api/v1/me': { policy: 'account.manage', want: ALL_OK(200), make: () => ({ body: { display_name: 'Matrix' } }) },
  'GET /api/v1/me/sessions': { policy: 'account.manage', want: ALL_OK(200) },
  // the owner's second sign-in token: only the owner may revoke it
  'DELETE /api/v1/me/sessions/{id}': { policy: 'token.revoke', want: [200, 404, 404, 401, 401], make: (x) => ({ path: `/api/v1/me/sessions/${x.ownerTokenId}` }) },
  // a wrong current password: past the policy (not 401), refused by the check
  'POST /api/v1/me/password': { policy: 'account.manage', want: [403, 403, 403, 401, 401], codes: { 403: 'wrong_password' }, make: () => ({ body: { current_password: 'wrong-password', new_password: 'another-password' } }) },
  'POST /api/v1/me/delete': { policy: 'account.manage', want: [403, 403, 403, 401, 401], codes: { 403: 'wrong_password' }, make: () => ({ body: { password: 'wrong-password' } }) },
  'POST /api/v1/projects': { policy: 'self', want: ALL_OK(201), make: () => ({ body: { name: 'mine' } }) },
  'GET /api/v1/projects': { policy: 'self', want: ALL_OK(200) },
  'GET /api/v1/projects/{id}': { policy: 'project.view', want: [200, 200, 404, 401, 401] },
  'PATCH /api/v1/projects/{id}': { policy: 'project.modify', want: [200, 403, 404, 401, 401], make: () => ({ body: { name: 'renamed' } }) },
  'DELETE /api/v1/projects/{id}': { policy: 'project.modify', want: [200, 403, 404, 401, 401], make: async (x) => ({ path: `/api/v1/projects/${(await x.sharedProject()).id}` }) },
  'POST /api/v1/projects/{id}/devices': { policy: 'device.add', want: [201, 403, 404, 401, 401], make: () => ({ body: { name: 'added' } }) },
  'GET /api/v1/projects/{id}/devices': { policy: 'project.view', want: [200, 200, 404, 401, 401] },
  'GET /api/v1/projects/{id}/members': { policy: 'member.list', want: [200, 200, 404, 401, 401] },
  'DELETE /api/v1/projects/{id}/members/{user_id}': { policy: 'member.remove', want: [200, 403, 404, 401, 401], make: async (x) => { await x.addDave(); return { path: `/api/v1/projects/${x.project.id}/members/${x.dave.user.id}` }; } },
  'GET /api/v1/projects/{id}/invitations': { policy: 'invitation.list', want: [200, 200, 404, 401, 401] },
  'DELETE /api/v1/projects/{id}/invitations/{invitation_id}': { policy: 'invitation.cancel', want: [200, 403, 404, 401, 401], make: async (x) => ({ path: `/api/v1/projects/${x.project.id}/invitations/${await x.pendingInvitation()}` }) },
  'GET /api/v1/projects/{id}/sessions': { policy: 'session.history', want: [200, 200, 404, 401, 401] },
  // a session the member started: theirs to share; the owner may not, others may not know it
  // issue 13: a member's session is named by them or the owner; others do not learn of it
  'PATCH /api/v1/sessions/{id}': { policy: 'session.rename', want: [200, 200, 404, 401, 401], make: async (x) => ({ path: `/api/v1/sessions/${await x.memberSession()}`, body: { name: 'build' } }) },
  'POST /api/v1/sessions/{id}/shares': { policy: 'session.share', want: [403, 201, 404, 401, 401], make: async (x) => ({ path: `/api/v1/sessions/${await x.memberSession()}/shares`, body: { email: x.owner.email, mode: 'view' } }) },
  'GET /api/v1/sessions/{id}/shares': { policy: 'session.share', want: [403, 200, 404, 401, 401], make: async (x) => ({ path: `/api/v1/sessions/${await x.memberSession()}/shares` }) },
  'DELETE /api/v1/sessions/{id}/shares/{user_id}': { policy: 'session.share', want: [403, 200, 404, 401, 401], make: async (x) => ({ path: `/api/v1/sessions/${await x.memberSession({ sharedWithOwner: true })}/shares/${x.owner.user.id}` }) },
  'GET /api/v1/sessions/{id}/viewers': { policy: 'session.attach', want: [403, 200, 404, 401, 401], make: async (x) => ({ path: `/api/v1/sessions/${await x.memberSession()}/viewers` }) },
  'GET /api/v1/devices/{id}': { policy: 'device.view', want: [200, 200, 404, 401, 401] },
  'PATCH /api/v1/devices/{id}': { policy: 'device.modify', want: [200, 403, 404, 401, 401], make: () => ({ body: { name: 'renamed device' } }) },
  'DELETE /api/v1/devices/{id}': { policy: 'device.modify', want: [200, 403, 404, 401, 401], make: async (x) => ({ path: `/api/v1/devices/${(await createDevice(x.relay, x.owner.token, x.project.id, 'doomed')).device.id}` }) },
  'POST /api/v1/devices/{id}/pairing-code': { policy: 'device.modify', want: [200, 403, 404, 401, 401], make: async (x) => ({ path: `/api/v1/devices/${(await createDevice(x.relay, x.owner.token, x.project.id, 'recoded')).device.id}/pairing-code` }) },
  'POST /functions/v1/invite-member': { policy: 'member.invite', want: [200, 403, 404, 401, 401], make: (x) => ({ body: { project_id: x.project.id, email: `invitee-${Date.now()}@example.test` } }) },
  'POST /functions/v1/start-session': { policy: 'session.start', want: [200, 200, 404, 401, 401], make: (x) => ({ body: { device_id: x.device.id } }) },
  // the member's session: they may end it, and so may the project's owner
  'POST /functions/v1/end-session': { policy: 'session.end', want: [200, 200, 404, 401, 401], make: async (x) => ({ body: { session_id: await x.memberSession() } }) },
  'GET /functions/v1/relay-nodes': { policy: 'nodes.list', want: ALL_OK(200) },
  // OpenClaw nodes (issue 6): past the policy the fixture's device is no
  // node (no agent heartbeat), so the callers allowed get 409
  'POST /api/v1/devices/{id}/prompt': { policy: 'node.prompt', want: [409, 409, 404, 401, 401], make: () => ({ body: { prompt: 'hello' } }) },
  'GET /api/v1/devices/{id}/status': { policy: 'node.status', want: [409, 409, 404, 401, 401] },
  'POST /api/v1/devices/{id}/restart': { policy: 'node.restart', want: [409, 403, 404, 401, 401] },
  'GET /api/v1/devices/{id}/workflows': { policy: 'node.workflow', want: [409, 409, 404, 401, 401] },
  'POST /api/v1/devices/{id}/workflows/{name}': { policy: 'node.workflow', want: [409, 409, 404, 401, 401], make: (x) => ({ path: `/api/v1/devices/${x.device.id}/workflows/nightly`, body: {} }) },
  'GET /functions/v1/download-connector': { policy: 'connector.download', want: ALL_OK(200) },
  // issue 15, the chat API through the relay: chat.use is session.start's
  // role; past the policy the fixture's device is a PrivaClaw connector,
  // which serves no chat (its hello declares none): 501 no_chat_bridge
  'GET /api/v1/devices/{id}/chat/workspaces': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'POST /api/v1/devices/{id}/chat/workspaces': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: () => ({ body: { name: 'w' } }) },
  'PATCH /api/v1/devices/{id}/chat/workspaces/{ws}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/workspaces/1`, body: { name: 'w' } }) },
  'DELETE /api/v1/devices/{id}/chat/workspaces/{ws}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/workspaces/1` }) },
  'GET /api/v1/devices/{id}/chat/threads': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'POST /api/v1/devices/{id}/chat/threads': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: () => ({ body: {} }) },
  'GET /api/v1/devices/{id}/chat/threads/{thread}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1` }) },
  'PATCH /api/v1/devices/{id}/chat/threads/{thread}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1`, body: { title: 't' } }) },
  'DELETE /api/v1/devices/{id}/chat/threads/{thread}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1` }) },
  'GET /api/v1/devices/{id}/chat/threads/{thread}/messages': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1/messages` }) },
  'POST /api/v1/devices/{id}/chat/threads/{thread}/messages': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1/messages`, body: { content: 'hi' } }) },
  'POST /api/v1/devices/{id}/chat/threads/{thread}/stop': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/threads/1/stop`, body: {} }) },
  'GET /api/v1/devices/{id}/chat/search': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'GET /api/v1/devices/{id}/chat/memory': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'POST /api/v1/devices/{id}/chat/memory': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: () => ({ body: { text: 'n' } }) },
  'GET /api/v1/devices/{id}/chat/memory/search': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'DELETE /api/v1/devices/{id}/chat/memory/{note}': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: (x) => ({ path: `/api/v1/devices/${x.device.id}/chat/memory/1` }) },
  'GET /api/v1/devices/{id}/chat/events': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  // issue 15, the files (docs/chat.md "Files"): the same policy; the agent checks the paths
  'GET /api/v1/devices/{id}/chat/files': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'GET /api/v1/devices/{id}/chat/files/stat': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'GET /api/v1/devices/{id}/chat/files/content': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' } },
  'PUT /api/v1/devices/{id}/chat/files/content': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: () => ({ body: { path: 'x.txt', offset: 0, data_b64: '', final: true } }) },
  'POST /api/v1/devices/{id}/chat/files/mkdir': { policy: 'chat.use', want: CHAT, codes: { 501: 'no_chat_bridge' }, make: () => ({ body: { path: 'd' } }) },
  // issue 14 (consent): the owner's address is unproven, the member's and
  // the other user's proven; a new link for one's own unproven address only
  'POST /api/v1/me/verify-email': { policy: 'email.verify', want: [202, 409, 409, 401, 401], codes: { 409: 'already_verified' } },
  'GET /api/v1/me/invitations': { policy: 'invitation.inbox', want: ALL_OK(200) },
  // an invitation to the other user's address, in a project of its own:
  // theirs alone to answer; an unproven caller is refused whatever the id
  'POST /api/v1/me/invitations/{id}/accept': { policy: 'invitation.respond', want: [403, 404, 200, 401, 401], codes: { 403: 'email_unverified' }, make: async (x) => ({ path: `/api/v1/me/invitations/${await x.invitationForOther()}/accept` }) },
  'POST /api/v1/me/invitations/{id}/decline': { policy: 'invitation.respond', want: [403, 404, 200, 401, 401], codes: { 403: 'email_unverified' }, make: async (x) => ({ path: `/api/v1/me/invitations/${await x.invitationForOther()}/decline` }) },
  // a fresh project the member joined: they leave it; its owner is its last
  'POST /api/v1/projects/{id}/leave': { policy: 'member.leave', want: [409, 200, 404, 401, 401], codes: { 409: 'last_owner' }, make: async (x) => ({ path: `/api/v1/projects/${(await x.sharedProject()).id}/leave` }) },
};

/**
 * WebSocket endpoints (the document's x-clawlink-websockets): what each
 * caller's first message gets — 'ok' or the error code before close 1008.
 * Anonymous is a client that acts (ping) without authenticating first.
 */
const WS_ROWS = {
  // a member's session: theirs to attach; the owner is refused; others do not know it
  '/session': { policy: 'session.attach', want: ['forbidden', 'ok', 'not_found', 'not_authenticated', 'auth_failed'] },
  // any user may subscribe; what reaches them is decided per event (below)
  '/events': { policy: 'project.events', want: ['ok', 'ok', 'ok', 'not_authenticated', 'auth_failed'] },
  // agents: a user token is not a device token, whoever holds it
  '/connect': { policy: 'device token', want: ['auth_failed', 'auth_failed', 'auth_failed', 'not_authenticated', 'auth_failed'] },
};

/** Replaces {id} with the context's project or device id by the path's prefix. */
function defaultPath(x, path) {
  if (path.startsWith('/api/v1/projects/{id}')) return path.replace('{id}', x.project.id);
  if (path.startsWith('/api/v1/devices/{id}')) return path.replace('{id}', x.device.id);
  assert.ok(!path.includes('{'), `row for ${path} needs a make() that fills its parameters`);
  return path;
}

async function fixture(relay) {
  const owner = await signup(relay);
  const member = await signup(relay);
  const other = await signup(relay);
  const dave = await signup(relay);
  const project = await createProject(relay, owner.token, 'Matrix');
  await createProject(relay, other.token, 'Other\'s own');
  const inv = (email, p = project.id) => api(relay, 'POST', '/functions/v1/invite-member', { project_id: p, email }, owner.token);
  await addMember(relay, owner.token, project.id, member);
  await verifyEmail(relay, other);
  const { device, pairing_code } = await createDevice(relay, owner.token, project.id, 'box');
  const paired = await pairViaHttp(relay, pairing_code);
  const connector = await connectorHello(relay, device.id, paired.token);

  // the owner's revoked token, and a second live one (the revoke-by-id target)
  const login = async (u) => expectStatus(await api(relay, 'POST', '/api/v1/auth/login', { email: u.email, password: u.password }), 200, relay).token;
  const revoked = await login(owner);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/logout', undefined, revoked), 200, relay);
  await login(owner);
  const list = expectStatus(await api(relay, 'GET', '/api/v1/me/sessions', undefined, owner.token), 200, relay).sessions;
  const ownerTokenId = list.find((s) => !s.current).id;

  const x = {
    relay, owner, member, other, dave, project, device, paired, connector, revoked, ownerTokenId, login,
    tokens() { return [owner.token, member.token, other.token, undefined, revoked]; },
    async sharedProject() {
      const p = await createProject(relay, owner.token, 'doomed');
      await addMember(relay, owner.token, p.id, member);
      return p;
    },
    async addDave() {
      const r = await inv(dave.email);
      assert.ok(r.status === 200 || r.status === 409, show(r));
      if (r.status === 200) {
        await verifyEmail(relay, dave);
        await acceptInvitation(relay, dave, project.id);
      }
    },
    async invitationForOther() {
      const p = await createProject(relay, owner.token, 'for other');
      expectStatus(await inv(other.email, p.id), 200, relay);
      const l = expectStatus(await api(relay, 'GET', '/api/v1/me/invitations', undefined, other.token), 200, relay);
      return l.invitations.find((i) => i.project_id === p.id).id;
    },
    async pendingInvitation() {
      const email = `pending-${Date.now()}@example.test`;
      expectStatus(await inv(email), 200, relay);
      const l = expectStatus(await api(relay, 'GET', `/api/v1/projects/${project.id}/invitations`, undefined, owner.token), 200, relay);
      return l.invitations.find((i) => i.email === email).id;
    },
    async memberSession({ sharedWithOwner = false } = {}) {
      const sid = await startSession(relay, member.token, device.id);
      if (sharedWithOwner) {
        expectStatus(await api(relay, 'POST', `/api/v1/sessions/${sid}/shares`, { email: owner.email, mode: 'view' }, member.token), 201, relay);
      }
      return sid;
    },
  };
  return x;
}

/** The operations the relay describes: ['METHOD /path', x-clawlink-policy]. */
function operations(spec) {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (['parameters', 'summary', 'description', 'servers'].includes(method)) continue;
      out.push([`${method.toUpperCase()} ${path}`, op['x-clawlink-policy']]);
    }
  }
  return out;
}

test('policy matrix: every route and WebSocket × owner, member, other user, anonymous, revoked token', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const r0 = await api(relay, 'GET', '/api/v1/openapi.json');
  const spec = expectStatus(r0, 200, relay);
  assert.equal(spec.openapi, '3.1.0');
  const ops = operations(spec);

  // the table and the document name the same routes with the same policy
  const missing = ops.filter(([k]) => !ROWS[k]).map(([k]) => k);
  assert.deepEqual(missing, [], `routes in /api/v1/openapi.json without a row in the policy matrix: ${missing.join(', ')}`);
  const stale = Object.keys(ROWS).filter((k) => !ops.some(([o]) => o === k));
  assert.deepEqual(stale, [], `matrix rows for routes the relay does not describe: ${stale.join(', ')}`);
  for (const [k, policy] of ops) assert.equal(ROWS[k].policy, policy, `${k}: the relay says policy ${policy}`);
  const sockets = (spec['x-clawlink-websockets'] || []).map((w) => w.path);
  assert.deepEqual(sockets.filter((p) => !WS_ROWS[p]), [], 'WebSockets without a row');
  assert.deepEqual(Object.keys(WS_ROWS).filter((p) => !sockets.includes(p)), [], 'WebSocket rows the relay does not list');

  const x = await fixture(relay);
  const failures = [];
  for (const [key] of ops) {
    const row = ROWS[key];
    const [method, specPath] = key.split(' ');
    const made = row.make ? await row.make(x) : {};
    const path = made.path || defaultPath(x, specPath);
    let tokens = x.tokens();
    if (row.fresh) tokens = [await x.login(x.owner), await x.login(x.member), await x.login(x.other), undefined, x.revoked];
    // errors first: the caller that succeeds (and may destroy) goes last
    const order = [...WHO.keys()].sort((a, b) => (row.want[b] >= 400) - (row.want[a] >= 400));
    for (const w of order) {
      const r = await api(relay, method, path, made.body, tokens[w]);
      const want = row.want[w];
      const code = (row.codes && row.codes[want]) || CODES[want];
      if (r.status !== want) failures.push(`${key} as ${WHO[w]}: want ${want}, got ${show(r)}`);
      else if (want >= 400 && code && r.body?.error?.code !== code) failures.push(`${key} as ${WHO[w]}: want error ${code}, got ${show(r)}`);
    }
  }

  // WebSockets: the first message's answer
  const sid = await x.memberSession();
  const first = {
    '/session': (token) => (token ? msg('auth', { token, session_id: sid, device_id: x.device.id }) : msg('ping')),
    '/events': (token) => (token ? msg('auth', { token }) : msg('ping')),
    '/connect': (token) => (token ? msg('hello', { device_id: x.device.id, token }) : msg('ping')),
  };
  const okType = { '/session': 'auth_ok', '/events': 'auth_ok', '/connect': 'hello_ok' };
  const subs = [];
  for (const [path, row] of Object.entries(WS_ROWS)) {
    const tokens = x.tokens();
    for (let w = 0; w < WHO.length; w++) {
      const c = await wsClient(`${relay.wsUrl}${path}`, { label: `${path} as ${WHO[w]}` });
      c.send(first[path](tokens[w]));
      const m = await c.next((mm) => mm.type === okType[path] || mm.type === 'error');
      const got = m.type === 'error' ? m.data.code : 'ok';
      if (got !== row.want[w]) failures.push(`${path} as ${WHO[w]}: want ${row.want[w]}, got ${JSON.stringify(m)}`);
      if (got !== 'ok') await expectClose(c, 1008);
      else if (path === '/events') subs[w] = c;
      else c.close();
    }
  }
  // /events: project.events is decided per event — owner and member hear of the project, the other user does not
  expectStatus(await api(relay, 'PATCH', `/api/v1/devices/${x.device.id}`, { name: 'heard' }, x.owner.token), 200, relay);
  const heard = (m) => m.type === 'event' && m.data?.kind === 'device.renamed' && m.data.device?.name === 'heard';
  await subs[0].next(heard);
  await subs[1].next(heard);
  const { device: own } = await createDevice(relay, x.other.token, (await createProject(relay, x.other.token)).id, 'barrier');
  await subs[2].next((m) => m.type === 'event' && m.data?.device?.id === own.id);
  if (subs[2].received.some((m) => m.data?.project_id === x.project.id)) failures.push(`/events as other: heard of the owner's project: ${subs[2].describe()}`);

  assert.deepEqual(failures, [], `policy matrix failures:\n  ${failures.join('\n  ')}\n--- relay log ---\n${tail(relay.logs(), 20)}`);
}));
