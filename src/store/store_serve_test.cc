// The Store contract for scheduler jobs, mailbox leases and the outgoing
// queue, on every backend (store_test_backend.h).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store/store_test_backend.h"

namespace mailgate::store {
namespace {

class StoreServeTest : public test::BackendTest {
 protected:
  int64_t AddMailbox(const std::string& name) {
    Mailbox m;
    m.name = name;
    m.protocol = "imap";
    m.host = "imap.example.com";
    m.encryption = "tls";
    m.username = "u@example.com";
    m.auth = "password";
    m.password = Secret("pw");
    EXPECT_TRUE(store_->CreateMailbox(m, 100).ok());
    return store_->GetMailbox(name)->id;
  }
  OutgoingMessage Sample(const std::string& raw = "Subject: hi\r\n\r\nbody\r\n") {
    OutgoingMessage m;
    m.transport = "relay";
    m.mail_from = "me@example.com";
    m.recipients = {"a@example.com", "b@example.com"};
    m.message_id = "x1@example.com";
    m.subject = "hi";
    m.raw = raw;
    return m;
  }
};

TEST_P(StoreServeTest, JobsExistWithDefaults) {
  auto jobs = store_->ListJobs(0);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  std::set<std::string> names;
  for (const auto& j : *jobs) names.insert(j.name);
  EXPECT_EQ(names,
            (std::set<std::string>{"check", "maintenance", "outgoing", "process", "tokens"}));
  EXPECT_EQ(store_->GetJob("check", 0)->interval_seconds, 60);
  EXPECT_EQ(store_->GetJob("tokens", 0)->interval_seconds, 300);
  EXPECT_EQ(store_->GetJob("nope", 0).status().kind(), Status::Kind::kNotFound);
  EXPECT_EQ(store_->RequestJobRun("nope").kind(), Status::Kind::kNotFound);
}

TEST_P(StoreServeTest, JobLeaseHasOneHolderUntilFinishedOrExpired) {
  EXPECT_TRUE(*store_->TryStartJob("outgoing", "w1", 1000, 60));
  EXPECT_FALSE(*store_->TryStartJob("outgoing", "w2", 1010, 60)) << "held";
  EXPECT_EQ(store_->GetJob("outgoing", 1010)->lease_holder, "w1");
  EXPECT_TRUE(*store_->RenewJobLease("outgoing", "w1", 1050, 60));
  EXPECT_FALSE(*store_->TryStartJob("outgoing", "w2", 1100, 60)) << "renewed until 1110";
  ASSERT_TRUE(store_->FinishJob("outgoing", "w1", 1000, "ok", "sent 0", 12).ok());
  Job j = *store_->GetJob("outgoing", 1100);
  EXPECT_EQ(j.lease_holder, "");
  EXPECT_EQ(j.last_run_at, 1000);
  EXPECT_EQ(j.next_run_at, 1030);
  EXPECT_EQ(j.last_status, "ok");
  EXPECT_EQ(j.last_summary, "sent 0");
  EXPECT_FALSE(*store_->TryStartJob("outgoing", "w2", 1020, 60)) << "not due before 1030";
  EXPECT_TRUE(*store_->TryStartJob("outgoing", "w2", 1030, 60));
  // w2 dies: its lease expires and w3 takes over; w2's renewal then fails.
  EXPECT_TRUE(*store_->TryStartJob("outgoing", "w3", 1091, 60)) << "stale lease recovered";
  EXPECT_FALSE(*store_->RenewJobLease("outgoing", "w2", 1092, 60));
}

TEST_P(StoreServeTest, RunNowMakesAJobDueOnce) {
  ASSERT_TRUE(store_->FinishJob("maintenance", "", 1000, "ok", "", 1).ok());
  EXPECT_FALSE(*store_->TryStartJob("maintenance", "w1", 1001, 60));
  ASSERT_TRUE(store_->RequestJobRun("maintenance").ok());
  EXPECT_TRUE(store_->GetJob("maintenance", 1001)->run_requested);
  EXPECT_TRUE(*store_->TryStartJob("maintenance", "w1", 1001, 60));
  EXPECT_FALSE(store_->GetJob("maintenance", 1001)->run_requested) << "taken";
  ASSERT_TRUE(store_->FinishJob("maintenance", "w1", 1001, "ok", "", 1).ok());
  EXPECT_FALSE(*store_->TryStartJob("maintenance", "w2", 1002, 60));
}

TEST_P(StoreServeTest, DisabledJobNeverStartsAndIntervalIsChecked) {
  ASSERT_TRUE(store_->ConfigureJob("tokens", false, 120).ok());
  EXPECT_FALSE(*store_->TryStartJob("tokens", "w1", 1 << 30, 60));
  ASSERT_TRUE(store_->RequestJobRun("tokens").ok());
  EXPECT_FALSE(*store_->TryStartJob("tokens", "w1", 1 << 30, 60));
  EXPECT_EQ(store_->ConfigureJob("tokens", true, 0).kind(), Status::Kind::kInvalidArgument);
  ASSERT_TRUE(store_->ConfigureJob("tokens", true, 120).ok());
  EXPECT_EQ(store_->GetJob("tokens", 0)->interval_seconds, 120);
  EXPECT_TRUE(*store_->TryStartJob("tokens", "w1", 1 << 30, 60));
}

// Two workers on their own connections race for one lease many times:
// exactly one wins each round.
TEST_P(StoreServeTest, TwoHoldersRacingForOneLeaseExactlyOneWins) {
  const int64_t box = AddMailbox("Race");
  auto other = backend_->Open(vault_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  Store* stores[2] = {store_.get(), other->get()};
  for (int round = 0; round < 20; ++round) {
    const int64_t now = 10000 + round * 100;  // every earlier lease has expired
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w) {
      threads.emplace_back([&, w] {
        const std::string holder = "w" + std::to_string(w) + "-" + std::to_string(round);
        auto mine = stores[w]->TryAcquireMailboxLease(box, holder, now, 30);
        ASSERT_TRUE(mine.ok()) << mine.status().ToString();
        auto job = stores[w]->TryStartJob("process", holder, now, 30);
        ASSERT_TRUE(job.ok()) << job.status().ToString();
        wins += int{*mine} + int{*job};
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins, 2) << "round " << round << ": one mailbox and one job lease, one winner each";
    ASSERT_TRUE(store_->RequestJobRun("process").ok());
  }
}

TEST_P(StoreServeTest, MailboxLeaseExpiresAndIsTakenOver) {
  const int64_t box = AddMailbox("Support");
  ASSERT_TRUE(store_->RequestMailboxCheck("Support").ok());
  auto sched = store_->ListMailboxSchedules(100);
  ASSERT_EQ(sched->size(), 1u);
  EXPECT_TRUE((*sched)[0].check_requested);
  EXPECT_TRUE(*store_->TryAcquireMailboxLease(box, "w1", 100, 60));
  sched = store_->ListMailboxSchedules(100);
  EXPECT_FALSE((*sched)[0].check_requested) << "cleared by the lease";
  EXPECT_EQ((*sched)[0].lease_holder, "w1");
  EXPECT_FALSE(*store_->TryAcquireMailboxLease(box, "w2", 150, 60));
  EXPECT_TRUE(*store_->RenewMailboxLease(box, "w1", 150, 60));
  EXPECT_FALSE(*store_->TryAcquireMailboxLease(box, "w2", 200, 60)) << "renewed to 210";
  EXPECT_TRUE(*store_->TryAcquireMailboxLease(box, "w2", 210, 60)) << "expired: taken over";
  EXPECT_FALSE(*store_->RenewMailboxLease(box, "w1", 211, 60)) << "lost";
  ASSERT_TRUE(store_->ReleaseMailboxLease(box, "w1").ok());
  EXPECT_EQ((*store_->ListMailboxSchedules(212))[0].lease_holder, "w2") << "not w1's to release";
  ASSERT_TRUE(store_->ReleaseAllLeases("w2").ok());
  EXPECT_EQ((*store_->ListMailboxSchedules(212))[0].lease_holder, "");
  EXPECT_TRUE(*store_->TryAcquireMailboxLease(box, "w3", 212, 60));
  EXPECT_EQ(store_->TryAcquireMailboxLease(box + 100, "w3", 212, 60).status().kind(),
            Status::Kind::kNotFound);
  EXPECT_EQ(store_->RequestMailboxCheck("Nope").kind(), Status::Kind::kNotFound);
}

TEST_P(StoreServeTest, OutgoingKeepsItsBytesAndEnvelope) {
  std::string raw = "Subject: bytes\r\n\r\n";
  for (int i = 0; i < 256; ++i) raw += static_cast<char>(i);
  auto id = store_->QueueOutgoing(Sample(raw), 500);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  OutgoingMessage m = *store_->GetOutgoing(*id);
  EXPECT_EQ(m.raw, raw);
  EXPECT_EQ(m.recipients, (std::vector<std::string>{"a@example.com", "b@example.com"}));
  EXPECT_EQ(m.state, OutgoingState::kQueued);
  EXPECT_EQ(m.next_attempt_at, 500);
  EXPECT_EQ(*store_->CountOutgoingPending(), 1);
  auto list = store_->ListOutgoing("queued", 10);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].raw.empty()) << "lists leave the bytes out";
  OutgoingMessage none = Sample();
  none.recipients.clear();
  EXPECT_EQ(store_->QueueOutgoing(none, 1).status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_EQ(store_->GetOutgoing(*id + 99).status().kind(), Status::Kind::kNotFound);
}

TEST_P(StoreServeTest, OutgoingIsClaimedOnceRetriedAndFinished) {
  const int64_t id = *store_->QueueOutgoing(Sample(), 500);
  EXPECT_FALSE(store_->ClaimOutgoing("w1", 499, 60)->has_value()) << "not due";
  auto c = store_->ClaimOutgoing("w1", 500, 60);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->id, id);
  EXPECT_EQ((*c)->state, OutgoingState::kSending);
  EXPECT_EQ((*c)->attempts, 1);
  EXPECT_FALSE(store_->ClaimOutgoing("w2", 510, 60)->has_value()) << "w1 holds it";

  // a@ accepted, b@ refused for now: only b@ stays queued.
  OutgoingAttempt partial;
  partial.state = OutgoingState::kQueued;
  partial.remaining = {"b@example.com"};
  partial.next_attempt_at = 620;
  partial.error = "b@example.com: 451 try later";
  partial.results = {{"a@example.com", 250, "ok", 510}, {"b@example.com", 451, "later", 510}};
  partial.delivered_any = true;
  EXPECT_EQ(store_->RecordOutgoingAttempt(id, "w2", partial, 510).kind(),
            Status::Kind::kFailedPrecondition)
      << "not w2's";
  ASSERT_TRUE(store_->RecordOutgoingAttempt(id, "w1", partial, 510).ok());
  OutgoingMessage m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, OutgoingState::kQueued);
  EXPECT_EQ(m.recipients, std::vector<std::string>{"b@example.com"});
  EXPECT_EQ(m.sent_at, 510);
  ASSERT_EQ(m.results.size(), 2u);
  EXPECT_EQ(m.results[1].code, 451);
  EXPECT_EQ(m.results[1].text, "later");
  EXPECT_EQ(store_->UnstoredSentOutgoing(10)->size(), 1u);
  ASSERT_TRUE(store_->MarkOutgoingStored(id, 77).ok());
  EXPECT_EQ(store_->UnstoredSentOutgoing(10)->size(), 0u);

