#include "oauth/clock.h"

#include <sodium.h>

#include <cstdlib>
#include <thread>
#include <vector>

namespace mailgate::oauth {
namespace {

class RealClock final : public Clock {
 public:
  int64_t NowSeconds() override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

class SodiumRandom final : public Random {
 public:
  SodiumRandom() {
    if (sodium_init() < 0) std::abort();
  }
  double Uniform() override {
    return static_cast<double>(randombytes_uniform(1u << 30)) / static_cast<double>(1u << 30);
  }
  std::string Token(size_t n) override {
    std::vector<unsigned char> raw(n);
    randombytes_buf(raw.data(), n);
    std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), raw.data(), n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.find('\0'));
    return out;
  }
};

}  // namespace

Clock& SystemClock() {
  static RealClock* clock = new RealClock;
  return *clock;
}

Random& SystemRandom() {
  static SodiumRandom* random = new SodiumRandom;
  return *random;
}

}  // namespace mailgate::oauth
