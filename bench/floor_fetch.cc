// bench_floor_fetch: the floor of the download benchmark. The least work any
// IMAP downloader can do: one TLS connection, authenticate, SELECT INBOX, one
// `UID FETCH 1:* (BODY.PEEK[])`, read every byte and throw it away. No storage,
// no per-message round trip, no parsing beyond finding the literals. What a
// real downloader costs above this line is its own overhead.
//
//   bench_floor_fetch --host 127.0.0.1 --port 993 --ca ca.pem [--tls-name localhost]
//                     --user U (--password-file F | --token-file F)
//
// Prints one line, `literals=N literal_bytes=B bytes=T auth=XOAUTH2|LOGIN`, so the
// harness can check that every message came through. The secret is read from a
// file, never from argv (which any local user can see in ps).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "993";
  std::string ca;
  std::string tls_name;  // defaults to host
  std::string user;
  std::string password_file;
  std::string token_file;
};

[[noreturn]] void Fail(const std::string& what) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail += std::string("; ") + buf;
  }
  throw std::runtime_error(what + detail);
}

std::string ReadSecret(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RFC 3501 quoted string; LOGIN needs it for passwords with spaces or quotes.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

int Connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("resolve " + host + ": " + gai_strerror(rc));
  int fd = -1;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error("connect " + host + ":" + port + ": " + strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A blocking TLS connection with a read buffer and a tiny IMAP response reader.
class Session {
 public:
  explicit Session(const Options& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) Fail("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(ctx_, o.ca.c_str(), nullptr) != 1) Fail("load CA " + o.ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = Connect(o.host, o.port);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    const std::string& name = o.tls_name.empty() ? o.host : o.tls_name;
    in6_addr addr;
    if (inet_pton(AF_INET, name.c_str(), &addr) == 1 || inet_pton(AF_INET6, name.c_str(), &addr) == 1) {
      // An IP address: no SNI (RFC 6066 section 3 forbids it), match an IP SAN.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      SSL_set1_host(ssl_, name.c_str());
    }
    if (SSL_connect(ssl_) != 1) Fail("TLS handshake with " + o.host + ":" + o.port);
  }
  ~Session() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      int n = SSL_write(ssl_, s.data() + off, static_cast<int>(s.size() - off));
      if (n <= 0) Fail("TLS write");
      off += static_cast<size_t>(n);
    }
  }

  // Reads one response line (CRLF stripped). A line announcing a literal is
  // returned with the literal consumed and counted, and the rest of the line
  // appended, so "* 1 FETCH (UID 1 BODY[] {N}" + N bytes + ")" reads as one
  // line "* 1 FETCH (UID 1 BODY[] {N})".
  std::string ReadResponse() {
    std::string line;
    for (;;) {
      line += ReadLine();
      uint64_t size = 0;
      if (!LiteralAtEnd(line, &size)) return line;
      Skip(size);
      ++literals_;
      literal_bytes_ += size;
    }
  }

  uint64_t bytes() const { return bytes_; }
  uint64_t literals() const { return literals_; }
  uint64_t literal_bytes() const { return literal_bytes_; }

 private:
  // "{123}" or "{123+}" at the end of a line (RFC 3501 section 4.3, RFC 7888).
  static bool LiteralAtEnd(const std::string& line, uint64_t* size) {
    if (line.empty() || line.back() != '}') return false;
    size_t open = line.rfind('{');
    if (open == std::string::npos) return false;
    size_t end = line.size() - 1;
    if (end > open + 1 && line[end - 1] == '+') --end;
    if (end == open + 1 || end - open > 20) return false;
    uint64_t n = 0;
    for (size_t i = open + 1; i < end; ++i) {
      if (line[i] < '0' || line[i] > '9') return false;
      n = n * 10 + static_cast<uint64_t>(line[i] - '0');
    }
    *size = n;
    return true;
  }

  void Fill() {
    int n = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
    if (n <= 0) Fail("connection closed by the server while reading");
    pos_ = 0;
    len_ = static_cast<size_t>(n);
    bytes_ += len_;
  }

  std::string ReadLine() {
    std::string line;
    for (;;) {
      if (pos_ == len_) Fill();
      const char* start = buf_.data() + pos_;
      const void* nl = std::memchr(start, '\n', len_ - pos_);
      if (nl) {
        size_t n = static_cast<size_t>(static_cast<const char*>(nl) - start);
        line.append(start, n);
        pos_ += n + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      line.append(start, len_ - pos_);
      pos_ = len_;
      if (line.size() > 1 << 20) throw std::runtime_error("response line over 1 MB");
    }
  }

  void Skip(uint64_t n) {
    while (n > 0) {
      if (pos_ == len_) Fill();
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, len_ - pos_));
      pos_ += take;
      n -= take;
    }
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::vector<char> buf_ = std::vector<char>(size_t{256} * 1024);
  size_t pos_ = 0, len_ = 0;
  uint64_t bytes_ = 0, literals_ = 0, literal_bytes_ = 0;
};