  // The sender dies mid-attempt: after the lease expires another takes it.
  ASSERT_TRUE(store_->ClaimOutgoing("w1", 620, 60)->has_value());
  EXPECT_FALSE(store_->ClaimOutgoing("w2", 679, 60)->has_value());
  auto again = store_->ClaimOutgoing("w2", 680, 60);
  ASSERT_TRUE(again->has_value()) << "stale sending lease recovered";
  EXPECT_EQ((*again)->attempts, 3);
  OutgoingAttempt failed;
  failed.state = OutgoingState::kFailed;
  failed.error = "550 no such user";
  failed.results = {{"b@example.com", 550, "no such user", 690}};
  ASSERT_TRUE(store_->RecordOutgoingAttempt(id, "w2", failed, 690).ok());
  m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, OutgoingState::kFailed);
  EXPECT_EQ(m.last_error, "550 no such user");
  EXPECT_EQ(m.conversation_id, 77);
  EXPECT_EQ(m.results.size(), 3u);
  EXPECT_EQ(*store_->CountOutgoingPending(), 0);

  ASSERT_TRUE(store_->RetryOutgoing(id, 700).ok());
  EXPECT_EQ(store_->GetOutgoing(id)->state, OutgoingState::kQueued);
  ASSERT_TRUE(store_->ClaimOutgoing("w1", 700, 60)->has_value());
  EXPECT_EQ(store_->RetryOutgoing(id, 701).kind(), Status::Kind::kFailedPrecondition);
  OutgoingAttempt sent;
  sent.state = OutgoingState::kSent;
  sent.delivered_any = true;
  ASSERT_TRUE(store_->RecordOutgoingAttempt(id, "w1", sent, 710).ok());
  EXPECT_EQ(store_->GetOutgoing(id)->sent_at, 510) << "first delivery kept";
  EXPECT_EQ(store_->RetryOutgoing(id, 711).kind(), Status::Kind::kFailedPrecondition);
}

