#include "cli/session.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <sstream>

namespace mailgate::cli {

StatusOr<Session> OpenSession(const GlobalOptions& g, oauth::TokenManagerOptions options) {
  Session s;
  auto st = OpenStore(g);
  if (!st.ok()) return st.status();
  s.store = std::move(*st);
  s.http = http::NewCurlHttpClient({.ca_file = g.ca_file, .user_agent = "mailgate"});
  s.tokens = std::make_unique<oauth::TokenManager>(*s.store, *s.http, oauth::SystemClock(),
                                                   oauth::SystemRandom(), options);
  return s;
}

pipeline::ConnectEnv MakeConnectEnv(Session& session, const GlobalOptions& g) {
  pipeline::ConnectEnv env;
  env.ca_file = g.ca_file;
  oauth::TokenManager* tokens = session.tokens.get();
  env.tokens = [tokens](const std::string& account) -> sasl::SecretProvider {
    return oauth::MakeAccessTokenCallback(*tokens, account);
  };
  return env;
}

Status RunAsync(
    const std::function<boost::asio::awaitable<Status>(boost::asio::any_io_executor)>& body) {
  boost::asio::io_context io;
  Status result;
  auto ex = io.get_executor();
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { result = co_await body(ex); },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& err) {
          result = Status::Internal(std::string("unexpected error: ") + err.what() +
                                    "; please report this bug");
        }
      });
  io.run();
  return result;
}

void PrintError(const Status& s) {
  std::fprintf(stderr, "mailgate: %s\n", s.message().c_str());
}

int ExitFor(const Status& s) {
  return s.kind() == Status::Kind::kInvalidArgument ? 2 : 1;
}

std::string FormatTime(int64_t t) {
  if (t <= 0) return "never";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read the " + what + " file '" + path +
                                   "'; check the path and its permissions");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn(
        "the {} file '{}' is readable by other users; Mailgate keeps the {} encrypted from now "
        "on, so delete the file or `chmod 600` it",
        what, path, what);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return Status::InvalidArgument("the " + what + " file '" + path + "' is empty");
  return s;
}

}  // namespace mailgate::cli
