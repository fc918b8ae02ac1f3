#include "imap/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <deque>
#include <functional>
#include <set>
#include <utility>

#include "imap/mutf7.h"

namespace mailgate::imap {

namespace asio = boost::asio;
using asio::awaitable;
using net::TraceDirection;

// `return` is not allowed in a coroutine: these are MAILGATE_RETURN_IF_ERROR's co_ forms.
#define IMAP_CO_TRY(expr)                 \
  do {                                    \
    ::mailgate::Status imap_s_ = (expr);  \
    if (!imap_s_.ok()) co_return imap_s_; \
  } while (0)
#define IMAP_CAT_(a, b) a##b
#define IMAP_CAT(a, b) IMAP_CAT_(a, b)
#define IMAP_CO_ASSIGN(lhs, expr)                                                        \
  auto IMAP_CAT(imap_v_, __LINE__) = (expr);                                             \
  if (!IMAP_CAT(imap_v_, __LINE__).ok()) co_return IMAP_CAT(imap_v_, __LINE__).status(); \
  lhs = std::move(IMAP_CAT(imap_v_, __LINE__)).value()

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  return Upper(hay).find(Upper(needle)) != std::string::npos;
}

// Server text going into an error message: printable, bounded.
std::string Clean(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u != 0x7f) ? c : '?';
  }
  return out;
}

// "NO [CODE] text" of a tagged response, for error messages.
std::string Detail(const Response& r) {
  std::string d(ConditionName(r.condition));
  if (!r.code.empty()) {
    d.append(" [").append(r.code);
    if (!r.code_args.empty()) d.append(" ").append(Clean(r.code_args, 80));
    d.append("]");
  }
  if (!r.text.empty()) d.append(" ").append(Clean(r.text));
  return d;
}

constexpr std::string_view kNotConnectedHelp =
    "the server accepted the credentials but cannot open the mailbox (\"User is authenticated "
    "but not connected\"): the token is valid, but the user name does not match a mailbox this "
    "account may open. Check the user name (for a shared mailbox it is the shared address), "
    "that the account has FullAccess to the mailbox, that an app-only service principal was "
    "registered with the Enterprise Application's object ID, and that IMAP is enabled for "
    "the mailbox";

std::vector<std::string> SplitFlags(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '(' || c == ')') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::optional<uint32_t> ToU32(std::optional<uint64_t> v) {
  if (!v || *v > 0xffffffffu) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

std::optional<uint32_t> ParseU32(std::string_view s) {
  Value v;
  v.text = std::string(s);
  return ToU32(v.AsNumber());
}

bool IsAtomChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("(){%*\"\\]").find(c) == std::string_view::npos;
}

// Adapts the parser's literal sink to the caller's MessageSink during UID FETCH.
class FetchAdapter : public LiteralSink {
 public:
  explicit FetchAdapter(MessageSink& sink) : sink_(sink) {}
  Status BeginLiteral(uint64_t seq, std::string_view, uint64_t size) override {
    Status s = sink_.BeginMessage(static_cast<uint32_t>(seq), size);
    if (s.ok()) {
      open_ = true;
      size_ = size;
      got_ = 0;
    }
    return s;
  }
  Status LiteralChunk(std::string_view chunk) override {
    got_ += chunk.size();
    return sink_.MessageChunk(chunk);
  }
  Status EndLiteral() override {
    open_ = false;
    return Status::Ok();
  }
  // The body did not complete: tell the sink to discard it.
  void Abort() {
    if (open_) sink_.AbortMessage();
    open_ = false;
  }
  bool open() const { return open_; }
  uint64_t size() const { return size_; }
  uint64_t got() const { return got_; }

 private:
  MessageSink& sink_;
  bool open_ = false;
  uint64_t size_ = 0;
  uint64_t got_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Capabilities, helpers

void Capabilities::Set(std::string_view space_separated) {
  caps_.clear();
  for (auto& c : SplitFlags(space_separated)) caps_.insert(Upper(c));
}

bool Capabilities::Has(std::string_view cap) const {
  return caps_.count(Upper(cap)) > 0;
}

std::vector<std::string> Capabilities::AuthMechanisms() const {
  std::vector<std::string> out;
  for (const auto& c : caps_) {
    if (c.starts_with("AUTH=")) out.push_back(c.substr(5));
  }
  return out;
}

std::string Capabilities::ToString() const {
  std::string out;
  for (const auto& c : caps_) {
    if (!out.empty()) out += ' ';
    out += c;
  }
  return out;
}

std::string UidSet(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

std::optional<std::string> QuoteAstring(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), IsAtomChar)) return std::string(s);
  std::string q = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return std::nullopt;
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  return q;
}

// ---------------------------------------------------------------------------------------
// The connection state

struct Client::Impl {
  // One piece of a command: text, or a string that must go as a literal.
  struct Part {
    bool literal = false;
    std::string data;
  };

  Impl(asio::any_io_executor executor, ClientOptions opts)
      : options(std::move(opts)), ex(std::move(executor)), parser(options.limits) {}

  ClientOptions options;
  asio::any_io_executor ex;
  std::unique_ptr<net::Connection> conn;
  Parser parser;
  Capabilities caps;
  bool caps_updated = false;
  MailboxInfo selected;
  bool authed = false;
  bool logging_out = false;
  bool greeted = false;  // a BYE before the greeting is a refused connection
  uint64_t next_tag = 1;
  FetchAdapter* fetch = nullptr;  // during UID FETCH
  Status dead;                    // once set, every call fails with it

  std::string Where() const {
    return options.connect.host + ":" + std::to_string(options.connect.port);
  }

