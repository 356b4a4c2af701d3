/*
 * chat_store: the agent's chat history and memory notes in SQLite
 * (chat_store.h has the contract, docs/chat.md the schema and its
 * reasons, chat_migrations.c the schema itself).
 *
 * Built on core/sqlite: one connection, one statement set prepared at
 * open (so a mistake in any SQL fails there), writes that touch two rows
 * in one IMMEDIATE transaction. Every input is checked against its named
 * limit before anything is bound, so a peer-sized value is CL_ELIMIT, never
 * a storage error.
 */
#include "agent/chat_store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sqlite.h"

enum {
    ST_WS_INSERT,
    ST_WS_LIST,
    ST_WS_RENAME,
    ST_WS_DELETE,
    ST_TH_UPSERT,
    ST_TH_ID,
    ST_TH_GET,
    ST_TH_LIST,
    ST_TH_RENAME,
    ST_TH_DELETE,
    ST_TH_TOUCH,
    ST_TH_MOVE,
    ST_TH_MEMORY,
    ST_TH_SYNC_GET,
    ST_TH_SYNC_SET,
    ST_WS_GET,
    ST_WS_UPDATE,
    ST_MSG_GET,
    ST_MSG_BY_RUN,
    ST_MSG_REKEY,
    ST_MSG_BEFORE,
    ST_MSG_MAX_SEQ,
    ST_MSG_FIND,
    ST_MSG_FIND_RUN,
    ST_MSG_NEXT_SEQ,
    ST_MSG_INSERT,
    ST_MSG_UPDATE,
    ST_MSG_APPEND,
    ST_MSG_STATE,
    ST_MSG_LIST,
    ST_MSG_DELETE,
    ST_MSG_SEARCH,
    ST_JSON_VALID,
    ST_ATT_INSERT,
    ST_ATT_COUNT,
    ST_ATT_LIST,
    ST_MEM_INSERT,
    ST_MEM_LIST,
    ST_MEM_SEARCH,
    ST_MEM_DELETE,
    ST_COUNT
};

#define CL__THREAD_COLS                                                                            \
    "id, coalesce(workspace_id, 0), session_key, title, title_set_by_user, created_at, "           \
    "updated_at, last_message_at, memory_on"

#define CL__MESSAGE_COLS                                                                           \
    "id, thread_id, gateway_id, role, content_md, coalesce(run_id, ''), state, "                   \
    "coalesce(tool_calls, ''), coalesce(usage, ''), coalesce(sender_user_id, ''), created_at, "    \
    "seq"

