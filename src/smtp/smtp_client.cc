#include "smtp/smtp_client.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "net/client_session.h"

namespace mailgate::smtp {

namespace asio = boost::asio;

namespace {

// RFC 4954 §4: an AUTH command with its initial response must fit in 512
// octets (RFC 5321 §4.5.3.1.4 command line limit, CRLF included).
constexpr std::size_t kMaxAuthLine = 512;
constexpr std::size_t kBodyChunk = 64 * 1024;

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

bool HasNonAscii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) > 127; });
}

std::string Quoted(const Reply& r) {
  std::string t = std::to_string(r.code) + " " + r.Text();
  if (t.size() > 300) t = t.substr(0, 300) + "...";
  return "\"" + t + "\"";
}

std::string DefaultHeloName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0') return buf;
  return "localhost";
}

bool IsAuthRefusal(int code) {
  return code == 530 || code == 534 || code == 535 || code == 538;
}

}  // namespace

Status ReplyError(std::string_view during, const Reply& reply) {
  const std::string said = "the SMTP server refused " + std::string(during) + ": " + Quoted(reply);
  const std::string text = reply.Text();
  if (reply.enhanced == "5.7.139" || ContainsNoCase(text, "SmtpClientAuthentication is disabled")) {
    return Status::Auth(
        said +
        ". SMTP AUTH is disabled for the mailbox or the whole tenant: an Exchange administrator "
        "must enable it (Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled "
        "$false, or for the tenant Set-TransportConfig -SmtpClientAuthenticationDisabled "
        "$false); Conditional Access or security defaults may still block it");
  }
  if (reply.enhanced == "5.5.127" || ContainsNoCase(text, "Token will expire soon")) {
    return Status::Auth(said +
                        ". The access token was about to expire; tokens must be refreshed at "
                        "least 10 minutes before they expire (Mailgate fetches a fresh one)");
  }
  if (ContainsNoCase(text, "Line too long")) {
    return Status::Protocol(said +
                            ". The server limits line length; this is a bug in Mailgate if it "
                            "happened during AUTH (the response must go after 334)");
  }
  if (reply.code == 454 || (reply.code >= 400 && reply.code < 500)) {
    return Status::Transient(said + "; try again later");
  }
  if (IsAuthRefusal(reply.code)) {
    return Status::Auth(said + "; check the credentials and the account's permission to send");
  }
  return Status::Permanent(said +
                           "; this will not succeed by retrying: fix the cause named by "
                           "the server");
}

void DataEncoder::Encode(std::string_view chunk, std::string& out) {
  for (char c : chunk) {
    if (pending_cr_) {
      pending_cr_ = false;
      out += "\r\n";
      at_line_start_ = true;
      if (c == '\n') continue;  // CRLF
      // A bare CR: it ended a line as well; fall through to handle c.
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {  // bare LF
      out += "\r\n";
      at_line_start_ = true;
      continue;
    }
    if (at_line_start_ && c == '.') out += '.';  // RFC 5321 §4.5.2
    at_line_start_ = false;
    out += c;
  }
}

void DataEncoder::Finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    out += "\r\n";
    at_line_start_ = true;
  }
  if (!at_line_start_) out += "\r\n";
  out += ".\r\n";
  at_line_start_ = true;
}

Client::Client(asio::any_io_executor ex, net::ConnectOptions options, ClientOptions client,
               net::TraceFn trace)
    : ex_(std::move(ex)),
      options_(std::move(options)),
      client_(std::move(client)),
      trace_(std::move(trace)) {
  if (client_.helo_name.empty()) client_.helo_name = DefaultHeloName();
}

Client::~Client() {
  if (conn_) conn_->Close();
}

asio::awaitable<StatusOr<std::unique_ptr<Client>>> Client::Connect(asio::any_io_executor ex,
                                                                   net::ConnectOptions options,
                                                                   ClientOptions client,
                                                                   net::TraceFn trace) {
  std::unique_ptr<Client> c(
      new Client(ex, std::move(options), std::move(client), std::move(trace)));
  MAILGATE_CO_RETURN_IF_ERROR(co_await c->Open());
  co_return c;
}

Status Client::Checked(Status s) {
  if (net::ConnectionLost(s)) closed_by_server_ = true;
  return s;
}

