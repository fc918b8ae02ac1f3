// Mail end to end, as a user runs it: the `mailgate` binary configures a
// connected account (client credentials on the test IdP), an IMAP or POP3
// mailbox on Dovecot and an SMTP transport on Postfix; `check` downloads,
// `process` makes conversations, and what comes out is compared byte for byte
// with what went in. Then the same with kill -9 at random moments.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/sha256.h"
#include "sasl/sasl.h"
#include "support/test_env.h"
#include "tests/accounts/harness.h"

namespace mailgate::testing {
namespace {

namespace json = boost::json;

std::string Base64Lines(const std::string& data) {
  const std::string b64 = sasl::Base64Encode(data);
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) {
    out += b64.substr(i, 76);
    out += "\r\n";
  }
  return out;
}

// Random bytes that do not compress, like real attachments.
std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

struct TestMessage {
  std::string raw;
  std::string message_id;
  std::string subject;
  std::string attachment;  // bytes; empty: none
  std::string parent;      // Message-ID this one replies to
};

// A message with a UTF-8 subject, a text body and (every third one) a binary
// attachment; `in_reply_to` makes it a reply.
TestMessage MakeMessage(const std::string& tag, int i, const std::string& in_reply_to = "") {
  TestMessage m;
  m.message_id = tag + "." + std::to_string(i) + "@sender.example";
  m.parent = in_reply_to;
  m.subject = "Order " + std::to_string(i) + " \xE2\x80\x94 d\xC3\xA9j\xC3\xA0 vu";
  std::string r = "From: Alice Customer <alice@sender.example>\r\n";
  r += "To: support@example.test\r\n";
  r += "Subject: =?UTF-8?B?" + sasl::Base64Encode(m.subject) + "?=\r\n";
  r += "Date: Sat, 28 Nov 2026 10:00:" + std::to_string(10 + i % 50) + " +0000\r\n";
  r += "Message-ID: <" + m.message_id + ">\r\n";
  if (!in_reply_to.empty()) {
    r += "In-Reply-To: <" + in_reply_to + ">\r\nReferences: <" + in_reply_to + ">\r\n";
  }
  r += "MIME-Version: 1.0\r\n";
  const std::string text = "Hello, this is message " + std::to_string(i) + ".\r\n";
  if (i % 3 == 0) {
    m.attachment = RandomBytes(20000 + static_cast<size_t>(i) * 997, static_cast<uint32_t>(i));
    r += "Content-Type: multipart/mixed; boundary=\"b-" + std::to_string(i) + "\"\r\n\r\n";
    r += "--b-" + std::to_string(i) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
    r += text;
    r += "--b-" + std::to_string(i) + "\r\n";
    r += "Content-Type: application/octet-stream; name=\"invoice-" + std::to_string(i) +
         ".bin\"\r\nContent-Disposition: attachment; filename=\"invoice-" + std::to_string(i) +
         ".bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    r += Base64Lines(m.attachment);
    r += "--b-" + std::to_string(i) + "--\r\n";
  } else {
    r += "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text;
  }
  m.raw = std::move(r);
  return m;
}

class MailFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = RequireEnv("MAILGATE_TEST_IDP_URL");
    ASSERT_FALSE(url.empty());
    idp_ = std::make_unique<Idp>(url);
    id_ = Unique();
    dir_ = (std::filesystem::temp_directory_path() / ("mailgate-e2e-" + id_)).string();
    std::filesystem::create_directories(dir_);
    env_ = {{"MAILGATE_DATA_DIR", dir_}, {"MAILGATE_CA_FILE", Env().ca}};
    mailbox_user_ = UniqueUser("flow");
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  RunResult Run(std::vector<std::string> args) {
    RunResult r = RunMailgate(args, env_);
    logs_ += r.out + r.err;
    return r;
  }