static const char *const cl__sql[ST_COUNT] = {
    [ST_WS_INSERT] = "INSERT INTO workspaces(name, default_agent, folder, created_at, updated_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_WS_LIST] = "SELECT id, name, coalesce(default_agent, ''), coalesce(folder, ''),"
                   " created_at, updated_at FROM workspaces ORDER BY name, id LIMIT ?1",
    [ST_WS_RENAME] = "UPDATE workspaces SET name = ?2, updated_at = ?3 WHERE id = ?1",
    [ST_WS_DELETE] = "DELETE FROM workspaces WHERE id = ?1",
    /* A re-import changes nothing unless the gateway's title changed and
     * the user has not named the thread. */
    [ST_TH_UPSERT] = "INSERT INTO threads(workspace_id, session_key, title, created_at, updated_at,"
                     " last_message_at) VALUES (?1, ?2, coalesce(?3, ''), ?4, ?4, ?4)"
                     " ON CONFLICT(session_key) DO UPDATE SET title = ?3, updated_at = ?4"
                     " WHERE ?3 IS NOT NULL AND NOT threads.title_set_by_user"
                     " AND threads.title <> ?3",
    [ST_TH_ID] = "SELECT id FROM threads WHERE session_key = ?1",
    [ST_TH_GET] = "SELECT " CL__THREAD_COLS " FROM threads WHERE id = ?1",
    [ST_TH_LIST] = "SELECT " CL__THREAD_COLS " FROM threads"
                   " WHERE (?1 = 0 OR workspace_id = ?1)"
                   " AND (?3 = 0 OR (last_message_at, id) < (?2, ?3))"
                   " ORDER BY last_message_at DESC, id DESC LIMIT ?4",
    [ST_TH_RENAME] = "UPDATE threads SET title = ?2, title_set_by_user = 1, updated_at = ?3"
                     " WHERE id = ?1",
    [ST_TH_DELETE] = "DELETE FROM threads WHERE id = ?1",
    /* A new thread's last_message_at is its creation time until its first
     * message: then the message's time, however old (an import). */
    [ST_TH_TOUCH] = "UPDATE threads SET last_message_at = CASE WHEN EXISTS (SELECT 1 FROM"
                    " messages WHERE thread_id = ?1 AND id <> ?4)"
                    " THEN max(last_message_at, ?2) ELSE ?2 END,"
                    " updated_at = ?3 WHERE id = ?1",
    [ST_TH_MOVE] = "UPDATE threads SET workspace_id = nullif(?2, 0), updated_at = ?3 WHERE id = ?1",
    [ST_TH_MEMORY] = "UPDATE threads SET memory_on = ?2, updated_at = ?3 WHERE id = ?1",
    [ST_TH_SYNC_GET] = "SELECT coalesce(gw_session_id, ''), coalesce(gw_cursor, ''), gw_seq_base"
                       " FROM threads WHERE id = ?1",
    [ST_TH_SYNC_SET] = "UPDATE threads SET gw_session_id = ?2, gw_cursor = ?3, gw_seq_base = ?4"
                       " WHERE id = ?1",
    [ST_WS_GET] = "SELECT id, name, coalesce(default_agent, ''), coalesce(folder, ''),"
                  " created_at, updated_at FROM workspaces WHERE id = ?1",
    [ST_WS_UPDATE] = "UPDATE workspaces SET name = coalesce(?2, name),"
                     " default_agent = CASE WHEN ?5 THEN nullif(?3, '') ELSE default_agent END,"
                     " folder = CASE WHEN ?6 THEN nullif(?4, '') ELSE folder END,"
                     " updated_at = ?7 WHERE id = ?1",
    [ST_MSG_GET] = "SELECT " CL__MESSAGE_COLS " FROM messages WHERE id = ?1",
    [ST_MSG_BY_RUN] = "SELECT " CL__MESSAGE_COLS " FROM messages WHERE thread_id = ?1"
                      " AND run_id = ?2 AND role = ?3 ORDER BY seq DESC, id DESC LIMIT 1",
    [ST_MSG_REKEY] = "UPDATE messages SET gateway_id = ?3 WHERE thread_id = ?1 AND gateway_id = ?2"
                     " AND NOT EXISTS (SELECT 1 FROM messages WHERE thread_id = ?1"
                     " AND gateway_id = ?3)",
    [ST_MSG_BEFORE] = "SELECT " CL__MESSAGE_COLS " FROM messages WHERE thread_id = ?1"
                      " AND (?2 = 0 OR (seq, id) < (SELECT seq, id FROM messages WHERE id = ?2))"
                      " ORDER BY seq DESC, id DESC LIMIT ?3",
    [ST_MSG_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM messages WHERE thread_id = ?1",
    [ST_MSG_FIND] = "SELECT id, state FROM messages WHERE thread_id = ?1 AND gateway_id = ?2",
    [ST_MSG_FIND_RUN] = "SELECT id, state FROM messages WHERE thread_id = ?1 AND run_id = ?2"
                        " AND role = ?3 AND state = 'streaming' ORDER BY id LIMIT 1",
    [ST_MSG_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE thread_id = ?1",
    [ST_MSG_INSERT] = "INSERT INTO messages(thread_id, gateway_id, role, content_md, run_id,"
                      " state, tool_calls, usage, sender_user_id, created_at, seq)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_MSG_UPDATE] = "UPDATE messages SET gateway_id = ?2, role = ?3, content_md = ?4,"
                      " run_id = coalesce(?5, run_id), state = ?6,"
                      " tool_calls = coalesce(?7, tool_calls), usage = coalesce(?8, usage),"
                      " sender_user_id = coalesce(?9, sender_user_id),"
                      " seq = CASE WHEN ?10 > 0 THEN ?10 ELSE seq END WHERE id = ?1",
    [ST_MSG_APPEND] = "UPDATE messages SET content_md = content_md || ?3"
                      " WHERE thread_id = ?1 AND gateway_id = ?2 AND state = 'streaming'"
                      " AND length(CAST(content_md AS BLOB)) + ?4 <= ?5",
    [ST_MSG_STATE] = "SELECT state FROM messages WHERE thread_id = ?1 AND gateway_id = ?2",
    [ST_MSG_LIST] = "SELECT " CL__MESSAGE_COLS " FROM messages WHERE thread_id = ?1"
                    " AND (?2 = 0 OR (seq, id) > (SELECT seq, id FROM messages WHERE id = ?2))"
                    " ORDER BY seq, id LIMIT ?3",
    [ST_MSG_DELETE] = "DELETE FROM messages WHERE id = ?1",
    [ST_MSG_SEARCH] = "SELECT m.id, m.thread_id, m.role,"
                      " snippet(messages_fts, 0, ?2, ?3, '…', 16), messages_fts.rank,"
                      " m.created_at FROM messages_fts JOIN messages m"
                      " ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?1"
                      " ORDER BY messages_fts.rank LIMIT ?4",
    [ST_JSON_VALID] = "SELECT json_valid(?1)",
    [ST_ATT_INSERT] = "INSERT INTO attachments(message_id, name, mime, size, sha256)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_ATT_COUNT] = "SELECT count(*) FROM attachments WHERE message_id = ?1",
    [ST_ATT_LIST] = "SELECT id, name, mime, size, sha256 FROM attachments WHERE message_id = ?1"
                    " ORDER BY id",
    [ST_MEM_INSERT] = "INSERT INTO memory(text, tags, source_thread_id, created_at, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_MEM_LIST] = "SELECT id, text, tags, coalesce(source_thread_id, 0), created_at,"
                    " updated_at FROM memory WHERE (?1 = 0 OR id < ?1)"
                    " ORDER BY id DESC LIMIT ?2",
    [ST_MEM_SEARCH] = "SELECT n.id, coalesce(n.source_thread_id, 0), '',"
                      " snippet(memory_fts, -1, ?2, ?3, '…', 16), memory_fts.rank,"
                      " n.created_at FROM memory_fts JOIN memory n"
                      " ON n.id = memory_fts.rowid WHERE memory_fts MATCH ?1"
                      " ORDER BY memory_fts.rank LIMIT ?4",
    [ST_MEM_DELETE] = "DELETE FROM memory WHERE id = ?1",
};

/* Snippet markers are the caller's; this bounds them. */
#define CL__MARK_MAX 16

struct cl_chat_store {
    sqlite3 *db;
    struct cl_sqlite_set set;
    sqlite3_stmt *st[ST_COUNT];
    int version;
};

static const char *const cl__state_names[] = {
    [CL_CHAT_STREAMING] = "streaming",
    [CL_CHAT_FINAL] = "final",
    [CL_CHAT_ABORTED] = "aborted",
    [CL_CHAT_ERROR] = "error",
};

const char *cl_chat_state_name(enum cl_chat_state s)
{
    if ((unsigned)s >= sizeof cl__state_names / sizeof cl__state_names[0])
        return NULL;
    return cl__state_names[s];
}

static enum cl_chat_state cl__state_parse(const char *s)
{
    for (unsigned i = 0; i < sizeof cl__state_names / sizeof cl__state_names[0]; i++)
        if (s && strcmp(s, cl__state_names[i]) == 0)
            return (enum cl_chat_state)i;
    return CL_CHAT_ERROR; /* the schema's CHECK allows no other value */
}

static int64_t cl__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CL_EINVAL if a required s is missing or empty, CL_ELIMIT if s is longer
 * than max bytes, else 0. */
static int cl__check(const char *s, size_t max, bool required)
{
    if (!s || !*s)
        return required ? CL_EINVAL : 0;
    return strnlen(s, max + 1) > max ? CL_ELIMIT : 0;
}

static const char *cl__col(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? (const char *)s : "";
}

static int cl__clamp(int limit, int max)
{
    return limit < 1 ? 1 : limit > max ? max : limit;
}

/* ---- opening ---------------------------------------------------------------- */

int cl_chat_store_default_path(char *out, size_t cap, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;

    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/clawlink/chat.db", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, cap, "%s/.local/share/clawlink/chat.db", home);
    else
        return cl_seterr(err, errlen, CL_EINVAL,
                         "neither XDG_DATA_HOME nor HOME is an absolute path");
    if (n < 0 || (size_t)n >= cap)
        return cl_seterr(err, errlen, CL_ELIMIT, "chat store path too long");
    return 0;
}

/* Refuses a database directory that is a symbolic link (what it points
 * to could be swapped) and an existing database file that is not the
 * caller's private regular file; the directories above are checked by
 * cl_agent_check_dirs_at. */
static int cl__check_place(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    struct stat sb;
    char *slash;
    size_t n = strlen(path);

    if (n >= sizeof dir)
        return cl_seterr(err, errlen, CL_ELIMIT, "chat store path too long");
    memcpy(dir, path, n + 1);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (lstat(dir, &sb) != 0)
            return cl_seterr(err, errlen, CL_EIO, "cannot stat %s: %s", dir, strerror(errno));
        if (S_ISLNK(sb.st_mode))
            return cl_seterr(err, errlen, CL_EFORBIDDEN,
                             "%s holds the chat history but is a symbolic link", dir);
        if (!S_ISDIR(sb.st_mode))
            return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s is not a directory", dir);
    }
    int rc = cl_agent_check_dirs_at(path, false, NULL, 0, err, errlen);
    if (rc)
        return rc;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT
                   ? 0
                   : cl_seterr(err, errlen, CL_EIO, "cannot stat %s: %s", path, strerror(errno));
    switch (cl_agent_private_file_flaw(&sb)) {
    case CL_AGENT_FILE_OK:
        return 0;
    case CL_AGENT_FILE_SYMLINK:
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s is a symbolic link", path);
    case CL_AGENT_FILE_NOT_REGULAR:
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s is not a regular file", path);
    case CL_AGENT_FILE_OPEN_MODE:
        return cl_seterr(err, errlen, CL_EFORBIDDEN,
                         "%s holds the chat history but is accessible by other users "
                         "(mode %04o); run: chmod 600 %s",
                         path, (unsigned)(sb.st_mode & 07777), path);
    case CL_AGENT_FILE_OTHER_OWNER:
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s belongs to uid %u, not to you", path,
                         (unsigned)sb.st_uid);
    }
    return 0;
}

