// Test doubles for the oauth unit tests: a scripted HttpClient, a clock
// that advances only when slept on, predictable randomness.
#ifndef MAILGATE_OAUTH_FAKES_FOR_TEST_H_
#define MAILGATE_OAUTH_FAKES_FOR_TEST_H_

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "http/http_client.h"
#include "oauth/clock.h"

namespace mailgate::oauth {

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now = 1'700'000'000) : now_ms_(now * 1000) {}
  int64_t NowSeconds() override {
    std::lock_guard l(mu_);
    return now_ms_ / 1000;
  }
  void SleepFor(std::chrono::milliseconds d) override {
    std::lock_guard l(mu_);
    sleeps.push_back(d);
    now_ms_ += d.count();
  }
  void Advance(int64_t seconds) {
    std::lock_guard l(mu_);
    now_ms_ += seconds * 1000;
  }
  std::vector<std::chrono::milliseconds> sleeps;

 private:
  std::mutex mu_;
  int64_t now_ms_;
};

class FakeRandom : public Random {
 public:
  double Uniform() override { return 0.5; }
  std::string Token(size_t n) override { return std::string(n, 'r') + std::to_string(counter_++); }

 private:
  int counter_ = 0;
};

// Answers requests from a script; records them.
class ScriptedHttp : public http::HttpClient {
 public:
  using Handler = std::function<StatusOr<http::Response>(const http::Request&)>;
  void Then(Handler h) { script_.push_back(std::move(h)); }
  void ThenJson(int status, std::string body) {
    Then([status, body = std::move(body)](const http::Request&) -> StatusOr<http::Response> {
      http::Response r;
      r.status = status;
      r.body = body;
      return r;
    });
  }
  StatusOr<http::Response> Send(const http::Request& req) override {
    std::lock_guard l(mu_);
    requests.push_back(req);
    if (script_.empty()) return Status::Internal("unexpected request to " + req.url);
    auto h = std::move(script_.front());
    script_.pop_front();
    return h(req);
  }
  std::vector<http::Request> requests;

 private:
  std::mutex mu_;
  std::deque<Handler> script_;
};

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_FAKES_FOR_TEST_H_
