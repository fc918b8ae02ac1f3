// The outgoing queue against a scripted SMTP server (exact replies): a 4xx
// then success is retried and delivered once; a 5xx fails at once; partial
// refusals, and refusals of every recipient, are recorded per recipient.
#include "serve/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "serve/store_test_fixture.h"
#include "store/store.h"
#include "support/fake_server.h"
#include "support/run_co.h"

namespace mailgate::serve {
namespace {

using testing::FakeServer;
using testing::RunCo;
using testing::Script;

constexpr char kRaw[] = "Subject: hi\r\nMessage-ID: <x1@example.com>\r\n\r\nbody\r\n";

class OutboxTest : public StoreTest {
 protected:
  void AddTransport(uint16_t port) {
    store::Transport t;
    t.name = "relay";
    t.host = "127.0.0.1";
    t.port = port;
    t.encryption = "none";
    t.auth = "none";
    t.username = "me@example.com";
    t.timeout_seconds = 10;
    ASSERT_TRUE(store_->CreateTransport(t, 1).ok());
  }
  int64_t Queue(std::vector<std::string> to) {
    store::OutgoingMessage m;
    m.transport = "relay";
    m.mail_from = "me@example.com";
    m.recipients = std::move(to);
    m.message_id = "x1@example.com";
    m.subject = "hi";
    m.raw = kRaw;
    auto id = store_->QueueOutgoing(m, now_);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return *id;
  }
  OutboxResult Deliver() {
    OutboxEnv env;
    env.store = store_.get();
    env.holder = "test-worker";
    env.now = [this] { return now_; };
    return RunCo<OutboxResult>(
        [&env](boost::asio::any_io_executor ex) { return DeliverDue(ex, env); });
  }
  static Script Greeting(Script s) {
    return s.Send("220 fake ESMTP").Expect("EHLO *").Send("250 fake");
  }
  static Script Body(Script s) {
    return s.Expect("DATA")
        .Send("354 go ahead")
        .Expect("Subject: hi")
        .Expect("Message-ID: <x1@example.com>")
        .Expect("")
        .Expect("body")
        .Expect(".");
  }

  int64_t now_ = 1'800'000'000;
};

TEST_F(OutboxTest, TransientFailureIsRetriedWithBackoffAndDeliveredOnce) {
  Script busy = Script().Send("421 4.3.2 Service not available, try later").Close();
  Script ok = Body(Greeting(Script())
                       .Expect("MAIL FROM:<me@example.com>")
                       .Send("250 2.1.0 ok")
                       .Expect("RCPT TO:<to@example.com>")
                       .Send("250 2.1.5 ok"))
                  .Send("250 2.0.0 queued as ABC")
                  .Expect("QUIT")
                  .Send("221 bye");
  FakeServer server({busy, ok}, FakeServer::Options());
  AddTransport(server.port());
  const int64_t id = Queue({"to@example.com"});

  OutboxResult r = Deliver();
  EXPECT_EQ(r.retrying, 1u);
  store::OutgoingMessage m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kQueued);
  EXPECT_EQ(m.next_attempt_at, now_ + 60) << "first retry after a minute";
  EXPECT_NE(m.last_error.find("421"), std::string::npos) << m.last_error;

  now_ += 30;
  EXPECT_EQ(Deliver().sent + Deliver().retrying, 0u) << "not due yet";
  now_ += 31;
  r = Deliver();
  EXPECT_EQ(r.sent, 1u);
  EXPECT_EQ(server.Finish(), "");
  m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kSent);
  EXPECT_EQ(m.attempts, 2);
  EXPECT_TRUE(m.stored);
  EXPECT_EQ(Deliver().sent, 0u) << "delivered once";

  // The sent message is in a new conversation, as an outgoing message.
  auto conversations = store_->ListConversations(10, 0);
  ASSERT_EQ(conversations->size(), 1u);
  auto messages = store_->ConversationMessages((*conversations)[0].id);
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].direction, "out");
  EXPECT_EQ((*messages)[0].message_id, "x1@example.com");
}

TEST_F(OutboxTest, PermanentRefusalFailsAtOnceAndIsNotRetried) {
  Script refuse = Greeting(Script())
                      .Expect("MAIL FROM:<me@example.com>")
                      .Send("250 2.1.0 ok")
                      .Expect("RCPT TO:<nobody@example.com>")
                      .Send("550 5.1.1 <nobody@example.com>: Recipient address rejected")
                      .Expect("RSET")
                      .Send("250 ok")
                      .Expect("QUIT")
                      .Send("221 bye");
  FakeServer server(refuse);
  AddTransport(server.port());
  const int64_t id = Queue({"nobody@example.com"});
  OutboxResult r = Deliver();
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(server.Finish(), "");
  store::OutgoingMessage m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kFailed);
  EXPECT_NE(m.last_error.find("5.1.1"), std::string::npos) << m.last_error;
  ASSERT_EQ(m.results.size(), 1u) << "the refused recipient's reply is shown";
  EXPECT_EQ(m.results[0].address, "nobody@example.com");
  EXPECT_EQ(m.results[0].code, 550);
  EXPECT_NE(m.results[0].text.find("Recipient address rejected"), std::string::npos);
  now_ += 3 * 86400;
  EXPECT_EQ(Deliver().failed + Deliver().sent, 0u) << "never tried again";
  EXPECT_EQ(store_->GetOutgoing(id)->attempts, 1);
  EXPECT_EQ(store_->ListConversations(10, 0)->size(), 0u) << "nothing was sent";
}

