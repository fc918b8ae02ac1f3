// The secret vault: every secret Mailgate keeps (client secrets, refresh and
// access tokens, passwords) is sealed with XChaCha20-Poly1305 (libsodium)
// under a 256-bit master key before it reaches the database.
//
// Each ciphertext is bound to where it lives through the associated data
// (e.g. "account/work/refresh_token"): a sealed value copied into another row
// or column fails to open instead of being accepted as that row's secret.
//
// Thread safety: a Vault is immutable after construction; all const methods
// may be called from any thread.
#ifndef MAILGATE_STORE_VAULT_H_
#define MAILGATE_STORE_VAULT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::store {

// A secret in memory. It has no stream operator and no implicit conversion to
// string, so it cannot reach a log by accident; reveal() makes every use
// visible. The buffer is wiped on destruction.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret();

  bool empty() const { return value_.empty(); }
  const std::string& reveal() const { return value_; }

  friend bool operator==(const Secret& a, const Secret& b) { return a.value_ == b.value_; }

 private:
  std::string value_;
};

inline constexpr size_t kMasterKeyBytes = 32;
using MasterKey = std::array<uint8_t, kMasterKeyBytes>;

class Vault {
 public:
  // `primary` seals new values; `primary` and `others` open them (the others
  // exist while a key rotation is being finished).
  explicit Vault(const MasterKey& primary, std::vector<MasterKey> others = {});
  ~Vault();
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Seals `plaintext`; the result is printable ASCII:
  // "mgv1.<key id>.<base64(nonce || ciphertext)>".
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;

  // Opens a value made by Seal with the same associated data. Fails with
  // kInternal-free, user-readable errors (wrong key, tampered or moved value).
  StatusOr<Secret> Unseal(std::string_view sealed, std::string_view associated_data) const;

  // A short public fingerprint of the primary key (not secret).
  const std::string& key_id() const { return key_ids_.front(); }

 private:
  std::vector<MasterKey> keys_;  // keys_[0] is the primary
  std::vector<std::string> key_ids_;
};

// A new random master key.
MasterKey GenerateMasterKey();

// The printable form of a key (base64) and back. Parse also accepts 64 hex
// digits.
std::string EncodeMasterKey(const MasterKey& key);
StatusOr<MasterKey> ParseMasterKey(std::string_view text);

// Where the master key comes from.
struct KeySource {
  std::string data_dir;  // holds "master.key" when no environment key is set
  std::string env_key;   // value of MAILGATE_MASTER_KEY; empty when unset
};

// The key file's path in `data_dir`, and the file a rotation writes first.
std::string MasterKeyPath(const std::string& data_dir);
std::string NextMasterKeyPath(const std::string& data_dir);

// Loads the vault: the environment key if set, else the key file, created
// with mode 0600 on first use. A "master.key.next" left by an interrupted
// rotation is loaded as an extra opening key, so nothing becomes unreadable.
StatusOr<std::unique_ptr<Vault>> OpenVault(const KeySource& source);

// Writes `key` to `path` with mode 0600 (temp file, fsync, rename).
Status WriteKeyFile(const std::string& path, const MasterKey& key);

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_VAULT_H_
