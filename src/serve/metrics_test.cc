#include "serve/metrics.h"

#include <gtest/gtest.h>

namespace mailgate::serve {
namespace {

TEST(MetricsTest, TextIsPrometheusExposition) {
  ResetMetricsForTest();
  Count(Counter::kDownloaded, 3);
  Count(Counter::kOutgoingSent);
  CountFailure("check_auth");
  CountFailure("check_auth");
  SetOutgoingQueueDepth(7);
  ObserveJobDuration("check", 0.2);
  ObserveJobDuration("check", 20);
  const std::string t = MetricsText();
  EXPECT_NE(t.find("# TYPE mailgate_messages_downloaded_total counter\n"
                   "mailgate_messages_downloaded_total 3\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("mailgate_outgoing_sent_total 1\n"), std::string::npos);
  EXPECT_NE(t.find("mailgate_failures_total{kind=\"check_auth\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("mailgate_outgoing_queue_depth 7\n"), std::string::npos);
  EXPECT_NE(t.find("mailgate_job_duration_seconds_bucket{job=\"check\",le=\"0.5\"} 1\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("mailgate_job_duration_seconds_bucket{job=\"check\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("mailgate_job_duration_seconds_count{job=\"check\"} 2\n"), std::string::npos);
  EXPECT_EQ(t.back(), '\n');
}

}  // namespace
}  // namespace mailgate::serve
