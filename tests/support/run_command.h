// Running a program the way a user would (the mailgate binary, say) and a
// temporary directory for the files such a test needs.
#ifndef MAILGATE_TESTS_SUPPORT_RUN_COMMAND_H_
#define MAILGATE_TESTS_SUPPORT_RUN_COMMAND_H_

#include <string>
#include <vector>

namespace mailgate::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mailgate-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` to `name` in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& content) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit = -1;  // -1: could not start, or killed by a signal
  std::string out, err;
};

// Runs argv[0] with the arguments (no shell), waits, and returns its exit
// status and everything it wrote to stdout and stderr.
CommandResult RunCommand(std::vector<std::string> argv);

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_RUN_COMMAND_H_
