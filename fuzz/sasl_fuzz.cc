// SASL challenge decoding on any bytes (scripts/fuzz sasl). The first byte
// picks a mechanism; the rest, cut at LF, are the server's challenges as they
// come on the wire (base64, as after IMAP "+ " or SMTP "334 "). Checks,
// beyond "no crash under ASan":
//  - base64 round trips: decoding succeeds exactly on canonical encodings
//    (Base64Encode(Base64Decode(x)) == x), and Base64Decode(Base64Encode(y)) == y;
//  - DescribeOAuthError gives bounded, printable ASCII for any body;
//  - an Exchange answers at most the challenges its mechanism has answers
//    for, and no error and no oauth_error() carries the secret (unless the
//    server itself sent it back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sasl/sasl.h"

namespace {

using namespace mailgate::sasl;

constexpr std::string_view kSecret = "ya29.SECRET-access-token-do-not-log";

void Check(bool ok) {
  if (!ok) std::abort();
}

bool PrintableAscii(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Mechanism mech = static_cast<Mechanism>(data[0] % 4);
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool input_has_secret = in.find(kSecret) != std::string_view::npos;

  // Base64 both ways on the whole input.
  auto decoded = Base64Decode(in);
  if (decoded.ok()) Check(Base64Encode(*decoded) == in);
  auto back = Base64Decode(Base64Encode(in));
  Check(back.ok() && *back == in);

  // The whole input as an OAuth error body.
  const std::string described = DescribeOAuthError(in);
  Check(PrintableAscii(described));
  Check(described.size() <= 3 * 210 + 64);

  Exchange exchange(mech, {"user@example.test", std::string(kSecret), "mail.example.test", 993});
  Check(exchange.Validate().ok());
  int answered = 0;
  bool failed = false;
  while (!in.empty() && !failed) {
    const std::size_t nl = in.find('\n');
    std::string_view wire = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (!wire.empty() && wire.back() == '\r') wire.remove_suffix(1);
    auto challenge = Base64Decode(wire);
    if (!challenge.ok()) {
      Check(challenge.status().message().find(kSecret) == std::string::npos);
      continue;  // a client cancels here; the exchange never sees it
    }
    auto response = exchange.Respond(*challenge);
    if (!response.ok()) {
      Check(response.status().message().find(kSecret) == std::string::npos);
      failed = true;
      continue;
    }
    ++answered;
  }
  // LOGIN answers two prompts; PLAIN one; XOAUTH2 and OAUTHBEARER the initial
  // request and one error challenge.
  Check(answered <= 2);
  if (!input_has_secret) Check(exchange.oauth_error().find(kSecret) == std::string::npos);
  Check(PrintableAscii(exchange.oauth_error()));
  return 0;
}
