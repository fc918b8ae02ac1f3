// The Store contract for accounts, leases, alerts and secrets, run against
// every backend (store_test_backend.h).
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/migrations.h"
#include "store/store_test_backend.h"

namespace mailgate::store {
namespace {

using test::NewVault;

template <typename F>
AccountUpdate Update(F&& fill) {
  AccountUpdate u;
  fill(u);
  return u;
}

Account SampleAccount(const std::string& name) {
  Account a;
  a.name = name;
  a.provider = "microsoft";
  a.authority = "https://login.microsoftonline.com";
  a.tenant = "contoso.onmicrosoft.com";
  a.client_id = "11111111-2222-3333-4444-555555555555";
  a.client_secret = Secret("client-secret-PLAINTEXT-MARKER");
  a.scopes = {"offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All"};
  return a;
}

class StoreTest : public test::BackendTest {};

TEST_P(StoreTest, NewStoreIsMigratedToLatestVersion) {
  EXPECT_EQ(*store_->SchemaVersion(), Migrations().back().version);
  auto mailboxes = store_->ListMailboxes();
  ASSERT_TRUE(mailboxes.ok());
  EXPECT_TRUE(mailboxes->empty());
}

TEST_P(StoreTest, ReopeningDoesNotReapplyMigrations) {
  auto again = backend_->Open(vault_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->SchemaVersion(), Migrations().back().version);
}

TEST_P(StoreTest, ProcessesStartingAtOnceMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto s = backend_->Open(vault_);
      if (!s.ok()) failures++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
}

TEST_P(StoreTest, AccountRoundTripsWithSecrets) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1000).ok());
  auto a = store_->GetAccount("work");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->provider, "microsoft");
  EXPECT_EQ(a->tenant, "contoso.onmicrosoft.com");
  EXPECT_EQ(a->client_secret.reveal(), "client-secret-PLAINTEXT-MARKER");
  EXPECT_EQ(a->scopes.size(), 2u);
  EXPECT_EQ(a->status, AccountStatus::kNotAuthorized);
  EXPECT_EQ(a->created_at, 1000);
  EXPECT_TRUE(a->refresh_token.empty());
}

// `mailgate account edit`: the configuration changes, sealed like at
// creation, and the grant stays.
TEST_P(StoreTest, UpdateChangesTheConfiguration) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  ASSERT_TRUE(
      store_
          ->UpdateAccount("work", Update([](AccountUpdate& u) {
                            u.refresh_token = Secret("rt-PLAINTEXT-MARKER");
                            u.client_secret = Secret("new-secret-PLAINTEXT-MARKER");
                            u.tenant = "fabrikam.com";
                            u.client_id = "cid-2";
                            u.authority = "https://login.microsoftonline.us";
                            u.scopes = std::vector<std::string>{"offline_access", "s1", "s2"};
                            u.auth_url = "https://idp.example/authorize";
                            u.token_url = "https://idp.example/token";
                            u.device_url = "https://idp.example/device";
                          }))
          .ok());
  auto a = store_->GetAccount("work");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->client_secret.reveal(), "new-secret-PLAINTEXT-MARKER");
  EXPECT_EQ(a->tenant, "fabrikam.com");
  EXPECT_EQ(a->client_id, "cid-2");
  EXPECT_EQ(a->authority, "https://login.microsoftonline.us");
  EXPECT_EQ(a->scopes, (std::vector<std::string>{"offline_access", "s1", "s2"}));
  EXPECT_EQ(a->refresh_token.reveal(), "rt-PLAINTEXT-MARKER");
  EXPECT_EQ(a->auth_url, "https://idp.example/authorize");
  EXPECT_EQ(a->token_url, "https://idp.example/token");
  EXPECT_EQ(a->device_url, "https://idp.example/device");
  ASSERT_TRUE(store_
                  ->UpdateAccount("work", Update([](AccountUpdate& u) {
                                    u.client_secret = Secret();
                                    u.scopes = std::vector<std::string>{};
                                  }))
                  .ok());
  a = store_->GetAccount("work");
  EXPECT_TRUE(a->client_secret.empty());
  EXPECT_TRUE(a->scopes.empty());
}

