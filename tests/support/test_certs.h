// Certificates made on the fly for TLS tests that must not depend on the
// test environment's files: a CA, and leaf certificates it signs for chosen
// names and validity periods.
#ifndef MAILGATE_TESTS_SUPPORT_TEST_CERTS_H_
#define MAILGATE_TESTS_SUPPORT_TEST_CERTS_H_

#include <string>
#include <vector>

namespace mailgate::testing {

struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key
};

// A directory of generated certificates, removed on destruction.
class TestCerts {
 public:
  TestCerts();
  ~TestCerts();
  TestCerts(const TestCerts&) = delete;
  TestCerts& operator=(const TestCerts&) = delete;

  // A self-signed CA named `name`.
  CertFiles MakeCa(const std::string& name);
  // A server certificate signed by `ca` for `names` (DNS names or IPv4
  // literals), valid from now + not_before_days to now + not_after_days.
  CertFiles MakeLeaf(const CertFiles& ca, const std::vector<std::string>& names,
                     int not_before_days = -1, int not_after_days = 30);

 private:
  std::string dir_;
  int counter_ = 0;
};

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_TEST_CERTS_H_
