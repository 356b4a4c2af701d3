// The relay's mail as a test reads it (src/relay/mail.c): without
// --smtp-url every message is a file DATA/outbox/<time>-<uuid>.eml. And the
// one way a test makes someone a member since issue 14 (consent): the owner
// invites, the invitee proves their address with the mailed link and
// accepts (addMember).
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { api, expectStatus, waitFor, tail, show } from './harness.mjs';

export const RESET_LINK_RE = /(\S+)#token=(clr_[A-Za-z0-9_-]{43})/;
export const VERIFY_LINK_RE = /(\S+)#token=(clv_[A-Za-z0-9_-]{43})/;

/**
 * The messages in relay's outbox, oldest first: [{file, text, to, subject,
 * mtime}] (none yet: []). to is the address of the To: header.
 */
export async function outbox(relay) {
  const dir = path.join(relay.dataDir, 'outbox');
  let files;
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.eml'));
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const out = [];
  for (const file of files) {
    const full = path.join(dir, file);
    const text = await readFile(full, 'utf8');
    out.push({
      file,
      text,
      to: /^To: <([^>]*)>\r?$/m.exec(text)?.[1] || '',
      subject: /^Subject: (.*?)\r?$/m.exec(text)?.[1] || '',
      mtime: (await stat(full)).mtimeMs,
    });
  }
  return out.sort((a, b) => a.mtime - b.mtime || a.file.localeCompare(b.file));
}

/**
 * Waits until the outbox holds at least n messages to `to` matching re (a
 * RegExp on the text); returns them, oldest first, each with m (re's match).
 */
export async function mailsTo(relay, to, re, n = 1) {
  return waitFor(async () => {
    const got = (await outbox(relay)).filter((m) => m.to === to.toLowerCase() && re.test(m.text))
      .map((m) => ({ ...m, m: re.exec(m.text) }));
    return got.length >= n ? got : null;
  }, { what: `${n} message(s) to ${to} matching ${re} in ${relay.dataDir}/outbox`, describe: () => tail(relay.logs(), 20) });
}

/** The token of the newest verification link mailed to email. */
export async function verificationToken(relay, email) {
  const mails = await mailsTo(relay, email, VERIFY_LINK_RE);
  return mails[mails.length - 1].m[2];
}

/**
 * Proves user's address ({email, token}) as its owner would: opens the
 * newest verification link the relay mailed to it (the token goes to POST
 * /api/v1/auth/verify-email, as the link's page sends it). A no-op when the
 * address is proven already.
 */
export async function verifyEmail(relay, user) {
  const me = expectStatus(await api(relay, 'GET', '/api/v1/me', undefined, user.token), 200, relay).user;
  if (me.email_verified) return;
  const token = await verificationToken(relay, user.email);
  expectStatus(await api(relay, 'POST', '/api/v1/auth/verify-email', { token }), 200, relay);
}

/** user accepts the pending invitation to projectId in their list; returns its id. */
export async function acceptInvitation(relay, user, projectId) {
  const list = expectStatus(await api(relay, 'GET', '/api/v1/me/invitations', undefined, user.token), 200, relay);
  const inv = list.invitations.find((i) => i.project_id === projectId);
  if (!inv) throw new Error(`no pending invitation to project ${projectId} for ${user.email}: ${JSON.stringify(list)}`);
  const r = await api(relay, 'POST', `/api/v1/me/invitations/${inv.id}/accept`, undefined, user.token);
  expectStatus(r, 200, relay);
  return inv.id;
}

/**
 * Makes member ({email, token}) a member of projectId the way people do:
 * the owner (ownerToken) invites the address, the member proves it with the
 * mailed link (once) and accepts. Returns the invite-member answer.
 */
export async function addMember(relay, ownerToken, projectId, member) {
  const r = await api(relay, 'POST', '/functions/v1/invite-member', { project_id: projectId, email: member.email }, ownerToken);
  if (r.status !== 200) throw new Error(`invite-member ${member.email}: ${show(r)}\n${tail(relay.logs(), 20)}`);
  await verifyEmail(relay, member);
  await acceptInvitation(relay, member, projectId);
  return r.body;
}
