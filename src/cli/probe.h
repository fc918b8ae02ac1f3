// mailgate probe: connect, authenticate, report. The building block of the
// console's Test buttons. probe_command.cc (NET) parses the arguments and runs
// POP3 and SMTP; probe_imap.cc (IMAP) runs IMAP through ProbeImap().
#ifndef MAILGATE_CLI_PROBE_H_
#define MAILGATE_CLI_PROBE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "net/connection.h"
#include "sasl/sasl.h"

namespace mailgate::cli {

// Exit statuses of `mailgate probe` beyond those of commands.h
// (0 success, 1 otherwise, 2 bad usage).
inline constexpr int kExitConnect = 3;  // connection or TLS failure
inline constexpr int kExitAuth = 4;     // authentication failure

// The parsed and validated options of `mailgate probe`.
struct ProbeArgs {
  std::string protocol;  // "imap", "pop3" or "smtp"
  std::string host;
  uint16_t port = 0;
  net::TlsMode tls = net::TlsMode::kImplicit;
  std::string user;
  std::string password_file;  // exactly one of password_file and token_file is set
  std::string token_file;
  std::optional<sasl::Mechanism> mechanism;  // nullopt: --mech auto
  std::string ca_file;                       // --ca-file of probe, else the global one
  std::chrono::seconds timeout{30};          // connect, TLS handshake and each response
  bool trace = false;                        // redacted protocol trace to stderr
  bool insecure_skip_verify = false;
  std::string send_to;  // smtp only: send a short test message to this address
};

// IMAP: connect, authenticate, SELECT INBOX, print the message count and
// UIDVALIDITY. Returns the process exit status. Implemented in probe_imap.cc.
int ProbeImap(const ProbeArgs& args);

// Helpers for the protocol probes (implemented in probe_command.cc).

// The connection options the arguments ask for (timeouts, CA file, verification).
net::ConnectOptions ProbeConnectOptions(const ProbeArgs& args);

// The authentication options: user, mechanism, and a secret provider that reads
// the password or token file (the secret alone; a trailing newline is ignored)
// on every call, so a refreshed token file is picked up on force_refresh.
sasl::AuthOptions ProbeAuthOptions(const ProbeArgs& args);

// A trace function printing the (already redacted) protocol trace to stderr
// when --trace is set, else one that drops everything.
net::TraceFn ProbeTraceFn(const ProbeArgs& args);

// Prints "mailgate probe: <message>" to stderr and returns the exit status for
// the error's kind: 4 auth, 3 connect/TLS, 2 invalid argument, 1 otherwise.
int ProbeFail(const Status& status);

}  // namespace mailgate::cli

#endif  // MAILGATE_CLI_PROBE_H_
