#include "sasl/sasl.h"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <utility>

namespace mailgate::sasl {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool Offers(const std::vector<std::string>& server, Mechanism m) {
  return std::any_of(server.begin(), server.end(),
                     [m](const std::string& s) { return EqualsIgnoreCase(s, MechanismName(m)); });
}

std::string JoinNames(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ' ';
    out += n;
  }
  return out;
}

// RFC 5801 §4: in a GS2 saslname, "," and "=" are written "=2C" and "=3D".
std::string Gs2Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

// Keeps only printable ASCII, at most `max` characters: server text that goes into an
// error message must not break a log line.
std::string Printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace

std::string_view MechanismName(Mechanism m) {
  switch (m) {
    case Mechanism::kXoauth2:
      return "XOAUTH2";
    case Mechanism::kOauthBearer:
      return "OAUTHBEARER";
    case Mechanism::kPlain:
      return "PLAIN";
    case Mechanism::kLogin:
      return "LOGIN";
  }
  return "?";
}

std::optional<Mechanism> ParseMechanism(std::string_view name) {
  for (Mechanism m :
       {Mechanism::kXoauth2, Mechanism::kOauthBearer, Mechanism::kPlain, Mechanism::kLogin}) {
    if (EqualsIgnoreCase(name, MechanismName(m))) return m;
  }
  return std::nullopt;
}

bool IsOAuth(Mechanism m) {
  return m == Mechanism::kXoauth2 || m == Mechanism::kOauthBearer;
}

StatusOr<Mechanism> Choose(std::optional<Mechanism> configured,
                           const std::vector<std::string>& server_mechanisms, bool have_token) {
  if (configured) {
    if (IsOAuth(*configured) != have_token) {
      return Status::InvalidArgument(
          std::string(MechanismName(*configured)) +
          (have_token ? " needs a password, but an OAuth2 token was configured; choose "
                        "XOAUTH2 or OAUTHBEARER, or configure a password"
                      : " needs an OAuth2 access token, but a password was configured; choose "
                        "PLAIN or LOGIN, or configure a token"));
    }
    if (server_mechanisms.empty() || Offers(server_mechanisms, *configured)) return *configured;
    return Status::Auth("the server does not offer SASL " +
                        std::string(MechanismName(*configured)) +
                        " (it offers: " + JoinNames(server_mechanisms) +
                        "); choose one of those, or ask the mail administrator to enable it");
  }
  const std::array<Mechanism, 2> order =
      have_token ? std::array{Mechanism::kXoauth2, Mechanism::kOauthBearer}
                 : std::array{Mechanism::kPlain, Mechanism::kLogin};
  for (Mechanism m : order) {
    if (Offers(server_mechanisms, m)) return m;
  }
  return Status::Auth(
      std::string("the server offers no SASL mechanism for ") +
      (have_token ? "OAuth2 tokens (XOAUTH2 or OAUTHBEARER)" : "passwords (PLAIN or LOGIN)") +
      " (it offers: " + JoinNames(server_mechanisms) + "); " +
      (have_token ? "check the host name, or use a password if the server accepts one"
                  : "use an OAuth2 token, or ask the mail administrator to allow password "
                    "authentication over TLS"));
}

Exchange::Exchange(Mechanism mech, Credentials creds) : mech_(mech), creds_(std::move(creds)) {}

Status Exchange::Validate() const {
  auto has = [](std::string_view s, char c) { return s.find(c) != std::string_view::npos; };
  switch (mech_) {
    case Mechanism::kXoauth2:
    case Mechanism::kOauthBearer:
      if (creds_.secret.empty()) {
        return Status::InvalidArgument(
            "the OAuth2 access token is empty; authorize the account again");
      }
      if (has(creds_.user, '\x01') || has(creds_.user, '\0')) {
        return Status::InvalidArgument(
            "the user name contains a control character; fix the user name");
      }
      // RFC 6750 §2.1: a bearer token is b64token characters only; anything else would
      // break the ^A framing (and never comes from a real identity provider).
      for (char c : creds_.secret) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) {
          return Status::InvalidArgument(
              "the OAuth2 access token contains a space or control character; check the token "
              "file holds the access token alone");
        }
      }
      if (mech_ == Mechanism::kOauthBearer &&
          (has(creds_.host, '\x01') || has(creds_.host, '\0'))) {
        return Status::InvalidArgument("the host name contains a control character; fix the host");
      }
      return Status::Ok();
    case Mechanism::kPlain:
      if (creds_.user.empty())
        return Status::InvalidArgument("the user name is empty; set a user name");
      if (has(creds_.user, '\0') || has(creds_.secret, '\0')) {
        return Status::InvalidArgument(
            "the user name or password contains a NUL byte, which PLAIN cannot carry; fix it");
      }
      return Status::Ok();
    case Mechanism::kLogin:
      if (creds_.user.empty())
        return Status::InvalidArgument("the user name is empty; set a user name");
      return Status::Ok();
  }
  return Status::Internal("unknown SASL mechanism");
}

