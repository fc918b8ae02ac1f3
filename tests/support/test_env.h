// The test environment of tests/servers/testenv (real Dovecot, Postfix and the
// test IdP), read from the MAILGATE_TEST_* variables of DIR/env.sh.
//
// Integration tests FAIL (never skip) when the variables are missing: Env()
// throws, and gtest reports the message "start the servers: ...".
#ifndef MAILGATE_TESTS_SUPPORT_TEST_ENV_H_
#define MAILGATE_TESTS_SUPPORT_TEST_ENV_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailgate::testing {

struct TestEnv {
  std::string dir;
  std::string ca;                 // PEM of the test CA
  std::string host;               // 127.0.0.1
  std::string tls_name;           // localhost: the name in the servers' certificate
  std::string domain;             // example.test
  uint16_t imap_port = 0;         // STARTTLS
  uint16_t imaps_port = 0;        // implicit TLS
  uint16_t pop3_port = 0;         // STLS
  uint16_t pop3s_port = 0;        // implicit TLS
  uint16_t submission_port = 0;   // Postfix, STARTTLS required before AUTH
  uint16_t submissions_port = 0;  // Postfix, implicit TLS
  uint16_t dovecot_submission_port = 0;
  uint16_t lmtp_port = 0;
  std::string idp_url;
  std::string pg_url;
  std::string wrong_host_cert, wrong_host_key;  // from the test CA, for wrong.example
  std::string rogue_cert, rogue_key;            // self-signed, for localhost
  std::string add_user;                         // command: append USER PASSWORD
  bool postfix = false;
};

// Throws std::runtime_error naming the missing variable and how to start the servers.
const TestEnv& Env();

// "prefix-<random>@<domain>": every test uses its own mailbox, so tests run in
// parallel against one set of servers.
std::string UniqueUser(std::string_view prefix);

// An access token from the IdP (POST /_test/token) for `user` with `scopes`
// (space-separated), valid for `lifetime_seconds`.
StatusOr<std::string> MintToken(const std::string& user, const std::string& scopes,
                                int lifetime_seconds = 600);

// POST IDP_URL/_test/<path> with a JSON body (revoke, expire, settings...);
// returns the response body. Non-2xx answers are errors.
StatusOr<std::string> IdpControl(const std::string& path, const std::string& json);

// Gives `user` a password in Dovecot's passwd-file (MAILGATE_TEST_ADD_USER).
Status AddPasswordUser(const std::string& user, const std::string& password);

// Delivers `message` (CRLF or LF lines) to `user`'s INBOX through Dovecot's LMTP.
Status DeliverByLmtp(const std::string& user, const std::string& message);

// Submits `message` from the password user `from` to `rcpt` through Postfix's
// submission port (STARTTLS required, AUTH, the test CA verified), as a mail
// client would; Postfix then delivers it by LMTP in the background.
Status SubmitBySmtp(const std::string& from, const std::string& password, const std::string& rcpt,
                    const std::string& message);

// The scopes of Microsoft's delegated permissions, as the IdP knows them.
inline constexpr char kImapScope[] = "https://outlook.office.com/IMAP.AccessAsUser.All";
inline constexpr char kPopScope[] = "https://outlook.office.com/POP.AccessAsUser.All";
inline constexpr char kSmtpScope[] = "https://outlook.office.com/SMTP.Send";

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_TEST_ENV_H_
