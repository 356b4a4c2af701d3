/*
 * store_pg_migrations: the relay's PostgreSQL schema, as numbered
 * migrations (store_pg.c applies them; the version is in schema_version).
 *
 * Migration 1 is SQLite's schema as migrations.c leaves it at its
 * migration 10, written for PostgreSQL once rather than replayed step by
 * step: the same tables, columns, constraints and indexes, with these
 * differences, each for a reason:
 *   - ids are text, times bigint, hashes bytea of 32 bytes;
 *   - SQLite's COLLATE NOCASE (users.email, invitations.email,
 *     email_verifications.email) becomes lower() in the queries and in
 *     expression indexes (unique where SQLite's column was): no citext
 *     extension to install;
 *   - the tables SQLite lists "in insertion order" by rowid get a seq
 *     identity column that plays that part.
 * Later changes append migrations 2, 3, ... here, never edit one that
 * shipped.
 */
#include "relay/store_pg.h"

const char *const cl_pg_migrations[] = {
    /* 1: the schema of SQLite's migrations 1..10 */
    "CREATE TABLE users ("
    "  id                text PRIMARY KEY,"
    "  email             text NOT NULL,"
    "  password_hash     text NOT NULL,"
    "  created_at        bigint NOT NULL,"
    "  email_verified_at bigint"
    ");"
    "CREATE UNIQUE INDEX users_email ON users (lower(email));"

    "CREATE TABLE profiles ("
    "  id           text PRIMARY KEY,"
    "  user_id      text NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    "  display_name text NOT NULL DEFAULT '',"
    "  avatar_url   text"
    ");"

    "CREATE TABLE api_tokens ("
    "  seq          bigint GENERATED ALWAYS AS IDENTITY,"
    "  id           text PRIMARY KEY,"
    "  token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),"
    "  user_id      text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at   bigint NOT NULL,"
    "  expires_at   bigint NOT NULL,"
    "  revoked_at   bigint,"
    "  last_used_at bigint"
    ");"
    "CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);"

    "CREATE TABLE password_resets ("
    "  id         text PRIMARY KEY,"
    "  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),"
    "  created_at bigint NOT NULL,"
    "  expires_at bigint NOT NULL"
    ");"
    "CREATE INDEX password_resets_user ON password_resets (user_id, expires_at);"

    "CREATE TABLE projects ("
    "  seq        bigint GENERATED ALWAYS AS IDENTITY,"
    "  id         text PRIMARY KEY,"
    "  name       text NOT NULL,"
    "  owner_id   text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at bigint NOT NULL,"
    "  updated_at bigint NOT NULL"
    ");"
    "CREATE INDEX projects_owner ON projects (owner_id);"

    "CREATE TABLE project_members ("
    "  seq        bigint GENERATED ALWAYS AS IDENTITY,"
    "  id         text PRIMARY KEY,"
    "  project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  role       text NOT NULL CHECK (role IN ('owner', 'member')),"
    "  invited_by text REFERENCES users(id) ON DELETE SET NULL,"
    "  created_at bigint NOT NULL,"
    "  UNIQUE (project_id, user_id)"
    ");"
    "CREATE INDEX project_members_user ON project_members (user_id);"
    "CREATE INDEX project_members_invited_by ON project_members (invited_by);"

    "CREATE TABLE invitations ("
    "  seq          bigint GENERATED ALWAYS AS IDENTITY,"
    "  id           text PRIMARY KEY,"
    "  project_id   text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  email        text NOT NULL,"
    "  invited_by   text REFERENCES users(id) ON DELETE SET NULL,"
    "  status       text NOT NULL DEFAULT 'pending'"
    "               CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),"
    "  created_at   bigint NOT NULL,"
    "  responded_at bigint"
    ");"
    /* one pending invitation per address and project */
    "CREATE UNIQUE INDEX invitations_pending ON invitations (project_id, lower(email))"
    "  WHERE status = 'pending';"
    "CREATE INDEX invitations_project ON invitations (project_id);"
    "CREATE INDEX invitations_email ON invitations (lower(email)) WHERE status = 'pending';"
    "CREATE INDEX invitations_invited_by ON invitations (invited_by);"

    "CREATE TABLE devices ("
    "  seq                     bigint GENERATED ALWAYS AS IDENTITY,"
    "  id                      text PRIMARY KEY,"
    "  project_id              text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  name                    text NOT NULL,"
    "  status                  text NOT NULL DEFAULT 'offline'"
    "                          CHECK (status IN ('online', 'offline')),"
    "  paired                  integer NOT NULL DEFAULT 0 CHECK (paired IN (0, 1)),"
    "  pairing_code_hash       bytea CHECK (octet_length(pairing_code_hash) = 32),"
    "  pairing_code_expires_at bigint,"
    "  device_token_hash       bytea CHECK (octet_length(device_token_hash) = 32),"
    "  last_seen               bigint,"
    "  created_at              bigint NOT NULL,"
    "  kind                    text NOT NULL DEFAULT 'connector',"
    "  connected_at            bigint,"
    "  last_heartbeat          bigint,"
    "  meta                    text,"
    "  meta_updated_at         bigint,"
    "  remote_addr             text,"
    "  online_since            bigint,"
    "  CHECK ((pairing_code_hash IS NULL) = (pairing_code_expires_at IS NULL))"
    ");"
    "CREATE INDEX devices_project ON devices (project_id, created_at);"
    "CREATE UNIQUE INDEX devices_pairing_code ON devices (pairing_code_hash)"
    "  WHERE pairing_code_hash IS NOT NULL;"

    "CREATE TABLE sessions ("
    "  seq        bigint GENERATED ALWAYS AS IDENTITY,"
    "  id         text PRIMARY KEY,"
    "  device_id  text NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  user_id    text REFERENCES users(id) ON DELETE SET NULL,"
    "  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),"
    "  started_at bigint NOT NULL,"
    "  ended_at   bigint,"
    "  end_reason text,"
    "  exit_code  integer,"
    "  name       text,"
    "  title      text,"
    "  CHECK ((status = 'active') = (ended_at IS NULL))"
    ");"
    "CREATE INDEX sessions_device ON sessions (device_id, started_at);"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE INDEX sessions_open_device ON sessions (device_id) WHERE status = 'active';"
    "CREATE INDEX sessions_open_user ON sessions (user_id) WHERE status = 'active';"

    "CREATE TABLE session_shares ("
    "  session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  mode       text NOT NULL CHECK (mode IN ('view', 'control')),"
    "  created_by text REFERENCES users(id) ON DELETE SET NULL,"
    "  created_at bigint NOT NULL,"
    "  PRIMARY KEY (session_id, user_id)"
    ");"
    "CREATE INDEX session_shares_user ON session_shares (user_id);"
    "CREATE INDEX session_shares_created_by ON session_shares (created_by);"

    "CREATE TABLE relay_secrets ("
    "  name  text PRIMARY KEY,"
    "  value bytea NOT NULL CHECK (octet_length(value) = 32)"
    ");"
    "CREATE TABLE signin_codes ("
    "  code_hash  bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),"
    "  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at bigint NOT NULL,"
    "  expires_at bigint NOT NULL"
    ");"
    "CREATE INDEX signin_codes_user ON signin_codes (user_id);"

    "CREATE TABLE email_verifications ("
    "  user_id    text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
    "  email      text NOT NULL,"
    "  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),"
    "  created_at bigint NOT NULL,"
    "  expires_at bigint NOT NULL"
    ");",
};

const int cl_pg_migration_count = (int)(sizeof cl_pg_migrations / sizeof cl_pg_migrations[0]);