int cl_chat_store_open(const char *path, struct cl_chat_store **out, char *err, size_t errlen)
{
    char def[PATH_MAX];
    struct cl_chat_store *cs;
    int rc;

    *out = NULL;
    if (!path) {
        rc = cl_chat_store_default_path(def, sizeof def, err, errlen);
        if (rc)
            return rc;
        path = def;
    }
    rc = cl_agent_mkdirs(path, err, errlen);
    if (rc)
        return rc;
    rc = cl__check_place(path, err, errlen);
    if (rc)
        return rc;
    cs = calloc(1, sizeof *cs);
    if (!cs)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    rc = cl_sqlite_open(path, &cs->db, err, errlen);
    if (rc)
        goto out_free;
    rc = cl_sqlite_migrate(cs->db, cl_chat_migrations, cl_chat_migration_count, "clawlink agent",
                           &cs->version, err, errlen);
    if (rc)
        goto out_close;
    rc = cl_sqlite_set_prepare(&cs->set, cs->db, cl__sql, cs->st, ST_COUNT, err, errlen);
    if (rc)
        goto out_close;
    *out = cs;
    return 0;

out_close:
    cl_sqlite_close(cs->db);
out_free:
    free(cs);
    return rc;
}

void cl_chat_store_close(struct cl_chat_store *cs)
{
    if (!cs)
        return;
    cl_sqlite_set_finalize(&cs->set);
    cl_sqlite_close(cs->db);
    free(cs);
}

int cl_chat_store_version(const struct cl_chat_store *cs)
{
    return cs->version;
}

/* ---- workspaces --------------------------------------------------------------- */

int cl_chat_workspace_create(struct cl_chat_store *cs, const char *name, const char *default_agent,
                             const char *folder, int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_WS_INSERT];
    int rc;

    if ((rc = cl__check(name, CL_NAME_MAX, true)) ||
        (rc = cl__check(default_agent, CL_ID_MAX, false)) ||
        (rc = cl__check(folder, CL_CHAT_FOLDER_MAX, false)))
        return rc;
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_str(st, 1, name) | cl_sqlite_bind_opt(st, 2, default_agent) |
                            cl_sqlite_bind_opt(st, 3, folder) |
                            cl_sqlite_bind_int64(st, 4, cl__now_ms()),
                        "chat workspace create");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(cs->db);
    return rc;
}

