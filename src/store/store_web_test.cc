// The Store contract for console users, sessions, login throttling, API
// tokens and conversation search, run against every backend
// (store_test_backend.h).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store/store_test_backend.h"

namespace mailgate::store {
namespace {

class StoreWebTest : public test::BackendTest {};

TEST_P(StoreWebTest, FirstConsoleUserIsCreatedOnceOnly) {
  auto first = store_->CreateFirstConsoleUser({"admin", "hash-1", 0, 0}, 100);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*first);
  auto second = store_->CreateFirstConsoleUser({"other", "hash-2", 0, 0}, 200);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  auto admin = store_->GetConsoleUser("admin");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->password_hash, "hash-1");
  EXPECT_EQ(admin->created_at, 100);
  EXPECT_EQ(store_->GetConsoleUser("other").status().kind(), Status::Kind::kNotFound);
}

TEST_P(StoreWebTest, ProcessesStartingAtOnceCreateOneAdministrator) {
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto s = backend_->Open(vault_);
      if (!s.ok()) return void(failures++);
      auto r = (*s)->CreateFirstConsoleUser({"admin", "h" + std::to_string(i), 0, 0}, 1);
      if (!r.ok()) return void(failures++);
      if (*r) created++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(created.load(), 1);
}

TEST_P(StoreWebTest, SettingAPasswordCreatesTheUserAndEndsItsSessions) {
  ASSERT_TRUE(store_->SetConsolePassword("ops", "h1", 10).ok());
  EXPECT_EQ(store_->GetConsoleUser("ops")->password_hash, "h1");
  ASSERT_TRUE(store_->CreateConsoleSession({"s1", "ops", 10, 10, 1000}).ok());
  ASSERT_TRUE(store_->CreateConsoleSession({"s2", "someone", 10, 10, 1000}).ok());
  ASSERT_TRUE(store_->SetConsolePassword("ops", "h2", 20).ok());
  auto ops = store_->GetConsoleUser("ops");
  EXPECT_EQ(ops->password_hash, "h2");
  EXPECT_EQ(ops->created_at, 10);
  EXPECT_EQ(ops->password_changed_at, 20);
  EXPECT_EQ(store_->GetConsoleSession("s1", 30).status().kind(), Status::Kind::kNotFound);
  EXPECT_TRUE(store_->GetConsoleSession("s2", 30).ok());
}

TEST_P(StoreWebTest, SessionsExpireAndCanBeExtendedAndEnded) {
  ASSERT_TRUE(store_->CreateConsoleSession({"abc", "admin", 100, 100, 200}).ok());
  auto s = store_->GetConsoleSession("abc", 150);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->user, "admin");
  EXPECT_EQ(s->expires_at, 200);
  EXPECT_EQ(store_->GetConsoleSession("abc", 200).status().kind(), Status::Kind::kNotFound);
  ASSERT_TRUE(store_->TouchConsoleSession("abc", 190, 400).ok());
  EXPECT_EQ(store_->GetConsoleSession("abc", 300)->last_seen_at, 190);
  ASSERT_TRUE(store_->DeleteConsoleSession("abc").ok());
  EXPECT_EQ(store_->GetConsoleSession("abc", 300).status().kind(), Status::Kind::kNotFound);
  EXPECT_TRUE(store_->DeleteConsoleSession("abc").ok());
}

TEST_P(StoreWebTest, PurgeRemovesExpiredSessionsAndOldFailures) {
  ASSERT_TRUE(store_->CreateConsoleSession({"old", "admin", 1, 1, 50}).ok());
  ASSERT_TRUE(store_->CreateConsoleSession({"new", "admin", 1, 1, 500}).ok());
  ASSERT_TRUE(store_->RecordLoginFailure("user:admin", 10).ok());
  ASSERT_TRUE(store_->RecordLoginFailure("user:admin", 90).ok());
  ASSERT_TRUE(store_->PurgeConsoleState(100, 50).ok());
  EXPECT_TRUE(store_->GetConsoleSession("new", 100).ok());
  auto db = backend_->OpenDb();
  ASSERT_TRUE(db.ok());
  auto r = (*db)->Query("SELECT COUNT(*) FROM console_sessions", {});
  EXPECT_EQ(*r->rows[0][0], "1");
  EXPECT_EQ(store_->CountLoginFailures("user:admin", 0)->count, 1);
}

TEST_P(StoreWebTest, LoginFailuresAreCountedPerKeySinceATime) {
  for (int64_t t : {100, 200, 300}) ASSERT_TRUE(store_->RecordLoginFailure("ip:192.0.2.1", t).ok());
  ASSERT_TRUE(store_->RecordLoginFailure("user:admin", 250).ok());
  auto f = store_->CountLoginFailures("ip:192.0.2.1", 150);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->count, 2);
  EXPECT_EQ(f->last_at, 300);
  EXPECT_EQ(store_->CountLoginFailures("ip:192.0.2.9", 0)->count, 0);
  EXPECT_EQ(store_->CountLoginFailures("ip:192.0.2.9", 0)->last_at, 0);
  ASSERT_TRUE(store_->ClearLoginFailures("ip:192.0.2.1").ok());
  EXPECT_EQ(store_->CountLoginFailures("ip:192.0.2.1", 0)->count, 0);
  EXPECT_EQ(store_->CountLoginFailures("user:admin", 0)->count, 1);
}

