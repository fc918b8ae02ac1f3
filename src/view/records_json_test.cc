#include "view/records_json.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace mailgate::view {
namespace {

TEST(RecordsJsonTest, MailboxSaysAPasswordIsSetWithoutShowingIt) {
  store::Mailbox m;
  m.name = "Support";
  m.protocol = "imap";
  m.encryption = "tls";
  m.username = "support@example.com";
  m.auth = "password";
  m.password = store::Secret("hunter2-secret");
  m.last_error = "mailbox needs re-authorization";
  m.consecutive_failures = 3;
  m.checked_at = 1700000000;
  const auto o = MailboxJson(m);
  const std::string text = boost::json::serialize(o);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_TRUE(o.at("password_set").as_bool());
  EXPECT_EQ(o.at("username").as_string(), "support@example.com");
  EXPECT_EQ(o.at("port").as_int64(), 0);
  EXPECT_EQ(o.at("effective_port").as_int64(), 993);
  const auto& state = o.at("state").as_object();
  EXPECT_EQ(state.at("checked_at").as_int64(), 1700000000);  // seconds, not text
  EXPECT_EQ(state.at("consecutive_failures").as_int64(), 3);
  EXPECT_EQ(state.at("last_error").as_string(), "mailbox needs re-authorization");
}

TEST(RecordsJsonTest, TransportWithoutPasswordSaysSo) {
  store::Transport t;
  t.name = "Outgoing";
  t.encryption = "starttls";
  t.auth = "xoauth2";
  t.account = "work";
  const auto o = TransportJson(t);
  EXPECT_FALSE(o.at("password_set").as_bool());
  EXPECT_EQ(o.at("effective_port").as_int64(), 587);
  EXPECT_EQ(o.at("account").as_string(), "work");
}

TEST(RecordsJsonTest, MessageKeepsThreadingHeadersAndAttachmentIds) {
  store::MessageRecord m;
  m.id = 7;
  m.message_id = "b@example.com";
  m.in_reply_to = {"a@example.com"};
  m.references = {"root@example.com", "a@example.com"};
  m.from = {{"Ann", "ann@example.com"}};
  m.date = 1700000001;
  store::AttachmentRecord a;
  a.id = 3;
  a.filename = "r\xc3\xa9sum\xc3\xa9.pdf";
  a.size = 10;
  m.attachments.push_back(a);
  const auto o = MessageJson(m);
  EXPECT_EQ(o.at("in_reply_to").as_array().at(0).as_string(), "a@example.com");
  EXPECT_EQ(o.at("references").as_array().size(), 2u);
  EXPECT_EQ(o.at("from").as_array().at(0).at("email").as_string(), "ann@example.com");
  EXPECT_EQ(o.at("date").as_int64(), 1700000001);
  EXPECT_EQ(o.at("attachments").as_array().at(0).at("id").as_int64(), 3);
  EXPECT_EQ(o.at("attachments").as_array().at(0).at("filename").as_string(),
            "r\xc3\xa9sum\xc3\xa9.pdf");
}

TEST(RecordsJsonTest, OutgoingHasPerRecipientResults) {
  store::OutgoingMessage m;
  m.id = 5;
  m.state = store::OutgoingState::kFailed;
  m.recipients = {"a@example.com"};
  m.results.push_back({"a@example.com", 550, "5.1.1 no such user", 1700000002});
  const auto o = OutgoingJson(m);
  EXPECT_EQ(o.at("state").as_string(), "failed");
  EXPECT_EQ(o.at("results").as_array().at(0).at("code").as_int64(), 550);
  EXPECT_EQ(o.at("results").as_array().at(0).at("at").as_int64(), 1700000002);
}

}  // namespace
}  // namespace mailgate::view