  void Trace(TraceDirection dir, std::string_view text) {
    if (options.trace) {
      options.trace(dir, text);
    } else if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("{} {} {}", Where(), dir == TraceDirection::kRecv ? "S:" : "C:", text);
    }
  }

  std::string NextTag() { return std::string("A").append(std::to_string(next_tag++)); }

  Status Fatal(Status s) {
    if (fetch != nullptr) fetch->Abort();
    if (conn) conn->Close();
    if (dead.ok()) dead = s;
    return s;
  }

  Status ByeStatus(std::string_view text) {
    if (ContainsIgnoreCase(text, "AccessTokenExpired")) {
      return Status::Transient(
          "the server ended the session because the OAuth2 access token expired (BYE " +
          Clean(text) +
          "); re-authenticate: reconnect with a fresh access token (Mailgate refreshes it on "
          "the next connection)");
    }
    return Status::Transient("the server ended the session (BYE " + Clean(text) +
                             "); try again later");
  }

  awaitable<Status> Send(std::string_view data, std::string_view trace_as = {}) {
    if (!dead.ok()) co_return dead;
    Status s = co_await conn->Write(data, trace_as);
    if (!s.ok()) co_return Fatal(s);
    co_return Status::Ok();
  }

  // The next response, after the handling every response gets wherever it comes.
  awaitable<StatusOr<Response>> Read() {
    if (!dead.ok()) co_return dead;
    for (;;) {
      StatusOr<std::string_view> view = co_await conn->ReadSome();
      if (!view.ok()) {
        Status s = view.status();
        if (fetch != nullptr && fetch->open()) {
          const std::string got = std::to_string(fetch->got());
          const std::string size = std::to_string(fetch->size());
          s = Status::Connect("the connection to " + Where() +
                              " ended in the middle of a message (" + got + " of " + size +
                              " bytes received): " + s.message());
        }
        co_return Fatal(s);
      }
      std::size_t used = 0;
      const Parser::Result res = parser.Feed(*view, &used);
      conn->Consume(used);
      if (res == Parser::Result::kError) co_return Fatal(parser.error().WithContext(Where()));
      if (res == Parser::Result::kNeedMore) continue;
      Response r = parser.TakeResponse();
      Trace(TraceDirection::kRecv, r.trace);
      if (r.code == "CAPABILITY") {
        caps.Set(r.code_args);
        caps_updated = true;
      }
      if (r.kind == Response::Kind::kUntagged) {
        if (r.condition == Condition::kBye) {
          if (!greeted) {
            co_return Fatal(Status::Connect(Where() + " refused the connection (BYE " +
                                            Clean(r.text) + "); try again later"));
          }
          if (!logging_out) co_return Fatal(ByeStatus(r.text));
          co_return r;
        }
        if (r.code == "ALERT") spdlog::warn("{}: the server says: {}", Where(), Clean(r.text));
        if (r.name == "CAPABILITY") {
          std::string all;
          for (const auto& v : r.data) all.append(v.text).append(" ");
          caps.Set(all);
          caps_updated = true;
        }
        if (r.name == "EXISTS") selected.exists = ToU32(r.number).value_or(selected.exists);
        if (r.name == "EXPUNGE" && selected.exists > 0) --selected.exists;
      }
      co_return r;
    }
  }

  // Sends "<tag> <parts>\r\n". Synchronizing literals wait for the server's continuation
  // (nothing else is in flight then); LITERAL+ / LITERAL- (<= 4096 bytes, RFC 7888) go
  // at once. Returns the tagged response if the server refused before the end.
  awaitable<StatusOr<std::optional<Response>>> SendCommand(const std::string& tag,
                                                           const std::vector<Part>& parts,
                                                           std::string_view trace_as) {
    std::string out = tag;
    const std::string traced = trace_as.empty() ? std::string() : tag + " " + std::string(trace_as);
    bool first_write = true;
    for (const Part& p : parts) {
      out += ' ';
      if (!p.literal) {
        out += p.data;
        continue;
      }
      const bool non_sync = caps.Has("LITERAL+") || (caps.Has("LITERAL-") && p.data.size() <= 4096);
      out += "{" + std::to_string(p.data.size()) + (non_sync ? "+}\r\n" : "}\r\n");
      if (!non_sync) {
        IMAP_CO_TRY(co_await Send(out, first_write ? std::string_view(traced) : "(redacted)"));
        first_write = false;
        out.clear();
        for (;;) {
          IMAP_CO_ASSIGN(Response r, co_await Read());
          if (r.kind == Response::Kind::kContinuation) break;
          if (r.kind == Response::Kind::kTagged) co_return std::optional<Response>(std::move(r));
        }
      }
      out += p.data;
    }
    out += "\r\n";
    IMAP_CO_TRY(co_await Send(out, first_write ? std::string_view(traced) : "(redacted)"));
    co_return std::optional<Response>();
  }

  // Runs one command to its tagged response; untagged responses also go to on_untagged.
  awaitable<StatusOr<Response>> Run(std::vector<Part> parts, std::string_view trace_as = {},
                                    std::function<void(Response&)> on_untagged = {}) {
    const std::string tag = NextTag();
    IMAP_CO_ASSIGN(std::optional<Response> early, co_await SendCommand(tag, parts, trace_as));
    if (early) co_return std::move(*early);
    for (;;) {
      IMAP_CO_ASSIGN(Response r, co_await Read());
      if (r.kind == Response::Kind::kTagged) {
        if (r.tag != tag) {
          co_return Fatal(Status::Protocol(
              Where() + " answered a command that was not sent (tag " + Clean(r.tag, 20) +
              "); the server is broken, report it to its administrator"));
        }
        co_return r;
      }
      if (r.kind == Response::Kind::kContinuation) {
        co_return Fatal(Status::Protocol(
            Where() + " asked for more data for a command that has none; the server is broken"));
      }
      if (on_untagged) on_untagged(r);
    }
  }

  // Not a coroutine itself: the parts coroutine owns copies of everything it uses.
  awaitable<StatusOr<Response>> Run(std::string command, std::string_view trace_as = {},
                                    std::function<void(Response&)> on_untagged = {}) {
    std::vector<Part> parts(1);
    parts[0].data = std::move(command);
    return Run(std::move(parts), trace_as, std::move(on_untagged));
  }

  // The error for a tagged NO or BAD.
  Status CommandError(const Response& r, std::string_view what) {
    const std::string d = Detail(r);
    if (ContainsIgnoreCase(r.text, "authenticated but not connected")) {
      return Status::Auth(std::string(what) + " failed: " + std::string(kNotConnectedHelp));
    }
    if (r.condition == Condition::kBad) {
      return Status::Protocol(std::string(what) + " was rejected by " + Where() + " (" + d +
                              "); this is a bug in Mailgate or in the server: report it");
    }
    if (r.code == "TRYCREATE" || r.code == "NONEXISTENT") {
      return Status::NotFound(std::string(what) + " failed: the mailbox does not exist (" + d +
                              "); create it or correct the folder name");
    }
    if (r.code == "UNAVAILABLE" || r.code == "INUSE" || r.code == "SERVERBUG" ||
        r.code == "LIMIT") {
      return Status::Transient(std::string(what) + " failed for now (" + d + "); try again later");
    }
    if (r.code == "AUTHENTICATIONFAILED" || r.code == "AUTHORIZATIONFAILED" ||
        r.code == "EXPIRED") {
      return Status::Auth(std::string(what) + " was refused (" + d +
                          "); re-authorize the account or check its permissions");
    }
    if (r.code == "OVERQUOTA") {
      return Status::Permanent(std::string(what) + " failed: the mailbox is over quota (" + d +
                               "); free space in the mailbox");
    }
    return Status::Permanent(std::string(what) + " was refused by the server (" + d +
                             "); check the mailbox and the account's permissions");
  }

  awaitable<Status> Capability() {
    IMAP_CO_ASSIGN(Response r, co_await Run("CAPABILITY"));
    if (r.condition != Condition::kOk) co_return CommandError(r, "CAPABILITY");
    co_return Status::Ok();
  }

  Status AuthFailure(const Response& r, std::string_view oauth_error, bool oauth) {
    const std::string& user = options.auth.user;
    std::string m = std::string("the server refused ") +
                    (oauth ? "the OAuth2 access token" : "the user name or password") + " for " +
                    Clean(user, 100) + " (" + Detail(r) + ")";
    if (!oauth_error.empty()) m += "; the server's reason: " + std::string(oauth_error);
    if (ContainsIgnoreCase(r.text, "authenticated but not connected")) {
      return Status::Auth(m + ". " + std::string(kNotConnectedHelp));
    }
    if (oauth && ContainsIgnoreCase(r.text, "AUTHENTICATE failed")) {
      m += ". Microsoft 365 answers this when the token is expired or revoked, lacks the "
           "IMAP.AccessAsUser.All (or IMAP.AccessAsApp) permission, was issued for another "
           "account than the user name, or when IMAP is disabled for the mailbox";
    }
    if (r.code == "UNAVAILABLE") {
      return Status::Transient(m + "; the authentication service is unavailable: try again later");
    }
    m += oauth ? "; re-authorize the account in Mailgate and check the user name and the "
                 "application's IMAP permission"
               : "; check the user name and password";
    return Status::Auth(m);
  }

  awaitable<Status> AuthenticateOnce(sasl::Mechanism mech, const std::string& secret) {
    sasl::Exchange x(mech, {options.auth.user, secret, options.connect.host, options.connect.port});
    IMAP_CO_TRY(x.Validate());
    const std::string tag = NextTag();
    const std::string name(sasl::MechanismName(mech));
    std::string cmd = tag + " AUTHENTICATE " + name;
    std::string traced = cmd;
    const std::optional<std::string> ir = x.InitialResponse();
    if (ir && caps.Has("SASL-IR")) {
      // RFC 4959: an empty initial response is sent as "=".
      cmd += " " + (ir->empty() ? std::string("=") : sasl::Base64Encode(*ir));
      traced += " (redacted)";
    }
    caps_updated = false;
    IMAP_CO_TRY(co_await Send(cmd + "\r\n", traced));
    for (;;) {
      IMAP_CO_ASSIGN(Response r, co_await Read());
      if (r.kind == Response::Kind::kContinuation) {
        std::string text = r.text;
        while (!text.empty() && text.back() == ' ') text.pop_back();
        StatusOr<std::string> challenge = sasl::Base64Decode(text);
        StatusOr<std::string> answer =
            challenge.ok() ? x.Respond(*challenge) : StatusOr<std::string>(challenge.status());
        if (!answer.ok()) {
          // RFC 9051 §6.2.2: "*" cancels the exchange; the server answers BAD.
          IMAP_CO_TRY(co_await Send("*\r\n"));
          for (;;) {
            IMAP_CO_ASSIGN(Response end, co_await Read());
            if (end.kind == Response::Kind::kTagged) break;
          }
          co_return answer.status();
        }
        IMAP_CO_TRY(co_await Send(sasl::Base64Encode(*answer) + "\r\n", "(redacted)"));
        continue;
      }
      if (r.kind != Response::Kind::kTagged) continue;
      if (r.tag != tag) {
        co_return Fatal(Status::Protocol(Where() + " answered AUTHENTICATE with a wrong tag"));
      }
      if (r.condition == Condition::kOk) co_return Status::Ok();
      if (r.condition == Condition::kNo) {
        co_return AuthFailure(r, x.oauth_error(), sasl::IsOAuth(mech));
      }
      co_return Status::Protocol("the server rejected AUTHENTICATE " + name + " (" + Detail(r) +
                                 "); try another mechanism with --mech");
    }
  }

  awaitable<Status> LoginOnce(const std::string& secret) {
    if (caps.Has("LOGINDISABLED")) {
      co_return Status::Auth(
          "the server does not allow LOGIN on this connection (LOGINDISABLED), usually because it "
          "is not encrypted; use --encryption tls or --encryption starttls");
    }
    std::vector<Part> parts{{false, "LOGIN"}};
    for (const std::string* s :
         std::initializer_list<const std::string*>{&options.auth.user, &secret}) {
      if (auto q = QuoteAstring(*s)) {
        parts.push_back({false, *q});
      } else {
        parts.push_back({true, *s});
      }
    }
    caps_updated = false;
    IMAP_CO_ASSIGN(Response r, co_await Run(std::move(parts), "LOGIN (redacted)"));
    if (r.condition == Condition::kOk) co_return Status::Ok();
    if (r.condition == Condition::kNo) co_return AuthFailure(r, "", false);
    co_return CommandError(r, "LOGIN");
  }

  awaitable<StatusOr<std::string>> MailboxArg(std::string_view utf8) {
    IMAP_CO_ASSIGN(std::string encoded, EncodeMailboxName(utf8));
    std::optional<std::string> q = QuoteAstring(encoded);
    if (!q) co_return Status::InvalidArgument("the mailbox name contains a line break; fix it");
    co_return *q;
  }

  awaitable<Status> ExpungeFallback(const std::vector<uint32_t>& uids);
};

