#include "pop3/pop3_client.h"

#include <algorithm>
#include <charconv>

#include "net/client_session.h"

namespace mailgate::pop3 {

namespace asio = boost::asio;

namespace {

// RFC 2449 §4: a command line is at most 255 octets with its CRLF; longer
// initial responses go after the server's "+" (RFC 5034 §4).
constexpr std::size_t kMaxCommandLine = 255;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

std::string Quoted(std::string_view server_text) {
  std::string t(server_text.substr(0, 300));
  return "\"" + t + "\"";
}

}  // namespace

Status AuthFailure(std::string_view text, std::string_view user, bool token,
                   std::string_view oauth_error) {
  const std::string said = " (server: " + Quoted(text) + ")";
  if (StartsWith(text, "[SYS/TEMP]") || StartsWith(text, "[IN-USE]") ||
      StartsWith(text, "[LOGIN-DELAY]")) {
    return Status::Transient("the server cannot open the mailbox of " + std::string(user) +
                             " right now" + said + "; try again later");
  }
  if (ContainsNoCase(text, "User is authenticated but not connected")) {
    return Status::Auth(
        "the server accepted the token but " + std::string(user) +
        " has no access to that mailbox" + said +
        ": check that the user name is the mailbox address; for app-only access check the "
        "FullAccess permission (Add-MailboxPermission) and the Enterprise Application's object "
        "ID in New-ServicePrincipal; and that POP is enabled for the mailbox "
        "(Set-CASMailbox -PopEnabled $true)");
  }
  if (ContainsNoCase(text, "Protocol error")) {
    return Status::Auth(
        "the server rejected the authentication exchange as malformed" + said +
        ". Exchange Online answers so when the XOAUTH2 token comes on the AUTH line instead of "
        "after its '+' prompt, or when the response is not the XOAUTH2 format; check the "
        "mechanism (--mech xoauth2) and that the token is an access token for POP");
  }
  std::string msg;
  if (token) {
    msg = "the server refused the OAuth2 access token for " + std::string(user);
    if (!oauth_error.empty()) msg += " (" + std::string(oauth_error) + ")";
    msg += said +
           ": the token is expired, revoked, for another user, or lacks the POP scope "
           "(https://outlook.office.com/POP.AccessAsUser.All); re-authorize the account if a "
           "fresh token does not help";
  } else {
    msg = "the server refused the user name or password for " + std::string(user) + said +
          "; check both, and whether the account needs an app password or OAuth2";
  }
  return Status::Auth(std::move(msg));
}

Client::Client(asio::any_io_executor ex, net::ConnectOptions options, net::TraceFn trace)
    : ex_(std::move(ex)), options_(std::move(options)), trace_(std::move(trace)) {}

Client::~Client() {
  if (conn_) conn_->Close();
}

asio::awaitable<StatusOr<std::unique_ptr<Client>>> Client::Connect(asio::any_io_executor ex,
                                                                   net::ConnectOptions options,
                                                                   net::TraceFn trace) {
  std::unique_ptr<Client> client(new Client(ex, std::move(options), std::move(trace)));
  MAILGATE_CO_RETURN_IF_ERROR(co_await client->Open());
  co_return client;
}

Status Client::Checked(Status s) {
  if (net::ConnectionLost(s)) closed_by_server_ = true;
  return s;
}

asio::awaitable<Status> Client::Open() {
  if (conn_) conn_->Close();
  conn_.reset();
  caps_ = Capabilities();
  authenticated_ = false;
  closed_by_server_ = false;
  auto opened = co_await net::OpenTraced(ex_, options_, trace_);
  if (!opened.ok()) co_return opened.status();
  conn_ = std::move(opened).value();

  auto greeting = co_await ReadReply();
  if (!greeting.ok()) co_return greeting.status().WithContext("POP3 greeting");
  if (!greeting->ok) {
    co_return Status::Transient("the POP3 server refused the connection (server: " +
                                Quoted(greeting->text) + "); try again later");
  }
  MAILGATE_CO_RETURN_IF_ERROR(co_await ReadCapabilities());

  if (options_.tls == net::TlsMode::kStartTls) {
    if (caps_.capa_ok && !caps_.stls) {
      co_return Status::Tls(
          "the POP3 server at " + options_.host + ":" + std::to_string(options_.port) +
          " does not offer STLS, and STARTTLS was required; Mailgate never falls back to "
          "plaintext: use --encryption tls (usually port 995), or enable STLS on the server");
    }
    auto r = co_await Command("STLS\r\n");
    if (!r.ok()) co_return r.status();
    if (!r->ok) {
      co_return Status::Tls(
          "the POP3 server refused STLS (server: " + Quoted(r->text) +
          "); Mailgate never falls back to plaintext: use --encryption tls (usually "
          "port 995), or enable STLS on the server");
    }
    MAILGATE_CO_RETURN_IF_ERROR(co_await conn_->StartTls());
    // RFC 2595 §4: capabilities from before TLS must be discarded.
    MAILGATE_CO_RETURN_IF_ERROR(co_await ReadCapabilities());
  }
  co_return Status::Ok();
}

asio::awaitable<StatusOr<Client::Reply>> Client::ReadReply() {
  auto line = co_await conn_->ReadLine();
  if (!line.ok()) co_return Checked(line.status());
  auto parsed = ParseStatusLine(*line);
  if (!parsed.ok()) co_return Checked(parsed.status());
  Reply r;
  r.ok = parsed->ok;
  r.text = std::move(parsed->text);
  co_return r;
}

asio::awaitable<StatusOr<Client::Reply>> Client::Command(std::string_view command,
                                                         std::string_view trace_as) {
  Status w = co_await conn_->Write(command, trace_as);
  if (!w.ok()) co_return Checked(w);
  co_return co_await ReadReply();
}

asio::awaitable<Status> Client::ReadMultiline(std::function<Status(std::string_view line)> on_line,
                                              bool trace_lines) {
  for (;;) {
    // Not a conditional expression: g++ 12 miscompiles co_await inside ?: .
    StatusOr<std::string> line = Status::Internal("unread");
    if (trace_lines) {
      line = co_await conn_->ReadLine();
    } else {
      line = co_await conn_->ReadLineUntraced();
    }
    if (!line.ok()) co_return Checked(line.status().WithContext("in a multi-line POP3 answer"));
    const std::optional<std::string_view> l = UnstuffLine(*line);
    if (!l) co_return Status::Ok();
    MAILGATE_CO_RETURN_IF_ERROR(on_line(*l));
  }
}

asio::awaitable<Status> Client::ReadCapabilities() {
  auto r = co_await Command("CAPA\r\n");
  if (!r.ok()) co_return r.status();
  caps_ = Capabilities();
  if (!r->ok) co_return Status::Ok();  // a pre-RFC 2449 server: capabilities unknown
  caps_.capa_ok = true;
  co_return co_await ReadMultiline(
      [this](std::string_view line) {
        ParseCapaLine(line, caps_);
        return Status::Ok();
      },
      true);
}

asio::awaitable<Status> Client::Authenticate(const sasl::AuthOptions& auth) {
  if (auth.secret && authenticated_) co_return Status::Internal("POP3 Authenticate called twice");
  // A refused token may just be stale (expired between fetch and use): ask
  // once for a fresh one, on a fresh connection when the server hung up.
  net::AuthAttempts attempts;
  attempts.secret = auth.secret;
  attempts.secret_is_token = auth.secret_is_token;
  attempts.once = [this, &auth](const std::string& secret) {
    return AuthenticateOnce(auth, secret);
  };
  attempts.closed_by_server = [this] { return closed_by_server_; };
  attempts.reopen = [this] { return Open(); };
  attempts.on_retry = [this] {
    conn_->Trace(net::TraceDirection::kInfo, "authentication failed; retrying with a fresh token");
  };
  co_return co_await net::AuthenticateWithFreshToken(attempts);
}

asio::awaitable<Status> Client::AuthenticateOnce(const sasl::AuthOptions& auth,
                                                 const std::string& secret) {
  StatusOr<sasl::Mechanism> mech =
      caps_.sasl.empty() && auth.secret_is_token && !auth.mechanism
          ? StatusOr<sasl::Mechanism>(sasl::Mechanism::kXoauth2)
          : sasl::Choose(auth.mechanism, caps_.sasl, auth.secret_is_token);
  if (!mech.ok()) {
    // A password with no usable SASL mechanism: RFC 1939 USER/PASS when offered
    // (or when CAPA is unknown).
    if (!auth.secret_is_token && (!auth.mechanism || *auth.mechanism == sasl::Mechanism::kPlain) &&
        (caps_.user || !caps_.capa_ok)) {
      co_return co_await UserPass(auth, secret);
    }
    co_return mech.status();
  }
  co_return co_await AuthenticateSasl(*mech, auth, secret);
}

asio::awaitable<Status> Client::UserPass(const sasl::AuthOptions& auth, const std::string& secret) {
  if (auth.user.find_first_of("\r\n") != std::string::npos ||
      secret.find_first_of("\r\n") != std::string::npos) {
    co_return Status::InvalidArgument("the user name or password contains a line break");
  }
  const std::string user_line = "USER " + auth.user + "\r\n";
  auto u = co_await Command(user_line);
  if (!u.ok()) co_return u.status();
  if (!u->ok) co_return AuthFailure(u->text, auth.user, false, "");
  const std::string pass_line = "PASS " + secret + "\r\n";
  auto p = co_await Command(pass_line, "PASS <redacted>");
  if (!p.ok()) co_return p.status();
  if (!p->ok) co_return AuthFailure(p->text, auth.user, false, "");
  authenticated_ = true;
  co_return Status::Ok();
}

asio::awaitable<Status> Client::AuthenticateSasl(sasl::Mechanism mech,
                                                 const sasl::AuthOptions& auth,
                                                 const std::string& secret) {
  sasl::Exchange exchange(mech, {auth.user, secret, options_.host, options_.port});
  MAILGATE_CO_RETURN_IF_ERROR(exchange.Validate());
  const std::string name(sasl::MechanismName(mech));

  // XOAUTH2 always in two steps: Exchange Online closes the connection with
  // "-ERR Protocol error" when the token comes on the AUTH line.
  std::string command = "AUTH " + name;
  std::string trace_as;
  if (mech != sasl::Mechanism::kXoauth2) {
    std::optional<std::string> initial = exchange.InitialResponse();
    if (initial) {
      const std::string encoded = initial->empty() ? "=" : sasl::Base64Encode(*initial);
      if (command.size() + 1 + encoded.size() + 2 <= kMaxCommandLine) {
        command += " " + encoded;
        trace_as = "AUTH " + name + " <redacted>";
      }
    }
  }
  command += "\r\n";
  Status w = co_await conn_->Write(command, trace_as);
  if (!w.ok()) co_return Checked(w);

  for (int round = 0; round < 8; ++round) {
    auto line = co_await conn_->ReadLine();
    if (!line.ok()) co_return Checked(line.status().WithContext("during POP3 AUTH " + name));
    std::string_view l = *line;
    if (StartsWith(l, "+OK")) {
      authenticated_ = true;
      co_return Status::Ok();
    }
    if (StartsWith(l, "-ERR")) {
      std::string_view text = l.substr(4);
      if (!text.empty() && text[0] == ' ') text.remove_prefix(1);
      if (ContainsNoCase(text, "Connection is closed")) closed_by_server_ = true;
      co_return AuthFailure(text, auth.user, auth.secret_is_token, exchange.oauth_error());
    }
    if (!StartsWith(l, "+")) {
      co_return Checked(Status::Protocol("the POP3 server sent " + Quoted(l.substr(0, 80)) +
                                         " during AUTH; check that the port is a POP3 port"));
    }
    std::string_view b64 = l.substr(1);
    while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
    while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
    std::string challenge;
    if (!b64.empty()) {
      auto decoded = sasl::Base64Decode(b64);
      if (!decoded.ok()) {
        co_return Checked(Status::Protocol(
            "the POP3 server sent a SASL challenge that is not base64; the server is broken"));
      }
      challenge = std::move(decoded).value();
    }
    // Without an initial response on the AUTH line the first (empty) challenge
    // is answered with it (sasl.h, step 2).
    auto response = exchange.Respond(challenge);
    if (!response.ok()) {
      (void)co_await conn_->Write("*\r\n");  // RFC 5034 §4: cancel the exchange
      co_return response.status();
    }
    const std::string encoded = sasl::Base64Encode(*response) + "\r\n";
    const std::string_view shown = encoded.size() == 2 ? "" : "<redacted>";
    Status ws = co_await conn_->Write(encoded, shown);
    if (!ws.ok()) co_return Checked(ws);
  }
  co_return Checked(Status::Protocol("the POP3 server kept sending SASL challenges; giving up"));
}

Status Client::ErrorFor(std::string_view command, const Reply& reply) const {
  const std::string said =
      "the POP3 server refused " + std::string(command) + " (server: " + Quoted(reply.text) + ")";
  if (StartsWith(reply.text, "[SYS/TEMP]") || StartsWith(reply.text, "[IN-USE]")) {
    return Status::Transient(said + "; try again later");
  }
  return Status::Permanent(said + "; the mailbox may have changed: reconnect and list it again");
}

asio::awaitable<StatusOr<MailboxStat>> Client::Stat() {
  auto r = co_await Command("STAT\r\n");
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("STAT", *r);
  co_return ParseStat(r->text);
}

asio::awaitable<StatusOr<std::vector<ListEntry>>> Client::List() {
  auto r = co_await Command("LIST\r\n");
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("LIST", *r);
  std::vector<ListEntry> out;
  Status s = co_await ReadMultiline(
      [&out](std::string_view line) {
        auto e = ParseListLine(line);
        if (!e.ok()) return e.status();
        out.push_back(*e);
        return Status::Ok();
      },
      true);
  if (!s.ok()) co_return s;
  co_return out;
}

asio::awaitable<StatusOr<std::vector<UidlEntry>>> Client::Uidl() {
  auto r = co_await Command("UIDL\r\n");
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("UIDL", *r);
  std::vector<UidlEntry> out;
  Status s = co_await ReadMultiline(
      [&out](std::string_view line) {
        auto e = ParseUidlLine(line);
        if (!e.ok()) return e.status();
        out.push_back(std::move(e).value());
        return Status::Ok();
      },
      true);
  if (!s.ok()) co_return s;
  co_return out;
}

asio::awaitable<Status> Client::ReadMessage(MessageSink sink) {
  std::uint64_t bytes = 0;
  std::string chunk;
  chunk.reserve(64 * 1024);
  Status s = co_await ReadMultiline(
      [&](std::string_view line) {
        chunk.append(line);
        chunk.append("\r\n");
        bytes += line.size() + 2;
        if (chunk.size() >= 60 * 1024) {
          Status out = sink(chunk);
          chunk.clear();
          return out;
        }
        return Status::Ok();
      },
      false);
  if (!s.ok()) co_return s;
  if (!chunk.empty()) MAILGATE_CO_RETURN_IF_ERROR(sink(chunk));
  conn_->Trace(net::TraceDirection::kRecv, "(" + std::to_string(bytes) + " bytes)");
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Retr(std::uint64_t number, MessageSink sink) {
  const std::string line = "RETR " + std::to_string(number) + "\r\n";
  auto r = co_await Command(line);
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("RETR " + std::to_string(number), *r);
  co_return co_await ReadMessage(std::move(sink));
}

asio::awaitable<Status> Client::RetrMany(std::vector<std::uint64_t> numbers,
                                         std::function<MessageSink(std::uint64_t number)> sink_for,
                                         std::size_t window) {
  if (!caps_.pipelining) window = 1;
  window = std::max<std::size_t>(window, 1);
  std::size_t sent = 0;
  for (std::size_t done = 0; done < numbers.size(); ++done) {
    // RFC 2449 §6.6: with PIPELINING commands may be sent without waiting.
    std::string batch;
    while (sent < numbers.size() && sent - done < window) {
      batch += "RETR " + std::to_string(numbers[sent++]) + "\r\n";
    }
    if (!batch.empty()) {
      Status w = co_await conn_->Write(batch);
      if (!w.ok()) co_return Checked(w);
    }
    auto r = co_await ReadReply();
    if (!r.ok()) co_return r.status();
    if (!r->ok) co_return ErrorFor("RETR " + std::to_string(numbers[done]), *r);
    const MessageSink sink = sink_for(numbers[done]);
    MAILGATE_CO_RETURN_IF_ERROR(co_await ReadMessage(sink));
  }
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Top(std::uint64_t number, std::uint64_t lines, MessageSink sink) {
  const std::string line = "TOP " + std::to_string(number) + " " + std::to_string(lines) + "\r\n";
  auto r = co_await Command(line);
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("TOP " + std::to_string(number), *r);
  co_return co_await ReadMessage(std::move(sink));
}

asio::awaitable<Status> Client::Dele(std::uint64_t number) {
  const std::string line = "DELE " + std::to_string(number) + "\r\n";
  auto r = co_await Command(line);
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("DELE " + std::to_string(number), *r);
  co_return Status::Ok();
}

asio::awaitable<Status> Client::DeleMany(std::vector<std::uint64_t> numbers) {
  if (!caps_.pipelining) {
    for (std::uint64_t n : numbers) MAILGATE_CO_RETURN_IF_ERROR(co_await Dele(n));
    co_return Status::Ok();
  }
  constexpr std::size_t kBatch = 64;
  for (std::size_t start = 0; start < numbers.size(); start += kBatch) {
    const std::size_t end = std::min(numbers.size(), start + kBatch);
    std::string batch;
    for (std::size_t i = start; i < end; ++i)
      batch += "DELE " + std::to_string(numbers[i]) + "\r\n";
    Status w = co_await conn_->Write(batch);
    if (!w.ok()) co_return Checked(w);
    Status first_error;
    for (std::size_t i = start; i < end; ++i) {
      auto r = co_await ReadReply();
      if (!r.ok()) co_return r.status();
      if (!r->ok && first_error.ok())
        first_error = ErrorFor("DELE " + std::to_string(numbers[i]), *r);
    }
    if (!first_error.ok()) co_return first_error;
  }
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Rset() {
  auto r = co_await Command("RSET\r\n");
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("RSET", *r);
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Noop() {
  auto r = co_await Command("NOOP\r\n");
  if (!r.ok()) co_return r.status();
  if (!r->ok) co_return ErrorFor("NOOP", *r);
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Quit() {
  auto r = co_await Command("QUIT\r\n");
  conn_->Close();
  if (!r.ok()) co_return r.status();
  // RFC 1939 §6: -ERR to QUIT means some deletions were not committed.
  if (!r->ok) {
    co_return Status::Transient("the POP3 server could not remove deleted messages (server: " +
                                Quoted(r->text) + "); they will be seen again next time");
  }
  co_return Status::Ok();
}

}  // namespace mailgate::pop3
