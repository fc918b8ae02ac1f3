#include "support/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mailgate::testing {

Script& Script::Send(std::string line) {
  steps_.push_back({Step::Kind::kSend, std::move(line)});
  return *this;
}
Script& Script::SendRaw(std::string bytes) {
  steps_.push_back({Step::Kind::kSendRaw, std::move(bytes)});
  return *this;
}
Script& Script::Expect(std::string pattern) {
  steps_.push_back({Step::Kind::kExpect, std::move(pattern)});
  return *this;
}
Script& Script::StartTls() {
  steps_.push_back({Step::Kind::kStartTls, ""});
  return *this;
}
Script& Script::Close() {
  steps_.push_back({Step::Kind::kClose, ""});
  return *this;
}

bool GlobMatch(std::string_view p, std::string_view t) {
  // Iterative glob with single-star backtracking.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

FakeServer::FakeServer(std::vector<Script> scripts, Options options)
    : scripts_(std::move(scripts)), options_(std::move(options)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
}

FakeServer::~FakeServer() {
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string FakeServer::Finish() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

std::vector<std::string> FakeServer::received() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

namespace {

// One accepted connection, plain or TLS.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  std::string Handshake(const std::string& cert, const std::string& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return "fake server: cannot load certificate " + cert + " / key " + key;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_accept(ssl_) != 1) {
      ERR_clear_error();
      return "TLS handshake failed (client refused or went away)";
    }
    return "";
  }

  bool SendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      } else {
        n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      }
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One line without CRLF/LF; false on EOF or error.
  bool ReadLine(std::string& line) {
    for (;;) {
      std::size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line = buf_.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buf_.erase(0, nl + 1);
        return true;
      }
      char chunk[4096];
      ssize_t n;
      if (ssl_ != nullptr) {
        n = SSL_read(ssl_, chunk, sizeof chunk);
      } else {
        n = ::recv(fd_, chunk, sizeof chunk, 0);
      }
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  bool buffered() const { return !buf_.empty(); }

 private:
  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

std::string Shown(const std::string& line) {
  if (line.size() <= 200) return line;
  return line.substr(0, 200) + "...(" + std::to_string(line.size()) + " bytes)";
}

}  // namespace

void FakeServer::Run() {
  for (std::size_t i = 0; i < scripts_.size(); ++i) {
    if (!Serve(scripts_[i], i + 1)) return;
  }
}

bool FakeServer::Serve(const Script& script, std::size_t connection) {
  auto fail = [this, connection](std::string why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) error_ = "connection " + std::to_string(connection) + ": " + why;
    return false;
  };
  pollfd pfd{listen_fd_, POLLIN, 0};
  if (::poll(&pfd, 1, options_.io_timeout_seconds * 1000) <= 0 || !(pfd.revents & POLLIN)) {
    return fail("fake server: no client connected");
  }
  int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) {
    return fail("fake server: accept failed");
  }
  timeval tv{options_.io_timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  Peer peer(fd);
  if (options_.implicit_tls) {
    std::string err = peer.Handshake(options_.cert_file, options_.key_file);
    if (!err.empty()) return fail(err);
  }
  std::size_t index = 0;
  for (const Step& step : script.steps()) {
    ++index;
    const std::string where = "step " + std::to_string(index) + ": ";
    switch (step.kind) {
      case Step::Kind::kSend:
        if (!peer.SendAll(step.text + "\r\n"))
          return fail(where + "client went away before '" + Shown(step.text) + "'");
        break;
      case Step::Kind::kSendRaw:
        if (!peer.SendAll(step.text)) return fail(where + "client went away");
        break;
      case Step::Kind::kExpect: {
        std::string line;
        if (!peer.ReadLine(line)) {
          return fail(where + "expected '" + Shown(step.text) +
                      "' but the client closed the connection or was silent");
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          received_.push_back(line);
        }
        if (!GlobMatch(step.text, line)) {
          return fail(where + "expected '" + Shown(step.text) + "', client sent '" + Shown(line) +
                      "'");
        }
        break;
      }
      case Step::Kind::kStartTls: {
        if (peer.buffered()) return fail(where + "client sent data before the TLS handshake");
        std::string err = peer.Handshake(options_.cert_file, options_.key_file);
        if (!err.empty()) return fail(where + err);
        break;
      }
      case Step::Kind::kClose:
        return true;
    }
  }
  // Script done: drain what the client still sends (QUIT...) until it closes,
  // so the client never sees a reset for a line it wrote.
  timeval drain{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof drain);
  std::string line;
  while (peer.ReadLine(line)) {
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(line);
  }
  return true;
}

}  // namespace mailgate::testing
