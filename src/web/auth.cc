#include "web/auth.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/sha256.h"

namespace mailgate::web {
namespace {

constexpr std::string_view kTokenPrefix = "mg_";
constexpr size_t kPrefixShown = 9;  // "mg_" and 6 characters

// A hash to verify against when the user does not exist, so a wrong user
// name takes as long as a wrong password.
const std::string& DummyHash() {
  static const std::string* hash = [] {
    auto h = HashPassword("mailgate: no such user");
    return new std::string(h.ok() ? *h : std::string());
  }();
  return *hash;
}

std::string UserKey(std::string_view user) {
  return "user:" + std::string(user);
}

std::string IpKey(std::string_view ip) {
  return "ip:" + std::string(ip);
}

}  // namespace

StatusOr<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not be initialised");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Internal(
        "hashing the password ran out of memory (Argon2id needs 64 MiB); free some memory and "
        "try again");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string h(hash);  // NUL-terminated, as libsodium wants it
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Authenticator::Authenticator(store::Store& store, oauth::Clock& clock, oauth::Random& random,
                             AuthOptions options)
    : store_(store), clock_(clock), random_(random), options_(options) {}

std::string Authenticator::RandomPassword() {
  // 15 random bytes: 20 base64url characters, 120 bits.
  return random_.Token(15);
}

Status Authenticator::EnsureAdministrator(
    const std::function<void(const std::string&, const std::string&)>& announce) {
  auto existing = store_.GetConsoleUser("admin");
  if (existing.ok()) return Status::Ok();
  const std::string password = RandomPassword();
  auto hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  auto created = store_.CreateFirstConsoleUser({"admin", *hash, 0, 0}, clock_.NowSeconds());
  if (!created.ok()) return created.status();
  if (*created && announce) announce("admin", password);
  return Status::Ok();
}

StatusOr<int64_t> Authenticator::ThrottledFor(const std::string& key) {
  const int64_t now = clock_.NowSeconds();
  auto f = store_.CountLoginFailures(key, now - options_.failure_window_seconds);
  if (!f.ok()) return f.status();
  if (f->count < options_.max_failures) return int64_t{0};
  int64_t delay = options_.first_delay_seconds;
  for (int i = options_.max_failures; i < f->count && delay < options_.max_delay_seconds; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, options_.max_delay_seconds);
  return std::max<int64_t>(0, f->last_at + delay - now);
}

StatusOr<Authenticator::LoginResult> Authenticator::Login(std::string_view user,
                                                          std::string_view password,
                                                          std::string_view remote_ip) {
  auto attempt = BeginLogin(user, remote_ip);
  if (!attempt.ok()) return attempt.status();
  return FinishLogin(*attempt, CheckPassword(*attempt, password));
}

bool Authenticator::CheckPassword(const LoginAttempt& attempt, std::string_view password) {
  if (attempt.password_hash.empty()) {
    (void)VerifyPassword(DummyHash(), password);
    return false;
  }
  return VerifyPassword(attempt.password_hash, password);
}

StatusOr<Authenticator::LoginAttempt> Authenticator::BeginLogin(std::string_view user,
                                                                std::string_view remote_ip) {
  for (const std::string& key : {UserKey(user), IpKey(remote_ip)}) {
    auto wait = ThrottledFor(key);
    if (!wait.ok()) return wait.status();
    if (*wait > 0) {
      return Status::Transient("too many failed sign-ins; try again in " + std::to_string(*wait) +
                               " seconds");
    }
  }
  auto u = store_.GetConsoleUser(user);
  if (!u.ok() && u.status().kind() != Status::Kind::kNotFound) return u.status();
  LoginAttempt a;
  a.user = u.ok() ? u->name : std::string(user);
  a.remote_ip = std::string(remote_ip);
  if (u.ok()) a.password_hash = u->password_hash;
  return a;
}

