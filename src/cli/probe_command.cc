// mailgate probe imap|pop3|smtp: connect, authenticate, report — the building
// block of the console's Test buttons. IMAP runs in probe_imap.cc.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/probe.h"
#include "cli/session.h"
#include "pop3/pop3_client.h"
#include "smtp/smtp_client.h"

namespace mailgate::cli {

namespace asio = boost::asio;

namespace {

// The secret alone; one trailing newline (LF or CRLF) is ignored.
StatusOr<std::string> ReadSecretFile(const std::string& path, bool token) {
  const char* what = token ? "token" : "password";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(std::string("cannot read the ") + what + " file " + path +
                                   "; check the path and its permissions");
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string secret = buf.str();
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    return Status::InvalidArgument(std::string("the ") + what + " file " + path +
                                   " is empty; put the " + what + " alone in it");
  }
  if (secret.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument(std::string("the ") + what + " file " + path +
                                   " holds more than one line; put the " + what + " alone in it");
  }
  return secret;
}

uint16_t DefaultPort(const std::string& protocol, net::TlsMode tls) {
  const bool implicit = tls == net::TlsMode::kImplicit;
  if (protocol == "imap") return implicit ? 993 : 143;
  if (protocol == "pop3") return implicit ? 995 : 110;
  return implicit ? 465 : 587;
}

int ProbePop3(const ProbeArgs& args) {
  pop3::MailboxStat stat;
  Status s = RunAsync([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::ConnectOptions options = ProbeConnectOptions(args);
    const net::TraceFn trace = ProbeTraceFn(args);
    const sasl::AuthOptions auth = ProbeAuthOptions(args);
    auto client = co_await pop3::Client::Connect(ex, options, trace);
    if (!client.ok()) co_return client.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*client)->Authenticate(auth));
    auto st = co_await (*client)->Stat();
    if (!st.ok()) co_return st.status();
    stat = *st;
    // QUIT without DELE changes nothing; its failure does not undo the probe.
    (void)co_await (*client)->Quit();
    co_return Status::Ok();
  });
  if (!s.ok()) return ProbeFail(s);
  std::cout << "POP3 " << args.host << ":" << args.port << ": authenticated as " << args.user
            << "; " << stat.count << (stat.count == 1 ? " message (" : " messages (") << stat.octets
            << " bytes)\n";
  return kExitOk;
}

std::string TestMessage(const ProbeArgs& args) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const std::string domain = args.user.substr(args.user.find('@') + 1);
  return "From: <" + args.user + ">\r\nTo: <" + args.send_to + ">\r\nSubject: Mailgate probe\r\n" +
         "Date: " + date + "\r\nMessage-ID: <probe." + std::to_string(now) + "." +
         std::to_string(::getpid()) + "@" + domain +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
         "This is a test message sent by `mailgate probe smtp --send-to`.\r\n";
}

int ProbeSmtp(const ProbeArgs& args) {
  std::string sent_reply;
  Status s = RunAsync([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::ConnectOptions options = ProbeConnectOptions(args);
    const net::TraceFn trace = ProbeTraceFn(args);
    const sasl::AuthOptions auth = ProbeAuthOptions(args);
    const smtp::ClientOptions client_options;
    auto client = co_await smtp::Client::Connect(ex, options, client_options, trace);
    if (!client.ok()) co_return client.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*client)->Authenticate(auth));
    if (!args.send_to.empty()) {
      const smtp::Envelope envelope{args.user, {args.send_to}};
      const std::string message = TestMessage(args);
      auto sent = co_await (*client)->Send(envelope, message);
      if (!sent.ok()) co_return sent.status();
      const smtp::RecipientResult& r = sent->recipients.front();
      if (!r.accepted()) co_return smtp::ReplyError("RCPT TO:<" + r.address + ">", r.reply);
      sent_reply = std::to_string(sent->data_reply.code) + " " + sent->data_reply.Text();
    }
    (void)co_await (*client)->Quit();
    co_return Status::Ok();
  });
  if (!s.ok()) return ProbeFail(s);
  std::cout << "SMTP " << args.host << ":" << args.port << ": authenticated as " << args.user
            << "\n";
  if (!args.send_to.empty()) {
    std::cout << "test message to " << args.send_to << " accepted: " << sent_reply << "\n";
  }
  return kExitOk;
}

}  // namespace

net::ConnectOptions ProbeConnectOptions(const ProbeArgs& args) {
  net::ConnectOptions o;
  o.host = args.host;
  o.port = args.port;
  o.tls = args.tls;
  o.verify_peer = !args.insecure_skip_verify;
  o.ca_file = args.ca_file;
  o.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(args.timeout);
  o.io_timeout = o.connect_timeout;
  return o;
}

sasl::AuthOptions ProbeAuthOptions(const ProbeArgs& args) {
  sasl::AuthOptions a;
  a.user = args.user;
  a.mechanism = args.mechanism;
  a.secret_is_token = !args.token_file.empty();
  const std::string path = a.secret_is_token ? args.token_file : args.password_file;
  const bool token = a.secret_is_token;
  // Read at every call: a token file refreshed by another program is picked up
  // on the retry after a refusal.
  a.secret = [path, token](bool) { return ReadSecretFile(path, token); };
  return a;
}