TEST_F(OutboxTest, PartialRefusalRetriesOnlyTheDeferredRecipient) {
  Script first = Body(Greeting(Script())
                          .Expect("MAIL FROM:<me@example.com>")
                          .Send("250 ok")
                          .Expect("RCPT TO:<a@example.com>")
                          .Send("250 ok")
                          .Expect("RCPT TO:<b@example.com>")
                          .Send("452 4.2.2 mailbox full")
                          .Expect("RCPT TO:<c@example.com>")
                          .Send("550 5.1.1 unknown"))
                     .Send("250 queued")
                     .Expect("QUIT")
                     .Send("221 bye");
  Script second = Body(Greeting(Script())
                           .Expect("MAIL FROM:<me@example.com>")
                           .Send("250 ok")
                           .Expect("RCPT TO:<b@example.com>")
                           .Send("250 ok"))
                      .Send("250 queued")
                      .Expect("QUIT")
                      .Send("221 bye");
  FakeServer server({first, second}, FakeServer::Options());
  AddTransport(server.port());
  const int64_t id = Queue({"a@example.com", "b@example.com", "c@example.com"});
  Deliver();
  store::OutgoingMessage m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kQueued);
  EXPECT_EQ(m.recipients, std::vector<std::string>{"b@example.com"});
  ASSERT_EQ(m.results.size(), 3u);
  EXPECT_EQ(m.results[2].code, 550);
  EXPECT_TRUE(m.stored) << "delivered to a@: in its conversation already";
  now_ += 61;
  EXPECT_EQ(Deliver().sent, 1u);
  EXPECT_EQ(server.Finish(), "");
  m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kSent);
  EXPECT_EQ(m.results.size(), 4u);
  auto conversations = store_->ListConversations(10, 0);
  ASSERT_EQ(conversations->size(), 1u);
  EXPECT_EQ((*conversations)[0].message_count, 1) << "stored once";
}

TEST_F(OutboxTest, EveryRecipientRefusedRecordsEachReplyAndRetriesOnlyTheDeferredOne) {
  Script first = Greeting(Script())
                     .Expect("MAIL FROM:<me@example.com>")
                     .Send("250 ok")
                     .Expect("RCPT TO:<a@example.com>")
                     .Send("550 5.1.1 unknown")
                     .Expect("RCPT TO:<b@example.com>")
                     .Send("451 4.3.0 try later")
                     .Expect("RSET")
                     .Send("250 ok")
                     .Expect("QUIT")
                     .Send("221 bye");
  Script second = Greeting(Script())
                      .Expect("MAIL FROM:<me@example.com>")
                      .Send("250 ok")
                      .Expect("RCPT TO:<b@example.com>")
                      .Send("550 5.2.1 mailbox disabled")
                      .Expect("RSET")
                      .Send("250 ok")
                      .Expect("QUIT")
                      .Send("221 bye");
  FakeServer server({first, second}, FakeServer::Options());
  AddTransport(server.port());
  const int64_t id = Queue({"a@example.com", "b@example.com"});
  EXPECT_EQ(Deliver().retrying, 1u);
  store::OutgoingMessage m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kQueued);
  EXPECT_EQ(m.recipients, std::vector<std::string>{"b@example.com"});
  ASSERT_EQ(m.results.size(), 2u);
  EXPECT_EQ(m.results[0].address, "a@example.com");
  EXPECT_EQ(m.results[0].code, 550);
  EXPECT_EQ(m.results[1].address, "b@example.com");
  EXPECT_EQ(m.results[1].code, 451);
  EXPECT_NE(m.last_error.find("a@example.com: 550"), std::string::npos) << m.last_error;
  EXPECT_FALSE(m.stored);

  now_ += 61;
  EXPECT_EQ(Deliver().failed, 1u);
  EXPECT_EQ(server.Finish(), "");
  m = *store_->GetOutgoing(id);
  EXPECT_EQ(m.state, store::OutgoingState::kFailed);
  ASSERT_EQ(m.results.size(), 3u);
  EXPECT_EQ(m.results[2].code, 550);
  EXPECT_NE(m.last_error.find("5.2.1"), std::string::npos) << m.last_error;
  now_ += 3 * 86400;
  EXPECT_EQ(Deliver().failed + Deliver().retrying, 0u) << "never tried again";
  EXPECT_EQ(store_->ListConversations(10, 0)->size(), 0u) << "nothing was sent";
}

TEST(RetryDelayTest, GrowsThenStaysHourly) {
  EXPECT_EQ(RetryDelaySeconds(1), 60);
  EXPECT_EQ(RetryDelaySeconds(2), 120);
  EXPECT_EQ(RetryDelaySeconds(3), 300);
  EXPECT_EQ(RetryDelaySeconds(4), 600);
  EXPECT_EQ(RetryDelaySeconds(5), 1800);
  EXPECT_EQ(RetryDelaySeconds(6), 3600);
  EXPECT_EQ(RetryDelaySeconds(40), 3600);
}

}  // namespace
}  // namespace mailgate::serve