int cl_chat_workspace_list(struct cl_chat_store *cs, cl_chat_workspace_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_WS_LIST];
    int brc = cl_sqlite_bind_int64(st, 1, CL_CHAT_PAGE_MAX), rc;

    while ((rc = cl_sqlite_step(st, brc, "chat workspace list")) == 1) {
        struct cl_chat_workspace w = {
            .id = sqlite3_column_int64(st, 0),
            .name = cl__col(st, 1),
            .default_agent = cl__col(st, 2),
            .folder = cl__col(st, 3),
            .created_at = sqlite3_column_int64(st, 4),
            .updated_at = sqlite3_column_int64(st, 5),
        };
        rc = cb(&w, arg);
        if (rc)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_workspace_rename(struct cl_chat_store *cs, int64_t id, const char *name)
{
    sqlite3_stmt *st = cs->st[ST_WS_RENAME];
    int rc = cl__check(name, CL_NAME_MAX, true);

    if (rc)
        return rc;
    return cl_sqlite_exec_one(st,
                              cl_sqlite_bind_int64(st, 1, id) | cl_sqlite_bind_str(st, 2, name) |
                                  cl_sqlite_bind_int64(st, 3, cl__now_ms()),
                              "chat workspace rename");
}

int cl_chat_workspace_delete(struct cl_chat_store *cs, int64_t id)
{
    sqlite3_stmt *st = cs->st[ST_WS_DELETE];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_int64(st, 1, id), "chat workspace delete");
}

/* ---- threads ------------------------------------------------------------------ */

int cl_chat_thread_upsert(struct cl_chat_store *cs, int64_t workspace_id, const char *session_key,
                          const char *title, int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_TH_UPSERT];
    int rc;

    if ((rc = cl__check(session_key, CL_CHAT_KEY_MAX, true)) ||
        (rc = cl__check(title, CL_CHAT_TITLE_MAX, false)))
        return rc;
    rc = cl_sqlite_exec(
        st,
        (workspace_id > 0 ? cl_sqlite_bind_int64(st, 1, workspace_id) : sqlite3_bind_null(st, 1)) |
            cl_sqlite_bind_str(st, 2, session_key) | cl_sqlite_bind_opt(st, 3, title) |
            cl_sqlite_bind_int64(st, 4, cl__now_ms()),
        "chat thread upsert");
    if (rc)
        return rc;
    st = cs->st[ST_TH_ID];
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, session_key), "chat thread id");
    if (rc == 1 && id)
        *id = sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_EDB : rc;
}

static void cl__thread_row(sqlite3_stmt *st, struct cl_chat_thread *t)
{
    t->id = sqlite3_column_int64(st, 0);
    t->workspace_id = sqlite3_column_int64(st, 1);
    t->session_key = cl__col(st, 2);
    t->title = cl__col(st, 3);
    t->title_set_by_user = sqlite3_column_int(st, 4) != 0;
    t->created_at = sqlite3_column_int64(st, 5);
    t->updated_at = sqlite3_column_int64(st, 6);
    t->last_message_at = sqlite3_column_int64(st, 7);
    t->memory_on = sqlite3_column_int(st, 8) != 0;
}

int cl_chat_thread_get(struct cl_chat_store *cs, int64_t id, cl_chat_thread_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_TH_GET];
    struct cl_chat_thread t;
    int rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, id), "chat thread get");

    if (rc == 1) {
        cl__thread_row(st, &t);
        rc = cb(&t, arg);
    } else if (rc == 0) {
        rc = CL_ENOTFOUND;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_thread_list(struct cl_chat_store *cs, int64_t workspace_id,
                        const struct cl_chat_cursor *after, int limit, cl_chat_thread_cb cb,
                        void *arg)
{
    sqlite3_stmt *st = cs->st[ST_TH_LIST];
    struct cl_chat_thread t;
    int brc, rc;

    brc = cl_sqlite_bind_int64(st, 1, workspace_id > 0 ? workspace_id : 0) |
          cl_sqlite_bind_int64(st, 2, after ? after->at : 0) |
          cl_sqlite_bind_int64(st, 3, after ? after->id : 0) |
          cl_sqlite_bind_int64(st, 4, cl__clamp(limit, CL_CHAT_PAGE_MAX));
    while ((rc = cl_sqlite_step(st, brc, "chat thread list")) == 1) {
        cl__thread_row(st, &t);
        rc = cb(&t, arg);
        if (rc)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_thread_rename(struct cl_chat_store *cs, int64_t id, const char *title)
{
    sqlite3_stmt *st = cs->st[ST_TH_RENAME];
    int rc = cl__check(title, CL_CHAT_TITLE_MAX, true);

    if (rc)
        return rc;
    return cl_sqlite_exec_one(st,
                              cl_sqlite_bind_int64(st, 1, id) | cl_sqlite_bind_str(st, 2, title) |
                                  cl_sqlite_bind_int64(st, 3, cl__now_ms()),
                              "chat thread rename");
}

int cl_chat_thread_delete(struct cl_chat_store *cs, int64_t id)
{
    sqlite3_stmt *st = cs->st[ST_TH_DELETE];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_int64(st, 1, id), "chat thread delete");
}

/* ---- messages ----------------------------------------------------------------- */

/* CL_EINVAL unless json (when given) is well-formed JSON. */
static int cl__json_ok(struct cl_chat_store *cs, const char *json)
{
    sqlite3_stmt *st = cs->st[ST_JSON_VALID];
    int rc;

    if (!json || !*json)
        return 0;
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, json), "chat json check");
    if (rc == 1)
        rc = sqlite3_column_int(st, 0) ? 0 : CL_EINVAL;
    else if (rc == 0)
        rc = CL_EDB;
    cl_sqlite_reset(st);
    return rc;
}

static int cl__message_check(struct cl_chat_store *cs, const struct cl_chat_message_in *m)
{
    int rc;

    if (!cl_chat_state_name(m->state))
        return CL_EINVAL;
    if ((rc = cl__check(m->gateway_id, CL_CHAT_KEY_MAX, true)) ||
        (rc = cl__check(m->role, CL_CHAT_ROLE_MAX, true)) ||
        (rc = cl__check(m->content_md, CL_CHAT_MESSAGE_MAX, false)) ||
        (rc = cl__check(m->run_id, CL_CHAT_KEY_MAX, false)) ||
        (rc = cl__check(m->tool_calls, CL_CHAT_JSON_MAX, false)) ||
        (rc = cl__check(m->usage, CL_CHAT_JSON_MAX, false)) ||
        (rc = cl__check(m->sender_user_id, CL_CHAT_KEY_MAX, false)))
        return rc;
    if ((rc = cl__json_ok(cs, m->tool_calls)) || (rc = cl__json_ok(cs, m->usage)))
        return rc;
    return 0;
}

