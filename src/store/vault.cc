#include "store/vault.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace mailgate::store {
namespace {

constexpr std::string_view kPrefix = "mgv1.";

void EnsureSodium() {
  // sodium_init is idempotent and thread-safe; it fails only when no source
  // of randomness exists, which no supported system lacks.
  if (sodium_init() < 0) std::abort();
}

std::string KeyId(const MasterKey& key) {
  // A keyed hash of a fixed label: reveals nothing about the key.
  uint8_t out[8];
  static constexpr char kLabel[] = "mailgate key id";
  crypto_generichash(out, sizeof out, reinterpret_cast<const uint8_t*>(kLabel), sizeof kLabel - 1,
                     key.data(), key.size());
  char hex[sizeof out * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string ToBase64(const uint8_t* data, size_t n) {
  std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool FromBase64(std::string_view in, std::vector<uint8_t>& out) {
  out.resize(in.size());
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), in.data(), in.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  out.resize(len);
  return true;
}

StatusOr<MasterKey> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Io("cannot read the master key file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  auto key = ParseMasterKey(text);
  sodium_memzero(text.data(), text.size());
  if (!key.ok()) {
    return Status::InvalidArgument("the master key file '" + path +
                                   "' is damaged; restore it from your backup");
  }
  return key;
}

}  // namespace

Secret::~Secret() {
  if (!value_.empty()) sodium_memzero(value_.data(), value_.size());
}

Vault::Vault(const MasterKey& primary, std::vector<MasterKey> others) {
  EnsureSodium();
  keys_.push_back(primary);
  keys_.insert(keys_.end(), std::make_move_iterator(others.begin()),
               std::make_move_iterator(others.end()));
  for (auto& k : keys_) key_ids_.push_back(KeyId(k));
}

Vault::~Vault() {
  for (auto& k : keys_) sodium_memzero(k.data(), k.size());
}

std::string Vault::Seal(std::string_view plaintext, std::string_view ad) const {
  std::vector<uint8_t> buf(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() +
                           crypto_aead_xchacha20poly1305_ietf_ABYTES);
  uint8_t* nonce = buf.data();
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
      reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, nonce, keys_[0].data());
  std::string out(kPrefix);
  out += key_ids_[0];
  out += '.';
  out += ToBase64(buf.data(), crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + clen);
  return out;
}

StatusOr<Secret> Vault::Unseal(std::string_view sealed, std::string_view ad) const {
  if (!sealed.starts_with(kPrefix)) {
    return Status::InvalidArgument("a stored secret (" + std::string(ad) +
                                   ") is not in the vault's format; the database was edited by "
                                   "hand or is damaged: set the secret again");
  }
  sealed.remove_prefix(kPrefix.size());
  const size_t dot = sealed.find('.');
  if (dot == std::string_view::npos) {
    return Status::InvalidArgument("a stored secret (" + std::string(ad) + ") is damaged");
  }
  const std::string_view id = sealed.substr(0, dot);
  size_t index = keys_.size();
  for (size_t i = 0; i < key_ids_.size(); ++i) {
    if (key_ids_[i] == id) index = i;
  }
  if (index == keys_.size()) {
    return Status::InvalidArgument(
        "a stored secret (" + std::string(ad) + ") was sealed with another master key (id " +
        std::string(id) + ", ours is " + key_ids_[0] +
        "); set MAILGATE_MASTER_KEY or restore the data directory's master.key that goes with "
        "this database");
  }
  std::vector<uint8_t> raw;
  if (!FromBase64(sealed.substr(dot + 1), raw) ||
      raw.size() < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                       crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Status::InvalidArgument("a stored secret (" + std::string(ad) + ") is damaged");
  }
  std::string plain(raw.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES -
                        crypto_aead_xchacha20poly1305_ietf_ABYTES,
                    '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<uint8_t*>(plain.data()), &plen, nullptr,
          raw.data() + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          raw.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), raw.data(),
          keys_[index].data()) != 0) {
    return Status::InvalidArgument("a stored secret (" + std::string(ad) +
                                   ") failed its integrity check: it was modified or moved "
                                   "from another row; set the secret again");
  }
  plain.resize(plen);
  return Secret(std::move(plain));
}

MasterKey GenerateMasterKey() {
  EnsureSodium();
  MasterKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

std::string EncodeMasterKey(const MasterKey& key) {
  return ToBase64(key.data(), key.size());
}

StatusOr<MasterKey> ParseMasterKey(std::string_view text) {
  EnsureSodium();
  MasterKey key;
  std::vector<uint8_t> raw;
  if (text.size() == kMasterKeyBytes * 2) {
    size_t len = 0;
    if (sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, nullptr) ==
            0 &&
        len == kMasterKeyBytes) {
      return key;
    }
  }
  if (FromBase64(text, raw) && raw.size() == kMasterKeyBytes) {
    std::memcpy(key.data(), raw.data(), key.size());
    sodium_memzero(raw.data(), raw.size());
    return key;
  }
  return Status::InvalidArgument(
      "a master key must be 32 bytes in base64 or 64 hex digits; create one with `mailgate key "
      "generate`");
}

std::string MasterKeyPath(const std::string& data_dir) {
  return data_dir + "/master.key";
}
std::string NextMasterKeyPath(const std::string& data_dir) {
  return data_dir + "/master.key.next";
}

Status WriteKeyFile(const std::string& path, const MasterKey& key) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Io("cannot create the master key file '" + path + "': " + std::strerror(errno) +
                      "; check the data directory's permissions");
  }
  std::string text = EncodeMasterKey(key) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  sodium_memzero(text.data(), text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::Io("cannot write the master key file '" + path + "': " + std::strerror(errno));
  }
  // Make the rename durable before anything is sealed with this key.
  const std::string dir = path.substr(0, path.find_last_of('/') + 1);
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Vault>> OpenVault(const KeySource& source) {
  EnsureSodium();
  if (!source.env_key.empty()) {
    auto key = ParseMasterKey(source.env_key);
    if (!key.ok()) return key.status().WithContext("MAILGATE_MASTER_KEY");
    return std::make_unique<Vault>(*key);
  }
  const std::string path = MasterKeyPath(source.data_dir);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    MAILGATE_RETURN_IF_ERROR(WriteKeyFile(path, GenerateMasterKey()));
  } else if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument("the master key file '" + path +
                                   "' is readable by other users; run `chmod 600 " + path + "`");
  }
  auto key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  std::vector<MasterKey> others;
  const std::string next = NextMasterKeyPath(source.data_dir);
  if (::access(next.c_str(), F_OK) == 0) {
    auto k = ReadKeyFile(next);
    if (k.ok()) others.push_back(*k);
  }
  return std::make_unique<Vault>(*key, std::move(others));
}

}  // namespace mailgate::store
