// Time and randomness come in through these interfaces so tests can fake a
// clock (expiry, backoff) and make jitter predictable without globals.
#ifndef MAILGATE_OAUTH_CLOCK_H_
#define MAILGATE_OAUTH_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace mailgate::oauth {

// Thread safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock Unix time in seconds (token expiry is wall-clock).
  virtual int64_t NowSeconds() = 0;
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1): backoff jitter.
  virtual double Uniform() = 0;
  // `n` bytes from a CSPRNG, as URL-safe base64 without padding (PKCE
  // verifiers, state). Must be unpredictable in production.
  virtual std::string Token(size_t n) = 0;
};

// The process's real clock and libsodium's CSPRNG; they live forever.
Clock& SystemClock();
Random& SystemRandom();

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_CLOCK_H_
