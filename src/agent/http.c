/* http: blocking libcurl requests with timeouts and a capped response body. */
#include "agent/http.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/secret.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cl__sink {
    char *buf;
    size_t len;
    size_t cap;
    bool over;
};

/* Appends into a fixed buffer of CL_HTTP_MAX_BODY; a longer body aborts the
 * transfer (returning less than offered makes libcurl fail it). */
static size_t cl__on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct cl__sink *s = ud;
    size_t n = size * nmemb;
    if (n > s->cap - s->len) {
        s->over = true;
        return 0;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return n;
}

int cl_agent_http_request(const char *url, const char *json_body, const char *ca_file,
                          long timeout_s, struct cl_agent_http_resp *resp, char *err, size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    struct cl__sink sink = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    CURL *c;
    int rc = 0;

    memset(resp, 0, sizeof *resp);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return cl_seterr(err, errlen, CL_EINVAL, "URL must start with http:// or https://");
    sink.cap = CL_HTTP_MAX_BODY;
    sink.buf = malloc(sink.cap + 1);
    if (!sink.buf)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    c = curl_easy_init();
    if (!c) {
        rc = cl_seterr(err, errlen, CL_ENOMEM, "cannot initialise libcurl");
        goto out_free_buf;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cl__on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "clawlink/" CL_VERSION);
    if (ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (json_body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    cc = curl_easy_perform(c);
    if (sink.over) {
        rc = cl_seterr(err, errlen, CL_ELIMIT, "response larger than %d bytes", CL_HTTP_MAX_BODY);
        goto out_cleanup;
    }
    if (cc != CURLE_OK) {
        rc = cl_seterr(err, errlen, CL_EIO, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
        goto out_cleanup;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    sink.buf[sink.len] = 0;
    resp->body = sink.buf;
    resp->len = sink.len;
    sink.buf = NULL;

out_cleanup:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
out_free_buf:
    if (sink.buf) {
        cl_wipe(sink.buf, sink.cap + 1);
        free(sink.buf);
    }
    return rc;
}

void cl_agent_http_resp_free(struct cl_agent_http_resp *resp)
{
    if (resp->body) {
        cl_wipe(resp->body, resp->len);
        free(resp->body);
    }
    memset(resp, 0, sizeof *resp);
}
