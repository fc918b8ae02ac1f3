// Helpers for the account integration tests: the test identity provider's
// control API, running the real `mailgate` binary, and per-test names so
// parallel runs and other suites sharing the IdP do not collide.
#ifndef MAILGATE_TESTS_ACCOUNTS_HARNESS_H_
#define MAILGATE_TESTS_ACCOUNTS_HARNESS_H_

#include <sys/types.h>

#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace mailgate::testing {

// $name or a test failure telling how to start the servers.
std::string RequireEnv(const char* name);

// A unique lowercase token for names: "<pid>x<counter>x<time>".
std::string Unique();

class Idp {
 public:
  explicit Idp(std::string base_url);
  const std::string& url() const { return base_; }
  // POST /_test/<name> with a JSON body; the parsed answer (null on error,
  // with a test failure).
  boost::json::value Control(const std::string& name, const boost::json::value& body);
  boost::json::value Stats();
  // Per-user counter (tokens_issued, refreshes, failed_reuse_attempts, ...).
  int64_t UserStat(const std::string& user, const std::string& counter);
  // Global counter: stats[table][key] (or stats[table] when key is empty).
  int64_t Stat(const std::string& table, const std::string& key = "");
  // RFC 7662 introspection of an access token.
  boost::json::value Introspect(const std::string& token);
  // A public client (device + browser) or a confidential one.
  void RegisterClient(const std::string& client_id, const std::string& secret = "",
                      const std::string& app_mailbox = "");
  http::HttpClient& http() { return *http_; }

 private:
  std::string base_;
  std::unique_ptr<http::HttpClient> http_;
};

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs the mailgate binary with `args` and extra environment.
RunResult RunMailgate(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env);

// The JSON a `--json` command printed; a non-zero exit or output that is not
// JSON is a test failure (reported with the output) and gives null.
boost::json::value JsonOutput(const RunResult& r);

// A mailgate process left running: its stdout can be read line by line.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~Child();
  pid_t pid() const { return pid_; }
  // The next stdout line, or "" at end of output / after `timeout_ms`.
  std::string ReadLine(int timeout_ms);
  // Waits for the exit; collects the rest of stdout/stderr.
  RunResult Wait();
  void Kill(int signal);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_, out_all_, err_all_;
  bool waited_ = false;
  RunResult result_;
};

// Every file under `dir`, concatenated (database, WAL, key file...).
std::string ReadTree(const std::string& dir);

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_ACCOUNTS_HARNESS_H_
