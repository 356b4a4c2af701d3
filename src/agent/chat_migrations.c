/*
 * chat_migrations: the agent's chat store schema, as numbered migrations.
 *
 * Migration 1 is the first schema: workspaces, threads (one per OpenClaw
 * session key), messages (keyed by the gateway's own message id within a
 * thread, so importing the same history twice changes nothing),
 * attachments (metadata only: the bytes live in files, see docs/chat.md),
 * memory notes, and two external-content FTS5 indexes kept in sync by
 * triggers. Ids are local INTEGER rowids; times are Unix milliseconds (the
 * gateway's unit). A child that cannot outlive its parent is deleted with
 * it (ON DELETE CASCADE), a memory note outlives the thread it came from
 * (SET NULL). Every foreign-key column is indexed.
 *
 * The message index holds settled messages only (state other than
 * 'streaming'): a streaming reply is rewritten on every delta, and
 * indexing each version would churn the index for text nobody searches
 * yet. The triggers therefore add and remove a row's index entry only when
 * its state is settled, which keeps the external-content index exact (an
 * FTS5 'delete' must repeat the indexed values).
 *
 * Data only: append, never edit a shipped entry. The runner is
 * cl_sqlite_migrate (src/core/sqlite.c).
 */
#include "agent/chat_store.h"

const char *const cl_chat_migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE workspaces ("
    "  id            INTEGER PRIMARY KEY,"
    "  name          TEXT NOT NULL CHECK (length(name) > 0),"
    "  default_agent TEXT,"
    "  folder        TEXT,"
    "  created_at    INTEGER NOT NULL,"
    "  updated_at    INTEGER NOT NULL"
    ");"

    "CREATE TABLE threads ("
    "  id                INTEGER PRIMARY KEY,"
    "  workspace_id      INTEGER REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  session_key       TEXT NOT NULL UNIQUE CHECK (length(session_key) > 0),"
    "  title             TEXT NOT NULL DEFAULT '',"
    "  title_set_by_user INTEGER NOT NULL DEFAULT 0 CHECK (title_set_by_user IN (0, 1)),"
    "  created_at        INTEGER NOT NULL,"
    "  updated_at        INTEGER NOT NULL,"
    "  last_message_at   INTEGER NOT NULL"
    ");"
    "CREATE INDEX threads_workspace ON threads(workspace_id, last_message_at, id);"
    "CREATE INDEX threads_recent ON threads(last_message_at, id);"

    "CREATE TABLE messages ("
    "  id             INTEGER PRIMARY KEY,"
    "  thread_id      INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,"
    "  gateway_id     TEXT NOT NULL CHECK (length(gateway_id) > 0),"
    "  role           TEXT NOT NULL CHECK (length(role) > 0),"
    "  content_md     TEXT NOT NULL DEFAULT '',"
    "  run_id         TEXT,"
    "  state          TEXT NOT NULL"
    "                 CHECK (state IN ('streaming', 'final', 'aborted', 'error')),"
    "  tool_calls     TEXT CHECK (tool_calls IS NULL OR json_valid(tool_calls)),"
    "  usage          TEXT CHECK (usage IS NULL OR json_valid(usage)),"
    "  sender_user_id TEXT,"
    "  created_at     INTEGER NOT NULL,"
    "  seq            INTEGER NOT NULL,"
    "  UNIQUE (thread_id, gateway_id)"
    ");"
    "CREATE INDEX messages_thread_seq ON messages(thread_id, seq, id);"
    "CREATE INDEX messages_run ON messages(thread_id, run_id) WHERE run_id IS NOT NULL;"

    "CREATE TABLE attachments ("
    "  id         INTEGER PRIMARY KEY,"
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  name       TEXT NOT NULL,"
    "  mime       TEXT NOT NULL,"
    "  size       INTEGER NOT NULL CHECK (size >= 0),"
    "  sha256     BLOB NOT NULL CHECK (length(sha256) = 32)"
    ");"
    "CREATE INDEX attachments_message ON attachments(message_id);"
    "CREATE INDEX attachments_sha256 ON attachments(sha256);"

    "CREATE TABLE memory ("
    "  id               INTEGER PRIMARY KEY,"
    "  text             TEXT NOT NULL CHECK (length(text) > 0),"
    "  tags             TEXT NOT NULL DEFAULT '',"
    "  source_thread_id INTEGER REFERENCES threads(id) ON DELETE SET NULL,"
    "  created_at       INTEGER NOT NULL,"
    "  updated_at       INTEGER NOT NULL"
    ");"
    "CREATE INDEX memory_source ON memory(source_thread_id);"

    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "  content_md, content='messages', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages"
    "  WHEN new.state <> 'streaming' BEGIN"
    "  INSERT INTO messages_fts(rowid, content_md) VALUES (new.id, new.content_md);"
    "END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages"
    "  WHEN old.state <> 'streaming' BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content_md)"
    "    VALUES ('delete', old.id, old.content_md);"
    "END;"
    /* One trigger, two statements in this order: SQLite gives no order
     * between two triggers on the same event (it runs the newer first). */
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content_md, state ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content_md)"
    "    SELECT 'delete', old.id, old.content_md WHERE old.state <> 'streaming';"
    "  INSERT INTO messages_fts(rowid, content_md)"
    "    SELECT new.id, new.content_md WHERE new.state <> 'streaming';"
    "END;"

    "CREATE VIRTUAL TABLE memory_fts USING fts5("
    "  text, tags, content='memory', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER memory_fts_ai AFTER INSERT ON memory BEGIN"
    "  INSERT INTO memory_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);"
    "END;"
    "CREATE TRIGGER memory_fts_ad AFTER DELETE ON memory BEGIN"
    "  INSERT INTO memory_fts(memory_fts, rowid, text, tags)"
    "    VALUES ('delete', old.id, old.text, old.tags);"
    "END;"
    "CREATE TRIGGER memory_fts_au AFTER UPDATE OF text, tags ON memory BEGIN"
    "  INSERT INTO memory_fts(memory_fts, rowid, text, tags)"
    "    VALUES ('delete', old.id, old.text, old.tags);"
    "  INSERT INTO memory_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);"
    "END;",

    /* 2: the bridge's per-thread state. gw_session_id and gw_cursor are
     * where the mirror's catch-up stands on the gateway (the session's
     * incarnation and the chat.history delta cursor: docs/chat.md, "Import
     * and follow"); gw_seq_base keeps a reset session's new transcript
     * (seq from 1 again) after the old one in the thread's order;
     * memory_on: the thread sends the most relevant memory notes with each
     * message ("Memory"). */
    "ALTER TABLE threads ADD COLUMN gw_session_id TEXT;"
    "ALTER TABLE threads ADD COLUMN gw_cursor TEXT;"
    "ALTER TABLE threads ADD COLUMN gw_seq_base INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE threads ADD COLUMN memory_on INTEGER NOT NULL DEFAULT 0"
    "  CHECK (memory_on IN (0, 1));",
};

const int cl_chat_migration_count = (int)(sizeof cl_chat_migrations / sizeof cl_chat_migrations[0]);
