// The protocol-independent half of the mailbox checker: runs, batches,
// outcomes and the concurrent CheckMailboxes. IMAP and POP3 live in
// checker_imap.cc and checker_pop3.cc.
#include "pipeline/checker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <exception>

#include "mime/message.h"
#include "pipeline/checker_internal.h"

namespace mailgate::pipeline {

namespace asio = boost::asio;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}  // namespace

namespace internal {
namespace {

// Text from a message going into a log line or an alert: printable, bounded.
std::string Printable(std::string_view s, std::size_t max = 120) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

std::string Minutes(int64_t seconds) {
  const int64_t m = (seconds + 59) / 60;
  return std::to_string(m) + (m == 1 ? " minute" : " minutes");
}

std::string Plural(std::size_t n, std::string_view one, std::string_view many) {
  std::string out = std::to_string(n);
  out += ' ';
  out += n == 1 ? one : many;
  return out;
}

bool AlertAt(int failures) {
  return failures == 2 || failures == 5 || failures == 10 || failures == 20;
}

}  // namespace

int64_t NowSeconds(const CheckEnv& env) {
  if (env.now) return env.now();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Run::TooLarge(std::uint64_t size) const {
  if (mailbox.download_oversized || mailbox.max_size_kb <= 0) return false;
  return size > static_cast<std::uint64_t>(mailbox.max_size_kb) * 1024;
}

void DescribeHeaders(std::string_view raw_headers, Oversized& out) {
  std::string text(raw_headers);
  // A header block without its blank line would make the parser see no header.
  if (!text.ends_with("\r\n\r\n") && !text.ends_with("\n\n")) text += "\r\n";
  auto parsed = mime::ParseMessage(text);
  if (!parsed.ok()) return;
  out.subject = Printable(parsed->subject);
  if (!parsed->from.empty()) {
    const auto& a = parsed->from.front();
    out.from = Printable(a.name.empty() ? a.email : a.name + " <" + a.email + ">");
  }
}

Batch::~Batch() {
  writer_.Abort();
  if (pending_.empty()) return;
  // Ended but not recorded (the run stopped early): not in the store, so not kept.
  writer_.Flush();
  for (const auto& g : writer_.WaitFlushed()) RemoveFiles(g);
}

Status Batch::Begin() {
  MAILGATE_RETURN_IF_ERROR(writer_.Begin());
  begun_ = std::chrono::steady_clock::now();
  size_ = 0;
  return Status::Ok();
}

Status Batch::Append(std::string_view chunk) {
  size_ += chunk.size();
  return writer_.Append(chunk);
}

Status Batch::End(std::string uid, int64_t internal_date, std::string_view label) {
  if (!writer_.open()) return Status::Internal("a message ended that did not begin");
  writer_.End(next_ticket_++);
  Pending p;
  p.label = label.empty() ? uid : std::string(label);
  p.uid = std::move(uid);
  p.internal_date = internal_date;
  p.size = size_;
  p.took = std::chrono::steady_clock::now() - begun_;
  pending_.push_back(std::move(p));
  ++in_batch_;
  return Status::Ok();
}

void Batch::Abort() {
  writer_.Abort();
}

void Batch::Flush() {
  writer_.Abort();
  if (in_batch_ == 0) return;
  in_batch_ = 0;
  writer_.Flush();
}

StatusOr<std::vector<std::string>> Batch::RecordFlushed() {
  return Record(writer_.TakeFlushed());
}

StatusOr<std::vector<std::string>> Batch::Commit() {
  Flush();
  if (pending_.empty()) return Record({});
  return Record(writer_.WaitFlushed());
}

void Batch::RemoveFiles(const AsyncSpoolWriter::Group& group) {
  for (const auto& r : group.results) {
    if (!r.status.ok()) continue;
    Status s = run_.env.spool->Remove(r.file.path);
    if (!s.ok()) spdlog::warn("{}", s.message());
  }
}

StatusOr<std::vector<std::string>> Batch::Record(std::vector<AsyncSpoolWriter::Group> groups) {
  std::vector<std::string> due;
  for (auto& g : groups) {
    if (!record_error_.ok()) {
      RemoveFiles(g);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                              pending_.size(), g.results.size())));
      continue;
    }
    Status s = RecordGroup(g, due);
    if (!s.ok()) record_error_ = s;
  }
  if (!record_error_.ok()) return record_error_;
  return due;
}