// ---------------------------------------------------------------------------------------
// Client

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() {
  if (impl_ && impl_->conn) impl_->conn->Close();
}

const Capabilities& Client::capabilities() const {
  return impl_->caps;
}
const MailboxInfo& Client::mailbox() const {
  return impl_->selected;
}
bool Client::authenticated() const {
  return impl_->authed;
}

awaitable<StatusOr<std::unique_ptr<Client>>> Client::Connect(asio::any_io_executor ex,
                                                             ClientOptions options) {
  auto impl = std::make_unique<Impl>(ex, std::move(options));
  Impl& c = *impl;
  // The trace starts with the connection itself (connect, TLS handshake).
  if (c.options.trace && !c.options.connect.trace) c.options.connect.trace = c.options.trace;
  IMAP_CO_ASSIGN(c.conn, co_await net::Connection::Open(ex, c.options.connect));

  IMAP_CO_ASSIGN(Response greeting, co_await c.Read());
  c.greeted = true;
  if (greeting.kind != Response::Kind::kUntagged || !greeting.is_status()) {
    co_return c.Fatal(
        Status::Protocol(c.Where() +
                         " did not greet like an IMAP server; check the port (IMAP "
                         "is 993 with --encryption tls, 143 with --encryption starttls)"));
  }
  if (greeting.condition == Condition::kPreauth) c.authed = true;
  if (greeting.condition != Condition::kOk && greeting.condition != Condition::kPreauth) {
    co_return c.Fatal(Status::Connect(c.Where() + " refused the connection (" + Detail(greeting) +
                                      "); try again later"));
  }
  if (!c.caps_updated) IMAP_CO_TRY(co_await c.Capability());

  if (c.options.connect.tls == net::TlsMode::kStartTls && !c.conn->tls_active()) {
    if (c.authed) {
      co_return c.Fatal(Status::Tls(c.Where() +
                                    " pre-authenticated the connection in plaintext, so STARTTLS "
                                    "is impossible; use --encryption tls"));
    }
    if (!c.caps.Has("STARTTLS")) {
      co_return c.Fatal(Status::Tls(
          c.Where() +
          " does not offer STARTTLS, and --encryption starttls forbids continuing in plaintext; "
          "use "
          "--encryption tls with the server's implicit-TLS port (993), or ask its administrator to "
          "enable STARTTLS"));
    }
    IMAP_CO_ASSIGN(Response r, co_await c.Run("STARTTLS"));
    if (r.condition != Condition::kOk) {
      co_return c.Fatal(Status::Tls(c.Where() + " refused STARTTLS (" + Detail(r) +
                                    "); use --encryption tls with port 993"));
    }
    Status s = co_await c.conn->StartTls();
    if (!s.ok()) co_return c.Fatal(s);
    // RFC 9051 §6.2.1: capabilities learnt before TLS must be discarded.
    c.caps = Capabilities();
    IMAP_CO_TRY(co_await c.Capability());
  }
  co_return std::unique_ptr<Client>(new Client(std::move(impl)));
}