/* Looks up the row m updates: by gateway id, else a streaming row of the
 * same run and role. *id is 0 when there is none; *settled tells whether
 * the row found is final, aborted or error. */
static int cl__message_find(struct cl_chat_store *cs, int64_t thread_id,
                            const struct cl_chat_message_in *m, int64_t *id, bool *settled)
{
    sqlite3_stmt *st = cs->st[ST_MSG_FIND];
    int rc;

    *id = 0;
    *settled = false;
    rc = cl_sqlite_step(
        st, cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, m->gateway_id),
        "chat message find");
    if (rc == 0 && m->run_id && *m->run_id) {
        cl_sqlite_reset(st);
        st = cs->st[ST_MSG_FIND_RUN];
        rc = cl_sqlite_step(st,
                            cl_sqlite_bind_int64(st, 1, thread_id) |
                                cl_sqlite_bind_str(st, 2, m->run_id) |
                                cl_sqlite_bind_str(st, 3, m->role),
                            "chat message find run");
    }
    if (rc == 1) {
        *id = sqlite3_column_int64(st, 0);
        *settled = strcmp(cl__col(st, 1), "streaming") != 0;
    }
    cl_sqlite_reset(st);
    return rc < 0 ? rc : 0;
}

static int cl__message_write(struct cl_chat_store *cs, int64_t thread_id,
                             const struct cl_chat_message_in *m, int64_t now, int64_t *id)
{
    const char *text = m->content_md ? m->content_md : "";
    const char *state = cl_chat_state_name(m->state);
    int64_t found, seq = m->seq;
    bool settled;
    sqlite3_stmt *st;
    int rc;

    rc = cl__message_find(cs, thread_id, m, &found, &settled);
    if (rc)
        return rc;
    if (found) {
        *id = found;
        if (settled && m->state == CL_CHAT_STREAMING)
            return 0; /* a late replay of the stream: the settled row wins */
        st = cs->st[ST_MSG_UPDATE];
        return cl_sqlite_exec(
            st,
            cl_sqlite_bind_int64(st, 1, found) | cl_sqlite_bind_str(st, 2, m->gateway_id) |
                cl_sqlite_bind_str(st, 3, m->role) | cl_sqlite_bind_str(st, 4, text) |
                cl_sqlite_bind_opt(st, 5, m->run_id) | cl_sqlite_bind_str(st, 6, state) |
                cl_sqlite_bind_opt(st, 7, m->tool_calls) | cl_sqlite_bind_opt(st, 8, m->usage) |
                cl_sqlite_bind_opt(st, 9, m->sender_user_id) |
                cl_sqlite_bind_int64(st, 10, seq > 0 ? seq : 0),
            "chat message update");
    }
    if (seq <= 0) {
        st = cs->st[ST_MSG_NEXT_SEQ];
        rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, thread_id), "chat message seq");
        if (rc == 1)
            seq = sqlite3_column_int64(st, 0);
        cl_sqlite_reset(st);
        if (rc != 1)
            return rc < 0 ? rc : CL_EDB;
    }
    st = cs->st[ST_MSG_INSERT];
    rc = cl_sqlite_exec(
        st,
        cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, m->gateway_id) |
            cl_sqlite_bind_str(st, 3, m->role) | cl_sqlite_bind_str(st, 4, text) |
            cl_sqlite_bind_opt(st, 5, m->run_id) | cl_sqlite_bind_str(st, 6, state) |
            cl_sqlite_bind_opt(st, 7, m->tool_calls) | cl_sqlite_bind_opt(st, 8, m->usage) |
            cl_sqlite_bind_opt(st, 9, m->sender_user_id) |
            cl_sqlite_bind_int64(st, 10, m->created_at > 0 ? m->created_at : now) |
            cl_sqlite_bind_int64(st, 11, seq),
        "chat message insert");
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(cs->db);
    return rc;
}

int cl_chat_message_upsert(struct cl_chat_store *cs, int64_t thread_id,
                           const struct cl_chat_message_in *m, int64_t *id)
{
    int64_t now = cl__now_ms(), row = 0;
    sqlite3_stmt *st = cs->st[ST_TH_TOUCH];
    int rc;

    rc = cl__message_check(cs, m);
    if (rc)
        return rc;
    rc = cl_sqlite_begin(&cs->set, "chat message upsert");
    if (rc)
        return rc;
    rc = cl__message_write(cs, thread_id, m, now, &row);
    if (rc == 0)
        rc = cl_sqlite_exec_one(
            st,
            cl_sqlite_bind_int64(st, 1, thread_id) |
                cl_sqlite_bind_int64(st, 2, m->created_at > 0 ? m->created_at : now) |
                cl_sqlite_bind_int64(st, 3, now) | cl_sqlite_bind_int64(st, 4, row),
            "chat thread touch");
    if (rc) {
        cl_sqlite_rollback(&cs->set, "chat message upsert");
        return rc;
    }
    rc = cl_sqlite_commit(&cs->set, "chat message upsert");
    if (rc == 0 && id)
        *id = row;
    return rc;
}

int cl_chat_message_append(struct cl_chat_store *cs, int64_t thread_id, const char *gateway_id,
                           const char *delta)
{
    sqlite3_stmt *st = cs->st[ST_MSG_APPEND];
    size_t n;
    int rc;

    if ((rc = cl__check(gateway_id, CL_CHAT_KEY_MAX, true)) ||
        (rc = cl__check(delta, CL_CHAT_MESSAGE_MAX, false)))
        return rc;
    if (!delta || !*delta)
        return 0;
    n = strlen(delta);
    rc = cl_sqlite_exec(
        st,
        cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, gateway_id) |
            cl_sqlite_bind_str(st, 3, delta) | cl_sqlite_bind_int64(st, 4, (int64_t)n) |
            cl_sqlite_bind_int64(st, 5, CL_CHAT_MESSAGE_MAX),
        "chat message append");
    if (rc || sqlite3_changes(cs->db) == 1)
        return rc;
    /* Nothing appended: say why. */
    st = cs->st[ST_MSG_STATE];
    rc = cl_sqlite_step(
        st, cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, gateway_id),
        "chat message state");
    if (rc == 1)
        rc = strcmp(cl__col(st, 0), "streaming") == 0 ? CL_ELIMIT : CL_ESTATE;
    else if (rc == 0)
        rc = CL_ENOTFOUND;
    cl_sqlite_reset(st);
    return rc;
}