Status Batch::RecordGroup(AsyncSpoolWriter::Group& group, std::vector<std::string>& due) {
  // The writer returns every ended message, in order: the oldest pending ones.
  if (group.results.size() > pending_.size()) {
    RemoveFiles(group);
    return Status::Internal(
        "the spool writer returned more files than were written; "
        "please report this bug");
  }
  std::vector<Pending> mine(std::make_move_iterator(pending_.begin()),
                            std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(
                                                                           group.results.size())));
  pending_.erase(pending_.begin(),
                 pending_.begin() + static_cast<std::ptrdiff_t>(group.results.size()));
  if (!group.synced.ok()) {
    RemoveFiles(group);
    return group.synced.WithContext("making the downloaded messages durable");
  }
  std::vector<store::NewDownload> downloads;
  for (std::size_t i = 0; i < group.results.size(); ++i) {
    const AsyncSpoolWriter::Result& r = group.results[i];
    Pending& p = mine[i];
    if (!r.status.ok()) {
      failures_.emplace_back(p.label, r.status);
      continue;
    }
    run_.log.Info("Downloaded message " + p.label + " (" + FormatSize(r.file.size) + ", " +
                  FormatDuration(p.took) + ")");
    store::NewDownload d;
    d.uidvalidity = uidvalidity_;
    d.uid = std::move(p.uid);
    d.sha256 = r.file.sha256;
    d.size = r.file.size;
    d.spool_path = r.file.path;
    d.internal_date = p.internal_date;
    downloads.push_back(std::move(d));
  }
  if (downloads.empty()) return Status::Ok();
  auto outcomes = run_.env.store->RecordDownloads(run_.mailbox.id, downloads, NowSeconds(run_.env));
  if (!outcomes.ok()) {
    RemoveFiles(group);
    return outcomes.status().WithContext("recording the downloaded messages");
  }
  if (outcomes->size() != downloads.size()) {
    return Status::Internal("the store answered " + std::to_string(outcomes->size()) +
                            " outcomes for " + std::to_string(downloads.size()) +
                            " downloads; please report this bug");
  }
  for (std::size_t i = 0; i < downloads.size(); ++i) {
    const store::NewDownload& d = downloads[i];
    switch ((*outcomes)[i]) {
      case store::RecordOutcome::kNew:
        ++run_.result.downloaded;
        run_.result.bytes += d.size;
        break;
      case store::RecordOutcome::kDuplicate:
        // Same bytes as a message downloaded before (UIDVALIDITY changed, or the
        // server re-numbered it): stored once; the server copy still gets the action.
        ++run_.result.duplicates;
        run_.log.Info("Message " + d.uid + " was downloaded before (same content): kept once");
        if (Status s = run_.env.spool->Remove(d.spool_path); !s.ok()) run_.log.Warning(s.message());
        break;
      case store::RecordOutcome::kAlreadyRecorded:
        // Another check of this mailbox recorded it meanwhile; its row names its own file.
        if (Status s = run_.env.spool->Remove(d.spool_path); !s.ok()) run_.log.Warning(s.message());
        break;
    }
    due.push_back(d.uid);
  }
  return Status::Ok();
}

std::vector<std::pair<std::size_t, std::size_t>> PlanBatches(
    const std::vector<std::uint64_t>& sizes) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t begin = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const bool full = i - begin >= kBatchMessages || (i > begin && bytes + sizes[i] > kBatchBytes);
    if (full) {
      out.emplace_back(begin, i);
      begin = i;
      bytes = 0;
    }
    bytes += sizes[i];
  }
  if (begin < sizes.size()) out.emplace_back(begin, sizes.size());
  return out;
}

std::string Count(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " message" : " messages");
}

bool LogPlan(Run& run, const std::vector<std::uint64_t>& sizes, std::size_t waiting,
             std::size_t limit, bool any_oversized) {
  if (sizes.empty()) {
    if (!any_oversized) run.log.Info("No new messages");
    return false;
  }
  std::uint64_t total = 0;
  for (auto s : sizes) total += s;
  std::string plan = "Downloading " + Count(sizes.size()) + " (" + FormatSize(total) + ")";
  if (waiting > 0) {
    plan += "; " + std::to_string(waiting) + " more wait for the next run (at most " +
            std::to_string(limit) + " per run)";
  }
  run.log.Info(plan);
  return true;
}