awaitable<Status> Client::Authenticate() {
  Impl& c = *impl_;
  if (c.authed) co_return Status::Ok();
  const sasl::AuthOptions& a = c.options.auth;
  if (!a.secret) co_return Status::InvalidArgument("no password or token configured; set one");
  bool use_login_command = false;
  sasl::Mechanism mech = sasl::Mechanism::kPlain;
  StatusOr<sasl::Mechanism> chosen =
      sasl::Choose(a.mechanism, c.caps.AuthMechanisms(), a.secret_is_token);
  if (chosen.ok()) {
    mech = *chosen;
  } else if (!a.secret_is_token && chosen.status().kind() == Status::Kind::kAuth &&
             (!a.mechanism || *a.mechanism == sasl::Mechanism::kLogin)) {
    // A password still works through the IMAP LOGIN command (RFC 9051 §6.2.3).
    use_login_command = true;
  } else {
    co_return chosen.status().WithContext(c.Where());
  }

  IMAP_CO_ASSIGN(std::string secret, a.secret(false));
  // No co_await inside ?: — g++ 12 destroys the temporaries twice (a double free).
  Status st;
  if (use_login_command) {
    st = co_await c.LoginOnce(secret);
  } else {
    st = co_await c.AuthenticateOnce(mech, secret);
  }
  if (!st.ok() && st.kind() == Status::Kind::kAuth && a.secret_is_token && c.dead.ok()) {
    // The token may have expired or been revoked since it was cached: ask once for a fresh
    // one (sasl-xoauth2's lesson) before telling the user to re-authorize.
    StatusOr<std::string> fresh = a.secret(true);
    if (!fresh.ok()) {
      co_return Status::Auth(st.message() +
                             "; refreshing the token failed too: " + fresh.status().message());
    }
    // The same token again (a token file, or a provider with nothing newer):
    // a second attempt would only be refused the same way.
    if (*fresh == secret) co_return st;
    Status again = co_await c.AuthenticateOnce(mech, *fresh);
    if (again.ok()) {
      st = again;
    } else if (again.kind() == Status::Kind::kAuth) {
      st = Status::Auth(again.message() + " (a freshly refreshed token was refused as well)");
    } else if (!c.dead.ok()) {
      // Some servers hang up after a failed attempt: the first refusal is the news.
      st = Status::Auth(st.message() +
                        " (the server closed the connection before a retry with "
                        "a refreshed token)");
    } else {
      st = again;
    }
  }
  if (!st.ok()) co_return st;
  c.authed = true;
  if (!c.caps_updated) IMAP_CO_TRY(co_await c.Capability());
  if (c.options.send_id && c.caps.Has("ID")) {
    auto id = co_await Id();
    if (!id.ok() && !c.dead.ok()) co_return id.status();
  }
  co_return Status::Ok();
}

