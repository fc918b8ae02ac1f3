// What the POP3 and SMTP client tests set up alike against a scripted server
// (support/fake_server.h): where to connect, and the XOAUTH2 response the
// server must see.
#ifndef MAILGATE_TESTS_SUPPORT_CLIENT_TEST_UTIL_H_
#define MAILGATE_TESTS_SUPPORT_CLIENT_TEST_UTIL_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "net/connection.h"
#include "sasl/sasl.h"

namespace mailgate::testing {

// The fake server on 127.0.0.1:`port`, in plaintext, with short timeouts.
inline net::ConnectOptions LoopbackOptions(uint16_t port) {
  net::ConnectOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.tls = net::TlsMode::kNone;
  o.connect_timeout = std::chrono::seconds(5);
  o.io_timeout = std::chrono::seconds(5);
  return o;
}

// The base64 XOAUTH2 initial response for `user` and `token`.
inline std::string Xoauth2(const std::string& user, const std::string& token) {
  return sasl::Base64Encode("user=" + user + "\x01" + "auth=Bearer " + token + "\x01\x01");
}

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_CLIENT_TEST_UTIL_H_
