// Mailbox and transport configuration: the rules a configuration must follow
// (checked once, where users enter it: CLI, console, API) and the connection
// options it turns into for the protocol clients.
#ifndef MAILGATE_PIPELINE_CONFIG_H_
#define MAILGATE_PIPELINE_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/connection.h"
#include "sasl/sasl.h"
#include "store/store.h"

namespace mailgate::pipeline {

// What happens on the server to a message once it is durably stored.
struct AfterDownload {
  enum class Kind { kDelete, kMarkSeen, kMove, kKeep };
  Kind kind = Kind::kDelete;
  std::string folder;  // kMove only
};

// "delete", "mark-seen", "move:<folder>", "keep". POP3 allows only delete and
// keep (it has no flags and no folders). Errors say which values are allowed.
StatusOr<AfterDownload> ParseAfterDownload(std::string_view text, std::string_view protocol);

// Checks a mailbox's configuration and normalises it in place (lower-case
// choices, trimmed host). Errors are kInvalidArgument and say what to fix.
Status NormalizeMailbox(store::Mailbox& mailbox);
Status NormalizeTransport(store::Transport& transport);

// The port to connect to: the configured one, else the default for the
// protocol and encryption (IMAP 143/993, POP3 110/995, SMTP 587/465/25).
uint16_t EffectivePort(const store::Mailbox& mailbox);
uint16_t EffectivePort(const store::Transport& transport);

net::TlsMode TlsModeFor(std::string_view encryption);

// What connecting needs beyond the configuration.
struct ConnectEnv {
  std::string ca_file;  // extra trusted CA (PEM); empty: the system store only
  // A token source for a connected account (`force_refresh` as in
  // sasl::SecretProvider). Required for xoauth2/oauthbearer.
  std::function<sasl::SecretProvider(const std::string& account)> tokens;
  net::TraceFn trace;  // empty: debug-level log lines
};

net::ConnectOptions ConnectOptionsFor(const store::Mailbox& mailbox, const ConnectEnv& env);
net::ConnectOptions ConnectOptionsFor(const store::Transport& transport, const ConnectEnv& env);

// The SASL options: user, mechanism (XOAUTH2/OAUTHBEARER for tokens; for a
// password the best the server offers) and the secret source.
StatusOr<sasl::AuthOptions> AuthOptionsFor(const store::Mailbox& mailbox, const ConnectEnv& env);
// kInvalidArgument when the transport authenticates with `none`.
StatusOr<sasl::AuthOptions> AuthOptionsFor(const store::Transport& transport,
                                           const ConnectEnv& env);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_CONFIG_H_
