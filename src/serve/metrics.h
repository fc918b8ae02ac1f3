// Process-wide counters for /metrics in the Prometheus text format (0.0.4):
// what a dashboard needs to see mail flowing and to alert on failures.
// Thread-safe; cheap enough to bump on every message.
#ifndef MAILGATE_SERVE_METRICS_H_
#define MAILGATE_SERVE_METRICS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace mailgate::serve {

enum class Counter {
  kDownloaded,      // messages recorded by the mailbox checker
  kProcessed,       // messages stored as conversation messages
  kQuarantined,     // messages the processor could not process
  kTokenRefreshes,  // access tokens renewed by the token refresher
  kOutgoingSent,    // outgoing messages accepted by the SMTP server
  kOutgoingFailed,  // outgoing messages given up on (permanent or out of retries)
};

void Count(Counter counter, int64_t n = 1);
// A failure, by kind: "check", "process", "outgoing", "tokens", "maintenance"
// or a Status kind name ("auth", "transient", ...) joined as "check_auth".
void CountFailure(std::string_view kind);
void SetOutgoingQueueDepth(int64_t depth);
// A job run's duration, for the job-duration histogram.
void ObserveJobDuration(std::string_view job, double seconds);

// Everything in the Prometheus text exposition format, for GET /metrics
// (Content-Type: text/plain; version=0.0.4).
std::string MetricsText();

// For tests: back to zero.
void ResetMetricsForTest();

}  // namespace mailgate::serve

#endif  // MAILGATE_SERVE_METRICS_H_
