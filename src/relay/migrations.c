/*
 * migrations: the relay's SQLite schema, as numbered migrations.
 *
 * Migration 1 is seed 001's tables (projects, devices, sessions, profiles,
 * project_members, invitations) plus users and api_tokens, adapted:
 * ids are TEXT UUIDs, secrets are stored only as 32-byte SHA-256 hashes
 * (BLOB), times are Unix seconds (INTEGER). A child that cannot outlive its
 * parent is deleted with it (ON DELETE CASCADE); history that should
 * outlive a user (who started a session, who invited whom) is kept with the
 * user reference set to NULL. Every foreign-key column is indexed, so a
 * cascade never scans a table.
 *
 * Data only: the runner that applies the list is cl_sqlite_migrate
 * (src/core/sqlite.c), shared with the agent's databases.
 */
#include "relay/migrations.h"

const char *const cl_sqlite_migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE users ("
    "  id            TEXT PRIMARY KEY NOT NULL,"
    "  email         TEXT NOT NULL COLLATE NOCASE UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  created_at    INTEGER NOT NULL"
    ");"

    "CREATE TABLE profiles ("
    "  id           TEXT PRIMARY KEY NOT NULL,"
    "  user_id      TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    "  display_name TEXT NOT NULL DEFAULT '',"
    "  avatar_url   TEXT"
    ");"

    "CREATE TABLE api_tokens ("
    "  token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),"
    "  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  revoked_at INTEGER"
    ") WITHOUT ROWID;"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);"

    "CREATE TABLE projects ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  name       TEXT NOT NULL,"
    "  owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX projects_owner ON projects(owner_id);"

    "CREATE TABLE project_members ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  role       TEXT NOT NULL CHECK (role IN ('owner', 'member')),"
    "  invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (project_id, user_id)"
    ");"
    "CREATE INDEX project_members_user ON project_members(user_id);"
    "CREATE INDEX project_members_invited_by ON project_members(invited_by);"

    "CREATE TABLE invitations ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  email      TEXT NOT NULL COLLATE NOCASE,"
    "  invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,"
    "  status     TEXT NOT NULL DEFAULT 'pending'"
    "             CHECK (status IN ('pending', 'accepted', 'cancelled')),"
    "  created_at INTEGER NOT NULL"
    ");"
    /* one pending invitation per address and project */
    "CREATE UNIQUE INDEX invitations_pending ON invitations(project_id, email)"
    "  WHERE status = 'pending';"
    "CREATE INDEX invitations_project ON invitations(project_id);"
    /* invitations are fulfilled at sign-up, by email */
    "CREATE INDEX invitations_email ON invitations(email);"
    "CREATE INDEX invitations_invited_by ON invitations(invited_by);"

    "CREATE TABLE devices ("
    "  id                      TEXT PRIMARY KEY NOT NULL,"
    "  project_id              TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  name                    TEXT NOT NULL,"
    "  status                  TEXT NOT NULL DEFAULT 'offline'"
    "                          CHECK (status IN ('online', 'offline')),"
    "  paired                  INTEGER NOT NULL DEFAULT 0 CHECK (paired IN (0, 1)),"
    "  pairing_code_hash       BLOB CHECK (pairing_code_hash IS NULL"
    "                                      OR length(pairing_code_hash) = 32),"
    "  pairing_code_expires_at INTEGER,"
    "  device_token_hash       BLOB CHECK (device_token_hash IS NULL"
    "                                      OR length(device_token_hash) = 32),"
    "  last_seen               INTEGER,"
    "  created_at              INTEGER NOT NULL,"
    "  CHECK ((pairing_code_hash IS NULL) = (pairing_code_expires_at IS NULL))"
    ");"
    "CREATE INDEX devices_project ON devices(project_id, created_at);"
    /* device_pair looks devices up by code hash; unique so a (very unlikely)
     * collision of two live codes fails device_create instead of pairing
     * the wrong device */
    "CREATE UNIQUE INDEX devices_pairing_code ON devices(pairing_code_hash)"
    "  WHERE pairing_code_hash IS NOT NULL;"

    "CREATE TABLE sessions ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  user_id    TEXT REFERENCES users(id) ON DELETE SET NULL,"
    "  status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),"
    "  started_at INTEGER NOT NULL,"
    "  ended_at   INTEGER,"
    "  end_reason TEXT,"
    "  exit_code  INTEGER," /* NULL when unknown */
    "  CHECK ((status = 'active') = (ended_at IS NULL))"
    ");"
    "CREATE INDEX sessions_device ON sessions(device_id, started_at);"
    "CREATE INDEX sessions_user ON sessions(user_id);",

    /* 2: shared sessions — the user who started a session lets other
     * members of the project watch it (view) or type into it (control) */
    "CREATE TABLE session_shares ("
    "  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  mode       TEXT NOT NULL CHECK (mode IN ('view', 'control')),"
    "  created_by TEXT REFERENCES users(id) ON DELETE SET NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (session_id, user_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX session_shares_user ON session_shares(user_id);"
    "CREATE INDEX session_shares_created_by ON session_shares(created_by);",

    /* 3: accounts — API tokens get an id (listed and revoked one by one as
     * "sessions", never by hash) and last_used_at; password reset tokens,
     * one live per user, stored hashed and deleted when used. api_tokens is
     * rebuilt (SQLite cannot add a primary key); existing rows get random
     * v4 UUIDs. Nothing references api_tokens, so dropping it is safe with
     * foreign keys on. */
    "CREATE TABLE api_tokens_v3 ("
    "  id           TEXT PRIMARY KEY NOT NULL,"
    "  token_hash   BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    "  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at   INTEGER NOT NULL,"
    "  expires_at   INTEGER NOT NULL,"
    "  revoked_at   INTEGER,"
    "  last_used_at INTEGER"
    ");"
    "INSERT INTO api_tokens_v3 (id, token_hash, user_id, created_at, expires_at, revoked_at)"
    "  SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'"
    "      || substr(lower(hex(randomblob(2))), 2) || '-'"
    "      || substr('89ab', 1 + (abs(random()) % 4), 1)"
    "      || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),"
    "    token_hash, user_id, created_at, expires_at, revoked_at FROM api_tokens;"
    "DROP TABLE api_tokens;"
    "ALTER TABLE api_tokens_v3 RENAME TO api_tokens;"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at);"

    "CREATE TABLE password_resets ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  user_id    TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");",

    /* 4: devices say what dials in (a PrivaClaw-style connector now, OpenClaw
     * nodes with issue 6) and when its agent connected and was last heard
     * from, for /functions/v1/relay-nodes. The session history lists a
     * project's sessions by device, newest first: sessions_device
     * (device_id, started_at) serves it. */
    "ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'connector';"
    "ALTER TABLE devices ADD COLUMN connected_at INTEGER;"
    "ALTER TABLE devices ADD COLUMN last_heartbeat INTEGER;",

    /* 5: the web app's sign-in — the relay's own secrets (the key CSRF
     * tokens are derived with, so they survive a restart) and one-time
     * sign-in codes (make run's link), stored hashed, deleted when used. */
    "CREATE TABLE relay_secrets ("
    "  name  TEXT PRIMARY KEY NOT NULL,"
    "  value BLOB NOT NULL CHECK (length(value) = 32)"
    ");"
    "CREATE TABLE signin_codes ("
    "  code_hash  BLOB PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),"
    "  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX signin_codes_user ON signin_codes(user_id);",

    /* 6: what a device tells about itself (hello's meta, meta_update: a
     * JSON object of strings and numbers, bounded by CL_DEVICE_META_*),
     * the address its agent connects from, and since when it has been
     * online across short reconnects (CL_DEVICE_ONLINE_GAP_S). */
    "ALTER TABLE devices ADD COLUMN meta TEXT;"
    "ALTER TABLE devices ADD COLUMN meta_updated_at INTEGER;"
    "ALTER TABLE devices ADD COLUMN remote_addr TEXT;"
    "ALTER TABLE devices ADD COLUMN online_since INTEGER;"
    "UPDATE devices SET online_since = connected_at WHERE status = 'online';",

    /* 7: start-session counts a device's and a user's open sessions
     * (CL_SESSIONS_PER_*): only the open ones are indexed. */
    "CREATE INDEX sessions_open_device ON sessions(device_id) WHERE status = 'active';"
    "CREATE INDEX sessions_open_user ON sessions(user_id) WHERE status = 'active';",

    /* 8: sessions have labels (issue 13): the name a user gave (NULL:
     * none) and the automatic title its agent last reported ("vim ·
     * ~/src"; NULL: none yet, or a PrivaClaw connector, which sends none). */
    "ALTER TABLE sessions ADD COLUMN name TEXT;"
    "ALTER TABLE sessions ADD COLUMN title TEXT;",

    /* 9: several reset links per account (issue 14): a new request no
     * longer replaces the earlier link, so a stranger asking cannot void
     * the one the owner is about to use. Each is single-use; a reset or a
     * password change deletes them all; at most CL_RESET_LINKS_MAX live
     * at once. SQLite cannot drop a UNIQUE constraint: the table is
     * rebuilt, its rows kept. */
    "CREATE TABLE password_resets_new ("
    "  id         TEXT PRIMARY KEY NOT NULL,"
    "  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "INSERT INTO password_resets_new (id, user_id, token_hash, created_at, expires_at)"
    "  SELECT id, user_id, token_hash, created_at, expires_at FROM password_resets;"
    "DROP TABLE password_resets;"
    "ALTER TABLE password_resets_new RENAME TO password_resets;"
    "CREATE INDEX password_resets_user ON password_resets(user_id, expires_at);",

    /* 10: consent (issue 14, findings 1 and 6). users.email_verified_at is
     * when the address was proven by a verification link (NULL: never;
     * accounts from before this migration start unproven, decision 44);
     * email_verifications holds the hash of each user's one live link and
     * the address it was sent to. Invitations are answered by their
     * invitee: 'declined' joins the states, responded_at says when. */
    "ALTER TABLE users ADD COLUMN email_verified_at INTEGER;"
    "CREATE TABLE email_verifications ("
    "  user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  email      TEXT NOT NULL COLLATE NOCASE,"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE invitations_v10 ("
    "  id           TEXT PRIMARY KEY NOT NULL,"
    "  project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  email        TEXT NOT NULL COLLATE NOCASE,"
    "  invited_by   TEXT REFERENCES users(id) ON DELETE SET NULL,"
    "  status       TEXT NOT NULL DEFAULT 'pending'"
    "               CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),"
    "  created_at   INTEGER NOT NULL,"
    "  responded_at INTEGER"
    ");"
    "INSERT INTO invitations_v10 (id, project_id, email, invited_by, status, created_at)"
    "  SELECT id, project_id, email, invited_by, status, created_at FROM invitations;"
    "DROP TABLE invitations;"
    "ALTER TABLE invitations_v10 RENAME TO invitations;"
    "CREATE UNIQUE INDEX invitations_pending ON invitations(project_id, email)"
    "  WHERE status = 'pending';"
    "CREATE INDEX invitations_project ON invitations(project_id);"
    /* an invitee lists the pending invitations to their address */
    "CREATE INDEX invitations_email ON invitations(email) WHERE status = 'pending';"
    "CREATE INDEX invitations_invited_by ON invitations(invited_by);",
};

const int cl_sqlite_migration_count =
    (int)(sizeof cl_sqlite_migrations / sizeof cl_sqlite_migrations[0]);