  // A connected account with app-only access to the mailbox (client
  // credentials), as a daemon would use it.
  void AddAppAccount(const std::string& name = "app") {
    const std::string app = "app-" + id_;
    secret_ = "app-secret-" + id_ + "-VALUE";
    idp_->RegisterClient(app, secret_, mailbox_user_);
    { std::ofstream(dir_ + "/secret.txt") << secret_ << "\n"; }
    RunResult r = Run({"account", "add", name, "--provider", "microsoft", "--client-id", app,
                       "--tenant", "contoso-" + id_ + ".test", "--authority", idp_->url(),
                       "--client-secret-file", dir_ + "/secret.txt"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::filesystem::remove(dir_ + "/secret.txt");
    r = Run({"account", "authorize", name, "--flow", "client-credentials"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void AddMailbox(const std::string& protocol, std::vector<std::string> extra = {},
                  const std::string& account = "app") {
    const bool imap = protocol == "imap";
    std::vector<std::string> args = {
        "mailbox",      "add",       "Support",
        "--protocol",   protocol,    "--host",
        Env().tls_name, "--port",    std::to_string(imap ? Env().imaps_port : Env().pop3s_port),
        "--encryption", "tls",       "--user",
        mailbox_user_,  "--account", account};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::vector<TestMessage> Deliver(int n, const std::string& tag) {
    std::vector<TestMessage> out;
    for (int i = 0; i < n; ++i) {
      // Every fifth message answers the one before it: same conversation.
      const std::string parent = (i % 5 == 4) ? out.back().message_id : "";
      out.push_back(MakeMessage(tag, i, parent));
      Status s = DeliverByLmtp(mailbox_user_, out.back().raw);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return out;
  }

  json::value Json(std::vector<std::string> args) {
    args.push_back("--json");
    return JsonOutput(Run(args));
  }

  // Every stored message, by Message-ID, with its conversation id.
  std::multimap<std::string, json::object> StoredMessages() {
    std::multimap<std::string, json::object> out;
    json::value list = Json({"conversation", "list", "--limit", "100000"});
    if (!list.is_array()) return out;
    for (const auto& c : list.as_array()) {
      const int64_t id = c.at("id").as_int64();
      json::value shown = Json({"conversation", "show", std::to_string(id)});
      if (!shown.is_object()) continue;
      for (const auto& m : shown.at("messages").as_array()) {
        json::object o = m.as_object();
        o["conversation_id"] = id;
        out.emplace(std::string(o.at("message_id").as_string()), std::move(o));
      }
    }
    return out;
  }

  // Messages still in the mailbox's folder, as `mailbox test` reports them.
  int ServerCount() {
    RunResult r = Run({"mailbox", "test", "Support"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const std::string& key : {std::string("Folder INBOX: "), std::string("Mailbox holds ")}) {
      const size_t at = r.out.find(key);
      if (at != std::string::npos) return std::stoi(r.out.substr(at + key.size()));
    }
    ADD_FAILURE() << "no message count in: " << r.out;
    return -1;
  }

  // Each delivered message stored exactly once, with the right subject, body
  // and attachment bytes, replies in their parent's conversation.
  void ExpectExactlyOnce(const std::vector<TestMessage>& sent) {
    auto stored = StoredMessages();
    EXPECT_EQ(stored.size(), sent.size());
    std::map<std::string, int64_t> conversation_of;
    for (const auto& m : sent) {
      ASSERT_EQ(stored.count(m.message_id), 1u) << m.message_id;
      const json::object& o = stored.find(m.message_id)->second;
      conversation_of[m.message_id] = o.at("conversation_id").as_int64();
      EXPECT_EQ(o.at("subject").as_string(), m.subject);
      const auto& attachments = o.at("attachments").as_array();
      if (m.attachment.empty()) {
        EXPECT_TRUE(attachments.empty()) << m.message_id;
        continue;
      }
      ASSERT_EQ(attachments.size(), 1u) << m.message_id;
      EXPECT_EQ(attachments[0].at("sha256").as_string(), Sha256Hex(m.attachment));
      EXPECT_EQ(attachments[0].at("size").to_number<uint64_t>(), m.attachment.size());
    }
    for (const auto& m : sent) {
      if (m.parent.empty()) continue;
      EXPECT_EQ(conversation_of[m.message_id], conversation_of[m.parent])
          << "reply " << m.message_id << " not threaded";
    }
  }

  void ExpectNoSecretAnywhere() {
    EXPECT_EQ(logs_.find(secret_), std::string::npos) << "client secret in the output";
    EXPECT_EQ(ReadTree(dir_).find(secret_), std::string::npos) << "client secret in the data";
  }

  std::unique_ptr<Idp> idp_;
  std::string id_, dir_, mailbox_user_, secret_, logs_;
  std::map<std::string, std::string> env_;
};

TEST_F(MailFlowTest, ConfigurationCommandsSaveCheckAndExplain) {
  AddAppAccount();
  AddMailbox("imap", {"--after-download", "move:Processed"});
  json::value shown = Json({"mailbox", "show", "Support"});
  ASSERT_TRUE(shown.is_object());
  EXPECT_EQ(shown.at("protocol").as_string(), "imap");
  EXPECT_EQ(shown.at("effective_port").as_int64(), Env().imaps_port);
  EXPECT_EQ(shown.at("auth").as_string(), "xoauth2");
  EXPECT_EQ(shown.at("after_download").as_string(), "move:Processed");
  EXPECT_EQ(shown.at("folder").as_string(), "INBOX");

  // edit changes only what it is given.
  RunResult r = Run({"mailbox", "edit", "Support", "--max-size-kb", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  shown = Json({"mailbox", "show", "Support"});
  EXPECT_EQ(shown.at("max_size_kb").as_int64(), 100);
  EXPECT_EQ(shown.at("after_download").as_string(), "move:Processed");

  // Mistakes are refused with what to do (exit 2), nothing saved.
  r = Run({"mailbox", "add", "Bad", "--protocol", "imap", "--host", "h", "--encryption", "tls",
           "--user", "u@example.test", "--account", "nobody"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mailgate account list"), std::string::npos) << r.err;
  r = Run({"mailbox", "add", "Bad", "--protocol", "pop3", "--host", "h", "--encryption", "tls",
           "--user", "u@example.test", "--account", "app", "--after-download", "mark-seen"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("only 'delete' or 'keep'"), std::string::npos) << r.err;
  r = Run({"mailbox", "add", "Support", "--protocol", "imap", "--host", "h", "--encryption", "tls",
           "--user", "u@example.test", "--account", "app"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("exists already"), std::string::npos) << r.err;
  r = Run({"mailbox", "show", "Nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("mailgate mailbox list"), std::string::npos) << r.err;

  // Test: connect, authenticate, look, in the seed's words.
  r = Run({"mailbox", "test", "Support"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Connected to your mailbox successfully!"), std::string::npos) << r.out;

  // A transport with a password: sealed at rest, never shown.
  const std::string password = "transport-password-" + id_;
  ASSERT_TRUE(AddPasswordUser(mailbox_user_, password).ok());
  { std::ofstream(dir_ + "/pw.txt") << password << "\n"; }
  r = Run({"transport", "add", "Outgoing", "--host", Env().tls_name, "--port",
           std::to_string(Env().submission_port), "--encryption", "starttls", "--user",
           mailbox_user_, "--password-file", dir_ + "/pw.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::filesystem::remove(dir_ + "/pw.txt");
  json::value t = Json({"transport", "show", "Outgoing"});
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t.at("auth").as_string(), "password");
  EXPECT_TRUE(t.at("password_set").as_bool());
  r = Run({"transport", "test", "Outgoing", "--to", mailbox_user_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Test message to " + mailbox_user_ + " accepted"), std::string::npos)
      << r.out;
  EXPECT_EQ(logs_.find(password), std::string::npos);
  EXPECT_EQ(ReadTree(dir_).find(password), std::string::npos) << "password in plaintext";

  r = Run({"transport", "remove", "Outgoing"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json::value list = Json({"transport", "list"});
  ASSERT_TRUE(list.is_array());
  EXPECT_TRUE(list.as_array().empty());
  ExpectNoSecretAnywhere();
}

TEST_F(MailFlowTest, ImapCheckAndProcessStoreEveryMessageOnceThenDeleteFromTheServer) {
  AddAppAccount();
  AddMailbox("imap");
  const auto sent = Deliver(12, "imap-" + id_);
  RunResult r = Run({"check"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Connected to mailbox 'Support'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Downloaded message"), std::string::npos) << r.out;
  r = Run({"process"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectExactlyOnce(sent);
  EXPECT_EQ(ServerCount(), 0);

  // Attachments come back byte for byte.
  for (const auto& m : sent) {
    if (m.attachment.empty()) continue;
    const std::string out = dir_ + "/attachment.bin";
    r = Run({"conversation", "attachment", Sha256Hex(m.attachment), "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(out, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), m.attachment);
    break;
  }

  // Nothing new: a second run stores nothing twice.
  r = Run({"check", "--process"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectExactlyOnce(sent);
  ExpectNoSecretAnywhere();
}

// Outgoing mail in the main suite, through the real Postfix: `mailgate send`
// submits over STARTTLS with AUTH, Postfix delivers to Dovecot, and the
// recipient's INBOX read back over IMAP (this test's mailbox, in its own data
// directory) holds the message exactly once. A recipient Postfix refuses at
// RCPT time (550: the test setup accepts only its own domains) is reported on
// the message (the whole message failed, with each recipient's reply, when
// every recipient was refused; the recipient's result when another was
// accepted) and not retried.
TEST_F(MailFlowTest, SendThroughPostfixArrivesOnceAndARefusedRecipientIsReported) {
  ASSERT_TRUE(Env().postfix) << "Postfix is not running (testenv runs it as root)";
  AddAppAccount();
  AddMailbox("imap");
  const std::string sender = UniqueUser("sender");
  const std::string password = "sender-password-" + id_;
  ASSERT_TRUE(AddPasswordUser(sender, password).ok());
  // The sender's Mailgate: another data directory, as another site would be.
  const std::string out_dir = dir_ + "/sender";
  std::filesystem::create_directories(out_dir);
  const std::map<std::string, std::string> out_env = {{"MAILGATE_DATA_DIR", out_dir},
                                                      {"MAILGATE_CA_FILE", Env().ca}};
  auto send_side = [&](const std::vector<std::string>& args) {
    RunResult r = RunMailgate(args, out_env);
    logs_ += r.out + r.err;
    return r;
  };
  auto outgoing = [&](const std::string& id) {
    RunResult r = send_side({"outgoing", "show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return json::value();
    }
  };
  { std::ofstream(out_dir + "/pw.txt") << password << "\n"; }
  RunResult r = send_side({"transport", "add", "Out", "--host", Env().tls_name, "--port",
                           std::to_string(Env().submission_port), "--encryption", "starttls",
                           "--user", sender, "--password-file", out_dir + "/pw.txt"});
  std::filesystem::remove(out_dir + "/pw.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string subject = "Through Postfix " + id_;
  r = send_side({"send", "--from", sender, "--to", mailbox_user_, "--subject", subject, "--body",
                 "Sent through the real Postfix.\n.a line that starts with a dot\n"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string id = r.out.substr(0, r.out.find('\n'));
  json::value sent = outgoing(id);
  ASSERT_TRUE(sent.is_object());
  EXPECT_EQ(sent.at("state").as_string(), "sent") << json::serialize(sent);
  EXPECT_EQ(sent.at("attempts").as_int64(), 1);
  std::string message_id(sent.at("message_id").as_string());
  if (message_id.starts_with('<')) message_id = message_id.substr(1, message_id.size() - 2);

  // Postfix delivers in the background: check until it is there.
  std::multimap<std::string, json::object> stored;
  for (int i = 0; i < 120 && stored.count(message_id) == 0; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    r = Run({"check", "--process"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    stored = StoredMessages();
  }
  ASSERT_EQ(stored.count(message_id), 1u) << "not delivered to " << mailbox_user_;
  const json::object& got = stored.find(message_id)->second;
  EXPECT_EQ(got.at("subject").as_string(), subject);
  // Nothing more comes: delivered once, not twice.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  r = Run({"check", "--process"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  stored = StoredMessages();
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored.count(message_id), 1u);

  // 5xx at RCPT: failed, said so, the server's reply on the message.
  r = send_side({"send", "--from", sender, "--to", "someone@elsewhere.invalid", "--subject",
                 "Refused " + id_, "--body", "Postfix refuses this recipient.\n"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("failed"), std::string::npos) << r.err;
  const std::string refused_id = r.out.substr(0, r.out.find('\n'));
  json::value refused = outgoing(refused_id);
  ASSERT_TRUE(refused.is_object());
  EXPECT_EQ(refused.at("state").as_string(), "failed") << json::serialize(refused);
  EXPECT_EQ(refused.at("attempts").as_int64(), 1);
  const std::string refused_error(refused.at("last_error").as_string());
  EXPECT_NE(refused_error.find("550"), std::string::npos) << refused_error;
  EXPECT_NE(refused_error.find("someone@elsewhere.invalid"), std::string::npos) << refused_error;
  ASSERT_EQ(refused.at("results").as_array().size(), 1u) << json::serialize(refused);
  EXPECT_EQ(refused.at("results").at(0).at("address").as_string(), "someone@elsewhere.invalid");
  EXPECT_EQ(refused.at("results").at(0).at("code").as_int64(), 550) << json::serialize(refused);

  // Every one of several recipients refused: failed at once, and each
  // recipient's reply is on the message (not only the first one's).
  r = send_side({"send", "--from", sender, "--to", "one@elsewhere.invalid", "--cc",
                 "two@elsewhere.invalid", "--subject", "All refused " + id_, "--body", "None.\n"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  json::value all_refused = outgoing(r.out.substr(0, r.out.find('\n')));
  ASSERT_TRUE(all_refused.is_object());
  EXPECT_EQ(all_refused.at("state").as_string(), "failed") << json::serialize(all_refused);
  EXPECT_EQ(all_refused.at("attempts").as_int64(), 1);
  std::vector<std::string> refused_addresses;
  for (const auto& result : all_refused.at("results").as_array()) {
    refused_addresses.emplace_back(result.at("address").as_string());
    EXPECT_EQ(result.at("code").as_int64(), 550) << json::serialize(all_refused);
  }
  EXPECT_EQ(refused_addresses,
            (std::vector<std::string>{"one@elsewhere.invalid", "two@elsewhere.invalid"}));

  // One recipient accepted, one refused: sent, and the refusal recorded
  // against its recipient.
  r = send_side({"send", "--from", sender, "--to", mailbox_user_, "--to", "other@elsewhere.invalid",
                 "--subject", "Half " + id_, "--body", "Half.\n"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json::value half = outgoing(r.out.substr(0, r.out.find('\n')));
  ASSERT_TRUE(half.is_object());
  EXPECT_EQ(half.at("state").as_string(), "sent") << json::serialize(half);
  bool refusal_recorded = false;
  for (const auto& result : half.at("results").as_array()) {
    if (result.at("address").as_string() == "other@elsewhere.invalid") {
      EXPECT_EQ(result.at("code").as_int64(), 550) << json::serialize(half);
      refusal_recorded = true;
    }
  }
  EXPECT_TRUE(refusal_recorded) << json::serialize(half);
  // Not retried: another pass over the queue leaves it failed after one attempt.
  r = send_side({"send", "--from", sender, "--to", mailbox_user_, "--subject", "After " + id_,
                 "--body", "The queue runs again.\n"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  refused = outgoing(refused_id);
  EXPECT_EQ(refused.at("state").as_string(), "failed");
  EXPECT_EQ(refused.at("attempts").as_int64(), 1);
  EXPECT_EQ(logs_.find(password), std::string::npos) << "the SMTP password in the output";
}

TEST_F(MailFlowTest, Pop3CheckAndProcessStoreEveryMessageOnce) {
  AddAppAccount();
  AddMailbox("pop3");
  const auto sent = Deliver(10, "pop3-" + id_);
  RunResult r = Run({"check", "Support", "--process"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectExactlyOnce(sent);
  EXPECT_EQ(ServerCount(), 0);
  ExpectNoSecretAnywhere();
}

TEST_F(MailFlowTest, KeepLeavesMailOnTheServerAndStillStoresItOnce) {
  AddAppAccount();
  AddMailbox("imap", {"--after-download", "keep"});
  const auto first = Deliver(4, "keep-a-" + id_);
  ASSERT_EQ(Run({"check", "--process"}).exit_code, 0);
  auto second = Deliver(3, "keep-b-" + id_);
  ASSERT_EQ(Run({"check", "--process"}).exit_code, 0);
  std::vector<TestMessage> all = first;
  all.insert(all.end(), second.begin(), second.end());
  ExpectExactlyOnce(all);
  EXPECT_EQ(ServerCount(), 7);
}

// A download the processor cannot read is quarantined with the reason, not
// dropped; once the cause is fixed, `quarantine reprocess` finishes it.
TEST_F(MailFlowTest, AnUnreadableDownloadIsQuarantinedThenReprocessedAfterAFix) {
  AddAppAccount();
  AddMailbox("imap");
  const auto sent = Deliver(3, "q-" + id_);
  RunResult r = Run({"check"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Take one spool file away (a disk problem, an operator's mistake).
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/spool")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  ASSERT_EQ(files.size(), sent.size());
  const std::filesystem::path aside = dir_ + "/aside.eml";
  std::filesystem::rename(files[0], aside);
  r = Run({"process"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  json::value q = Json({"quarantine", "list"});
  ASSERT_TRUE(q.is_array());
  ASSERT_EQ(q.as_array().size(), 1u);
  EXPECT_FALSE(q.as_array()[0].at("error").as_string().empty());
  EXPECT_EQ(StoredMessages().size(), sent.size() - 1);
  // The fix: the file is back. Reprocessing stores it, once.
  std::filesystem::rename(aside, files[0]);
  r = Run({"quarantine", "reprocess", "--all"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectExactlyOnce(sent);
  q = Json({"quarantine", "list"});
  ASSERT_TRUE(q.is_array());
  EXPECT_TRUE(q.as_array().empty());
  EXPECT_EQ(ServerCount(), 0);
}

// A user's grant revoked between runs (a password change, conditional
// access): the check fails saying exactly that the account needs
// re-authorization, the mailbox shows it, and nothing is lost: after
// `account authorize`, the next check stores what waited, once.
TEST_F(MailFlowTest, ARevokedGrantSaysReauthorizationRequiredAndLosesNothing) {
  const std::string client = "public-" + id_;
  idp_->RegisterClient(client);
  RunResult r = Run({"account", "add", "work", "--provider", "microsoft", "--client-id", client,
                     "--tenant", "organizations", "--authority", idp_->url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto authorize = [&] {
    Child child({"account", "authorize", "work", "--flow", "device"}, env_);
    std::string line = child.ReadLine(15000);
    const size_t at = line.find("enter the code ");
    ASSERT_NE(at, std::string::npos) << line << child.Wait().err;
    const std::string code = line.substr(at + 15, line.find(' ', at + 15) - at - 15);
    idp_->Control("device/approve", json::object{{"user_code", code}, {"user", mailbox_user_}});
    RunResult done = child.Wait();
    ASSERT_EQ(done.exit_code, 0) << done.err;
  };
  authorize();
  AddMailbox("imap", {}, "work");
  auto sent = Deliver(3, "reauth-a-" + id_);
  ASSERT_EQ(Run({"check", "--process"}).exit_code, 0) << logs_;

  auto later = Deliver(2, "reauth-b-" + id_);
  idp_->Control("revoke", json::object{{"user", mailbox_user_}, {"reason", "password_change"}});
  r = Run({"check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE((r.out + r.err).find("needs re-authorization"), std::string::npos) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("mailgate account authorize work"), std::string::npos);
  json::value m = Json({"mailbox", "show", "Support"});
  ASSERT_TRUE(m.is_object());
  EXPECT_NE(std::string(m.at("state").at("last_error").as_string()).find("needs re-authorization"),
            std::string::npos);
  EXPECT_EQ(m.at("state").at("consecutive_failures").as_int64(), 1);
  json::value a = Json({"account", "show", "work"});
  ASSERT_TRUE(a.is_object());
  EXPECT_EQ(a.at("status").as_string(), "reauthorization_required");

  authorize();
  r = Run({"check", "--process"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  sent.insert(sent.end(), later.begin(), later.end());
  ExpectExactlyOnce(sent);
  m = Json({"mailbox", "show", "Support"});
  EXPECT_EQ(m.at("state").at("consecutive_failures").as_int64(), 0);
  EXPECT_EQ(m.at("state").at("last_error").as_string(), "");
}

// kill -9 the checker and the processor at random moments, many times; every
// message still ends up stored exactly once and the server is emptied only of
// what was stored.
TEST_F(MailFlowTest, KillNineAtRandomMomentsNeverLosesOrDuplicates) {
  AddAppAccount();
  AddMailbox("imap", {"--max-messages", "15"});
  const auto sent = Deliver(45, "crash-" + id_);
  std::mt19937 gen(static_cast<uint32_t>(std::hash<std::string>{}(id_)));
  std::uniform_int_distribution<int> delay_ms(0, 400);
  int kills = 0;
  for (int round = 0; round < 12; ++round) {
    for (const char* command : {"check", "process"}) {
      Child child({command}, env_);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(gen)));
      child.Kill(SIGKILL);
      RunResult r = child.Wait();
      if (r.exit_code == 128 + SIGKILL) ++kills;
      logs_ += r.out + r.err;
    }
  }
  RecordProperty("kills", kills);
  // Then clean runs finish the work.
  for (int i = 0; i < 4; ++i) {
    RunResult r = Run({"check", "--process"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  ExpectExactlyOnce(sent);
  EXPECT_EQ(ServerCount(), 0);
  json::value q = Json({"quarantine", "list"});
  ASSERT_TRUE(q.is_array());
  EXPECT_TRUE(q.as_array().empty());
}

TEST_F(MailFlowTest, WatchTurnsNewMailIntoAConversationWithoutAPoll) {
  AddAppAccount();
  AddMailbox("imap", {"--push"});
  Child watch({"watch", "--poll", "3600"}, env_);
  // Wait for the first IDLE (the watcher says it is waiting).
  std::string line;
  for (int i = 0; i < 50 && line.find("IDLE") == std::string::npos; ++i) {
    line = watch.ReadLine(2000);
  }
  ASSERT_NE(line.find("IDLE"), std::string::npos) << "watch never started IDLE";
  // A customer sends by submission; Postfix delivers to Dovecot, whose IDLE
  // tells the watcher.
  const std::string customer = UniqueUser("customer");
  ASSERT_TRUE(AddPasswordUser(customer, "customer-pw").ok());
  const std::vector<TestMessage> sent = {MakeMessage("push-" + id_, 0, "")};
  const Status submitted = SubmitBySmtp(customer, "customer-pw", mailbox_user_, sent[0].raw);
  ASSERT_TRUE(submitted.ok()) << submitted.ToString();
  bool stored = false;
  for (int i = 0; i < 60 && !stored; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json::value list = Json({"conversation", "list"});
    stored = list.is_array() && !list.as_array().empty();
  }
  watch.Kill(SIGTERM);
  RunResult r = watch.Wait();
  logs_ += r.out + r.err;
  ASSERT_TRUE(stored) << r.out << r.err;
  ExpectExactlyOnce(sent);
}

}  // namespace
}  // namespace mailgate::testing