TEST_P(StoreTest, DuplicateNameIsRefusedWithAHint) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  Status s = store_->CreateAccount(SampleAccount("work"), 2);
  EXPECT_EQ(s.kind(), Status::Kind::kAlreadyExists);
  EXPECT_NE(s.message().find("mailgate account remove work"), std::string::npos);
}

TEST_P(StoreTest, UnknownAccountIsNotFound) {
  EXPECT_EQ(store_->GetAccount("nope").status().kind(), Status::Kind::kNotFound);
  EXPECT_EQ(store_->DeleteAccount("nope").kind(), Status::Kind::kNotFound);
  EXPECT_EQ(
      store_->UpdateAccount("nope", Update([](AccountUpdate& u) { u.failure_count = 1; })).kind(),
      Status::Kind::kNotFound);
}

TEST_P(StoreTest, UpdateChangesOnlyGivenFields) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  ASSERT_TRUE(store_
                  ->UpdateAccount("work", Update([](AccountUpdate& u) {
                                    u.grant_token_url = "https://x/t";
                                    u.refresh_token = Secret("rt-PLAINTEXT-MARKER");
                                    u.access_token = Secret("at-PLAINTEXT-MARKER");
                                    u.access_expires_at = 5000;
                                    u.status = AccountStatus::kOk;
                                    u.last_refresh_at = 1234;
                                  }))
                  .ok());
  ASSERT_TRUE(store_
                  ->UpdateAccount("work", Update([](AccountUpdate& u) {
                                    u.status = AccountStatus::kReauthorizationRequired;
                                    u.last_error = "refresh token expired";
                                    u.last_error_code = "AADSTS700082";
                                  }))
                  .ok());
  auto a = store_->GetAccount("work");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->refresh_token.reveal(), "rt-PLAINTEXT-MARKER");
  EXPECT_EQ(a->access_token.reveal(), "at-PLAINTEXT-MARKER");
  EXPECT_EQ(a->access_expires_at, 5000);
  EXPECT_EQ(a->status, AccountStatus::kReauthorizationRequired);
  EXPECT_EQ(a->last_error_code, "AADSTS700082");
  EXPECT_EQ(a->last_refresh_at, 1234);
  EXPECT_EQ(a->grant_token_url, "https://x/t");
  // An empty Secret clears the column.
  ASSERT_TRUE(
      store_->UpdateAccount("work", Update([](AccountUpdate& u) { u.access_token = Secret(); }))
          .ok());
  EXPECT_TRUE(store_->GetAccount("work")->access_token.empty());
}

TEST_P(StoreTest, NoSecretIsStoredInPlaintext) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  ASSERT_TRUE(store_
                  ->UpdateAccount("work", Update([](AccountUpdate& u) {
                                    u.refresh_token = Secret("rt-PLAINTEXT-MARKER");
                                    u.access_token = Secret("at-PLAINTEXT-MARKER");
                                  }))
                  .ok());
  store_.reset();  // flush and close
  const std::string dump = backend_->Dump();
  ASSERT_NE(dump.find("contoso.onmicrosoft.com"), std::string::npos) << "dump sees the data";
  EXPECT_EQ(dump.find("PLAINTEXT-MARKER"), std::string::npos);
}

TEST_P(StoreTest, AnotherKeyCannotReadSecretsAndSaysWhatToDo) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  auto other = backend_->Open(NewVault());
  ASSERT_TRUE(other.ok());
  auto a = (*other)->GetAccount("work");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("MAILGATE_MASTER_KEY"), std::string::npos);
  EXPECT_EQ(a.status().message().find("PLAINTEXT"), std::string::npos);
}

TEST_P(StoreTest, ResealMovesEverySecretToTheNewKey) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("a"), 1).ok());
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("b"), 1).ok());
  ASSERT_TRUE(
      store_->UpdateAccount("b", Update([](AccountUpdate& u) { u.refresh_token = Secret("rt-b"); }))
          .ok());
  auto next = NewVault();
  ASSERT_TRUE(store_->ResealSecrets(next).ok());
  auto with_next = backend_->Open(next);
  ASSERT_TRUE(with_next.ok());
  auto b = (*with_next)->GetAccount("b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->refresh_token.reveal(), "rt-b");
  EXPECT_EQ(b->client_secret.reveal(), "client-secret-PLAINTEXT-MARKER");
  auto with_old = backend_->Open(vault_);
  EXPECT_FALSE((*with_old)->GetAccount("b").ok());
}