awaitable<StatusOr<std::vector<std::pair<std::string, std::string>>>> Client::Id() {
  Impl& c = *impl_;
  std::vector<std::pair<std::string, std::string>> fields;
  if (!c.caps.Has("ID")) co_return fields;
  IMAP_CO_ASSIGN(Response r, co_await c.Run("ID (\"name\" \"Mailgate\")", {}, [&](Response& u) {
    if (u.name != "ID" || u.data.empty() || !u.data[0].is_list()) return;
    const auto& items = u.data[0].items;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
      fields.emplace_back(items[i].text, items[i + 1].text);
    }
  }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "ID");
  co_return fields;
}

awaitable<StatusOr<MailboxInfo>> Client::Select(std::string_view mailbox, bool read_only) {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(std::string arg, co_await c.MailboxArg(mailbox));
  MailboxInfo info;
  info.name = std::string(mailbox);
  c.selected = MailboxInfo();
  IMAP_CO_ASSIGN(Response r,
                 co_await c.Run((read_only ? "EXAMINE " : "SELECT ") + arg, {}, [&](Response& u) {
                   if (u.name == "FLAGS" && !u.data.empty()) {
                     for (const auto& f : u.data[0].items) {
                       info.flags.push_back(f.text);
                     }
                   }
                   if (u.code == "UIDVALIDITY") {
                     info.uidvalidity = ParseU32(u.code_args).value_or(0);
                   }
                   if (u.code == "UIDNEXT") {
                     info.uidnext = ParseU32(u.code_args).value_or(0);
                   }
                   if (u.code == "PERMANENTFLAGS") {
                     info.permanent_flags = SplitFlags(u.code_args);
                   }
                 }));
  if (r.condition != Condition::kOk) {
    co_return c.CommandError(r, (read_only ? "EXAMINE " : "SELECT ") + Clean(mailbox, 100));
  }
  info.exists = c.selected.exists;
  info.read_only = read_only || r.code == "READ-ONLY";
  c.selected = info;
  co_return info;
}

awaitable<Status> Client::Create(std::string_view mailbox) {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(std::string arg, co_await c.MailboxArg(mailbox));
  IMAP_CO_ASSIGN(Response r, co_await c.Run("CREATE " + arg));
  if (r.condition == Condition::kOk) co_return Status::Ok();
  if (r.code == "ALREADYEXISTS") {
    co_return Status::AlreadyExists("the mailbox " + Clean(mailbox, 100) + " exists already");
  }
  co_return c.CommandError(r, "CREATE " + Clean(mailbox, 100));
}

awaitable<Status> Client::Delete(std::string_view mailbox) {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(std::string arg, co_await c.MailboxArg(mailbox));
  IMAP_CO_ASSIGN(Response r, co_await c.Run("DELETE " + arg));
  if (r.condition == Condition::kOk) co_return Status::Ok();
  co_return c.CommandError(r, "DELETE " + Clean(mailbox, 100));
}

