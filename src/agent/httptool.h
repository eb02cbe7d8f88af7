/* httptool.h - HTTP requests to the internal endpoints an admin allowed
 * (the http_request agent tool, issue 16; agent/conf.h --agent-http).
 *
 * A request goes only to the endpoint's prefix plus a normalized path:
 *   - the path is relative to the prefix (a leading '/' is dropped); no
 *     "." or ".." segment (also percent-encoded), no empty segment, no
 *     encoded '/', '\' or NUL, no scheme or "//" (an absolute URL or
 *     another host), no spaces, control bytes or '#'; a query is allowed;
 *   - the host, port and scheme are the prefix's; only http:// (no TLS
 *     client yet: https is open in issue 16);
 *   - the method must be one the endpoint allows (GET, POST); a GET has no
 *     body; a body larger than the endpoint's max_body is refused;
 *   - redirects (3xx) are not followed: they are an error naming where
 *     they point;
 *   - connect within 2 s, the whole exchange within the endpoint's timeout
 *     (default 10 s); a response larger than 256 KiB is refused; the body
 *     given to the model is cut at 12 KiB ("truncated": true).
 * HTTP/1.1 over a plain socket, "Connection: close"; Content-Length,
 * chunked or read to the end. */
#ifndef HH_AGENT_HTTPTOOL_H
#define HH_AGENT_HTTPTOOL_H

#include "agent/conf.h"
#include "base/err.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define HH_AGENT_HTTP_PATH_MAX 1024
#define HH_AGENT_HTTP_RESPONSE_MAX (256 * 1024)

/* The request target for path under the endpoint's base into out (the
 * base's path + the normalized path). HH_EINVAL with the reason. */
int hh_agent_http_target(const hh_agent_endpoint_t *ep, const char *path, char *out, size_t cap, hh_err_t *err);

/* Sends method (GET, POST) to the endpoint's prefix + path with body
 * (NULL or "" for none). 0 and *out (caller deletes) {"status",
 * "content_type", "body", "bytes", "truncated"}; the body is text, or
 * "[binary, N bytes]". HH_EINVAL with the reason the request was refused
 * (path, method, body, a redirect, a response too large); HH_EIO when the
 * endpoint cannot be reached, times out or answers malformed; HH_ENOMEM. */
int hh_agent_http_request(const hh_agent_endpoint_t *ep, const char *method, const char *path, const char *body,
                          cJSON **out, hh_err_t *err);

#endif
