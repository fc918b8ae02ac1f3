// The Test buttons' runner: connects to a mailbox or transport as configured
// in a form (not yet saved) and reports each step. The real one runs
// pipeline::TestMailbox/TestTransport on the server's io_context
// (pipeline_tester.h); tests give a fake.
#ifndef MAILGATE_WEB_CONNECTION_TESTER_H_
#define MAILGATE_WEB_CONNECTION_TESTER_H_

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::web {

struct TestOutcome {
  Status status;
  std::vector<store::RunLogLine> lines;  // never hold a secret (pipeline::RunLog's contract)
};

class ConnectionTester {
 public:
  using Done = std::function<void(TestOutcome)>;
  virtual ~ConnectionTester() = default;
  // Calls `done` once, on the server's thread, when the test is over.
  virtual void TestMailbox(store::Mailbox mailbox, Done done) = 0;
  // With a non-empty `send_to`, also sends a test message there.
  virtual void TestTransport(store::Transport transport, std::string send_to, Done done) = 0;
};

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONNECTION_TESTER_H_
