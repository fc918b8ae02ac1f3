// HttpClient over libcurl: one easy handle per request (requests are rare:
// a token refresh an hour per account), so threads share nothing.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>
#include <mutex>
#include <optional>

#include "http/http_client.h"

namespace mailgate::http {
namespace {

constexpr size_t kMaxBody = size_t{4} * 1024 * 1024;

// The URL for messages: no query or fragment (they may carry codes).
std::string Printable(std::string_view url) {
  return std::string(url.substr(0, url.find_first_of("?#")));
}

struct Transfer {
  Response response;
  bool too_big = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->response.body.size() + size * n > kMaxBody) {
    t->too_big = true;
    return 0;
  }
  t->response.body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (after 100 Continue, proxy CONNECT)
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->response.headers.emplace_back(std::move(name), std::string(value));
  }
  return size * n;
}

// Adds the extra CA file to the store that already holds the system CAs.
CURLcode AddCaFile(CURL*, void* ssl_ctx, void* user) {
  const auto* path = static_cast<const std::string*>(user);
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  return X509_STORE_load_file(store, path->c_str()) == 1 ? CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  StatusOr<Response> Send(const Request& req) override {
    MAILGATE_RETURN_IF_ERROR(CheckUrlAllowed(req.url));
    CURL* curl = curl_easy_init();
    if (!curl) return Status::Internal("libcurl could not create a handle");
    struct Cleanup {
      CURL* c;
      curl_slist* h = nullptr;
      ~Cleanup() {
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
      }
    } cleanup{curl};
    for (const auto& [name, value] : req.headers) {
      cleanup.h = curl_slist_append(cleanup.h, (name + ": " + value).c_str());
    }
    // "Expect: 100-continue" would add a round trip to every token POST.
    cleanup.h = curl_slist_append(cleanup.h, "Expect:");

    Transfer t;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, cleanup.h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) {
      // The CA cache would share (and so leak our addition into) one store.
      curl_easy_setopt(curl, CURLOPT_CA_CACHE_TIMEOUT, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, AddCaFile);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &options_.ca_file);
    }
    if (req.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    } else if (req.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }

    const CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) return ErrorFor(rc, errbuf, req, t.too_big);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
    return std::move(t.response);
  }

 private:
  Status ErrorFor(CURLcode rc, const char* errbuf, const Request& req, bool too_big) {
    const std::string url = Printable(req.url);
    const std::string detail = *errbuf ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return Status::Transient("no answer from " + url + " within " +
                                 std::to_string(req.total_timeout.count() / 1000) +
                                 " s; it will be retried");
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return Status::Connect("cannot reach " + url + " (" + detail +
                               "); check the address, the network and HTTPS_PROXY");
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
        return Status::Tls("TLS with " + url + " failed (" + detail +
                           "); if the server uses a private CA, pass it with --ca-file");
      case CURLE_WRITE_ERROR:
        if (too_big) return Status::Protocol("the answer from " + url + " is larger than 4 MB");
        [[fallthrough]];
      default:
        return Status::Transient("HTTP request to " + url + " failed (" + detail + ")");
    }
  }

  CurlOptions options_;
};

}  // namespace

std::string_view Response::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

namespace {

struct UrlParts {
  std::string scheme;  // lowercased
  std::string host;    // without brackets
};

// Just enough of RFC 3986 §3 to judge a URL's scheme and host. (Boost.URL
// 1.81 takes "127.0.0.1.evil.com" for the IPv4 host 127.0.0.1, so the
// loopback decision must not rest on it.)
std::optional<UrlParts> SplitUrl(std::string_view url) {
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  UrlParts p;
  for (char c : url.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::nullopt;
    }
    p.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view authority = url.substr(colon + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    p.host = authority.substr(1, close - 1);
  } else {
    p.host = authority.substr(0, authority.find(':'));
  }
  for (char& c : p.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p.host.empty() || p.host.find_first_of(" \t\r\n") != std::string::npos) return std::nullopt;
  return p;
}

}  // namespace

bool IsLoopbackUrl(std::string_view url) {
  auto p = SplitUrl(url);
  if (!p || (p->scheme != "http" && p->scheme != "https")) return false;
  if (p->host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, p->host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  return ::inet_pton(AF_INET6, p->host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

Status CheckUrlAllowed(std::string_view url) {
  auto p = SplitUrl(url);
  if (!p) return Status::InvalidArgument("'" + Printable(url) + "' is not a valid URL");
  if (p->scheme == "https") return Status::Ok();
  if (p->scheme == "http" && IsLoopbackUrl(url)) return Status::Ok();
  return Status::InvalidArgument("'" + Printable(url) +
                                 "' must use https:// (plain http:// is accepted only for "
                                 "loopback addresses such as 127.0.0.1)");
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k);
    out += '=';
    out += PercentEncode(v);
  }
  return out;
}

std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace mailgate::http
