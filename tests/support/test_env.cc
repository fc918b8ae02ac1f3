#include "support/test_env.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace mailgate::testing {

namespace {

constexpr char kStartHint[] =
    "; start the servers: d=$(tests/servers/testenv start) && . $d/env.sh (see "
    "tests/servers/README.md)";

std::string Var(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) + " is not set" + kStartHint);
  }
  return v;
}

uint16_t Port(const char* name) {
  const std::string v = Var(name);
  const long n = std::strtol(v.c_str(), nullptr, 10);
  if (n <= 0 || n > 65535) throw std::runtime_error(std::string(name) + " is not a port");
  return static_cast<uint16_t>(n);
}

TestEnv Load() {
  TestEnv e;
  e.dir = Var("MAILGATE_TEST_DIR");
  e.ca = Var("MAILGATE_TEST_CA");
  e.host = Var("MAILGATE_TEST_HOST");
  e.tls_name = Var("MAILGATE_TEST_TLS_NAME");
  e.domain = Var("MAILGATE_TEST_DOMAIN");
  e.imap_port = Port("MAILGATE_TEST_IMAP_PORT");
  e.imaps_port = Port("MAILGATE_TEST_IMAPS_PORT");
  e.pop3_port = Port("MAILGATE_TEST_POP3_PORT");
  e.pop3s_port = Port("MAILGATE_TEST_POP3S_PORT");
  e.lmtp_port = Port("MAILGATE_TEST_LMTP_PORT");
  e.dovecot_submission_port = Port("MAILGATE_TEST_DOVECOT_SUBMISSION_PORT");
  e.idp_url = Var("MAILGATE_TEST_IDP_URL");
  e.wrong_host_cert = Var("MAILGATE_TEST_WRONG_HOST_CERT");
  e.wrong_host_key = Var("MAILGATE_TEST_WRONG_HOST_KEY");
  e.rogue_cert = Var("MAILGATE_TEST_ROGUE_CERT");
  e.rogue_key = Var("MAILGATE_TEST_ROGUE_KEY");
  e.add_user = Var("MAILGATE_TEST_ADD_USER");
  const char* pg = std::getenv("MAILGATE_TEST_PG_URL");
  e.pg_url = pg ? pg : "";
  const char* postfix = std::getenv("MAILGATE_TEST_POSTFIX");
  e.postfix = postfix == nullptr || std::string(postfix) != "0";
  if (e.postfix) {
    e.submission_port = Port("MAILGATE_TEST_SUBMISSION_PORT");
    e.submissions_port = Port("MAILGATE_TEST_SUBMISSIONS_PORT");
  }
  return e;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

StatusOr<std::string> Post(const std::string& url, const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Status::Connect(std::string("POST ") + url + ": " + curl_easy_strerror(rc) + kStartHint);
  }
  if (code < 200 || code > 299) {
    return Status::Internal("POST " + url + " answered " + std::to_string(code) + ": " +
                            response.substr(0, 300));
  }
  return response;
}

std::string JsonString(const std::string& s) {
  return boost::json::serialize(boost::json::value(s));
}

// Blocking line I/O for LMTP.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads a full (multi-line) reply; returns the last line, or "" on error.
  std::string Reply() {
    for (;;) {
      std::string line;
      if (!ReadLine(line)) return "";
      if (line.size() < 4 || line[3] != '-') return line;
    }
  }

 private:
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
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  int fd_;
  std::string buf_;
};

}  // namespace

const TestEnv& Env() {
  static const TestEnv env = Load();
  return env;
}

std::string UniqueUser(std::string_view prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::ostringstream out;
  out << prefix << '-' << std::hex << rng() << '@' << Env().domain;
  return out.str();
}

