/*
 * Unit tests for src/core/wsq.c: frames with LWS_PRE headroom, the byte
 * cap (refused pushes free their frame), forced control frames, FIFO
 * order and clear. No lws connection is needed for any of these.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/wsq.h"

static void test_frame_new(void **state)
{
    struct cl_frame *f = cl_frame_new(100);
    (void)state;
    assert_non_null(f);
    assert_int_equal(f->cap, 100);
    assert_int_equal(f->len, 0);
    assert_false(f->binary);
    assert_null(f->next);
    assert_ptr_equal(cl_frame_payload(f), f->buf + LWS_PRE);
    /* the headroom and the whole payload are writable (ASan checks) */
    memset(f->buf, 0xaa, LWS_PRE + 100);
    free(f);
    f = cl_frame_new(0);
    memset(f->buf, 0, LWS_PRE);
    free(f);
}

static void test_push_and_cap(void **state)
{
    struct cl_wsq q;
    (void)state;
    cl_wsq_init(&q, 100);
    assert_true(cl_wsq_empty(&q));
    assert_int_equal(q.max_bytes, 100);

    assert_int_equal(cl_wsq_push_copy(&q, "aaaaaaaaaa", 10, false, false), 0);
    assert_false(cl_wsq_empty(&q));
    assert_int_equal(q.bytes, 10);
    assert_int_equal(q.count, 1);

    struct cl_frame *f = cl_frame_new(90);
    memset(cl_frame_payload(f), 'b', 90);
    f->len = 90;
    f->binary = true;
    assert_int_equal(cl_wsq_push(&q, f, false), 0); /* exactly at the cap */
    assert_int_equal(q.bytes, 100);
    assert_int_equal(q.count, 2);

    /* one byte over: refused, counted nothing, frame freed (LSan checks) */
    assert_int_equal(cl_wsq_push_copy(&q, "c", 1, false, false), CL_ELIMIT);
    f = cl_frame_new(8);
    f->len = 8;
    assert_int_equal(cl_wsq_push(&q, f, false), CL_ELIMIT);
    assert_int_equal(q.bytes, 100);
    assert_int_equal(q.count, 2);

    /* an empty frame still fits, with or without a data pointer */
    assert_int_equal(cl_wsq_push_copy(&q, "", 0, false, false), 0);
    assert_int_equal(cl_wsq_push_copy(&q, NULL, 0, false, false), 0);
    assert_int_equal(q.count, 4);
    assert_int_equal(q.bytes, 100);
    cl_wsq_clear(&q);
}

static void test_force_and_order(void **state)
{
    struct cl_wsq q;
    char payload[4];
    int i = 0;
    (void)state;
    cl_wsq_init(&q, 4);
    assert_int_equal(cl_wsq_push_copy(&q, "1111", 4, false, false), 0);
    assert_int_equal(cl_wsq_push_copy(&q, "22", 2, true, false), CL_ELIMIT);
    /* control frames go past the cap */
    assert_int_equal(cl_wsq_push_copy(&q, "22", 2, true, true), 0);
    assert_int_equal(cl_wsq_push_copy(&q, "333", 3, false, true), 0);
    assert_int_equal(q.bytes, 9);
    assert_int_equal(q.count, 3);
    /* still full for unforced pushes */
    assert_int_equal(cl_wsq_push_copy(&q, "4", 1, false, false), CL_ELIMIT);

    /* FIFO, payloads and flags intact */
    for (struct cl_frame *f = q.head; f; f = f->next, i++) {
        memset(payload, 0, sizeof payload);
        memcpy(payload, cl_frame_payload(f), f->len);
        switch (i) {
        case 0:
            assert_int_equal(f->len, 4);
            assert_memory_equal(payload, "1111", 4);
            assert_false(f->binary);
            break;
        case 1:
            assert_int_equal(f->len, 2);
            assert_memory_equal(payload, "22", 2);
            assert_true(f->binary);
            break;
        case 2:
            assert_int_equal(f->len, 3);
            assert_memory_equal(payload, "333", 3);
            assert_ptr_equal(f, q.tail);
            break;
        }
    }
    assert_int_equal(i, 3);
    cl_wsq_clear(&q);
}

static void test_clear(void **state)
{
    struct cl_wsq q;
    (void)state;
    cl_wsq_init(&q, 1 << 20);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cl_wsq_push_copy(&q, "frame", 5, false, false), 0);
    assert_int_equal(q.count, 100);
    assert_int_equal(q.bytes, 500);
    cl_wsq_clear(&q);
    assert_true(cl_wsq_empty(&q));
    assert_null(q.tail);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.max_bytes, 1 << 20);
    /* usable again after clear, and clearing twice is harmless */
    assert_int_equal(cl_wsq_push_copy(&q, "x", 1, false, false), 0);
    assert_ptr_equal(q.head, q.tail);
    cl_wsq_clear(&q);
    cl_wsq_clear(&q);
    assert_true(cl_wsq_empty(&q));
}

static void test_write_one_empty(void **state)
{
    struct cl_wsq q;
    (void)state;
    cl_wsq_init(&q, 10);
    /* nothing queued: nothing written, the connection is not touched */
    assert_int_equal(cl_wsq_write_one(&q, NULL), 0);
}

/* A frame owned by owner, with one byte naming it. */
static struct cl_frame *owned(void *owner, char tag)
{
    struct cl_frame *f = cl_frame_new(1);
    cl_frame_payload(f)[0] = (unsigned char)tag;
    f->len = 1;
    f->owner = owner;
    return f;
}

static void expect_order(struct cl_wsq *q, const char *tags)
{
    size_t n = 0;
    for (struct cl_frame *f = q->head; f; f = f->next, n++)
        assert_int_equal(cl_frame_payload(f)[0], (unsigned char)tags[n]);
    assert_int_equal(n, strlen(tags));
    assert_int_equal(q->count, n);
    assert_int_equal(q->bytes, n);
}

static void test_push_urgent(void **state)
{
    struct cl_wsq q;
    int a, b, c;
    (void)state;
    cl_wsq_init(&q, 1 << 20);
    cl_wsq_push_urgent(&q, owned(&a, '1')); /* empty queue */
    expect_order(&q, "1");
    cl_wsq_clear(&q);

    cl_wsq_push(&q, owned(&b, 'b'), false);
    cl_wsq_push(&q, owned(&b, 'B'), false);
    cl_wsq_push_urgent(&q, owned(&a, 'a')); /* ahead of another owner's bulk */
    expect_order(&q, "abB");
    cl_wsq_push(&q, owned(NULL, 'C'), false); /* a control frame */
    cl_wsq_push(&q, owned(&b, 'x'), false);
    cl_wsq_push_urgent(&q, owned(&c, 'c')); /* never ahead of a control frame */
    expect_order(&q, "abBCcx");
    cl_wsq_push_urgent(&q, owned(&b, 'y')); /* nor ahead of its own owner's */
    expect_order(&q, "abBCcxy");
    assert_ptr_equal(q.tail->owner, &b);
    cl_wsq_push(&q, owned(&a, 'z'), false); /* the tail is still right */
    expect_order(&q, "abBCcxyz");
    cl_wsq_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_new),       cmocka_unit_test(test_push_and_cap),
        cmocka_unit_test(test_force_and_order), cmocka_unit_test(test_clear),
        cmocka_unit_test(test_write_one_empty), cmocka_unit_test(test_push_urgent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