awaitable<StatusOr<std::vector<ListEntry>>> Client::List(std::string_view reference,
                                                         std::string_view pattern) {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(std::string ref, co_await c.MailboxArg(reference));
  IMAP_CO_ASSIGN(std::string pat, co_await c.MailboxArg(pattern));
  if (pattern.empty()) pat = "\"\"";
  if (reference.empty()) ref = "\"\"";
  std::vector<ListEntry> out;
  Status bad_name;
  IMAP_CO_ASSIGN(Response r, co_await c.Run("LIST " + ref + " " + pat, {}, [&](Response& u) {
    if (u.name != "LIST" || u.data.size() < 3) return;
    ListEntry e;
    for (const auto& a : u.data[0].items) e.attributes.push_back(a.text);
    e.delimiter = u.data[1].text;
    StatusOr<std::string> name = DecodeMailboxName(u.data[2].text);
    if (!name.ok()) {
      bad_name = name.status();
      return;
    }
    e.name = *name;
    out.push_back(std::move(e));
  }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "LIST");
  if (!bad_name.ok()) co_return bad_name;
  co_return out;
}

awaitable<StatusOr<MailboxStatus>> Client::StatusOf(std::string_view mailbox) {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(std::string arg, co_await c.MailboxArg(mailbox));
  MailboxStatus st;
  IMAP_CO_ASSIGN(Response r,
                 co_await c.Run("STATUS " + arg + " (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)", {},
                                [&](Response& u) {
                                  if (u.name != "STATUS" || u.data.size() < 2) return;
                                  const auto& items = u.data[1].items;
                                  if (auto* v = FindItem(items, "MESSAGES"))
                                    st.messages = ToU32(v->AsNumber());
                                  if (auto* v = FindItem(items, "UIDNEXT"))
                                    st.uidnext = ToU32(v->AsNumber());
                                  if (auto* v = FindItem(items, "UIDVALIDITY"))
                                    st.uidvalidity = ToU32(v->AsNumber());
                                  if (auto* v = FindItem(items, "UNSEEN"))
                                    st.unseen = ToU32(v->AsNumber());
                                }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "STATUS " + Clean(mailbox, 100));
  co_return st;
}

awaitable<StatusOr<std::vector<uint32_t>>> Client::UidSearch(std::string_view criteria) {
  Impl& c = *impl_;
  std::vector<uint32_t> uids;
  IMAP_CO_ASSIGN(Response r,
                 co_await c.Run("UID SEARCH " + std::string(criteria), {}, [&](Response& u) {
                   if (u.name != "SEARCH") return;
                   for (const auto& v : u.data) {
                     if (auto n = ToU32(v.AsNumber())) uids.push_back(*n);
                   }
                 }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "UID SEARCH");
  std::sort(uids.begin(), uids.end());
  co_return uids;
}

awaitable<StatusOr<FetchReport>> Client::UidFetchMessages(const std::vector<uint32_t>& uids,
                                                          MessageSink& sink) {
  Impl& c = *impl_;
  FetchReport report;
  std::vector<uint32_t> want = uids;
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  const std::size_t batch = std::max<std::size_t>(1, c.options.fetch_batch);
  const std::size_t depth = std::max<std::size_t>(1, c.options.pipeline_depth);

  struct InFlight {
    std::string tag;
    std::vector<uint32_t> uids;
  };
  std::deque<InFlight> in_flight;
  std::set<uint32_t> done;  // returned or failed
  std::size_t next = 0;

  FetchAdapter adapter(sink);
  c.fetch = &adapter;
  c.parser.set_literal_sink(&adapter);
  struct Restore {
    Impl& c;
    ~Restore() {
      c.fetch = nullptr;
      c.parser.set_literal_sink(nullptr);
    }
  } restore{c};

  while (next < want.size() || !in_flight.empty()) {
    // isync's pipeline: keep up to `depth` commands outstanding; none carries a literal,
    // so no command ever waits for a continuation here.
    while (in_flight.size() < depth && next < want.size() && sink.WantMore()) {
      InFlight f;
      f.tag = c.NextTag();
      const std::size_t end = std::min(want.size(), next + batch);
      f.uids.assign(want.begin() + next, want.begin() + end);
      next = end;
      IMAP_CO_TRY(co_await c.Send(f.tag + " UID FETCH " + UidSet(f.uids) +
                                  " (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])\r\n"));
      in_flight.push_back(std::move(f));
    }
    if (in_flight.empty()) break;  // the sink wants no more
    IMAP_CO_ASSIGN(Response r, co_await c.Read());
    if (r.kind == Response::Kind::kUntagged && r.name == "FETCH" && !r.data.empty() &&
        r.data[0].is_list()) {
      const auto& items = r.data[0].items;
      const Value* body = nullptr;
      for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
        if (items[i + 1].kind == Value::Kind::kStreamed) body = &items[i + 1];
      }
      if (body == nullptr) continue;  // an unsolicited flag update
      FetchedMessage m;
      m.seq = ToU32(r.number).value_or(0);
      m.body_size = body->size;
      const Value* uid = FindItem(items, "UID");
      if (uid == nullptr || !ToU32(uid->AsNumber())) {
        adapter.Abort();
        co_return c.Fatal(Status::Protocol(c.Where() +
                                           " sent a message without its UID; the server is "
                                           "broken, report it to its administrator"));
      }
      m.uid = *ToU32(uid->AsNumber());
      if (auto* v = FindItem(items, "RFC822.SIZE")) m.rfc822_size = v->AsNumber().value_or(0);
      if (auto* v = FindItem(items, "INTERNALDATE")) m.internal_date = v->text;
      if (auto* v = FindItem(items, "FLAGS")) {
        for (const auto& f : v->items) m.flags.push_back(f.text);
      }
      done.insert(m.uid);
      if (!r.sink_status.ok()) {
        adapter.Abort();
        report.failed.emplace_back(m.uid, r.sink_status);
        continue;
      }
      Status s = sink.EndMessage(m);
      if (!s.ok()) {
        report.failed.emplace_back(m.uid, s);
      } else {
        ++report.fetched;
      }
      continue;
    }
    if (r.kind == Response::Kind::kTagged) {
      auto it = std::find_if(in_flight.begin(), in_flight.end(),
                             [&](const InFlight& f) { return f.tag == r.tag; });
      if (it == in_flight.end()) {
        co_return c.Fatal(Status::Protocol(c.Where() + " answered a command that was not sent"));
      }
      if (r.condition == Condition::kBad) {
        co_return c.Fatal(c.CommandError(r, "UID FETCH"));
      }
      if (r.condition == Condition::kNo) {
        const Status s = c.CommandError(r, "UID FETCH");
        if (s.kind() == Status::Kind::kAuth) co_return c.Fatal(s);
        for (uint32_t u : it->uids) {
          if (done.insert(u).second) report.failed.emplace_back(u, s);
        }
      }
      in_flight.erase(it);
      continue;
    }
    if (r.kind == Response::Kind::kContinuation) {
      co_return c.Fatal(Status::Protocol(c.Where() + " asked for data during UID FETCH"));
    }
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (i >= next) {
      report.unrequested.push_back(want[i]);
    } else if (!done.count(want[i])) {
      report.missing.push_back(want[i]);
    }
  }
  co_return report;
}

awaitable<StatusOr<std::vector<MessageSize>>> Client::UidFetchSizes(
    const std::vector<uint32_t>& uids) {
  Impl& c = *impl_;
  std::vector<MessageSize> out;
  if (uids.empty()) co_return out;
  IMAP_CO_ASSIGN(Response r, co_await c.Run("UID FETCH " + UidSet(uids) + " (UID RFC822.SIZE)", {},
                                            [&](Response& u) {
                                              if (u.name != "FETCH" || u.data.empty()) return;
                                              const auto& items = u.data[0].items;
                                              const Value* uid = FindItem(items, "UID");
                                              const Value* size = FindItem(items, "RFC822.SIZE");
                                              if (uid == nullptr || size == nullptr) return;
                                              auto n = ToU32(uid->AsNumber());
                                              auto bytes = size->AsNumber();
                                              if (!n || !bytes) return;
                                              out.push_back(MessageSize{*n, *bytes});
                                            }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "UID FETCH (RFC822.SIZE)");
  std::sort(out.begin(), out.end(),
            [](const MessageSize& a, const MessageSize& b) { return a.uid < b.uid; });
  // A server may volunteer the same message twice (RFC 9051 §7.5.2 allows it).
  out.erase(std::unique(out.begin(), out.end(),
                        [](const MessageSize& a, const MessageSize& b) { return a.uid == b.uid; }),
            out.end());
  co_return out;
}

awaitable<StatusOr<std::vector<HeaderFields>>> Client::UidFetchHeaderFields(
    const std::vector<uint32_t>& uids, std::vector<std::string> fields) {
  Impl& c = *impl_;
  std::vector<HeaderFields> out;
  if (uids.empty()) co_return out;
  std::string list;
  for (const auto& f : fields) {
    const bool ok = !f.empty() && std::all_of(f.begin(), f.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-';
    });
    if (!ok) co_return Status::InvalidArgument("not a header field name: " + Clean(f, 50));
    if (!list.empty()) list += ' ';
    list += f;
  }
  IMAP_CO_ASSIGN(
      Response r,
      co_await c.Run("UID FETCH " + UidSet(uids) + " (UID BODY.PEEK[HEADER.FIELDS (" + list + ")])",
                     {}, [&](Response& u) {
                       if (u.name != "FETCH" || u.data.empty()) return;
                       const auto& items = u.data[0].items;
                       const Value* uid = FindItem(items, "UID");
                       if (uid == nullptr) return;
                       const std::optional<uint32_t> n = ToU32(uid->AsNumber());
                       if (!n) return;
                       for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
                         // The server echoes the section, maybe in its own spelling.
                         if (Upper(items[i].text).starts_with("BODY[HEADER.FIELDS")) {
                           out.push_back(HeaderFields{*n, items[i + 1].AsString()});
                         }
                       }
                     }));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "UID FETCH (header fields)");
  std::sort(out.begin(), out.end(),
            [](const HeaderFields& a, const HeaderFields& b) { return a.uid < b.uid; });
  co_return out;
}