int64_t ParseInternalDate(std::string_view text) {
  // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zone = 0;
  char mon[4] = {};
  char sign = '+';
  std::string s(text);
  std::erase(s, '"');
  if (std::sscanf(s.c_str(), " %d-%3c-%d %d:%d:%d %c%4d", &day, mon, &year, &hh, &mm, &ss, &sign,
                  &zone) != 8) {
    return 0;
  }
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    bool eq = true;
    for (int k = 0; k < 3; ++k) {
      eq = eq && std::tolower(static_cast<unsigned char>(mon[k])) == kMonths[i][k];
    }
    if (eq) month = i;
  }
  if (month < 0 || day < 1 || day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60) return 0;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  const int64_t offset = (zone / 100) * 3600 + (zone % 100) * 60;
  return static_cast<int64_t>(::timegm(&tm)) - (sign == '-' ? -offset : offset);
}

std::string MechanismFor(const sasl::AuthOptions& auth, const std::vector<std::string>& offered,
                         std::string_view fallback) {
  auto chosen = sasl::Choose(auth.mechanism, offered, auth.secret_is_token);
  if (chosen.ok()) return std::string(sasl::MechanismName(*chosen));
  return std::string(fallback);
}

std::string Summary(const CheckResult& r) {
  std::string s = std::to_string(r.downloaded) + " downloaded";
  s += ", " + Plural(r.duplicates, "duplicate", "duplicates");
  if (r.downloaded > 0) s += " (" + FormatSize(r.bytes) + ")";
  if (r.oversized_skipped > 0) {
    s += ", " + std::to_string(r.oversized_skipped) + " oversized left on the server";
  }
  return s;
}

void RecordOutcome(Run& run, const Status& status) {
  store::Store& st = *run.env.store;
  const int64_t now = NowSeconds(run.env);
  const std::string& name = run.mailbox.name;
  const std::string subject = run.subject();
  int previous = run.mailbox.consecutive_failures;
  if (auto current = st.GetMailbox(name); current.ok()) previous = current->consecutive_failures;

  store::MailboxCheckState state;
  state.checked_at = now;
  if (status.ok()) {
    state.last_success_at = now;
    if (Status s = st.RecordMailboxCheck(name, state); !s.ok()) {
      run.log.Error("Could not record the check: " + s.message());
    }
    // An open oversized alert is re-raised below (its message updated) rather than
    // resolved and raised again as a new alert on every run.
    if (run.oversized.empty() || previous > 0) {
      if (Status s = st.ResolveAlerts(subject, now); !s.ok()) {
        run.log.Error("Could not resolve the mailbox's alerts: " + s.message());
      }
    }
    run.mailbox.consecutive_failures = 0;
    run.mailbox.delayed_until = 0;
    run.mailbox.last_error.clear();
  } else {
    const int failures = previous + 1;
    const int64_t delay = std::min<int64_t>(int64_t{120} * failures, 1800);
    state.consecutive_failures = failures;
    state.delayed_until = now + delay;
    state.last_error = status.message();
    if (Status s = st.RecordMailboxCheck(name, state); !s.ok()) {
      run.log.Error("Could not record the failure: " + s.message());
    }
    run.log.Info("Next check in " + Minutes(delay) + " (" +
                 Plural(static_cast<std::size_t>(failures), "failure", "failures") + " in a row)");
    if (AlertAt(failures)) {
      const std::string text =
          "Mailbox '" + name + "' has failed " + std::to_string(failures) +
          " checks in a row; mail from it is not arriving. Last error: " + status.message();
      if (auto a = st.RaiseAlert("mailbox_failing", subject, text, now); !a.ok()) {
        run.log.Error("Could not raise an alert: " + a.status().message());
      }
    }
    run.mailbox.consecutive_failures = failures;
    run.mailbox.delayed_until = now + delay;
    run.mailbox.last_error = status.message();
  }

  if (!run.oversized.empty()) {
    std::string text = "Mailbox '" + name + "' has " +
                       Plural(run.oversized.size(), "message", "messages") +
                       " over its size limit of " +
                       FormatSize(static_cast<std::uint64_t>(run.mailbox.max_size_kb) * 1024) +
                       ", left on the server and not downloaded:";
    constexpr std::size_t kNamed = 10;
    for (std::size_t i = 0; i < run.oversized.size() && i < kNamed; ++i) {
      const Oversized& o = run.oversized[i];
      text += i == 0 ? " " : "; ";
      text += "'" + (o.subject.empty() ? std::string("(no subject)") : o.subject) + "' from " +
              (o.from.empty() ? std::string("(unknown sender)") : o.from) + " (" +
              FormatSize(o.size) + ")";
    }
    if (run.oversized.size() > kNamed) {
      text += "; and " + std::to_string(run.oversized.size() - kNamed) + " more";
    }
    text +=
        ". Raise the mailbox's size limit or allow oversized downloads to fetch them, or "
        "remove them from the server.";
    if (auto a = st.RaiseAlert("oversized_message", subject, text, now); !a.ok()) {
      run.log.Error("Could not raise an alert: " + a.status().message());
    }
  }
}

