#include "pipeline/config.h"

#include <algorithm>
#include <cctype>

namespace mailgate::pipeline {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool OneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

Status Invalid(std::string_view what, std::string_view name, std::string message) {
  std::string out(what);
  out += " '";
  out += name;
  out += "': ";
  out += message;
  return Status::InvalidArgument(std::move(out));
}

// Rules shared by mailboxes and transports.
Status CheckCommon(std::string_view what, const std::string& name, std::string& host, int port,
                   std::string& encryption, int timeout_seconds) {
  if (name.empty() || name.size() > 100 || name.find_first_of("\r\n\t/") != std::string::npos) {
    return Status::InvalidArgument(std::string(what) +
                                   " names are 1 to 100 characters, without '/' or line breaks");
  }
  host = Trim(host);
  if (host.empty() || host.find_first_of(" /\\@") != std::string::npos) {
    return Invalid(what, name, "--host must be a host name or address, e.g. outlook.office365.com");
  }
  if (port < 0 || port > 65535) return Invalid(what, name, "--port must be 1 to 65535");
  encryption = Lower(encryption);
  if (!OneOf(encryption, {"tls", "starttls", "none"})) {
    return Invalid(what, name, "--encryption must be tls, starttls or none");
  }
  if (timeout_seconds < 1 || timeout_seconds > 3600) {
    return Invalid(what, name, "the timeout must be 1 to 3600 seconds");
  }
  return Status::Ok();
}

Status CheckCredentials(std::string_view what, const std::string& name, const std::string& auth,
                        const store::Secret& password, const std::string& account) {
  if (auth == "password" && password.empty()) {
    return Invalid(what, name, "authentication 'password' needs a password (--password-file)");
  }
  if ((auth == "xoauth2" || auth == "oauthbearer") && account.empty()) {
    return Invalid(what, name,
                   "authentication '" + auth +
                       "' needs a connected account (--account); see `mailgate account list`");
  }
  return Status::Ok();
}

sasl::SecretProvider PasswordProvider(const store::Secret& password) {
  return [password](bool) -> StatusOr<std::string> { return std::string(password.reveal()); };
}

StatusOr<sasl::AuthOptions> AuthOptions(std::string_view what, const std::string& name,
                                        const std::string& auth, const std::string& username,
                                        const store::Secret& password, const std::string& account,
                                        const ConnectEnv& env) {
  sasl::AuthOptions out;
  out.user = username;
  if (auth == "password") {
    out.secret = PasswordProvider(password);
    return out;
  }
  out.mechanism = auth == "oauthbearer" ? sasl::Mechanism::kOauthBearer : sasl::Mechanism::kXoauth2;
  out.secret_is_token = true;
  if (!env.tokens) {
    return Status::Internal(std::string(what) + " '" + name +
                            "' uses a connected account but no token source was given; please "
                            "report this bug");
  }
  out.secret = env.tokens(account);
  return out;
}

net::ConnectOptions Options(const std::string& host, uint16_t port, std::string_view encryption,
                            int timeout_seconds, const ConnectEnv& env) {
  net::ConnectOptions o;
  o.host = host;
  o.port = port;
  o.tls = TlsModeFor(encryption);
  o.ca_file = env.ca_file;
  o.connect_timeout = std::chrono::seconds(timeout_seconds);
  // Each read waits at most this long; large literals arrive in many reads.
  o.io_timeout = std::chrono::seconds(std::max(timeout_seconds, 1));
  o.trace = env.trace;
  return o;
}

}  // namespace

StatusOr<AfterDownload> ParseAfterDownload(std::string_view text, std::string_view protocol) {
  AfterDownload a;
  if (text == "delete") {
    a.kind = AfterDownload::Kind::kDelete;
  } else if (text == "keep") {
    a.kind = AfterDownload::Kind::kKeep;
  } else if (protocol == "pop3") {
    return Status::InvalidArgument(
        "a POP3 mailbox can only 'delete' or 'keep' messages after download (POP3 has no flags "
        "or folders)");
  } else if (text == "mark-seen") {
    a.kind = AfterDownload::Kind::kMarkSeen;
  } else if (text.starts_with("move:") && text.size() > 5) {
    a.kind = AfterDownload::Kind::kMove;
    a.folder = std::string(text.substr(5));
  } else {
    return Status::InvalidArgument(
        "--after-download must be delete, mark-seen, move:FOLDER or keep");
  }
  return a;
}

