#include "pipeline/tester.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "imap/client.h"
#include "pop3/pop3_client.h"
#include "smtp/smtp_client.h"

namespace mailgate::pipeline {
namespace {

using boost::asio::awaitable;
using Clock = std::chrono::steady_clock;

std::string Elapsed(Clock::time_point since) {
  std::string out = "(";
  out += FormatDuration(Clock::now() - since);
  out += ")";
  return out;
}

// Sends the redacted protocol trace to the log as "C: ...", "S: ..." lines.
void AddTrace(ConnectEnv& env, RunLog* log, bool trace) {
  if (!trace) return;
  env.trace = [log](net::TraceDirection d, std::string_view text) {
    std::string line = d == net::TraceDirection::kSend   ? "C: "
                       : d == net::TraceDirection::kRecv ? "S: "
                                                         : "* ";
    line += text;
    log->Info(std::move(line));
  };
}

std::string Mechanism(const sasl::AuthOptions& auth) {
  if (auth.mechanism) return std::string(sasl::MechanismName(*auth.mechanism));
  return "a password";
}

awaitable<Status> TestImap(boost::asio::any_io_executor ex, const store::Mailbox& m,
                           const ConnectEnv& env, RunLog* log) {
  auto auth = AuthOptionsFor(m, env);
  if (!auth.ok()) co_return auth.status();
  imap::ClientOptions options;
  options.connect = ConnectOptionsFor(m, env);
  options.auth = *auth;
  options.trace = env.trace;
  auto start = Clock::now();
  auto client = co_await imap::Client::Connect(ex, options);
  if (!client.ok()) co_return client.status();
  log->Info("Connected to " + m.host + ":" + std::to_string(EffectivePort(m)) + " with " +
            std::string(net::TlsModeName(options.connect.tls)) + " " + Elapsed(start));
  start = Clock::now();
  Status authenticated = co_await (*client)->Authenticate();
  if (!authenticated.ok()) co_return authenticated;
  log->Info("Authenticated as " + m.username + " with " + Mechanism(*auth) + " " + Elapsed(start));
  auto status = co_await (*client)->StatusOf(m.folder);
  if (!status.ok()) co_return status.status().WithContext("folder '" + m.folder + "'");
  log->Info("Folder " + m.folder + ": " + std::to_string(status->messages.value_or(0)) +
            " messages, UIDVALIDITY " + std::to_string(status->uidvalidity.value_or(0)));
  (void)co_await (*client)->Logout();
  co_return Status::Ok();
}

awaitable<Status> TestPop3(boost::asio::any_io_executor ex, const store::Mailbox& m,
                           const ConnectEnv& env, RunLog* log) {
  auto auth = AuthOptionsFor(m, env);
  if (!auth.ok()) co_return auth.status();
  const net::ConnectOptions options = ConnectOptionsFor(m, env);
  const net::TraceFn trace = env.trace;
  auto start = Clock::now();
  auto client = co_await pop3::Client::Connect(ex, options, trace);
  if (!client.ok()) co_return client.status();
  log->Info("Connected to " + m.host + ":" + std::to_string(EffectivePort(m)) + " with " +
            std::string(net::TlsModeName(options.tls)) + " " + Elapsed(start));
  start = Clock::now();
  Status authenticated = co_await (*client)->Authenticate(*auth);
  if (!authenticated.ok()) co_return authenticated;
  log->Info("Authenticated as " + m.username + " with " + Mechanism(*auth) + " " + Elapsed(start));
  auto stat = co_await (*client)->Stat();
  if (!stat.ok()) co_return stat.status();
  log->Info("Mailbox holds " + std::to_string(stat->count) + " messages (" +
            FormatSize(stat->octets) + ")");
  (void)co_await (*client)->Quit();  // no DELE was sent: nothing changes
  co_return Status::Ok();
}

std::string TestMessage(const std::string& from, const std::string& to) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const auto at = from.find('@');
  const std::string domain = at == std::string::npos ? "mailgate.invalid" : from.substr(at + 1);
  std::string m = "From: <" + from + ">\r\nTo: <" + to + ">\r\n";
  m += "Subject: Mailgate test message\r\nDate: ";
  m += date;
  m += "\r\nMessage-ID: <test." + std::to_string(now) + "." + std::to_string(::getpid()) + "@" +
       domain + ">\r\n";
  m += "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "This is a test message sent by Mailgate to check an email transport.\r\n";
  return m;
}

awaitable<Status> TestSmtp(boost::asio::any_io_executor ex, const store::Transport& t,
                           const ConnectEnv& env, const std::string& send_to, RunLog* log,
                           Clock::time_point start) {
  const net::ConnectOptions options = ConnectOptionsFor(t, env);
  const smtp::ClientOptions client_options;
  const net::TraceFn trace_fn = env.trace;
  auto client = co_await smtp::Client::Connect(ex, options, client_options, trace_fn);
  if (!client.ok()) co_return client.status();
  log->Info("Connected to " + t.host + ":" + std::to_string(EffectivePort(t)) + " with " +
            std::string(net::TlsModeName(options.tls)) + " " + Elapsed(start));
  std::string from = t.username;
  if (t.auth != "none") {
    auto auth = AuthOptionsFor(t, env);
    if (!auth.ok()) co_return auth.status();
    const auto auth_start = Clock::now();
    Status authenticated = co_await (*client)->Authenticate(*auth);
    if (!authenticated.ok()) co_return authenticated;
    log->Info("Authenticated as " + t.username + " with " + Mechanism(*auth) + " " +
              Elapsed(auth_start));
  }
  if (!send_to.empty()) {
    if (from.find('@') == std::string::npos) {
      co_return Status::InvalidArgument(
          "the transport's user name is not an e-mail address, so it cannot be the sender of "
          "a test message");
    }
    const smtp::Envelope envelope{from, {send_to}};
    const std::string message = TestMessage(from, send_to);
    auto sent = co_await (*client)->Send(envelope, message);
    if (!sent.ok()) co_return sent.status();
    const smtp::RecipientResult& r = sent->recipients.front();
    if (!r.accepted()) co_return smtp::ReplyError("RCPT TO:<" + r.address + ">", r.reply);
    log->Info("Test message to " + send_to + " accepted: " + std::to_string(sent->data_reply.code) +
              " " + sent->data_reply.Text());
  }
  (void)co_await (*client)->Quit();
  co_return Status::Ok();
}

}  // namespace

awaitable<Status> TestMailbox(boost::asio::any_io_executor ex, store::Mailbox mailbox,
                              ConnectEnv env, RunLog* log, bool trace) {
  AddTrace(env, log, trace);
  const auto start = Clock::now();
  Status s;
  if (mailbox.protocol == "pop3") {
    s = co_await TestPop3(ex, mailbox, env, log);
  } else {
    s = co_await TestImap(ex, mailbox, env, log);
  }
  if (!s.ok()) {
    log->Error(s.message());
    co_return s;
  }
  log->Info("Connected to your mailbox successfully! " + Elapsed(start));
  co_return Status::Ok();
}

awaitable<Status> TestTransport(boost::asio::any_io_executor ex, store::Transport t, ConnectEnv env,
                                std::string send_to, RunLog* log, bool trace) {
  AddTrace(env, log, trace);
  const auto start = Clock::now();
  Status result = co_await TestSmtp(ex, t, env, send_to, log, start);
  if (!result.ok()) {
    log->Error(result.message());
    co_return result;
  }
  log->Info("Transport works! " + Elapsed(start));
  co_return Status::Ok();
}

}  // namespace mailgate::pipeline