TEST_P(StoreServeTest, TwoWorkersNeverClaimTheSameMessage) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store_->QueueOutgoing(Sample(), 100).ok());
  auto other = backend_->Open(vault_);
  ASSERT_TRUE(other.ok());
  Store* stores[2] = {store_.get(), other->get()};
  std::vector<int64_t> claimed[2];
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (;;) {
        auto c = stores[w]->ClaimOutgoing("w" + std::to_string(w), 200, 60);
        ASSERT_TRUE(c.ok()) << c.status().ToString();
        if (!c->has_value()) return;
        claimed[w].push_back((*c)->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all(claimed[0].begin(), claimed[0].end());
  all.insert(claimed[1].begin(), claimed[1].end());
  EXPECT_EQ(all.size(), 30u);
  EXPECT_EQ(claimed[0].size() + claimed[1].size(), 30u) << "none claimed twice";
}

TEST_P(StoreServeTest, PurgeRemovesOnlyOldFinishedWork) {
  const int64_t old_run = *store_->StartRun("check", "mailbox/A", 100);
  ASSERT_TRUE(store_->AppendRunLog(old_run, {{100000, "info", "old"}}).ok());
  ASSERT_TRUE(store_->FinishRun(old_run, "ok", "", 110).ok());
  const int64_t running = *store_->StartRun("check", "mailbox/B", 100);
  const int64_t new_run = *store_->StartRun("check", "mailbox/C", 5000);
  ASSERT_TRUE(store_->FinishRun(new_run, "ok", "", 5010).ok());
  const int64_t failed = *store_->QueueOutgoing(Sample(), 100);
  ASSERT_TRUE(store_->ClaimOutgoing("w", 100, 60)->has_value());
  OutgoingAttempt f;
  f.state = OutgoingState::kFailed;
  ASSERT_TRUE(store_->RecordOutgoingAttempt(failed, "w", f, 120).ok());
  const int64_t queued = *store_->QueueOutgoing(Sample(), 100);

  auto counts = store_->PurgeOlderThan(1000);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->runs, 1);
  EXPECT_EQ(counts->run_log_lines, 1);
  EXPECT_EQ(counts->outgoing, 1);
  auto runs = store_->ListRuns("", 10);
  std::set<int64_t> left;
  for (const auto& r : *runs) left.insert(r.id);
  EXPECT_EQ(left, (std::set<int64_t>{running, new_run}));
  EXPECT_EQ(store_->GetOutgoing(failed).status().kind(), Status::Kind::kNotFound);
  EXPECT_TRUE(store_->GetOutgoing(queued).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreServeTest, test::BackendNames(), test::BackendName);

}  // namespace
}  // namespace mailgate::store
