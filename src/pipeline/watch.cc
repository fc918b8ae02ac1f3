#include "pipeline/watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "imap/client.h"
#include "pipeline/checker_internal.h"

namespace mailgate::pipeline {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Every read of an IDLE session may wait this long: above the client's 28-minute IDLE
// re-issue (RFC 9051 §5.4: servers may log out a client idle for 30 minutes).
constexpr std::chrono::milliseconds kIdleIoTimeout = std::chrono::seconds(29 * 60 + 30);
// Access tokens live 60-90 minutes and Exchange ends a session whose token expired
// ("BYE Session invalidated - AccessTokenExpired"): reconnect, with a fresh token, before.
constexpr std::chrono::minutes kSessionLifetime{50};
// A session that lasted this long was healthy: its end does not count as a failure.
constexpr std::chrono::minutes kHealthySession{5};
constexpr std::chrono::seconds kFirstRetry{5};
constexpr std::chrono::minutes kLongestRetry{5};

awaitable<void> Sleep(asio::any_io_executor ex, Clock::duration d) {
  asio::steady_timer timer(ex);
  timer.expires_after(std::max<Clock::duration>(d, std::chrono::milliseconds(1)));
  co_await timer.async_wait(kUse);
}

// How long until a failed mailbox may be checked again (its delayed_until).
Clock::duration UntilDue(const store::Mailbox& m, const CheckEnv& env) {
  const int64_t wait = m.delayed_until - internal::NowSeconds(env);
  return std::chrono::seconds(std::max<int64_t>(wait, 1));
}

// One check on an open session (`client` set) or on a new one (`client` null: it is
// opened, and kept open on success). Returns the result; `mailbox` gets the new state.
awaitable<CheckResult> Check(asio::any_io_executor ex, store::Mailbox& mailbox, CheckEnv& env,
                             AfterDownload action, std::unique_ptr<imap::Client>& client) {
  CheckResult result;
  result.mailbox = mailbox.name;
  RunLog log(env.store, "check", "mailbox/" + mailbox.name, env.echo);
  if (Status s = log.Start(); !s.ok()) spdlog::warn("mailbox '{}': {}", mailbox.name, s.message());
  result.run_id = log.run_id();
  internal::Run run(mailbox, env, log, result, std::move(action));
  Status s;
  if (!client) {
    auto opened = co_await internal::OpenImap(ex, run, kIdleIoTimeout);
    if (opened.ok()) {
      client = std::move(*opened);
    } else {
      s = opened.status();
    }
  }
  if (client) s = co_await internal::CheckImapSession(*client, run);
  if (!s.ok() && client && net::ConnectionLost(s)) client.reset();
  internal::FinishRun(run, s);
  mailbox = run.mailbox;
  co_return result;
}

}  // namespace

awaitable<Status> WatchMailbox(asio::any_io_executor ex, store::Mailbox mailbox, CheckEnv& env,
                               std::function<void()> on_new_mail,
                               std::chrono::seconds poll_interval) {
  if (env.store == nullptr || env.spool == nullptr) {
    co_return Status::InvalidArgument("WatchMailbox needs a store and a spool");
  }
  if (mailbox.protocol != "imap") {
    co_return Status::InvalidArgument("mailbox '" + mailbox.name +
                                      "' cannot be watched: push (IDLE) needs IMAP; POP3 "
                                      "mailboxes are checked on a schedule");
  }
  poll_interval = std::max(poll_interval, std::chrono::seconds(1));
  const std::string name = mailbox.name;
  // Also after a failed check: what it recorded before failing is new mail.
  auto notify = [&on_new_mail](const CheckResult& r) {
    if (r.downloaded > 0 && on_new_mail) on_new_mail();
  };
  int retries = 0;  // sessions that ended early in a row
  for (;;) {
    // The configuration may have changed since the last session.
    if (auto current = env.store->GetMailbox(name); current.ok()) {
      mailbox = *current;
    } else if (current.status().kind() == Status::Kind::kNotFound) {
      spdlog::info("mailbox '{}' was deleted: no longer watched", name);
      co_return Status::Ok();
    }
    if (!mailbox.enabled) {
      spdlog::info("mailbox '{}' is disabled: no longer watched", name);
      co_return Status::Ok();
    }
    auto action = ParseAfterDownload(mailbox.after_download, mailbox.protocol);
    if (!action.ok()) co_return action.status().WithContext("mailbox '" + name + "'");

    std::unique_ptr<imap::Client> client;
    const auto session_start = Clock::now();
    CheckResult first = co_await Check(ex, mailbox, env, *action, client);
    notify(first);
    if (!first.status.ok()) {
      client.reset();
      co_await Sleep(ex, UntilDue(mailbox, env));
      continue;
    }

    if (!client->capabilities().Has("IDLE")) {
      // No push from this server: poll, each check on a connection of its own.
      spdlog::info("mailbox '{}': the server does not support IDLE; checking every {} s", name,
                   poll_interval.count());
      Status out = co_await client->Logout();
      if (!out.ok()) spdlog::debug("mailbox '{}': logout: {}", name, out.message());
      client.reset();
      for (;;) {
        co_await Sleep(ex, poll_interval);
        if (auto current = env.store->GetMailbox(name); current.ok()) mailbox = *current;
        if (!mailbox.enabled) co_return Status::Ok();
        CheckResult r = co_await CheckMailbox(ex, mailbox, env);
        notify(r);
        if (auto current = env.store->GetMailbox(name); current.ok()) mailbox = *current;
        if (!r.status.ok()) co_await Sleep(ex, UntilDue(mailbox, env));
      }
    }

    // IDLE until the mailbox changes, then check on the same connection.
    if (env.echo) {
      std::string waiting = "Mailbox '";
      waiting += name;
      waiting += "': waiting for new mail in ";
      waiting += mailbox.folder;
      waiting += " (IDLE)";
      spdlog::info("{}", waiting);
      env.echo(store::RunLogLine{std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count(),
                                 "info", std::move(waiting)});
    }
    const auto reconnect_at = session_start + kSessionLifetime;
    Status ended;
    bool check_failed = false;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(reconnect_at - Clock::now());
      if (left.count() <= 0) break;
      auto idle = co_await client->Idle(left);
      if (!idle.ok()) {
        ended = idle.status();
        break;
      }
      if (!idle->changed) continue;
      CheckResult r = co_await Check(ex, mailbox, env, *action, client);
      notify(r);
      if (!r.status.ok()) {
        ended = r.status;
        check_failed = true;
        break;
      }
    }
    if (ended.ok()) {
      // A planned reconnect: the next session authenticates with a fresh token.
      Status out = co_await client->Logout();
      if (!out.ok()) spdlog::debug("mailbox '{}': logout: {}", name, out.message());
      retries = 0;
      continue;
    }
    client.reset();
    if (check_failed) {
      co_await Sleep(ex, UntilDue(mailbox, env));
      continue;
    }
    // The server ended the session (BYE when the token expired) or the connection
    // dropped: reconnect at once, then with growing pauses if it keeps happening.
    spdlog::info("mailbox '{}': the IDLE session ended ({}); reconnecting", name, ended.message());
    if (Clock::now() - session_start >= kHealthySession) retries = 0;
    if (retries > 0) {
      const auto pause =
          std::min<Clock::duration>(kFirstRetry * (1 << std::min(retries - 1, 10)), kLongestRetry);
      co_await Sleep(ex, pause);
    }
    ++retries;
  }
}

}  // namespace mailgate::pipeline