StatusOr<Authenticator::LoginResult> Authenticator::FinishLogin(const LoginAttempt& attempt,
                                                                bool password_ok) {
  const std::string user_key = UserKey(attempt.user);
  const std::string ip_key = IpKey(attempt.remote_ip);
  const int64_t now = clock_.NowSeconds();
  if (!password_ok || attempt.password_hash.empty()) {
    MAILGATE_RETURN_IF_ERROR(store_.RecordLoginFailure(user_key, now));
    MAILGATE_RETURN_IF_ERROR(store_.RecordLoginFailure(ip_key, now));
    spdlog::warn("console: failed sign-in for '{}' from {}", attempt.user, attempt.remote_ip);
    return Status::Auth(
        "wrong user name or password; `mailgate admin set-password` sets a new one");
  }
  MAILGATE_RETURN_IF_ERROR(store_.ClearLoginFailures(user_key));
  MAILGATE_RETURN_IF_ERROR(store_.ClearLoginFailures(ip_key));
  // Expired sessions, old failures and abandoned Connects go now and then:
  // on each sign-in.
  (void)store_.PurgeConsoleState(now, now - options_.failure_window_seconds);

  const std::string id = random_.Token(32);
  store::ConsoleSession s;
  s.id_hash = Sha256Hex(id);
  s.user = attempt.user;
  s.created_at = now;
  s.last_seen_at = now;
  s.expires_at = now + options_.idle_timeout_seconds;
  MAILGATE_RETURN_IF_ERROR(store_.CreateConsoleSession(s));
  spdlog::info("console: '{}' signed in from {}", attempt.user, attempt.remote_ip);
  // A browser-session cookie: the server enforces the idle expiry.
  return LoginResult{Cookie(id, -1)};
}

StatusOr<Principal> Authenticator::FromSessionCookie(std::string_view session_id) {
  if (session_id.empty()) return Status::NotFound("no session");
  const int64_t now = clock_.NowSeconds();
  const std::string hash = Sha256Hex(session_id);
  auto s = store_.GetConsoleSession(hash, now);
  if (!s.ok()) return s.status();
  if (now - s->last_seen_at >= 60) {
    MAILGATE_RETURN_IF_ERROR(
        store_.TouchConsoleSession(hash, now, now + options_.idle_timeout_seconds));
  }
  Principal p;
  p.via = Principal::Via::kSession;
  p.user = s->user;
  p.session_hash = hash;
  p.csrf = CsrfTokenFor(session_id);
  return p;
}

StatusOr<Principal> Authenticator::FromApiToken(std::string_view token) {
  if (!token.starts_with(kTokenPrefix)) return Status::NotFound("not a Mailgate API token");
  auto t = store_.ApiTokenByHash(Sha256Hex(token));
  if (!t.ok()) return t.status();
  const int64_t now = clock_.NowSeconds();
  if (now - t->last_used_at >= 60) (void)store_.TouchApiToken(t->name, now);
  Principal p;
  p.via = Principal::Via::kApiToken;
  p.user = "api-token:" + t->name;
  return p;
}

std::string Authenticator::Logout(const Principal& principal) {
  if (principal.via == Principal::Via::kSession) {
    Status s = store_.DeleteConsoleSession(principal.session_hash);
    if (!s.ok()) spdlog::warn("console: signing out: {}", s.ToString());
  }
  return ClearCookie();
}

std::string Authenticator::ClearCookie() const {
  return Cookie("", 0);
}

std::string Authenticator::Cookie(std::string_view value, int64_t max_age) const {
  std::string c(kSessionCookie);
  c += '=';
  c += value;
  c += "; Path=/; HttpOnly; SameSite=Strict";
  if (max_age >= 0) {
    c += "; Max-Age=";
    c += std::to_string(max_age);
  }
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

bool Authenticator::CheckCsrf(const Principal& principal, std::string_view given) {
  if (principal.via != Principal::Via::kSession || principal.csrf.empty()) return false;
  return ConstantTimeEquals(principal.csrf, given);
}

std::string Authenticator::CsrfTokenFor(std::string_view session_id) {
  std::string input = "mailgate-csrf:";
  input += session_id;
  return Sha256Hex(input);
}

StatusOr<std::string> Authenticator::CreateApiToken(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("an API token needs a name of 1 to 64 characters");
  }
  std::string token(kTokenPrefix);
  token += random_.Token(32);
  store::ApiToken t;
  t.name = name;
  t.token_hash = Sha256Hex(token);
  t.prefix = token.substr(0, kPrefixShown);
  MAILGATE_RETURN_IF_ERROR(store_.CreateApiToken(t, clock_.NowSeconds()));
  return token;
}

}  // namespace mailgate::web