static void cl__message_row(sqlite3_stmt *st, struct cl_chat_message *m)
{
    *m = (struct cl_chat_message){
        .id = sqlite3_column_int64(st, 0),
        .thread_id = sqlite3_column_int64(st, 1),
        .gateway_id = cl__col(st, 2),
        .role = cl__col(st, 3),
        .content_md = cl__col(st, 4),
        .content_len = (size_t)sqlite3_column_bytes(st, 4),
        .run_id = cl__col(st, 5),
        .state = cl__state_parse(cl__col(st, 6)),
        .tool_calls = cl__col(st, 7),
        .usage = cl__col(st, 8),
        .sender_user_id = cl__col(st, 9),
        .created_at = sqlite3_column_int64(st, 10),
        .seq = sqlite3_column_int64(st, 11),
    };
}

/* Every row of st to cb, until cb returns non-zero (returned) or the rows
 * end (0); a storage failure is CL_EDB. */
static int cl__message_walk(sqlite3_stmt *st, int brc, cl_chat_message_cb cb, void *arg,
                            const char *op)
{
    int rc;
    while ((rc = cl_sqlite_step(st, brc, op)) == 1) {
        struct cl_chat_message m;
        cl__message_row(st, &m);
        rc = cb(&m, arg);
        if (rc)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_message_list(struct cl_chat_store *cs, int64_t thread_id, int64_t after_id, int limit,
                         cl_chat_message_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_MSG_LIST];
    int brc = cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_int64(st, 2, after_id) |
              cl_sqlite_bind_int64(st, 3, cl__clamp(limit, CL_CHAT_PAGE_MAX));
    return cl__message_walk(st, brc, cb, arg, "chat message list");
}

int cl_chat_message_delete(struct cl_chat_store *cs, int64_t id)
{
    sqlite3_stmt *st = cs->st[ST_MSG_DELETE];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_int64(st, 1, id), "chat message delete");
}

/* ---- attachments ---------------------------------------------------------------- */

int cl_chat_attachment_add(struct cl_chat_store *cs, int64_t message_id, const char *name,
                           const char *mime, int64_t size, const uint8_t sha256[32], int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_ATT_INSERT];
    int rc;

    if ((rc = cl__check(name, CL_CHAT_ATTACH_NAME_MAX, true)) ||
        (rc = cl__check(mime, CL_CHAT_MIME_MAX, true)))
        return rc;
    if (size < 0 || !sha256)
        return CL_EINVAL;
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_int64(st, 1, message_id) | cl_sqlite_bind_str(st, 2, name) |
                            cl_sqlite_bind_str(st, 3, mime) | cl_sqlite_bind_int64(st, 4, size) |
                            sqlite3_bind_blob(st, 5, sha256, 32, SQLITE_STATIC),
                        "chat attachment add");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(cs->db);
    return rc;
}

int cl_chat_attachment_count(struct cl_chat_store *cs, int64_t message_id, int64_t *count)
{
    sqlite3_stmt *st = cs->st[ST_ATT_COUNT];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, message_id), "chat attachment count");

    if (rc == 1)
        *count = sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_EDB : rc;
}