awaitable<Status> Client::UidStore(const std::vector<uint32_t>& uids, std::string_view op,
                                   const std::vector<std::string>& flags) {
  Impl& c = *impl_;
  if (op != "+FLAGS" && op != "-FLAGS" && op != "FLAGS") {
    co_return Status::InvalidArgument("UID STORE takes +FLAGS, -FLAGS or FLAGS");
  }
  if (uids.empty()) co_return Status::Ok();
  std::string list;
  for (const auto& f : flags) {
    const bool ok = !f.empty() && std::all_of(f.begin(), f.end(),
                                              [](char ch) { return IsAtomChar(ch) || ch == '\\'; });
    if (!ok) co_return Status::InvalidArgument("not a valid IMAP flag: " + Clean(f, 50));
    if (!list.empty()) list += ' ';
    list += f;
  }
  IMAP_CO_ASSIGN(Response r, co_await c.Run("UID STORE " + UidSet(uids) + " " + std::string(op) +
                                            ".SILENT (" + list + ")"));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "UID STORE");
  co_return Status::Ok();
}

awaitable<Status> Client::Impl::ExpungeFallback(const std::vector<uint32_t>& uids) {
  // Without UIDPLUS, EXPUNGE removes every \Deleted message, including ones another client
  // marked and may still undelete: only go ahead when ours are the only ones.
  std::vector<uint32_t> deleted;
  IMAP_CO_ASSIGN(Response s, co_await Run("UID SEARCH DELETED", {}, [&](Response& u) {
                   if (u.name != "SEARCH") return;
                   for (const auto& v : u.data) {
                     if (auto n = ToU32(v.AsNumber())) deleted.push_back(*n);
                   }
                 }));
  if (s.condition != Condition::kOk) co_return CommandError(s, "UID SEARCH DELETED");
  const std::set<uint32_t> mine(uids.begin(), uids.end());
  for (uint32_t d : deleted) {
    if (!mine.count(d)) {
      co_return Status::Permanent(
          "the server lacks UIDPLUS, and other messages in the mailbox are marked deleted, so "
          "an EXPUNGE would remove them too; the messages were marked \\Deleted but not removed: "
          "expunge the mailbox in a mail program");
    }
  }
  IMAP_CO_ASSIGN(Response r, co_await Run("EXPUNGE"));
  if (r.condition != Condition::kOk) co_return CommandError(r, "EXPUNGE");
  co_return Status::Ok();
}