TEST_P(StoreWebTest, ApiTokensAreFoundByHashAndRevokedByName) {
  ASSERT_TRUE(store_->CreateApiToken({"ci", "hash-ci", "mg_abcd", 0, 0}, 100).ok());
  ASSERT_TRUE(store_->CreateApiToken({"backup", "hash-b", "mg_efgh", 0, 0}, 110).ok());
  EXPECT_EQ(store_->CreateApiToken({"ci", "hash-other", "mg_x", 0, 0}, 120).kind(),
            Status::Kind::kAlreadyExists);
  auto list = store_->ListApiTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "backup");
  EXPECT_EQ((*list)[1].prefix, "mg_abcd");
  EXPECT_EQ((*list)[1].created_at, 100);

  auto found = store_->ApiTokenByHash("hash-ci");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(found->last_used_at, 0);
  ASSERT_TRUE(store_->TouchApiToken("ci", 130).ok());
  EXPECT_EQ(store_->ApiTokenByHash("hash-ci")->last_used_at, 130);

  ASSERT_TRUE(store_->RevokeApiToken("ci").ok());
  EXPECT_EQ(store_->ApiTokenByHash("hash-ci").status().kind(), Status::Kind::kNotFound);
  EXPECT_EQ(store_->RevokeApiToken("ci").kind(), Status::Kind::kNotFound);
}

MessageRecord Message(const std::string& id, const std::string& subject,
                      const std::string& from_name, const std::string& from_email, int64_t date) {
  MessageRecord m;
  m.mailbox_id = 1;
  m.message_id = id;
  m.subject = subject;
  m.from = {{from_name, from_email}};
  m.date = date;
  m.sha256 = "raw-" + id;
  return m;
}

TEST_P(StoreWebTest, SearchFindsConversationsBySubjectOrSenderNewestFirst) {
  ASSERT_TRUE(store_
                  ->CreateMailbox(
                      [] {
                        Mailbox m;
                        m.name = "Support";
                        m.protocol = "imap";
                        m.host = "h";
                        m.encryption = "tls";
                        m.username = "u";
                        m.auth = "password";
                        return m;
                      }(),
                      1)
                  .ok());
  const int64_t mb = store_->GetMailbox("Support")->id;
  const std::vector<MessageRecord> messages = {
      Message("a@x", "Printer on fire", "Ann Example", "ann@example.com", 100),
      Message("b@x", "Invoice 100%_paid", "Bob", "bob@corp.example", 200),
      Message("c@x", "Lunch", "Carol", "carol@example.com", 300),
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    auto d = store_->RecordDownloads(mb,
                                     {NewDownload{1, std::to_string(i), "sha" + std::to_string(i),
                                                  1, "/s/" + std::to_string(i), 0}},
                                     1);
    ASSERT_TRUE(d.ok());
    ReceivedMessage rm;
    rm.download_id = store_->PendingDownloads(1)->front().id;
    rm.new_mask = "AAA-0000" + std::to_string(i);
    rm.message = messages[i];
    ASSERT_TRUE(store_->StoreReceivedMessage(rm, 10).ok());
  }
  auto subjects = [&](std::string_view q) {
    std::vector<std::string> out;
    auto r = store_->SearchConversations(q, 10, 0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (const auto& c : *r) out.push_back(c.subject);
    }
    return out;
  };
  EXPECT_EQ(subjects("PRINTER"), (std::vector<std::string>{"Printer on fire"}));
  EXPECT_EQ(subjects("example.com"), (std::vector<std::string>{"Lunch", "Printer on fire"}));
  EXPECT_EQ(subjects("ann example"), (std::vector<std::string>{"Printer on fire"}));
  EXPECT_EQ(subjects("100%_"), (std::vector<std::string>{"Invoice 100%_paid"}));
  // % and _ are literal characters, not LIKE wildcards.
  EXPECT_EQ(subjects("%"), (std::vector<std::string>{"Invoice 100%_paid"}));
  EXPECT_EQ(subjects("%_p"), (std::vector<std::string>{"Invoice 100%_paid"}));
  EXPECT_TRUE(subjects("o_f").empty());
  EXPECT_EQ(subjects("").size(), 3u);
  EXPECT_EQ(store_->SearchConversations("", 1, 1)->front().subject, "Invoice 100%_paid");
}