int cl_chat_attachment_list(struct cl_chat_store *cs, int64_t message_id, cl_chat_attachment_cb cb,
                            void *arg)
{
    sqlite3_stmt *st = cs->st[ST_ATT_LIST];
    int rc = cl_sqlite_bind_int64(st, 1, message_id) ? CL_EDB : 0;

    while (rc == 0) {
        struct cl_chat_attachment a;
        int step = cl_sqlite_step(st, 0, "chat attachment list");
        if (step != 1) {
            rc = step < 0 ? step : 0;
            break;
        }
        a.id = sqlite3_column_int64(st, 0);
        a.name = (const char *)sqlite3_column_text(st, 1);
        a.mime = (const char *)sqlite3_column_text(st, 2);
        a.size = sqlite3_column_int64(st, 3);
        if (sqlite3_column_bytes(st, 4) == 32)
            memcpy(a.sha256, sqlite3_column_blob(st, 4), 32);
        else
            memset(a.sha256, 0, 32);
        if (!a.name || !a.mime)
            continue;
        if (cb(&a, arg) != 0)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

/* ---- search --------------------------------------------------------------------- */

static bool cl__space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int cl_chat_fts_query(const char *q, char *out, size_t cap)
{
    size_t o = 0, words = 0;
    const char *p = q;

    if (!q || strnlen(q, CL_CHAT_QUERY_MAX + 1) > CL_CHAT_QUERY_MAX)
        return q ? CL_ELIMIT : CL_EINVAL;
    while (*p) {
        while (cl__space(*p))
            p++;
        if (!*p)
            break;
        /* ' "' + the word with '"' doubled + '"' + a possible '*' + NUL */
        if (o + 2 > cap)
            return CL_ELIMIT;
        if (words++)
            out[o++] = ' ';
        out[o++] = '"';
        for (; *p && !cl__space(*p); p++) {
            if (o + (*p == '"' ? 2 : 1) + 3 > cap)
                return CL_ELIMIT;
            if (*p == '"')
                out[o++] = '"';
            out[o++] = *p;
        }
        out[o++] = '"';
    }
    if (!words)
        return CL_EINVAL;
    out[o++] = '*';
    out[o] = 0;
    return 0;
}

static int cl__search(struct cl_chat_store *cs, int which, const char *query, const char *open,
                      const char *close, int limit, cl_chat_hit_cb cb, void *arg)
{
    char fq[3 * CL_CHAT_QUERY_MAX + 2];
    sqlite3_stmt *st = cs->st[which];
    int brc, rc;

    if (!open || !close || strnlen(open, CL__MARK_MAX + 1) > CL__MARK_MAX ||
        strnlen(close, CL__MARK_MAX + 1) > CL__MARK_MAX)
        return CL_EINVAL;
    rc = cl_chat_fts_query(query, fq, sizeof fq);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, fq) | cl_sqlite_bind_str(st, 2, open) |
          cl_sqlite_bind_str(st, 3, close) |
          cl_sqlite_bind_int64(st, 4, cl__clamp(limit, CL_CHAT_SEARCH_MAX));
    while ((rc = cl_sqlite_step(st, brc, "chat search")) == 1) {
        struct cl_chat_hit h = {
            .id = sqlite3_column_int64(st, 0),
            .thread_id = sqlite3_column_int64(st, 1),
            .role = cl__col(st, 2),
            .snippet = cl__col(st, 3),
            .rank = sqlite3_column_double(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
        };
        rc = cb(&h, arg);
        if (rc)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_message_search(struct cl_chat_store *cs, const char *query, const char *open,
                           const char *close, int limit, cl_chat_hit_cb cb, void *arg)
{
    return cl__search(cs, ST_MSG_SEARCH, query, open, close, limit, cb, arg);
}

/* ---- memory --------------------------------------------------------------------- */

int cl_chat_memory_add(struct cl_chat_store *cs, const char *text, const char *tags,
                       int64_t source_thread_id, int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_MEM_INSERT];
    int rc;

    if ((rc = cl__check(text, CL_CHAT_NOTE_MAX, true)) ||
        (rc = cl__check(tags, CL_CHAT_TAGS_MAX, false)))
        return rc;
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_str(st, 1, text) |
                            cl_sqlite_bind_str(st, 2, tags ? tags : "") |
                            (source_thread_id > 0 ? cl_sqlite_bind_int64(st, 3, source_thread_id)
                                                  : sqlite3_bind_null(st, 3)) |
                            cl_sqlite_bind_int64(st, 4, cl__now_ms()),
                        "chat memory add");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(cs->db);
    return rc;
}

int cl_chat_memory_list(struct cl_chat_store *cs, int64_t before_id, int limit, cl_chat_note_cb cb,
                        void *arg)
{
    sqlite3_stmt *st = cs->st[ST_MEM_LIST];
    int brc, rc;

    brc = cl_sqlite_bind_int64(st, 1, before_id > 0 ? before_id : 0) |
          cl_sqlite_bind_int64(st, 2, cl__clamp(limit, CL_CHAT_PAGE_MAX));
    while ((rc = cl_sqlite_step(st, brc, "chat memory list")) == 1) {
        struct cl_chat_note n = {
            .id = sqlite3_column_int64(st, 0),
            .text = cl__col(st, 1),
            .tags = cl__col(st, 2),
            .source_thread_id = sqlite3_column_int64(st, 3),
            .created_at = sqlite3_column_int64(st, 4),
            .updated_at = sqlite3_column_int64(st, 5),
        };
        rc = cb(&n, arg);
        if (rc)
            break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_memory_search(struct cl_chat_store *cs, const char *query, const char *open,
                          const char *close, int limit, cl_chat_hit_cb cb, void *arg)
{
    return cl__search(cs, ST_MEM_SEARCH, query, open, close, limit, cb, arg);
}

int cl_chat_memory_delete(struct cl_chat_store *cs, int64_t id)
{
    sqlite3_stmt *st = cs->st[ST_MEM_DELETE];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_int64(st, 1, id), "chat memory delete");
}

/* ---- the bridge's additions (migration 2) ---------------------------------------- */

int cl_chat_thread_find(struct cl_chat_store *cs, const char *session_key, int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_TH_ID];
    int rc = cl__check(session_key, CL_CHAT_KEY_MAX, true);

    if (rc)
        return rc;
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, session_key), "chat thread find");
    if (rc == 1)
        *id = sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_ENOTFOUND : rc;
}

int cl_chat_thread_move(struct cl_chat_store *cs, int64_t id, int64_t workspace_id)
{
    sqlite3_stmt *st = cs->st[ST_TH_MOVE];
    int rc = cl_sqlite_exec(st,
                            cl_sqlite_bind_int64(st, 1, id) |
                                cl_sqlite_bind_int64(st, 2, workspace_id > 0 ? workspace_id : 0) |
                                cl_sqlite_bind_int64(st, 3, cl__now_ms()),
                            "chat thread move");
    if (rc == CL_EDB && workspace_id > 0)
        return CL_ENOTFOUND; /* the foreign key: no such workspace */
    if (rc == 0 && sqlite3_changes(cs->db) != 1)
        return CL_ENOTFOUND;
    return rc;
}

int cl_chat_thread_set_memory(struct cl_chat_store *cs, int64_t id, bool on)
{
    sqlite3_stmt *st = cs->st[ST_TH_MEMORY];
    return cl_sqlite_exec_one(st,
                              cl_sqlite_bind_int64(st, 1, id) | cl_sqlite_bind_int64(st, 2, on) |
                                  cl_sqlite_bind_int64(st, 3, cl__now_ms()),
                              "chat thread memory");
}

int cl_chat_thread_sync_get(struct cl_chat_store *cs, int64_t id, struct cl_chat_sync *out)
{
    sqlite3_stmt *st = cs->st[ST_TH_SYNC_GET];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, id), "chat thread sync get");

    memset(out, 0, sizeof *out);
    if (rc == 1) {
        snprintf(out->session_id, sizeof out->session_id, "%s", cl__col(st, 0));
        snprintf(out->cursor, sizeof out->cursor, "%s", cl__col(st, 1));
        out->seq_base = sqlite3_column_int64(st, 2);
    }
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_ENOTFOUND : rc;
}