StatusOr<std::string> MintToken(const std::string& user, const std::string& scopes,
                                int lifetime_seconds) {
  const std::string body = "{\"user\":" + JsonString(user) + ",\"scope\":" + JsonString(scopes) +
                           ",\"lifetime\":" + std::to_string(lifetime_seconds) + "}";
  auto resp = Post(Env().idp_url + "/_test/token", body);
  if (!resp.ok()) return resp.status();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*resp, ec);
  if (ec || !v.is_object() || !v.as_object().contains("access_token")) {
    return Status::Internal("the IdP's /_test/token answer has no access_token: " +
                            resp->substr(0, 200));
  }
  return std::string(v.as_object().at("access_token").as_string());
}

StatusOr<std::string> IdpControl(const std::string& path, const std::string& json) {
  return Post(Env().idp_url + "/_test/" + path, json);
}

Status AddPasswordUser(const std::string& user, const std::string& password) {
  // MAILGATE_TEST_ADD_USER is "<testenv> add-user DIR": split on spaces (the
  // paths have none), append the arguments, and run it without a shell.
  std::vector<std::string> argv;
  std::istringstream in(Env().add_user);
  for (std::string w; in >> w;) argv.push_back(w);
  argv.push_back(user);
  argv.push_back(password);
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal("add-user failed for " + user + " (exit " +
                            std::to_string(WEXITSTATUS(status)) + ")");
  }
  return Status::Ok();
}

namespace {

struct Upload {
  std::string data;
  size_t at = 0;
};

size_t ReadUpload(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, up->data.size() - up->at);
  std::memcpy(buf, up->data.data() + up->at, len);
  up->at += len;
  return len;
}

}  // namespace

Status SubmitBySmtp(const std::string& from, const std::string& password, const std::string& rcpt,
                    const std::string& message) {
  const TestEnv& env = Env();
  Upload up;
  for (size_t i = 0; i < message.size(); ++i) {  // CRLF line ends
    if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r')) up.data += '\r';
    up.data += message[i];
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  std::string url = "smtp://";
  url += env.tls_name;
  url += ":" + std::to_string(env.submission_port);
  curl_slist* rcpts = curl_slist_append(nullptr, rcpt.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(curl, CURLOPT_CAINFO, env.ca.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, from.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, password.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &up);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpts);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Status::Connect(std::string("submission to Postfix failed: ") + curl_easy_strerror(rc) +
                           kStartHint);
  }
  return Status::Ok();
}

Status DeliverByLmtp(const std::string& user, const std::string& message) {
  const TestEnv& env = Env();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Internal("socket failed");
  Socket sock(fd);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(env.lmtp_port);
  ::inet_pton(AF_INET, env.host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Connect(std::string("cannot connect to LMTP") + kStartHint);
  }
  auto expect = [&](const std::string& send, char want) -> Status {
    if (!send.empty() && !sock.Send(send)) return Status::Connect("LMTP write failed");
    const std::string reply = sock.Reply();
    if (reply.empty() || reply[0] != want) {
      return Status::Internal("LMTP: after '" + send.substr(0, 40) + "' got '" + reply + "'");
    }
    return Status::Ok();
  };
  MAILGATE_RETURN_IF_ERROR(expect("", '2'));
  MAILGATE_RETURN_IF_ERROR(expect("LHLO mailgate.test\r\n", '2'));
  MAILGATE_RETURN_IF_ERROR(expect("MAIL FROM:<sender@" + env.domain + ">\r\n", '2'));
  MAILGATE_RETURN_IF_ERROR(expect("RCPT TO:<" + user + ">\r\n", '2'));
  MAILGATE_RETURN_IF_ERROR(expect("DATA\r\n", '3'));
  std::string data;
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (line_start && c == '.') data += '.';
    if (c == '\n' && (i == 0 || message[i - 1] != '\r')) data += '\r';
    data += c;
    line_start = c == '\n';
  }
  if (!line_start) data += "\r\n";
  data += ".\r\n";
  MAILGATE_RETURN_IF_ERROR(expect(data, '2'));  // one reply per recipient (RFC 2033)
  sock.Send("QUIT\r\n");
  return Status::Ok();
}

}  // namespace mailgate::testing
