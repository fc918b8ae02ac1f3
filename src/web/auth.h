// Who may use the console and the API: console users with Argon2id password
// hashes, session cookies, CSRF tokens, login throttling and API tokens.
//
// - Session ids are 32 random bytes (base64url in the cookie
//   `mailgate_session`: HttpOnly, SameSite=Strict, Path=/, Secure over TLS).
//   The store keeps only their SHA-256, with an idle expiry (12 h).
// - The CSRF token of a session is derived from its id:
//   hex(SHA-256("mailgate-csrf:" + id)). It needs no storage, is unknown to
//   anyone without the cookie, and cannot be computed from the stored hash.
//   Every POST/PUT/PATCH/DELETE made with the cookie must carry it (form
//   field `csrf` or header X-CSRF-Token); it is compared in constant time.
// - Login throttling is store-backed (table login_failures), so every
//   process on one database shares it and a restart does not reset it:
//   after 5 failures for a user or for an IP address within 15 minutes,
//   further attempts are refused for 30 s, doubling with each further
//   failure up to 15 minutes. Refused attempts do not check the password.
// - API tokens are "mg_" + 32 random bytes (base64url); the store keeps
//   their SHA-256 and the first characters to recognise them in lists.
//
// Thread safety: as the Store it is given (one thread at a time).
#ifndef MAILGATE_WEB_AUTH_H_
#define MAILGATE_WEB_AUTH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "oauth/clock.h"
#include "store/store.h"
#include "web/http_types.h"

namespace mailgate::web {

inline constexpr std::string_view kSessionCookie = "mailgate_session";

// Argon2id (crypto_pwhash_str_alg, interactive limits). kInternal when
// libsodium cannot allocate its memory.
StatusOr<std::string> HashPassword(std::string_view password);
// Constant-time verification against a HashPassword result.
bool VerifyPassword(std::string_view hash, std::string_view password);

// Equal length and bytes, in time that depends only on the length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

struct AuthOptions {
  int64_t idle_timeout_seconds = 12 * 3600;
  int max_failures = 5;
  int64_t failure_window_seconds = 15 * 60;
  int64_t first_delay_seconds = 30;
  int64_t max_delay_seconds = 15 * 60;
  bool secure_cookie = false;  // served over TLS (or behind an HTTPS proxy)
};

class Authenticator {
 public:
  // REQUIRES: `store`, `clock` and `random` outlive the Authenticator.
  Authenticator(store::Store& store, oauth::Clock& clock, oauth::Random& random,
                AuthOptions options = {});

  // First start: creates the administrator `admin` with a random password
  // when no console user exists, and calls `announce(user, password)` so
  // the caller can show it once.
  Status EnsureAdministrator(
      const std::function<void(const std::string& user, const std::string& password)>& announce);

  struct LoginResult {
    std::string set_cookie;  // the Set-Cookie header value of the new session
  };
  // kAuth: wrong user or password (one message for both). kTransient:
  // throttled; the message says when to try again.
  StatusOr<LoginResult> Login(std::string_view user, std::string_view password,
                              std::string_view remote_ip);

  // Login in three steps, so that the Argon2id verification (tens of
  // milliseconds and 64 MiB) can run off the server's thread: BeginLogin
  // (store: throttling, the user's hash), CheckPassword (no store, any
  // thread), FinishLogin (store: the failure, or the new session).
  struct LoginAttempt {
    std::string user;
    std::string remote_ip;
    std::string password_hash;  // empty: no such user
  };
  // kTransient: throttled (the message says when to try again).
  StatusOr<LoginAttempt> BeginLogin(std::string_view user, std::string_view remote_ip);
  // Verifies against the user's hash, or against a dummy one when there is
  // no such user, so that a wrong user name takes as long as a wrong password.
  static bool CheckPassword(const LoginAttempt& attempt, std::string_view password);
  // kAuth when !password_ok or the user does not exist.
  StatusOr<LoginResult> FinishLogin(const LoginAttempt& attempt, bool password_ok);

  // The principal of a session cookie value; kNotFound when unknown or
  // expired. Extends the idle expiry (at most one write a minute).
  StatusOr<Principal> FromSessionCookie(std::string_view session_id);
  // The principal of an "Authorization: Bearer mg_..." token; kNotFound.
  StatusOr<Principal> FromApiToken(std::string_view token);

  // Ends the session; returns the Set-Cookie value that clears the cookie.
  std::string Logout(const Principal& principal);
  std::string ClearCookie() const;

  // True when `given` is the session's CSRF token.
  static bool CheckCsrf(const Principal& principal, std::string_view given);
  static std::string CsrfTokenFor(std::string_view session_id);

  // Creates an API token and returns it (shown once; only its hash is kept).
  StatusOr<std::string> CreateApiToken(const std::string& name);

  // Seconds until `key` may try again (0: now).
  StatusOr<int64_t> ThrottledFor(const std::string& key);

  // A random password for the first administrator (20 characters).
  std::string RandomPassword();

 private:
  // `max_age` < 0: a cookie that lasts for the browser session.
  std::string Cookie(std::string_view value, int64_t max_age) const;

  store::Store& store_;
  oauth::Clock& clock_;
  oauth::Random& random_;
  const AuthOptions options_;
};

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_AUTH_H_