int cl_chat_thread_sync_set(struct cl_chat_store *cs, int64_t id, const struct cl_chat_sync *s)
{
    sqlite3_stmt *st = cs->st[ST_TH_SYNC_SET];
    int rc;

    if ((rc = cl__check(s->session_id, CL_CHAT_KEY_MAX, false)) ||
        (rc = cl__check(s->cursor, CL_CHAT_CURSOR_MAX, false)))
        return rc;
    return cl_sqlite_exec_one(
        st,
        cl_sqlite_bind_int64(st, 1, id) | cl_sqlite_bind_opt(st, 2, s->session_id) |
            cl_sqlite_bind_opt(st, 3, s->cursor) | cl_sqlite_bind_int64(st, 4, s->seq_base),
        "chat thread sync set");
}

int cl_chat_workspace_get(struct cl_chat_store *cs, int64_t id, cl_chat_workspace_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_WS_GET];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, id), "chat workspace get");

    if (rc == 1) {
        struct cl_chat_workspace w = {
            .id = sqlite3_column_int64(st, 0),
            .name = cl__col(st, 1),
            .default_agent = cl__col(st, 2),
            .folder = cl__col(st, 3),
            .created_at = sqlite3_column_int64(st, 4),
            .updated_at = sqlite3_column_int64(st, 5),
        };
        rc = cb(&w, arg);
    } else if (rc == 0) {
        rc = CL_ENOTFOUND;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_workspace_update(struct cl_chat_store *cs, int64_t id, const char *name,
                             const char *default_agent, const char *folder)
{
    sqlite3_stmt *st = cs->st[ST_WS_UPDATE];
    int rc;

    if (name && (rc = cl__check(name, CL_NAME_MAX, true)))
        return rc;
    if ((rc = cl__check(default_agent, CL_ID_MAX, false)) ||
        (rc = cl__check(folder, CL_CHAT_FOLDER_MAX, false)))
        return rc;
    return cl_sqlite_exec_one(
        st,
        cl_sqlite_bind_int64(st, 1, id) |
            (name ? cl_sqlite_bind_str(st, 2, name) : sqlite3_bind_null(st, 2)) |
            cl_sqlite_bind_str(st, 3, default_agent ? default_agent : "") |
            cl_sqlite_bind_str(st, 4, folder ? folder : "") |
            cl_sqlite_bind_int64(st, 5, default_agent != NULL) |
            cl_sqlite_bind_int64(st, 6, folder != NULL) | cl_sqlite_bind_int64(st, 7, cl__now_ms()),
        "chat workspace update");
}

/* One row of st to cb, or CL_ENOTFOUND. */
static int cl__message_one(sqlite3_stmt *st, int brc, cl_chat_message_cb cb, void *arg,
                           const char *op)
{
    struct cl_chat_message m;
    int rc = cl_sqlite_step(st, brc, op);

    if (rc == 1) {
        cl__message_row(st, &m);
        rc = cb(&m, arg);
    } else if (rc == 0) {
        rc = CL_ENOTFOUND;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_chat_message_get(struct cl_chat_store *cs, int64_t id, cl_chat_message_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_MSG_GET];
    return cl__message_one(st, cl_sqlite_bind_int64(st, 1, id), cb, arg, "chat message get");
}

int cl_chat_message_by_run(struct cl_chat_store *cs, int64_t thread_id, const char *run_id,
                           const char *role, cl_chat_message_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_MSG_BY_RUN];
    int rc;

    if ((rc = cl__check(run_id, CL_CHAT_KEY_MAX, true)) ||
        (rc = cl__check(role, CL_CHAT_ROLE_MAX, true)))
        return rc;
    return cl__message_one(st,
                           cl_sqlite_bind_int64(st, 1, thread_id) |
                               cl_sqlite_bind_str(st, 2, run_id) | cl_sqlite_bind_str(st, 3, role),
                           cb, arg, "chat message by run");
}

int cl_chat_message_rekey(struct cl_chat_store *cs, int64_t thread_id, const char *old_id,
                          const char *new_id)
{
    sqlite3_stmt *st = cs->st[ST_MSG_REKEY];
    int rc;

    if ((rc = cl__check(old_id, CL_CHAT_KEY_MAX, true)) ||
        (rc = cl__check(new_id, CL_CHAT_KEY_MAX, true)))
        return rc;
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, old_id) |
                            cl_sqlite_bind_str(st, 3, new_id),
                        "chat message rekey");
    if (rc == 0 && sqlite3_changes(cs->db) != 1)
        return CL_ENOTFOUND;
    return rc;
}

int cl_chat_message_list_before(struct cl_chat_store *cs, int64_t thread_id, int64_t before_id,
                                int limit, cl_chat_message_cb cb, void *arg)
{
    sqlite3_stmt *st = cs->st[ST_MSG_BEFORE];
    int brc = cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_int64(st, 2, before_id) |
              cl_sqlite_bind_int64(st, 3, cl__clamp(limit, CL_CHAT_PAGE_MAX));
    return cl__message_walk(st, brc, cb, arg, "chat message list before");
}

int cl_chat_message_max_seq(struct cl_chat_store *cs, int64_t thread_id, int64_t *seq)
{
    sqlite3_stmt *st = cs->st[ST_MSG_MAX_SEQ];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_int64(st, 1, thread_id), "chat message max seq");

    if (rc == 1)
        *seq = sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_EDB : rc;
}

int cl_chat_message_find(struct cl_chat_store *cs, int64_t thread_id, const char *gateway_id,
                         int64_t *id)
{
    sqlite3_stmt *st = cs->st[ST_MSG_FIND];
    int rc = cl__check(gateway_id, CL_CHAT_KEY_MAX, true);

    if (rc)
        return rc;
    rc = cl_sqlite_step(
        st, cl_sqlite_bind_int64(st, 1, thread_id) | cl_sqlite_bind_str(st, 2, gateway_id),
        "chat message find");
    if (rc == 1)
        *id = sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_ENOTFOUND : rc;
}
