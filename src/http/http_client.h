// A small HTTP client interface for the identity providers' token endpoints.
//
// Everything that talks HTTP takes an HttpClient&, so tests inject faults
// (timeouts, 5xx, garbage) without global hooks; the real one is libcurl.
//
// Thread safety: Send() may be called from several threads at once on the
// same client.
#ifndef MAILGATE_HTTP_HTTP_CLIENT_H_
#define MAILGATE_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mailgate::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // Every request has both; a hung server costs at most `total_timeout`.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds total_timeout{30000};
};

struct Response {
  int status = 0;
  Headers headers;  // names lowercased
  std::string body;

  // The first header with this (lowercase) name, or "".
  std::string_view Header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends the request. Any HTTP status is a Response; only failures to get
  // one are errors: kConnect (refused, DNS, proxy), kTransient (timeout, reset),
  // kTls (certificate), kInvalidArgument (URL not allowed).
  // Bodies are not logged: they may carry secrets.
  virtual StatusOr<Response> Send(const Request& request) = 0;
};

struct CurlOptions {
  // An extra trusted CA bundle (PEM), in addition to the system's.
  std::string ca_file;
  std::string user_agent = "mailgate";
};

// libcurl-backed client. Proxies come from the environment (HTTPS_PROXY,
// NO_PROXY, ...) as libcurl reads them. Only https:// URLs are accepted,
// and http:// on loopback addresses (local identity providers, tests).
std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options);

// True for http(s) URLs whose host is 127.0.0.0/8, ::1 or localhost.
bool IsLoopbackUrl(std::string_view url);
// OK for https:// URLs and loopback http:// ones; otherwise says what to do.
Status CheckUrlAllowed(std::string_view url);

// application/x-www-form-urlencoded body from pairs.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view text);

}  // namespace mailgate::http

#endif  // MAILGATE_HTTP_HTTP_CLIENT_H_
