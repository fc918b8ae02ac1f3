#include "store/vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace mailgate::store {
namespace {

TEST(VaultTest, SealedValueOpensOnlyWithItsAssociatedData) {
  Vault v(GenerateMasterKey());
  const std::string sealed = v.Seal("s3cret-token", "account/a/refresh_token");
  EXPECT_EQ(sealed.find("s3cret"), std::string::npos);
  EXPECT_TRUE(sealed.starts_with("mgv1." + v.key_id() + "."));
  auto back = v.Unseal(sealed, "account/a/refresh_token");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->reveal(), "s3cret-token");
  // Moved to another row or column: refused.
  EXPECT_FALSE(v.Unseal(sealed, "account/b/refresh_token").ok());
  EXPECT_FALSE(v.Unseal(sealed, "account/a/access_token").ok());
}

TEST(VaultTest, SealingTwiceGivesDifferentCiphertexts) {
  Vault v(GenerateMasterKey());
  EXPECT_NE(v.Seal("x", "ad"), v.Seal("x", "ad"));
}

TEST(VaultTest, TamperedValueIsRefused) {
  Vault v(GenerateMasterKey());
  std::string sealed = v.Seal("value", "ad");
  sealed[sealed.size() - 3] = sealed[sealed.size() - 3] == 'A' ? 'B' : 'A';
  auto r = v.Unseal(sealed, "ad");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("integrity"), std::string::npos);
}

TEST(VaultTest, OldKeyStillOpensDuringRotation) {
  const MasterKey old_key = GenerateMasterKey(), new_key = GenerateMasterKey();
  Vault old_vault(old_key);
  const std::string sealed = old_vault.Seal("v", "ad");
  Vault both(new_key, {old_key});
  EXPECT_TRUE(both.Unseal(sealed, "ad").ok());
  Vault only_new(new_key);
  auto r = only_new.Unseal(sealed, "ad");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another master key"), std::string::npos);
}

TEST(VaultTest, KeyEncodingRoundTrips) {
  const MasterKey k = GenerateMasterKey();
  auto back = ParseMasterKey(EncodeMasterKey(k));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, k);
  EXPECT_TRUE(ParseMasterKey(std::string(64, 'a')).ok());
  EXPECT_FALSE(ParseMasterKey("short").ok());
}

class VaultFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-vault-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(VaultFileTest, KeyFileIsCreatedOnFirstUseWithMode0600AndReused) {
  auto v1 = OpenVault(KeySource{dir_, ""});
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat(MasterKeyPath(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto v2 = OpenVault(KeySource{dir_, ""});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v1)->key_id(), (*v2)->key_id());
  EXPECT_TRUE((*v2)->Unseal((*v1)->Seal("x", "ad"), "ad").ok());
}

TEST_F(VaultFileTest, GroupReadableKeyFileIsRefusedWithTheFix) {
  ASSERT_TRUE(OpenVault(KeySource{dir_, ""}).ok());
  ::chmod(MasterKeyPath(dir_).c_str(), 0644);
  auto v = OpenVault(KeySource{dir_, ""});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("chmod 600"), std::string::npos);
}

TEST_F(VaultFileTest, EnvironmentKeyWinsAndNoFileIsCreated) {
  const MasterKey k = GenerateMasterKey();
  auto v = OpenVault(KeySource{dir_, EncodeMasterKey(k)});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->key_id(), Vault(k).key_id());
  EXPECT_FALSE(std::filesystem::exists(MasterKeyPath(dir_)));
  EXPECT_FALSE(OpenVault(KeySource{dir_, "garbage"}).ok());
}

TEST_F(VaultFileTest, InterruptedRotationKeepsBothKeysReadable) {
  auto before = OpenVault(KeySource{dir_, ""});
  ASSERT_TRUE(before.ok());
  const std::string old_sealed = (*before)->Seal("old", "ad");
  // A rotation wrote master.key.next, re-sealed some values, then crashed.
  const MasterKey next = GenerateMasterKey();
  ASSERT_TRUE(WriteKeyFile(NextMasterKeyPath(dir_), next).ok());
  const std::string new_sealed = Vault(next).Seal("new", "ad");
  auto after = OpenVault(KeySource{dir_, ""});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->Unseal(old_sealed, "ad")->reveal(), "old");
  EXPECT_EQ((*after)->Unseal(new_sealed, "ad")->reveal(), "new");
}

}  // namespace
}  // namespace mailgate::store