net::TlsMode TlsModeFor(std::string_view encryption) {
  if (encryption == "tls") return net::TlsMode::kImplicit;
  if (encryption == "starttls") return net::TlsMode::kStartTls;
  return net::TlsMode::kNone;
}

Status NormalizeMailbox(store::Mailbox& m) {
  MAILGATE_RETURN_IF_ERROR(
      CheckCommon("mailbox", m.name, m.host, m.port, m.encryption, m.timeout_seconds));
  m.protocol = Lower(m.protocol);
  if (!OneOf(m.protocol, {"imap", "pop3"})) {
    return Invalid("mailbox", m.name, "--protocol must be imap or pop3");
  }
  m.auth = Lower(m.auth);
  if (!OneOf(m.auth, {"password", "xoauth2", "oauthbearer"})) {
    return Invalid("mailbox", m.name, "--auth must be password, xoauth2 or oauthbearer");
  }
  if (Trim(m.username).empty()) {
    return Invalid("mailbox", m.name, "--user is required (the mailbox's address or login)");
  }
  MAILGATE_RETURN_IF_ERROR(CheckCredentials("mailbox", m.name, m.auth, m.password, m.account));
  if (m.protocol == "pop3") {
    m.folder = "INBOX";
  } else if (m.folder.empty()) {
    return Invalid("mailbox", m.name, "--folder must not be empty (INBOX is the default)");
  }
  auto action = ParseAfterDownload(m.after_download, m.protocol);
  if (!action.ok()) return Invalid("mailbox", m.name, action.status().message());
  if (action->kind == AfterDownload::Kind::kMove && action->folder == m.folder) {
    return Invalid("mailbox", m.name, "--after-download move: names the folder being checked");
  }
  if (m.max_size_kb < 1) return Invalid("mailbox", m.name, "--max-size-kb must be at least 1");
  if (m.max_messages_per_run < 1) {
    return Invalid("mailbox", m.name, "the maximum messages per run must be at least 1");
  }
  if (m.push && m.protocol != "imap") {
    return Invalid("mailbox", m.name, "--push needs IMAP (POP3 has no IDLE)");
  }
  return Status::Ok();
}

Status NormalizeTransport(store::Transport& t) {
  MAILGATE_RETURN_IF_ERROR(
      CheckCommon("transport", t.name, t.host, t.port, t.encryption, t.timeout_seconds));
  t.auth = Lower(t.auth);
  if (!OneOf(t.auth, {"none", "password", "xoauth2", "oauthbearer"})) {
    return Invalid("transport", t.name, "--auth must be none, password, xoauth2 or oauthbearer");
  }
  if (t.auth != "none" && Trim(t.username).empty()) {
    return Invalid("transport", t.name, "--user is required when the transport authenticates");
  }
  return CheckCredentials("transport", t.name, t.auth, t.password, t.account);
}

uint16_t EffectivePort(const store::Mailbox& m) {
  if (m.port > 0) return static_cast<uint16_t>(m.port);
  const bool implicit = m.encryption == "tls";
  if (m.protocol == "pop3") return implicit ? 995 : 110;
  return implicit ? 993 : 143;
}

uint16_t EffectivePort(const store::Transport& t) {
  if (t.port > 0) return static_cast<uint16_t>(t.port);
  if (t.encryption == "tls") return 465;
  if (t.encryption == "starttls") return 587;
  return 25;
}

net::ConnectOptions ConnectOptionsFor(const store::Mailbox& m, const ConnectEnv& env) {
  return Options(m.host, EffectivePort(m), m.encryption, m.timeout_seconds, env);
}

net::ConnectOptions ConnectOptionsFor(const store::Transport& t, const ConnectEnv& env) {
  return Options(t.host, EffectivePort(t), t.encryption, t.timeout_seconds, env);
}

StatusOr<sasl::AuthOptions> AuthOptionsFor(const store::Mailbox& m, const ConnectEnv& env) {
  return AuthOptions("mailbox", m.name, m.auth, m.username, m.password, m.account, env);
}

StatusOr<sasl::AuthOptions> AuthOptionsFor(const store::Transport& t, const ConnectEnv& env) {
  if (t.auth == "none") {
    return Status::InvalidArgument("transport '" + t.name + "' does not authenticate");
  }
  return AuthOptions("transport", t.name, t.auth, t.username, t.password, t.account, env);
}

}  // namespace mailgate::pipeline
