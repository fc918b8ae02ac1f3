// The one SASL layer of Mailgate (after curl's curl_sasl.c + vauth/): pure
// mechanisms that build and parse strings and do no I/O. IMAP, POP3 and SMTP
// each carry the exchange over their own framing (continuation "+ " or "334 ")
// and base64-encode what goes on the wire.
//
// Secrets: an Exchange holds the secret it was given; nothing here logs, and no
// Status returned from this layer contains a user name's secret or a token.
#ifndef MAILGATE_SASL_SASL_H_
#define MAILGATE_SASL_SASL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::sasl {

enum class Mechanism { kXoauth2, kOauthBearer, kPlain, kLogin };

// "XOAUTH2", "OAUTHBEARER", "PLAIN", "LOGIN" (the IANA names, as on the wire).
std::string_view MechanismName(Mechanism);
// Parses a name case-insensitively ("xoauth2" -> kXoauth2); nullopt if unknown.
std::optional<Mechanism> ParseMechanism(std::string_view name);
bool IsOAuth(Mechanism);

// Picks a mechanism: `configured` if set, else the best the server offers for the kind of
// secret we hold (token: XOAUTH2 then OAUTHBEARER; password: PLAIN then LOGIN).
// `server_mechanisms` are the names the server advertised (any case). When it advertised
// none at all (some servers omit the list) a configured mechanism is trusted as is.
// Errors: Status::Auth when the server offers nothing usable (the message lists what it
// offers and what to change).
StatusOr<Mechanism> Choose(std::optional<Mechanism> configured,
                           const std::vector<std::string>& server_mechanisms, bool have_token);

struct Credentials {
  std::string user;    // authorization identity (XOAUTH2 user=, OAUTHBEARER a=), PLAIN/LOGIN user
  std::string secret;  // password or access token
  std::string host;    // OAUTHBEARER host= (omitted when empty)
  uint16_t port = 0;   // OAUTHBEARER port= (omitted when 0)
};

// One authentication exchange. Strings are raw bytes; protocols base64-encode.
//
// Protocol usage (curl's model):
//   1. Check Validate().
//   2. If the protocol allows an initial response (IMAP SASL-IR, SMTP within 512 octets),
//      send InitialResponse() with the command. Otherwise send the bare command and answer
//      the server's first (empty) challenge with Respond(""), which yields the initial
//      response for mechanisms that have one.
//   3. Answer every further challenge with Respond(decoded challenge) until the server
//      sends its final success or failure.
//   4. On failure, put oauth_error() (when non-empty) into the error message.
class Exchange {
 public:
  Exchange(Mechanism mech, Credentials creds);

  Mechanism mechanism() const { return mech_; }

  // Rejects credentials that cannot be framed by the mechanism (a NUL in a PLAIN user name,
  // a ^A in an XOAUTH2 token...). Status::InvalidArgument; the message never repeats the
  // secret.
  [[nodiscard]] Status Validate() const;

  // The initial client response, or nullopt when the mechanism starts with a server
  // challenge (LOGIN).
  std::optional<std::string> InitialResponse() const;

  // Next client response to a server challenge (already base64-decoded).
  // For OAuth mechanisms an error challenge (JSON {"status":..,"schemes":..,"scope":..})
  // yields the dummy response ("" for XOAUTH2, "\x01" for OAUTHBEARER, RFC 7628 §3.2.3)
  // and records the error; the server then sends its final failure.
  // Errors: Status::Protocol when the server sends a challenge the mechanism has no
  // answer for (e.g. a third LOGIN prompt).
  StatusOr<std::string> Respond(std::string_view challenge);

  // Decoded error from an OAuth error challenge, e.g.
  // "status 401, schemes bearer, scope https://...", or empty.
  const std::string& oauth_error() const { return oauth_error_; }

 private:
  Mechanism mech_;
  Credentials creds_;
  int responses_ = 0;  // how many times Respond() answered
  bool initial_given_ = false;
  bool error_answered_ = false;
  std::string oauth_error_;
};

// RFC 4648 base64 with padding.
std::string Base64Encode(std::string_view);
// Strict decoding: the standard alphabet only, length a multiple of 4, padding only at the
// end, unused bits zero; no whitespace. Status::Protocol otherwise.
StatusOr<std::string> Base64Decode(std::string_view);

// Turns the decoded body of an OAuth error challenge (RFC 7628 §3.2.2; Google and Dovecot
// send the same for XOAUTH2) into "status 401, schemes bearer, scope X". Returns a generic
// description when the body is not the expected JSON. Never contains a token: the fields
// are the server's.
std::string DescribeOAuthError(std::string_view json);

// The secret source: password, or an OAuth2 access token. force_refresh is true when a
// first attempt was refused and the client asks once for a fresh token.
using SecretProvider = std::function<StatusOr<std::string>(bool force_refresh)>;

struct AuthOptions {
  std::string user;
  std::optional<Mechanism> mechanism;  // nullopt: auto
  bool secret_is_token = false;
  SecretProvider secret;
};

}  // namespace mailgate::sasl

#endif  // MAILGATE_SASL_SASL_H_