asio::awaitable<Status> Client::Open() {
  if (conn_) conn_->Close();
  conn_.reset();
  ext_ = Extensions();
  closed_by_server_ = false;
  auto opened = co_await net::OpenTraced(ex_, options_, trace_);
  if (!opened.ok()) co_return opened.status();
  conn_ = std::move(opened).value();

  auto greeting = co_await ReadReply();
  if (!greeting.ok()) co_return greeting.status().WithContext("SMTP greeting");
  greeting_ = *greeting;
  if (greeting_.code != 220) co_return ReplyError("the connection", greeting_);
  MAILGATE_CO_RETURN_IF_ERROR(co_await Hello());

  if (options_.tls == net::TlsMode::kStartTls) {
    if (!ext_.starttls) {
      co_return Status::Tls(
          "the SMTP server at " + options_.host + ":" + std::to_string(options_.port) +
          " does not offer STARTTLS, and STARTTLS was required; Mailgate never falls back to "
          "plaintext: use --encryption tls (usually port 465), or enable STARTTLS on the server");
    }
    auto r = co_await Command("STARTTLS\r\n");
    if (!r.ok()) co_return r.status();
    if (r->code != 220) {
      co_return Status::Tls("the SMTP server refused STARTTLS: " + Quoted(*r) +
                            "; Mailgate never falls back to plaintext: fix the server's TLS "
                            "set-up or use --encryption tls");
    }
    MAILGATE_CO_RETURN_IF_ERROR(co_await conn_->StartTls());
    // RFC 3207 §4.2: forget what was learnt before TLS and say EHLO again.
    MAILGATE_CO_RETURN_IF_ERROR(co_await Hello());
  }
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Hello() {
  ext_ = Extensions();
  const std::string ehlo = "EHLO " + client_.helo_name + "\r\n";
  auto r = co_await Command(ehlo);
  if (!r.ok()) co_return r.status();
  if (r->code == 250) {
    ext_ = ParseEhlo(*r);
    co_return Status::Ok();
  }
  if (r->code >= 500) {
    // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
    const std::string helo = "HELO " + client_.helo_name + "\r\n";
    auto h = co_await Command(helo);
    if (!h.ok()) co_return h.status();
    if (h->code == 250) co_return Status::Ok();
    co_return ReplyError("HELO", *h);
  }
  co_return ReplyError("EHLO", *r);
}

asio::awaitable<StatusOr<Reply>> Client::ReadReply() {
  ReplyReader reader;
  for (;;) {
    auto line = co_await conn_->ReadLine();
    if (!line.ok()) co_return Checked(line.status());
    StatusOr<bool> done = reader.Feed(*line);
    if (!done.ok()) co_return Checked(done.status());
    if (*done) co_return std::move(reader.reply());
  }
}

asio::awaitable<StatusOr<Reply>> Client::Command(std::string_view line, std::string_view trace_as) {
  Status w = co_await conn_->Write(line, trace_as);
  if (!w.ok()) co_return Checked(w);
  co_return co_await ReadReply();
}

asio::awaitable<Status> Client::Authenticate(const sasl::AuthOptions& auth) {
  net::AuthAttempts attempts;
  attempts.secret = auth.secret;
  attempts.secret_is_token = auth.secret_is_token;
  attempts.once = [this, &auth](const std::string& secret) {
    return AuthenticateOnce(auth, secret);
  };
  attempts.closed_by_server = [this] { return closed_by_server_; };
  attempts.reopen = [this] { return Open(); };
  // 5.7.139 (SMTP AUTH disabled) is an administrator's switch: a token will not help.
  attempts.final_refusal = [](const Status& s) {
    return s.message().find("5.7.139") != std::string::npos;
  };
  attempts.on_retry = [this] {
    conn_->Trace(net::TraceDirection::kInfo, "authentication failed; retrying with a fresh token");
  };
  co_return co_await net::AuthenticateWithFreshToken(attempts);
}

asio::awaitable<Status> Client::AuthenticateOnce(const sasl::AuthOptions& auth,
                                                 const std::string& secret) {
  if (ext_.auth.empty() && !auth.mechanism) {
    std::string hint =
        conn_->tls_active()
            ? "check that this is the submission port (587 or 465) and that the "
              "server allows authentication"
            : "servers usually offer AUTH only over TLS: use --encryption starttls or tls";
    co_return Status::Auth("the SMTP server offers no AUTH mechanism; " + hint);
  }
  auto mech = sasl::Choose(auth.mechanism, ext_.auth, auth.secret_is_token);
  if (!mech.ok()) co_return mech.status();
  sasl::Exchange exchange(*mech, {auth.user, secret, options_.host, options_.port});
  MAILGATE_CO_RETURN_IF_ERROR(exchange.Validate());
  const std::string name(sasl::MechanismName(*mech));

  std::string line = "AUTH " + name;
  std::string trace_as;
  if (std::optional<std::string> initial = exchange.InitialResponse()) {
    const std::string encoded = initial->empty() ? "=" : sasl::Base64Encode(*initial);
    if (line.size() + 1 + encoded.size() + 2 <= kMaxAuthLine) {
      line += " " + encoded;
      trace_as = "AUTH " + name + " <redacted>";
    }
  }
  line += "\r\n";
  Status w = co_await conn_->Write(line, trace_as);
  if (!w.ok()) co_return Checked(w);

  for (int round = 0; round < 8; ++round) {
    auto reply = co_await ReadReply();
    if (!reply.ok()) co_return reply.status().WithContext("during SMTP AUTH " + name);
    if (reply->code == 235) co_return Status::Ok();
    if (reply->code == 334) {
      std::string_view b64 = reply->lines.empty() ? "" : std::string_view(reply->lines[0]);
      while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
      std::string challenge;
      if (!b64.empty()) {
        auto decoded = sasl::Base64Decode(b64);
        if (!decoded.ok()) {
          (void)co_await conn_->Write("*\r\n");
          co_return Status::Protocol(
              "the SMTP server sent a SASL challenge that is not base64; the server is broken");
        }
        challenge = std::move(decoded).value();
      }
      auto response = exchange.Respond(challenge);
      if (!response.ok()) {
        (void)co_await conn_->Write("*\r\n");  // RFC 4954 §4: cancel
        (void)co_await ReadReply();
        co_return response.status();
      }
      const std::string encoded = sasl::Base64Encode(*response) + "\r\n";
      const std::string_view shown = encoded.size() == 2 ? "" : "<redacted>";
      Status ws = co_await conn_->Write(encoded, shown);
      if (!ws.ok()) co_return Checked(ws);
      continue;
    }
    Status err = ReplyError("AUTH " + name, *reply);
    if (reply->code == 421) closed_by_server_ = true;
    if (err.kind() != Status::Kind::kPermanent && !IsAuthRefusal(reply->code)) co_return err;
    if (err.message().find("5.7.139") != std::string::npos ||
        err.message().find("5.5.127") != std::string::npos ||
        err.message().find("Token will expire") != std::string::npos) {
      co_return err;
    }
    std::string msg;
    if (auth.secret_is_token) {
      msg = "the SMTP server refused the OAuth2 access token for " + auth.user;
      if (!exchange.oauth_error().empty()) msg += " (" + exchange.oauth_error() + ")";
      msg += ": " + Quoted(*reply) +
             "; the token is expired, revoked, for another user, or lacks the SMTP scope "
             "(https://outlook.office.com/SMTP.Send); re-authorize the account if a fresh token "
             "does not help";
    } else {
      msg = "the SMTP server refused the user name or password for " + auth.user + ": " +
            Quoted(*reply) +
            "; check both, and whether the account needs an app password or "
            "OAuth2";
    }
    co_return Status::Auth(std::move(msg));
  }
  co_return Checked(Status::Protocol("the SMTP server kept sending SASL challenges; giving up"));
}

asio::awaitable<Status> Client::SendBody(std::string_view message) {
  DataEncoder encoder;
  std::string out;
  std::uint64_t total = 0;
  for (std::size_t pos = 0; pos < message.size(); pos += kBodyChunk) {
    out.clear();
    encoder.Encode(message.substr(pos, kBodyChunk), out);
    total += out.size();
    Status w = co_await conn_->WriteUntraced(out);
    if (!w.ok()) co_return Checked(w);
  }
  out.clear();
  encoder.Finish(out);
  total += out.size();
  conn_->Trace(net::TraceDirection::kSend, "(" + std::to_string(total) + " bytes)");
  Status w = co_await conn_->WriteUntraced(out);
  if (!w.ok()) co_return Checked(w);
  co_return Status::Ok();
}

asio::awaitable<StatusOr<SendResult>> Client::Send(const Envelope& envelope,
                                                   std::string_view message) {
  refused_.clear();
  if (envelope.to.empty()) co_return Status::InvalidArgument("a message needs a recipient");
  auto bad = [](const std::string& a) { return a.find_first_of("\r\n<>") != std::string::npos; };
  if (bad(envelope.from) || std::any_of(envelope.to.begin(), envelope.to.end(), bad))
    co_return Status::InvalidArgument("an address contains a line break or angle bracket");
  const bool utf8 = HasNonAscii(envelope.from) ||
                    std::any_of(envelope.to.begin(), envelope.to.end(), HasNonAscii);
  if (utf8 && !ext_.smtputf8) {
    co_return Status::Permanent(
        "an address has non-ASCII characters and the SMTP server does not support SMTPUTF8; "
        "use an ASCII address");
  }
  if (ext_.size && *ext_.size > 0 && message.size() > *ext_.size) {
    co_return Status::Permanent("the message (" + std::to_string(message.size()) +
                                " bytes) exceeds the server's size limit of " +
                                std::to_string(*ext_.size) + " bytes; send a smaller message");
  }
  std::string mail = "MAIL FROM:<" + envelope.from + ">";
  if (ext_.size) mail += " SIZE=" + std::to_string(message.size());
  if (ext_.eightbitmime && HasNonAscii(message)) mail += " BODY=8BITMIME";
  if (utf8) mail += " SMTPUTF8";
  mail += "\r\n";

  SendResult result;
  auto fail_rcpts = [this, &result]() {
    // Every recipient refused: transient if any refusal was, else permanent.
    refused_ = result.recipients;
    const RecipientResult* first = &result.recipients.front();
    for (const RecipientResult& r : result.recipients) {
      if (r.reply.code >= 400 && r.reply.code < 500) first = &r;
    }
    return ReplyError("every recipient (RCPT TO:<" + first->address + ">)", first->reply);
  };

  if (ext_.pipelining) {
    // RFC 2920 §3.1: MAIL, RCPTs and DATA in one group; DATA ends it.
    std::string batch = mail;
    for (const std::string& to : envelope.to) batch += "RCPT TO:<" + to + ">\r\n";
    batch += "DATA\r\n";
    Status w = co_await conn_->Write(batch);
    if (!w.ok()) co_return Checked(w);
    auto mail_reply = co_await ReadReply();
    if (!mail_reply.ok()) co_return mail_reply.status();
    for (const std::string& to : envelope.to) {
      auto r = co_await ReadReply();
      if (!r.ok()) co_return r.status();
      result.recipients.push_back({to, *r});
    }
    auto data = co_await ReadReply();
    if (!data.ok()) co_return data.status();
    const bool any = std::any_of(result.recipients.begin(), result.recipients.end(),
                                 [](const RecipientResult& r) { return r.accepted(); });
    if (mail_reply->code != 250 || !any || data->code != 354) {
      if (data->code == 354) {
        // The server wants a message although the transaction failed: an
        // empty one ends the DATA phase, then RSET drops it (RFC 2920 §3.1).
        Status ws = co_await conn_->Write(".\r\n");
        if (!ws.ok()) co_return Checked(ws);
        (void)co_await ReadReply();
      }
      (void)co_await Rset();
      if (mail_reply->code != 250)
        co_return ReplyError("MAIL FROM:<" + envelope.from + ">", *mail_reply);
      if (!any) co_return fail_rcpts();
      co_return ReplyError("DATA", *data);
    }
  } else {
    auto mail_reply = co_await Command(mail);
    if (!mail_reply.ok()) co_return mail_reply.status();
    if (mail_reply->code != 250)
      co_return ReplyError("MAIL FROM:<" + envelope.from + ">", *mail_reply);
    for (const std::string& to : envelope.to) {
      const std::string rcpt = "RCPT TO:<" + to + ">\r\n";
      auto r = co_await Command(rcpt);
      if (!r.ok()) co_return r.status();
      result.recipients.push_back({to, *r});
    }
    if (std::none_of(result.recipients.begin(), result.recipients.end(),
                     [](const RecipientResult& r) { return r.accepted(); })) {
      (void)co_await Rset();
      co_return fail_rcpts();
    }
    auto data = co_await Command("DATA\r\n");
    if (!data.ok()) co_return data.status();
    if (data->code != 354) {
      (void)co_await Rset();
      co_return ReplyError("DATA", *data);
    }
  }
  MAILGATE_CO_RETURN_IF_ERROR(co_await SendBody(message));
  auto final_reply = co_await ReadReply();
  if (!final_reply.ok()) co_return final_reply.status();
  if (final_reply->code != 250) co_return ReplyError("the message", *final_reply);
  result.data_reply = *final_reply;
  co_return result;
}

asio::awaitable<Status> Client::Rset() {
  auto r = co_await Command("RSET\r\n");
  if (!r.ok()) co_return r.status();
  if (r->code != 250) co_return ReplyError("RSET", *r);
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Noop() {
  auto r = co_await Command("NOOP\r\n");
  if (!r.ok()) co_return r.status();
  if (r->code != 250) co_return ReplyError("NOOP", *r);
  co_return Status::Ok();
}

asio::awaitable<Status> Client::Quit() {
  auto r = co_await Command("QUIT\r\n");
  conn_->Close();
  if (!r.ok()) co_return r.status();
  co_return Status::Ok();
}

}  // namespace mailgate::smtp
