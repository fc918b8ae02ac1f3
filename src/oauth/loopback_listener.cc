#include "oauth/loopback_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/url/parse.hpp>
#include <cerrno>
#include <cstring>

namespace mailgate::oauth {
namespace {

constexpr size_t kMaxRequest = size_t{64} * 1024;

void Reply(int fd, int status, std::string_view reason, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                    std::to_string(body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  out += body;
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

// Reads the request head (up to the blank line) before `deadline`.
bool ReadHead(int fd, std::chrono::steady_clock::time_point deadline, std::string& head) {
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequest) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 5000))) <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    head.append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

LoopbackListener::LoopbackListener(int fd, int port)
    : fd_(fd), redirect_uri_("http://127.0.0.1:" + std::to_string(port) + "/") {}

LoopbackListener::~LoopbackListener() {
  ::close(fd_);
}

StatusOr<std::unique_ptr<LoopbackListener>> LoopbackListener::Start(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Io(std::string("cannot create a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Io("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                      std::strerror(err) + "; choose another port or use --flow device");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<LoopbackListener>(new LoopbackListener(fd, ntohs(addr.sin_port)));
}

StatusOr<AuthorizationResponse> LoopbackListener::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Transient("no answer from the browser within " +
                               std::to_string(timeout.count() / 1000) +
                               " s; run the command again (or use --flow device on a machine "
                               "without a browser)");
    }
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (rc <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string head;
    const bool got = ReadHead(
        c, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(10)), head);
    if (!got) {
      ::close(c);
      continue;
    }
    // "GET /?code=...&state=... HTTP/1.1"
    const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    std::string target = sp1 == std::string::npos || sp2 == std::string::npos
                             ? ""
                             : head.substr(sp1 + 1, sp2 - sp1 - 1);
    auto u = boost::urls::parse_origin_form(target);
    if (!u || u->path() != "/" || !head.starts_with("GET ")) {
      Reply(c, 404, "Not Found", "Not found.");
      ::close(c);
      continue;
    }
    AuthorizationResponse r;
    for (auto param : u->params()) {
      if (param.key == "code") r.code = param.value;
      if (param.key == "state") r.state = param.value;
      if (param.key == "error") r.error = param.value;
      if (param.key == "error_description") r.error_description = param.value;
    }
    std::fill(head.begin(), head.end(), '\0');
    std::fill(target.begin(), target.end(), '\0');
    if (r.code.empty() && r.error.empty()) {
      Reply(c, 400, "Bad Request", "This page expects the identity provider's redirect.");
      ::close(c);
      continue;
    }
    Reply(c, 200, "OK",
          r.error.empty()
              ? "<!DOCTYPE html><title>Mailgate</title><p>Mailgate received the authorization. "
                "You can close this window and return to the terminal.</p>"
              : "<!DOCTYPE html><title>Mailgate</title><p>The sign-in was refused; the terminal "
                "shows why.</p>");
    ::close(c);
    return r;
  }
}

}  // namespace mailgate::oauth