std::optional<std::string> Exchange::InitialResponse() const {
  switch (mech_) {
    case Mechanism::kXoauth2:
      // https://developers.google.com/gmail/imap/xoauth2-protocol, and Microsoft's
      // "Authenticate an IMAP, POP or SMTP connection using OAuth".
      return "user=" + creds_.user + "\x01" + "auth=Bearer " + creds_.secret + "\x01\x01";
    case Mechanism::kOauthBearer: {
      // RFC 7628 §3.1: gs2-header, then kvpairs separated and terminated by ^A.
      std::string r = "n,a=" + Gs2Escape(creds_.user) + ",\x01";
      if (!creds_.host.empty()) r += "host=" + creds_.host + "\x01";
      if (creds_.port != 0) r += "port=" + std::to_string(creds_.port) + "\x01";
      r += "auth=Bearer " + creds_.secret + "\x01\x01";
      return r;
    }
    case Mechanism::kPlain:
      // RFC 4616: [authzid] NUL authcid NUL passwd; the authzid stays empty.
      return std::string(1, '\0') + creds_.user + std::string(1, '\0') + creds_.secret;
    case Mechanism::kLogin:
      return std::nullopt;
  }
  return std::nullopt;
}

StatusOr<std::string> Exchange::Respond(std::string_view challenge) {
  const int step = responses_++;
  switch (mech_) {
    case Mechanism::kLogin:
      // draft-murchison-sasl-login: the prompts ("Username:", "Password:") vary between
      // servers, so only their order counts.
      if (step == 0) return creds_.user;
      if (step == 1) return creds_.secret;
      return Status::Protocol(
          "the server sent a third LOGIN challenge; it does not speak SASL LOGIN as expected, "
          "try --mech plain");
    case Mechanism::kPlain:
      if (step == 0 && challenge.empty()) return *InitialResponse();
      return Status::Protocol(
          "the server sent an unexpected challenge during SASL PLAIN; check the server "
          "supports PLAIN, or try --mech login");
    case Mechanism::kXoauth2:
    case Mechanism::kOauthBearer:
      if (step == 0 && challenge.empty() && !initial_given_) {
        initial_given_ = true;
        return *InitialResponse();
      }
      if (!error_answered_ && !challenge.empty()) {
        error_answered_ = true;
        oauth_error_ = DescribeOAuthError(challenge);
        if (mech_ == Mechanism::kXoauth2) return std::string();
        return std::string("\x01");
      }
      return Status::Protocol(std::string("the server sent an unexpected challenge during SASL ") +
                              std::string(MechanismName(mech_)) +
                              "; check the server supports this mechanism");
  }
  return Status::Internal("unknown SASL mechanism");
}

std::string DescribeOAuthError(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return "the server refused the token (unreadable error details: \"" + Printable(json, 80) +
           "\")";
  }
  const auto& obj = v.as_object();
  std::string out;
  auto add = [&](std::string_view key) {
    const auto* f = obj.if_contains(key);
    if (!f) return;
    std::string text;
    if (f->is_string()) {
      text = std::string(f->as_string());
    } else if (f->is_int64()) {
      text = std::to_string(f->as_int64());
    } else {
      return;
    }
    if (!out.empty()) out += ", ";
    out += std::string(key) + " " + Printable(text);
  };
  add("status");
  add("schemes");
  add("scope");
  if (out.empty()) return "the server refused the token (no details)";
  return out;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const uint32_t n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view in) {
  auto bad = [](std::string_view why) {
    return Status::Protocol("the server sent invalid base64 (" + std::string(why) +
                            "); the server or a proxy in between is misbehaving");
  };
  if (in.size() % 4 != 0) return bad("length not a multiple of 4");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = 0;
    if (last) {
      if (in[i + 3] == '=') pad = in[i + 2] == '=' ? 2 : 1;
    }
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (k >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const int8_t d = kDecode[static_cast<unsigned char>(c)];
      if (d < 0)
        return bad(c == '=' ? "padding in the middle" : "a character outside the alphabet");
      n = (n << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
    // RFC 4648 §3.5: the bits dropped by padding must be zero in canonical encoding.
    if ((pad == 2 && (n & 0xffff) != 0) || (pad == 1 && (n & 0xff) != 0)) {
      return bad("non-zero padding bits");
    }
  }
  return out;
}

}  // namespace mailgate::sasl
