// The console's view of HTTP: plain structs, so routing, authentication,
// pages and the API are written and tested without Beast or Asio (those stay
// in http_server.cc, where the bytes are).
#ifndef MAILGATE_WEB_HTTP_TYPES_H_
#define MAILGATE_WEB_HTTP_TYPES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate::web {

using Params = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query, not percent-decoded
  std::string query;   // after '?', raw
  Params headers;      // names in lower case
  std::string body;
  std::string remote_ip;

  // The first header with this lower-case name, or "".
  std::string_view Header(std::string_view name) const;
  // The value of a cookie from the Cookie header, or "".
  std::string Cookie(std::string_view name) const;
};

// Who made an authenticated request.
struct Principal {
  enum class Via { kSession, kApiToken };
  Via via = Via::kSession;
  std::string user;          // console user, or "api-token:<name>"
  std::string session_hash;  // kSession: the stored hash of the session id
  std::string csrf;          // kSession: the token forms and X-CSRF-Token must carry
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  Params headers;  // extra headers (Location, Set-Cookie, ...)
  std::string body;
  // A response that is produced later (the Test buttons wait for a server):
  // the server calls `later` with a callback and sends what it is given.
  // REQUIRES: the callback is called exactly once, on the server's thread.
  std::function<void(std::function<void(HttpResponse)>)> later;

  static HttpResponse Html(std::string body, int status = 200);
  static HttpResponse Json(std::string body, int status = 200);
  static HttpResponse Text(std::string body, int status);
  // 303 See Other: after a form POST the browser GETs `location`.
  static HttpResponse Redirect(std::string location);
  static HttpResponse Later(std::function<void(std::function<void(HttpResponse)>)> start);
};

// application/x-www-form-urlencoded (form bodies and query strings).
Params ParseUrlEncoded(std::string_view text);
// The first value of `name`, or "".
std::string Param(const Params& params, std::string_view name);
bool HasParam(const Params& params, std::string_view name);
// Percent-decoding; '+' becomes a space when `plus_is_space`.
std::string UrlDecode(std::string_view text, bool plus_is_space);
// Percent-encoding of everything but unreserved characters (for paths and queries).
std::string UrlEncode(std::string_view text);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_HTTP_TYPES_H_
