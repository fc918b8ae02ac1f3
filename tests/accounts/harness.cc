#include "tests/accounts/harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace mailgate::testing {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    ADD_FAILURE() << name
                  << " is not set: start the servers: tests/servers/testenv start, then "
                     "`. $dir/env.sh` (scripts/test does both)";
    return "";
  }
  return v;
}

std::string Unique() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "x" + std::to_string(n++) + "x" +
         std::to_string(::time(nullptr) % 1000000);
}

Idp::Idp(std::string base_url) : base_(std::move(base_url)), http_(http::NewCurlHttpClient({})) {}

boost::json::value Idp::Control(const std::string& name, const boost::json::value& body) {
  http::Request req;
  req.method = "POST";
  req.url = base_ + "/_test/" + name;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = boost::json::serialize(body);
  auto r = http_->Send(req);
  if (!r.ok() || r->status != 200) {
    ADD_FAILURE() << "IdP control " << name << " failed: "
                  << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString());
    return nullptr;
  }
  return boost::json::parse(r->body);
}

boost::json::value Idp::Stats() {
  http::Request req;
  req.url = base_ + "/_test/stats";
  auto r = http_->Send(req);
  if (!r.ok()) {
    ADD_FAILURE() << "IdP stats: " << r.status().ToString();
    return nullptr;
  }
  return boost::json::parse(r->body);
}

int64_t Idp::UserStat(const std::string& user, const std::string& counter) {
  auto s = Stats();
  if (!s.is_object()) return -1;
  const auto* users = s.as_object().if_contains("users");
  if (!users || !users->is_object()) return 0;
  const auto* u = users->as_object().if_contains(user);
  if (!u) return 0;
  const auto* c = u->as_object().if_contains(counter);
  return c && c->is_int64() ? c->as_int64() : 0;
}

int64_t Idp::Stat(const std::string& table, const std::string& key) {
  auto s = Stats();
  if (!s.is_object()) return -1;
  const auto* t = s.as_object().if_contains(table);
  if (!t) return 0;
  if (key.empty()) return t->is_int64() ? t->as_int64() : 0;
  const auto* c = t->is_object() ? t->as_object().if_contains(key) : nullptr;
  return c && c->is_int64() ? c->as_int64() : 0;
}

boost::json::value Idp::Introspect(const std::string& token) {
  http::Request req;
  req.method = "POST";
  req.url = base_ + "/introspect";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = http::FormEncode({{"token", token}});
  auto r = http_->Send(req);
  if (!r.ok()) {
    ADD_FAILURE() << "introspect: " << r.status().ToString();
    return nullptr;
  }
  return boost::json::parse(r->body);
}

void Idp::RegisterClient(const std::string& client_id, const std::string& secret,
                         const std::string& app_mailbox) {
  boost::json::object spec{{"client_id", client_id}};
  if (!secret.empty()) {
    spec["client_secret"] = secret;
    spec["app_permissions"] =
        boost::json::array{"IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"};
  }
  if (!app_mailbox.empty()) spec["app_mailbox"] = app_mailbox;
  Control("clients", spec);
}

namespace {

std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (!extra.count(key)) env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

Child::Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe";
    return;
  }
  std::vector<std::string> argv_s = {MAILGATE_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = BuildEnv(env);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

Child::~Child() {
  if (!waited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

std::string Child::ReadLine(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (size_t nl = out_buf_.find('\n'); nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (::poll(p, 2, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n > 0) err_all_.append(buf, static_cast<size_t>(n));
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return "";
      out_buf_.append(buf, static_cast<size_t>(n));
      out_all_.append(buf, static_cast<size_t>(n));
    }
  }
}

void Child::Kill(int signal) {
  if (pid_ > 0 && !waited_) ::kill(pid_, signal);
}

RunResult Child::Wait() {
  if (waited_) return result_;
  // Read both pipes to the end so the child never blocks on a full pipe.
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out_fd_ : -1, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
    if (::poll(p, 2, 120000) <= 0) break;
    char buf[8192];
    if (out_open && (p[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) {
        out_open = false;
      } else {
        out_all_.append(buf, static_cast<size_t>(n));
      }
    }
    if (err_open && (p[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n <= 0) {
        err_open = false;
      } else {
        err_all_.append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  waited_ = true;
  result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result_.out = out_all_;
  result_.err = err_all_;
  return result_;
}

boost::json::value JsonOutput(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  try {
    return boost::json::parse(r.out);
  } catch (const std::exception&) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return nullptr;
  }
}

RunResult RunMailgate(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env) {
  Child c(args, env);
  return c.Wait();
}

std::string ReadTree(const std::string& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

}  // namespace mailgate::testing
