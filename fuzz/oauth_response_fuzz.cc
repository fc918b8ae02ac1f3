// The identity provider's JSON on any bytes (scripts/fuzz oauth_response):
// token responses and errors (RequestToken, RFC 6749 §5) and device
// authorization responses (StartDeviceAuthorization, RFC 8628 §3.2), through a
// fake HTTP client that answers with the fuzzed status and body. The first
// byte picks the call and the HTTP status, the next two a Retry-After.
// Checks, beyond "no crash under ASan":
//  - neither the client secret nor the refresh token appears in an error
//    message, and an error message has no control characters (it goes to
//    logs and terminals);
//  - 5xx and 429 answers are Transient, so the caller backs off and retries;
//  - a token response that parses has an access token and expires_in > 0;
//    a device answer that parses has an interval of at least one second;
//  - ParseOAuthError keeps a description of one line of at most 503 bytes
//    and an AADSTS code or none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "oauth/flows.h"
#include "oauth/token_endpoint.h"

namespace {

using namespace mailgate;

constexpr std::string_view kClientSecret = "client-SECRET-value-do-not-log";
constexpr std::string_view kRefreshToken = "refresh-TOKEN-value-do-not-log";

void Check(bool ok) {
  if (!ok) std::abort();
}

bool NoControl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

class FixedHttp : public http::HttpClient {
 public:
  FixedHttp(int status, std::string retry_after, std::string_view body)
      : status_(status), retry_after_(std::move(retry_after)), body_(body) {}
  StatusOr<http::Response> Send(const http::Request&) override {
    http::Response r;
    r.status = status_;
    if (!retry_after_.empty()) r.headers.emplace_back("retry-after", retry_after_);
    r.body = std::string(body_);
    return r;
  }

 private:
  int status_;
  std::string retry_after_;
  std::string_view body_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static constexpr int kStatuses[] = {200, 200, 200, 400, 401, 403, 429, 500, 503, 302};
  const int status = kStatuses[(data[0] >> 1) % 10];
  const bool device = data[0] & 1;
  const std::string retry_after = data[1] == 0 ? "" : std::to_string(data[1] * 256 + data[2]);
  const std::string_view body(reinterpret_cast<const char*>(data) + 3, size - 3);
  const bool body_has_secret = body.find(kClientSecret) != std::string_view::npos ||
                               body.find(kRefreshToken) != std::string_view::npos;

  oauth::OAuthError parsed;
  if (oauth::ParseOAuthError(body, parsed)) {
    Check(!parsed.error.empty());
    Check(parsed.description.size() <= 503);
    Check(parsed.description.find_first_of("\r\n") == std::string::npos);
    Check(parsed.code.empty() || parsed.code.rfind("AADSTS", 0) == 0);
  }

  FixedHttp http(status, retry_after, body);
  const oauth::Client client{"mailgate-fuzz", store::Secret(std::string(kClientSecret))};
  const oauth::Timeouts timeouts;
  Status failure;
  if (device) {
    oauth::Endpoints endpoints;
    endpoints.token = "https://idp.example.test/token";
    endpoints.device = "https://idp.example.test/devicecode";
    auto d = oauth::StartDeviceAuthorization(http, endpoints, client, {"scope"}, timeouts);
    if (d.ok()) {
      Check(status == 200);
      Check(d->interval >= 1);
    } else {
      failure = d.status();
    }
  } else {
    oauth::OAuthError e;
    auto t =
        oauth::RefreshGrant(http, "https://idp.example.test/token", client,
                            store::Secret(std::string(kRefreshToken)), {"scope"}, timeouts, &e);
    if (t.ok()) {
      Check(status == 200);
      Check(!t->access_token.empty());
      Check(t->expires_in > 0);
    } else {
      failure = t.status();
      if (status >= 500 || status == 429) Check(failure.kind() == Status::Kind::kTransient);
      Check(e.retry_after >= 0);
    }
  }
  if (!failure.ok()) {
    const std::string& m = failure.message();
    if (!body_has_secret) {
      Check(m.find(kClientSecret) == std::string::npos);
      Check(m.find(kRefreshToken) == std::string::npos);
    }
    Check(NoControl(m));
  }
  return 0;
}
