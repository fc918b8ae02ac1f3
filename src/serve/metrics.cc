#include "serve/metrics.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>

namespace mailgate::serve {
namespace {

// Upper bounds of the job-duration buckets, in seconds.
constexpr std::array<double, 10> kBuckets = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

struct Histogram {
  std::array<int64_t, kBuckets.size()> buckets{};
  int64_t count = 0;
  double sum = 0;
};

struct Registry {
  std::array<std::atomic<int64_t>, 6> counters{};
  std::atomic<int64_t> queue_depth{0};
  std::mutex mu;  // guards the maps
  std::map<std::string, int64_t, std::less<>> failures;
  std::map<std::string, Histogram, std::less<>> jobs;
};

Registry& R() {
  static Registry r;
  return r;
}

// Label values are our own job and kind names; escape anyway (\, ", LF).
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void Metric(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Count(Counter counter, int64_t n) {
  R().counters[static_cast<size_t>(counter)] += n;
}

void CountFailure(std::string_view kind) {
  std::lock_guard lock(R().mu);
  auto it = R().failures.find(kind);
  if (it == R().failures.end()) {
    R().failures.emplace(std::string(kind), 1);
  } else {
    ++it->second;
  }
}

void SetOutgoingQueueDepth(int64_t depth) {
  R().queue_depth = depth;
}

void ObserveJobDuration(std::string_view job, double seconds) {
  std::lock_guard lock(R().mu);
  auto it = R().jobs.find(job);
  if (it == R().jobs.end()) it = R().jobs.emplace(std::string(job), Histogram{}).first;
  Histogram& h = it->second;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string MetricsText() {
  struct Plain {
    Counter c;
    std::string_view name, help;
  };
  static constexpr Plain kPlain[] = {
      {Counter::kDownloaded, "mailgate_messages_downloaded_total",
       "Messages downloaded from mailboxes and recorded."},
      {Counter::kProcessed, "mailgate_messages_processed_total",
       "Messages stored in conversations by the inbound processor."},
      {Counter::kQuarantined, "mailgate_messages_quarantined_total",
       "Messages the inbound processor quarantined."},
      {Counter::kTokenRefreshes, "mailgate_token_refreshes_total",
       "Access tokens renewed ahead of expiry by the token refresher."},
      {Counter::kOutgoingSent, "mailgate_outgoing_sent_total",
       "Outgoing messages accepted by the SMTP server."},
      {Counter::kOutgoingFailed, "mailgate_outgoing_failed_total",
       "Outgoing messages given up on (refused for good or out of retries)."},
  };
  std::string out;
  for (const auto& p : kPlain) {
    Metric(out, p.name, "counter", p.help);
    out += p.name;
    out += ' ';
    out += std::to_string(R().counters[static_cast<size_t>(p.c)].load());
    out += '\n';
  }
  Metric(out, "mailgate_outgoing_queue_depth", "gauge", "Outgoing messages queued or being sent.");
  out += "mailgate_outgoing_queue_depth " + std::to_string(R().queue_depth.load()) + "\n";

  std::lock_guard lock(R().mu);
  Metric(out, "mailgate_failures_total", "counter", "Failures by kind.");
  for (const auto& [kind, n] : R().failures) {
    out += "mailgate_failures_total{kind=\"" + Label(kind) + "\"} " + std::to_string(n) + "\n";
  }
  Metric(out, "mailgate_job_duration_seconds", "histogram", "Duration of job runs.");
  for (const auto& [job, h] : R().jobs) {
    const std::string l = Label(job);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += "mailgate_job_duration_seconds_bucket{job=\"" + l + "\",le=\"" + Number(kBuckets[i]) +
             "\"} " + std::to_string(h.buckets[i]) + "\n";
    }
    out += "mailgate_job_duration_seconds_bucket{job=\"" + l + "\",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "mailgate_job_duration_seconds_sum{job=\"" + l + "\"} " + Number(h.sum) + "\n";
    out +=
        "mailgate_job_duration_seconds_count{job=\"" + l + "\"} " + std::to_string(h.count) + "\n";
  }
  return out;
}

void ResetMetricsForTest() {
  for (auto& c : R().counters) c = 0;
  R().queue_depth = 0;
  std::lock_guard lock(R().mu);
  R().failures.clear();
  R().jobs.clear();
}

}  // namespace mailgate::serve