net::TraceFn ProbeTraceFn(const ProbeArgs& args) {
  if (!args.trace) return {};
  return [](net::TraceDirection d, std::string_view text) {
    const char* tag = d == net::TraceDirection::kSend   ? "C: "
                      : d == net::TraceDirection::kRecv ? "S: "
                                                        : "* ";
    std::fprintf(stderr, "%s%.*s\n", tag, static_cast<int>(text.size()), text.data());
  };
}

int ProbeFail(const Status& status) {
  std::fprintf(stderr, "mailgate probe: %s\n", status.message().c_str());
  switch (status.kind()) {
    case Status::Kind::kAuth:
      return kExitAuth;
    case Status::Kind::kConnect:
    case Status::Kind::kTls:
      return kExitConnect;
    case Status::Kind::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

void RegisterProbeCommand(CLI::App& app, RunState& state) {
  struct Raw {
    std::string protocol, host, tls = "tls", user, password_file, token_file, mech = "auto",
                                ca_file, send_to;
    int port = 0;
    double timeout = 30;
    bool trace = false, insecure = false;
  };
  auto raw = std::make_shared<Raw>();
  CLI::App* cmd = app.add_subcommand(
      "probe",
      "Connect to a mail server, authenticate and report (exit 0 ok, 4 authentication, "
      "3 connection/TLS, 2 usage, 1 other)");
  cmd->add_option("protocol", raw->protocol, "imap, pop3 or smtp")
      ->required()
      ->check(CLI::IsMember({"imap", "pop3", "smtp"}));
  cmd->add_option("--host", raw->host, "Server host name (also checked in its certificate)")
      ->required();
  cmd->add_option("--port", raw->port,
                  "Server port (default: 993/143, 995/110, 465/587 for tls/starttls)")
      ->check(CLI::Range(1, 65535));
  // --encryption as in `transport` and `mailbox`; --tls, its first name, still works.
  cmd->add_option("--encryption,--tls", raw->tls, "tls (implicit), starttls or none")
      ->check(CLI::IsMember({"tls", "starttls", "none"}))
      ->capture_default_str();
  cmd->add_option("--user", raw->user, "User name (the mailbox address for OAuth2)")->required();
  auto* pw =
      cmd->add_option("--password-file", raw->password_file, "File holding the password alone")
          ->check(CLI::ExistingFile);
  auto* tok =
      cmd->add_option("--token-file", raw->token_file, "File holding an OAuth2 access token alone")
          ->check(CLI::ExistingFile);
  pw->excludes(tok);
  cmd->add_option("--mech", raw->mech, "auto, xoauth2, oauthbearer, plain or login")
      ->check(CLI::IsMember({"auto", "xoauth2", "oauthbearer", "plain", "login"}, CLI::ignore_case))
      ->capture_default_str();
  cmd->add_option("--ca-file", raw->ca_file,
                  "Extra trusted CA certificate(s), PEM (default: the global --ca-file)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--timeout", raw->timeout,
                  "Seconds allowed for the connection and for each answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--trace", raw->trace, "Print the protocol trace (secrets redacted) to stderr");
  cmd->add_flag("--insecure-skip-verify", raw->insecure,
                "Do not verify the server's certificate (for broken servers only; warns)");
  cmd->add_option("--send-to", raw->send_to, "smtp: also send a short test message to ADDR");

  cmd->callback([raw, &state] {
    auto usage = [&state](const std::string& msg) {
      std::fprintf(stderr, "mailgate probe: %s\n", msg.c_str());
      state.exit_code = kExitUsage;
    };
    if (raw->password_file.empty() == raw->token_file.empty()) {
      return usage("give exactly one of --password-file and --token-file");
    }
    if (!raw->send_to.empty() && raw->protocol != "smtp") {
      return usage("--send-to works with smtp only");
    }
    ProbeArgs args;
    args.protocol = raw->protocol;
    args.host = raw->host;
    args.tls = raw->tls == "tls"        ? net::TlsMode::kImplicit
               : raw->tls == "starttls" ? net::TlsMode::kStartTls
                                        : net::TlsMode::kNone;
    args.port =
        raw->port > 0 ? static_cast<uint16_t>(raw->port) : DefaultPort(raw->protocol, args.tls);
    args.user = raw->user;
    args.password_file = raw->password_file;
    args.token_file = raw->token_file;
    if (raw->mech != "auto") args.mechanism = sasl::ParseMechanism(raw->mech);
    args.ca_file = raw->ca_file.empty() ? state.global.ca_file : raw->ca_file;
    args.timeout = std::chrono::seconds(static_cast<long>(raw->timeout < 1 ? 1 : raw->timeout));
    args.trace = raw->trace;
    args.insecure_skip_verify = raw->insecure;
    args.send_to = raw->send_to;
    if (args.mechanism && sasl::IsOAuth(*args.mechanism) != !args.token_file.empty()) {
      return usage(std::string("--mech ") + raw->mech + " needs " +
                   (sasl::IsOAuth(*args.mechanism) ? "--token-file" : "--password-file"));
    }
    // Check the secret file now: a bad file is a usage error, not a server's refusal.
    StatusOr<std::string> secret = ReadSecretFile(
        args.token_file.empty() ? args.password_file : args.token_file, !args.token_file.empty());
    if (!secret.ok()) return usage(secret.status().message());

    if (args.protocol == "imap") {
      state.exit_code = ProbeImap(args);
    } else if (args.protocol == "pop3") {
      state.exit_code = ProbePop3(args);
    } else {
      state.exit_code = ProbeSmtp(args);
    }
  });
}

}  // namespace mailgate::cli
