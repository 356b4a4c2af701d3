/*
 * pqlib: libpq, loaded when PostgreSQL is chosen and not before
 * (decisions.md 61, 67): the agent's memory provider (memory_pg.c), the
 * relay's --store postgres:// (store_pg.c). Linked at build time, libpq
 * brought its whole dependency tree (GnuTLS, Kerberos, LDAP, SASL,
 * p11-kit: ~3 MiB of resident pages) into every agent and every relay,
 * which almost none of them uses.
 *
 * The functions memory_pg.c and store_pg.c call, with libpq-fe.h's own
 * types: cl_pq.PQclear(r) and so on, valid once cl_pqlib_load returned 0.
 */
#ifndef CL_CORE_PQLIB_H
#define CL_CORE_PQLIB_H

#include <libpq-fe.h>
#include <stddef.h>

/* The library's soname: Debian's package libpq5. */
#define CL_PQLIB_SONAME "libpq.so.5"

#define CL_PQLIB_FUNCS(X)                                                                          \
    X(PQclear)                                                                                     \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQfreemem)                                                                                   \
    X(PQgetisnull)                                                                                 \
    X(PQserverVersion)                                                                             \
    X(PQconnectPoll)                                                                               \
    X(PQconnectStartParams)                                                                        \
    X(PQconninfoFree)                                                                              \
    X(PQconninfoParse)                                                                             \
    X(PQconsumeInput)                                                                              \
    X(PQerrorMessage)                                                                              \
    X(PQfinish)                                                                                    \
    X(PQflush)                                                                                     \
    X(PQgetResult)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQisBusy)                                                                                    \
    X(PQntuples)                                                                                   \
    X(PQresultErrorField)                                                                          \
    X(PQresultErrorMessage)                                                                        \
    X(PQresultStatus)                                                                              \
    X(PQsendQuery)                                                                                 \
    X(PQsendQueryParams)                                                                           \
    X(PQsetNoticeProcessor)                                                                        \
    X(PQsetnonblocking)                                                                            \
    X(PQsocket)                                                                                    \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)

struct cl_pqlib {
#define CL__PQ_FIELD(f) __typeof__(f) *f;
    CL_PQLIB_FUNCS(CL__PQ_FIELD)
#undef CL__PQ_FIELD
};

extern struct cl_pqlib cl_pq;

/* Loads libpq once (later calls return what the first did): 0, or
 * CL_EIO with err saying what is missing and how to install it. Loop
 * thread only. */
int cl_pqlib_load(char *err, size_t errlen);

#endif