awaitable<Status> Client::UidExpunge(const std::vector<uint32_t>& uids) {
  Impl& c = *impl_;
  if (uids.empty()) co_return Status::Ok();
  // Named: g++ 12 cannot keep an initializer_list's array in a coroutine frame.
  const std::vector<std::string> deleted_flag{"\\Deleted"};
  IMAP_CO_TRY(co_await UidStore(uids, "+FLAGS", deleted_flag));
  if (!c.caps.Has("UIDPLUS")) co_return co_await c.ExpungeFallback(uids);
  IMAP_CO_ASSIGN(Response r, co_await c.Run("UID EXPUNGE " + UidSet(uids)));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "UID EXPUNGE");
  co_return Status::Ok();
}

awaitable<Status> Client::UidMove(const std::vector<uint32_t>& uids, std::string_view destination) {
  Impl& c = *impl_;
  if (uids.empty()) co_return Status::Ok();
  IMAP_CO_ASSIGN(std::string dest, co_await c.MailboxArg(destination));
  const std::string what = "moving messages to " + Clean(destination, 100);
  if (c.caps.Has("MOVE")) {
    IMAP_CO_ASSIGN(Response r, co_await c.Run("UID MOVE " + UidSet(uids) + " " + dest));
    if (r.condition != Condition::kOk) co_return c.CommandError(r, what);
    co_return Status::Ok();
  }
  IMAP_CO_ASSIGN(Response r, co_await c.Run("UID COPY " + UidSet(uids) + " " + dest));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, what);
  co_return co_await UidExpunge(uids);
}

namespace {

// Shared between Idle() and the timer coroutine that ends an IDLE slice.
struct IdleState {
  explicit IdleState(const asio::any_io_executor& ex) : timer(ex), waiter(ex) {}
  asio::steady_timer timer;
  asio::steady_timer waiter;  // Idle() waits on it while the timer coroutine writes DONE
  bool finished = false;
  bool done_sent = false;
  bool writing = false;
};

}  // namespace

awaitable<StatusOr<IdleResult>> Client::Idle(std::chrono::milliseconds max_wait) {
  Impl& c = *impl_;
  if (!c.caps.Has("IDLE")) {
    co_return Status::Permanent("the server does not support IDLE; poll with NOOP instead");
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + max_wait;
  // Each IDLE ends before the connection's read deadline would break the connection, and
  // before the server's 30-minute inactivity logout.
  const auto io = c.options.connect.io_timeout;
  const auto margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), io / 4);
  const auto longest = std::min(c.options.idle_reissue, io - margin);
  IdleResult result;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    const auto slice = std::min(left, longest);
    const std::string tag = c.NextTag();
    IMAP_CO_TRY(co_await c.Send(tag + " IDLE\r\n"));
    for (;;) {
      IMAP_CO_ASSIGN(Response r, co_await c.Read());
      if (r.kind == Response::Kind::kContinuation) break;
      if (r.kind == Response::Kind::kTagged) co_return c.CommandError(r, "IDLE");
      if (r.name == "EXISTS" || r.name == "EXPUNGE" || r.name == "FETCH") result.changed = true;
    }
    auto st = std::make_shared<IdleState>(c.ex);
    // While Idle() waits in a read, this coroutine ends the slice with DONE: IMAP IDLE needs
    // one read and one write in flight at once (the stream is full duplex).
    asio::co_spawn(
        c.ex,
        [&c, st, slice, io]() -> awaitable<void> {
          st->timer.expires_after(slice);
          auto [ec] = co_await st->timer.async_wait(kUse);
          if (ec || st->finished || st->done_sent) co_return;
          st->done_sent = true;
          st->writing = true;
          Status s = co_await c.conn->Write("DONE\r\n");
          st->writing = false;
          st->waiter.cancel();
          if (!s.ok() || st->finished) co_return;
          // The write took over the read's deadline; a server that never answers DONE
          // must not hang us.
          st->timer.expires_after(io);
          auto [ec2] = co_await st->timer.async_wait(kUse);
          if (ec2 || st->finished) co_return;
          c.conn->Close();
        },
        asio::detached);
    if (result.changed) {
      st->done_sent = true;
      st->timer.cancel();
      IMAP_CO_TRY(co_await c.Send("DONE\r\n"));
    }
    Status failure;
    for (;;) {
      StatusOr<Response> r = co_await c.Read();
      if (!r.ok()) {
        failure = r.status();
        break;
      }
      if (r->kind == Response::Kind::kTagged) {
        if (r->condition != Condition::kOk) failure = c.CommandError(*r, "IDLE");
        break;
      }
      if (r->name == "EXISTS" || r->name == "EXPUNGE" || r->name == "FETCH") {
        result.changed = true;
        if (!st->done_sent) {
          st->done_sent = true;
          st->timer.cancel();
          Status s = co_await c.Send("DONE\r\n");
          if (!s.ok()) {
            failure = s;
            break;
          }
        }
      }
    }
    st->finished = true;
    st->timer.cancel();
    while (st->writing) {
      st->waiter.expires_after(std::chrono::hours(1));
      co_await st->waiter.async_wait(kUse);
    }
    if (!failure.ok()) co_return failure;
    if (result.changed) break;
  }
  result.exists = c.selected.exists;
  co_return result;
}

awaitable<Status> Client::Noop() {
  Impl& c = *impl_;
  IMAP_CO_ASSIGN(Response r, co_await c.Run("NOOP"));
  if (r.condition != Condition::kOk) co_return c.CommandError(r, "NOOP");
  co_return Status::Ok();
}

awaitable<Status> Client::Logout() {
  Impl& c = *impl_;
  if (!c.dead.ok()) co_return Status::Ok();
  c.logging_out = true;
  StatusOr<Response> r = co_await c.Run("LOGOUT");
  c.conn->Close();
  // The server may close before its tagged OK: the session is over either way.
  if (!r.ok() && r.status().kind() != Status::Kind::kConnect) co_return r.status();
  co_return Status::Ok();
}

}  // namespace mailgate::imap
