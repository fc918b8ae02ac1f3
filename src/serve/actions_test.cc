// The console's reply: its sender is the address the conversation was received
// at when a transport sends as that address, else the transport's own account.
#include "serve/actions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "serve/store_test_fixture.h"
#include "store/store.h"

namespace mailgate::serve {
namespace {

class ActionsTest : public StoreTest {
 protected:
  void AddTransport(const std::string& name, const std::string& username) {
    store::Transport t;
    t.name = name;
    t.host = "smtp.example.com";
    t.port = 587;
    t.encryption = "starttls";
    t.auth = "none";
    t.username = username;
    t.timeout_seconds = 10;
    ASSERT_TRUE(store_->CreateTransport(t, 1).ok());
  }

  // A conversation received by a mailbox whose user name is `address`.
  int64_t AddConversation(const std::string& address) {
    store::Mailbox m;
    m.name = "Support";
    m.protocol = "imap";
    m.host = "imap.example.com";
    m.port = 993;
    m.encryption = "tls";
    m.username = address;
    m.auth = "password";
    m.password = store::Secret("imap-pw");
    m.folder = "INBOX";
    m.after_download = "keep";
    m.timeout_seconds = 60;
    const Status created = store_->CreateMailbox(m, 1);
    EXPECT_TRUE(created.ok()) << created.ToString();
    const int64_t mailbox_id = store_->GetMailbox("Support")->id;
    store::NewDownload d;
    d.uidvalidity = 1;
    d.uid = "1";
    d.sha256 = "sha-1";
    d.size = 10;
    d.spool_path = (dir_ / "1.eml").string();
    EXPECT_TRUE(store_->RecordDownloads(mailbox_id, {d}, 2).ok());
    auto pending = store_->PendingDownloads(10);
    EXPECT_TRUE(pending.ok() && pending->size() == 1);
    store::ReceivedMessage r;
    r.download_id = pending->front().id;
    r.new_mask = "ABC-00001-001";
    r.message.mailbox_id = mailbox_id;
    r.message.message_id = "q1@customer.example";
    r.message.subject = "Printer on fire";
    r.message.from = {{"Ann", "ann@customer.example"}};
    r.message.to = {{"", address}};
    r.message.date = 3;
    r.message.text_body = "help";
    r.message.sha256 = "sha-1";
    r.message.size = 10;
    r.message.thread_reason = "new";
    auto ids = store_->StoreReceivedMessage(r, 3);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    return ids.ok() ? ids->conversation_id : 0;
  }

  store::OutgoingMessage Queued(int64_t id) {
    auto m = store_->GetOutgoing(id);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : store::OutgoingMessage{};
  }

  // The console's reply to the conversation, sender and transport left to choose.
  StatusOr<int64_t> Reply(int64_t conversation) {
    ConsoleActions actions(*store_, nullptr);
    ReplyDraft draft;
    draft.to = {"ann@customer.example"};
    draft.text_body = "On its way.";
    return actions.QueueReply(conversation, draft);
  }
};

TEST_F(ActionsTest, ReplyIsSentAsTheAddressTheConversationCameInThrough) {
  AddTransport("noreply", "noreply@example.com");
  AddTransport("support", "support@example.com");
  const int64_t conversation = AddConversation("Support@example.com");
  auto id = Reply(conversation);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const auto m = Queued(*id);
  EXPECT_EQ(m.transport, "support");
  EXPECT_EQ(m.mail_from, "support@example.com");
  EXPECT_EQ(m.conversation_id, conversation);
}

TEST_F(ActionsTest, ReplyFallsBackToTheOnlyTransportsOwnAccount) {
  AddTransport("noreply", "noreply@example.com");
  const int64_t conversation = AddConversation("support@example.com");
  auto id = Reply(conversation);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const auto m = Queued(*id);
  EXPECT_EQ(m.transport, "noreply");
  EXPECT_EQ(m.mail_from, "noreply@example.com");
}

TEST_F(ActionsTest, ReplyWithSeveralTransportsAndNoneForTheAddressSaysWhatToDo) {
  AddTransport("a", "a@example.com");
  AddTransport("b", "b@example.com");
  const int64_t conversation = AddConversation("support@example.com");
  auto id = Reply(conversation);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("support@example.com"), std::string::npos)
      << id.status().message();
}

}  // namespace
}  // namespace mailgate::serve