void FinishRun(Run& run, const Status& status) {
  if (!status.ok()) run.log.Error(status.message());
  RecordOutcome(run, status);
  run.result.status = status;
  std::string summary = Summary(run.result);
  if (!status.ok()) summary = "failed: " + status.message() + " (" + summary + ")";
  if (Status s = run.log.Finish(status.ok(), summary); !s.ok()) {
    spdlog::warn("mailbox '{}': {}", run.mailbox.name, s.message());
  }
}

}  // namespace internal

namespace {

void Note(const CheckEnv& env, std::string text) {
  spdlog::info("{}", text);
  if (env.echo) {
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    env.echo(store::RunLogLine{ms, "info", std::move(text)});
  }
}

}  // namespace

asio::awaitable<CheckResult> CheckMailbox(asio::any_io_executor ex, store::Mailbox mailbox,
                                          CheckEnv& env) {
  CheckResult result;
  result.mailbox = mailbox.name;
  if (env.store == nullptr || env.spool == nullptr) {
    result.status = Status::InvalidArgument("CheckMailbox needs a store and a spool");
    co_return result;
  }
  RunLog log(env.store, "check", "mailbox/" + mailbox.name, env.echo);
  if (Status s = log.Start(); !s.ok()) {
    result.status = s;
    co_return result;
  }
  result.run_id = log.run_id();
  auto action = ParseAfterDownload(mailbox.after_download, mailbox.protocol);
  if (!action.ok()) {
    internal::Run run(std::move(mailbox), env, log, result, AfterDownload());
    internal::FinishRun(run, action.status().WithContext("mailbox '" + run.mailbox.name + "'"));
    co_return result;
  }
  internal::Run run(std::move(mailbox), env, log, result, *action);
  Status status;
  if (run.mailbox.protocol == "imap") {
    status = co_await internal::CheckImap(ex, run);
  } else if (run.mailbox.protocol == "pop3") {
    status = co_await internal::CheckPop3(ex, run);
  } else {
    status = Status::InvalidArgument("mailbox '" + run.mailbox.name +
                                     "' has an unknown protocol; set imap or pop3");
  }
  internal::FinishRun(run, status);
  co_return result;
}

asio::awaitable<std::vector<CheckResult>> CheckMailboxes(asio::any_io_executor ex,
                                                         std::vector<store::Mailbox> mailboxes,
                                                         CheckEnv& env, bool due_only) {
  const int64_t now = internal::NowSeconds(env);
  std::vector<store::Mailbox> due;
  for (auto& m : mailboxes) {
    if (due_only && !m.enabled) {
      Note(env, "Mailbox '" + m.name + "' is disabled: not checked");
      continue;
    }
    if (due_only && m.delayed_until > now) {
      Note(env, "Mailbox '" + m.name + "' is delayed after " +
                    std::to_string(m.consecutive_failures) + " failed checks: next check in " +
                    internal::Minutes(m.delayed_until - now));
      continue;
    }
    due.push_back(std::move(m));
  }
  if (due.empty()) {
    Note(env, "There are no mailboxes ready to be checked.");
    co_return std::vector<CheckResult>();
  }

  // Each mailbox is its own coroutine on `ex`; the last one to finish wakes us.
  struct Shared {
    explicit Shared(asio::any_io_executor e, std::size_t n)
        : results(n), remaining(n), done(e, asio::steady_timer::time_point::max()) {}
    std::vector<CheckResult> results;
    std::size_t remaining;
    asio::steady_timer done;
  };
  auto shared = std::make_shared<Shared>(ex, due.size());
  for (std::size_t i = 0; i < due.size(); ++i) {
    std::string name = due[i].name;
    asio::co_spawn(ex, CheckMailbox(ex, std::move(due[i]), env),
                   [shared, i, name](std::exception_ptr e, CheckResult r) {
                     if (e) {
                       r = CheckResult();
                       r.mailbox = name;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& x) {
                         r.status = Status::Internal(std::string("checking failed: ") + x.what());
                       } catch (...) {
                         r.status = Status::Internal("checking failed with an unknown exception");
                       }
                     }
                     shared->results[i] = std::move(r);
                     if (--shared->remaining == 0) shared->done.cancel();
                   });
  }
  while (shared->remaining > 0) {
    co_await shared->done.async_wait(kUse);
  }
  co_return std::move(shared->results);
}

}  // namespace mailgate::pipeline