TEST_P(StoreWebTest, GetRunReadsOneRun) {
  auto id = store_->StartRun("check", "mailbox/Support", 100);
  ASSERT_TRUE(id.ok());
  auto run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->job, "check");
  EXPECT_EQ(run->subject, "mailbox/Support");
  EXPECT_EQ(run->status, "running");
  ASSERT_TRUE(store_->FinishRun(*id, "ok", "2 messages", 110).ok());
  EXPECT_EQ(store_->GetRun(*id)->finished_at, 110);
  EXPECT_EQ(store_->GetRun(*id)->summary, "2 messages");
  EXPECT_EQ(store_->GetRun(*id + 1000).status().kind(), Status::Kind::kNotFound);
}

PendingAuthorization Pending(std::string state, int64_t expires_at) {
  PendingAuthorization p;
  p.state = std::move(state);
  p.account = "o365";
  p.session_hash = "sess-hash";
  p.code_verifier = Secret("VERIFIER-MARKER-91c2");
  p.redirect_uri = "https://mail.example.com/accounts/callback";
  p.token_url = "https://login.example.com/token";
  p.scopes = {"offline_access", "https://outlook.office.com/IMAP.AccessAsUser.All"};
  p.expires_at = expires_at;
  return p;
}

TEST_P(StoreWebTest, PendingAuthorizationIsTakenOnceWithItsVerifierSealed) {
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("st-1", 1000), 100).ok());
  // Another worker on the same database takes it.
  auto other = backend_->Open(vault_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto p = (*other)->TakePendingAuthorization("st-1", 200);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->account, "o365");
  EXPECT_EQ(p->session_hash, "sess-hash");
  EXPECT_EQ(p->code_verifier.reveal(), "VERIFIER-MARKER-91c2");
  EXPECT_EQ(p->redirect_uri, "https://mail.example.com/accounts/callback");
  EXPECT_EQ(p->token_url, "https://login.example.com/token");
  EXPECT_EQ(p->scopes, Pending("", 0).scopes);
  EXPECT_EQ(p->expires_at, 1000);
  // Single use: a replayed redirect finds nothing.
  EXPECT_EQ(store_->TakePendingAuthorization("st-1", 200).status().kind(), Status::Kind::kNotFound);
  EXPECT_EQ(store_->TakePendingAuthorization("unknown", 200).status().kind(),
            Status::Kind::kNotFound);
}

TEST_P(StoreWebTest, PendingAuthorizationVerifierIsNotStoredInPlaintext) {
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("st-plain", 1000), 100).ok());
  store_.reset();  // flush and close
  const std::string dump = backend_->Dump();
  EXPECT_EQ(dump.find("VERIFIER-MARKER-91c2"), std::string::npos);
  EXPECT_NE(dump.find("st-plain"), std::string::npos);  // the dump does see the row
}

TEST_P(StoreWebTest, ResealMovesPendingVerifiersToTheNewKey) {
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("st-key", 1000), 100).ok());
  auto next = test::NewVault();
  ASSERT_TRUE(store_->ResealSecrets(next).ok());
  auto with_next = backend_->Open(next);
  ASSERT_TRUE(with_next.ok());
  auto p = (*with_next)->TakePendingAuthorization("st-key", 200);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->code_verifier.reveal(), "VERIFIER-MARKER-91c2");
}

TEST_P(StoreWebTest, ExpiredPendingAuthorizationsAreRefusedAndPurged) {
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("old", 150), 100).ok());
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("older", 120), 100).ok());
  EXPECT_EQ(store_->TakePendingAuthorization("old", 150).status().kind(), Status::Kind::kNotFound);
  // Creating one at 130 purges those expired by then ("older"); the console
  // purge removes the rest.
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("new", 1000), 130).ok());
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("stale", 140), 130).ok());
  ASSERT_TRUE(store_->PurgeConsoleState(500, 0).ok());
  EXPECT_EQ(store_->TakePendingAuthorization("stale", 100).status().kind(),
            Status::Kind::kNotFound);
  EXPECT_EQ(store_->TakePendingAuthorization("older", 100).status().kind(),
            Status::Kind::kNotFound);
  EXPECT_TRUE(store_->TakePendingAuthorization("new", 500).ok());
}

TEST_P(StoreWebTest, ConcurrentCallbacksTakeAPendingAuthorizationOnce) {
  ASSERT_TRUE(store_->CreatePendingAuthorization(Pending("race", 1000), 100).ok());
  std::vector<std::thread> threads;
  std::atomic<int> taken{0}, errors{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto s = backend_->Open(vault_);
      if (!s.ok()) return void(errors++);
      auto p = (*s)->TakePendingAuthorization("race", 200);
      if (p.ok()) {
        taken++;
      } else if (p.status().kind() != Status::Kind::kNotFound) {
        errors++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(taken.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreWebTest, test::BackendNames(), test::BackendName);

}  // namespace
}  // namespace mailgate::store
