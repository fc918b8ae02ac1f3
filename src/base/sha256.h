// SHA-256, one shot or incremental (for bodies that stream through).
#ifndef MAILGATE_BASE_SHA256_H_
#define MAILGATE_BASE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace mailgate {

// Lowercase hex digest of `data`.
std::string Sha256Hex(std::string_view data);

// Incremental hashing: Update() any number of times, then HexDigest() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // REQUIRES: called once; the object cannot be updated afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailgate

#endif  // MAILGATE_BASE_SHA256_H_