// Reads until the tagged reply for `tag`; fails unless it is OK.
void Expect(Session& s, const std::string& tag, const char* what) {
  for (;;) {
    std::string line = s.ReadResponse();
    if (line.compare(0, tag.size() + 1, tag + " ") != 0) continue;
    if (line.compare(tag.size() + 1, 3, "OK ") != 0 && line != tag + " OK")
      throw std::runtime_error(std::string(what) + " failed: " + line.substr(0, 200));
    return;
  }
}

int Run(const Options& o) {
  Session s(o);
  std::string greeting = s.ReadResponse();
  if (greeting.rfind("* OK", 0) != 0) throw std::runtime_error("unexpected greeting: " + greeting);

  const char* auth;
  if (!o.token_file.empty()) {
    // XOAUTH2 with an initial response (SASL-IR, RFC 4959), as Dovecot offers.
    std::string token = ReadSecret(o.token_file);
    s.Send("a1 AUTHENTICATE XOAUTH2 " +
           Base64("user=" + o.user + "\x01" + "auth=Bearer " + token + "\x01\x01") + "\r\n");
    auth = "XOAUTH2";
  } else {
    s.Send("a1 LOGIN " + Quoted(o.user) + " " + Quoted(ReadSecret(o.password_file)) + "\r\n");
    auth = "LOGIN";
  }
  Expect(s, "a1", "authentication");
  // SELECT and the FETCH go out together: the server runs them in order, and a
  // floor should not pay a round trip a pipelining client would not.
  s.Send("a2 SELECT INBOX\r\na3 UID FETCH 1:* (BODY.PEEK[])\r\n");
  Expect(s, "a2", "SELECT INBOX");
  Expect(s, "a3", "UID FETCH");
  s.Send("a4 LOGOUT\r\n");
  std::printf("literals=%llu literal_bytes=%llu bytes=%llu auth=%s\n",
              static_cast<unsigned long long>(s.literals()),
              static_cast<unsigned long long>(s.literal_bytes()),
              static_cast<unsigned long long>(s.bytes()), auth);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--host") o.host = value();
      else if (a == "--port") o.port = value();
      else if (a == "--ca") o.ca = value();
      else if (a == "--tls-name") o.tls_name = value();
      else if (a == "--user") o.user = value();
      else if (a == "--password-file") o.password_file = value();
      else if (a == "--token-file") o.token_file = value();
      else throw std::runtime_error("unknown option " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_floor_fetch: %s\n", e.what());
      return 2;
    }
  }
  if (o.ca.empty() || o.user.empty() || (o.password_file.empty() == o.token_file.empty())) {
    std::fprintf(stderr,
                 "usage: bench_floor_fetch --host H --port P --ca CA [--tls-name N] --user U "
                 "(--password-file F | --token-file F)\n");
    return 2;
  }
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_floor_fetch: %s\n", e.what());
    return 1;
  }
}