TEST_P(StoreTest, ListAndDeleteAccounts) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("b"), 1).ok());
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("a"), 1).ok());
  auto list = store_->ListAccounts();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  ASSERT_TRUE(store_->DeleteAccount("a").ok());
  EXPECT_EQ(store_->ListAccounts()->size(), 1u);
}

TEST_P(StoreTest, RefreshLeaseHasOneHolderAndExpires) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  EXPECT_TRUE(*store_->TryAcquireRefreshLease("work", "p1", 100, 30));
  EXPECT_FALSE(*store_->TryAcquireRefreshLease("work", "p2", 110, 30));
  EXPECT_TRUE(*store_->TryAcquireRefreshLease("work", "p1", 110, 30)) << "re-entrant";
  EXPECT_EQ(*store_->RefreshLeaseHolder("work", 120), "p1");
  EXPECT_TRUE(*store_->TryAcquireRefreshLease("work", "p2", 140, 30)) << "expired";
  EXPECT_FALSE(*store_->TryAcquireRefreshLease("work", "p3", 141, 30));
  EXPECT_TRUE(*store_->TryAcquireRefreshLease("work", "p3", 141, 30, "p2")) << "stolen from dead";
  ASSERT_TRUE(store_->ReleaseRefreshLease("work", "p2").ok());
  EXPECT_EQ(*store_->RefreshLeaseHolder("work", 142), "p3") << "not released by a non-holder";
  ASSERT_TRUE(store_->ReleaseRefreshLease("work", "p3").ok());
  EXPECT_EQ(*store_->RefreshLeaseHolder("work", 142), "");
  EXPECT_EQ(store_->TryAcquireRefreshLease("nope", "p1", 1, 1).status().kind(),
            Status::Kind::kNotFound);
}

TEST_P(StoreTest, ConcurrentStoresGetTheLeaseExactlyOnce) {
  ASSERT_TRUE(store_->CreateAccount(SampleAccount("work"), 1).ok());
  std::atomic<int> winners{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto s = backend_->Open(vault_);
      if (!s.ok()) return void(errors++);
      auto got = (*s)->TryAcquireRefreshLease("work", "h" + std::to_string(i), 500, 60);
      if (!got.ok()) return void(errors++);
      if (*got) winners++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(winners, 1);
}

TEST_P(StoreTest, AlertsAreRaisedOnceAndResolved) {
  auto id1 = store_->RaiseAlert("reauthorization_required", "account/work", "first", 10);
  ASSERT_TRUE(id1.ok()) << id1.status().ToString();
  auto id2 = store_->RaiseAlert("reauthorization_required", "account/work", "second", 20);
  ASSERT_TRUE(id2.ok());
  EXPECT_EQ(*id1, *id2);
  auto open = store_->ListAlerts(true);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].message, "second");
  EXPECT_EQ((*open)[0].created_at, 10);
  ASSERT_TRUE(store_->ResolveAlerts("account/work", 30).ok());
  EXPECT_TRUE(store_->ListAlerts(true)->empty());
  auto all = store_->ListAlerts(false);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].resolved_at, 30);
  auto id3 = store_->RaiseAlert("reauthorization_required", "account/work", "again", 40);
  EXPECT_NE(*id3, *id1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, test::BackendNames(), test::BackendName);

TEST(SqliteStoreTest, MissingDirectorySaysWhatToDo) {
  auto store = OpenSqliteStore("/nonexistent-dir/x/mailgate.db", NewVault());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().kind(), Status::Kind::kIo);
  EXPECT_NE(store.status().message().find("data directory"), std::string::npos);
}

TEST(OpenStoreUrlTest, UnknownSchemeSaysWhatIsAccepted) {
  auto store = OpenStoreUrl("mysql://x", "/tmp/unused.db", NewVault());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("postgresql://"), std::string::npos);
}

TEST(OpenStoreUrlTest, PostgresErrorsHideThePassword) {
  auto store = OpenStoreUrl("postgresql://u:hunter2secret@127.0.0.1:1/db", "", NewVault());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message().find("hunter2secret"), std::string::npos);
  EXPECT_NE(store.status().message().find("--db"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::store
