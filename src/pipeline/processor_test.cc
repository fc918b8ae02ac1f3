// The inbound processor against a real SQLite store and a real spool: spool
// files are written and recorded the way the mailbox checker does it.
#include "pipeline/processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/sha256.h"
#include "mime/message.h"
#include "pipeline/threading.h"
#include "support/mail_corpus.h"
#include "support/run_command.h"

namespace mailgate::pipeline {
namespace {

using ::mailgate::testing::FindCase;
using ::mailgate::testing::MailCase;
using ::mailgate::testing::MailCorpus;
using ::mailgate::testing::Thread;

constexpr int64_t kNow = 1793800000;
constexpr int64_t kInternalDate = 1793750000;

// Smaller than the corpus default so that the many tests which process the
// whole corpus stay quick; MailCorpusTest covers the 3 MB default.
constexpr std::size_t kBigAttachment = 1024 * 1024 + 17;

const std::vector<MailCase>& Corpus() {
  static const auto* corpus = new std::vector<MailCase>(MailCorpus(7, kBigAttachment));
  return *corpus;
}

bool Exists(const std::string& path) {
  return std::filesystem::exists(path);
}

struct Stored {
  int64_t conversation_id = 0;
  store::MessageRecord message;
};

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vault_ = std::make_shared<store::Vault>(store::GenerateMasterKey());
    db_path_ = dir_.path() + "/mailgate.db";
    auto s = store::OpenSqliteStore(db_path_, vault_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    auto sp = Spool::Open(dir_.path() + "/spool");
    ASSERT_TRUE(sp.ok()) << sp.status().ToString();
    spool_ = std::move(*sp);

    store::Mailbox mb;
    mb.name = "Support";
    mb.protocol = "imap";
    mb.host = "imap.example.test";
    mb.encryption = "tls";
    mb.username = "support@example.test";
    mb.auth = "password";
    mb.password = store::Secret("not-a-real-password");
    ASSERT_TRUE(store_->CreateMailbox(mb, kNow).ok());
    auto got = store_->GetMailbox("Support");
    ASSERT_TRUE(got.ok());
    mailbox_id_ = got->id;

    env_ = MakeEnv(store_.get());
  }

  ProcessEnv MakeEnv(store::Store* store) {
    ProcessEnv env;
    env.store = store;
    env.spool = spool_.get();
    env.now = [] { return kNow; };
    // A fixed sequence: masks are reproducible from run to run.
    env.random = [this] { return next_random_.fetch_add(1); };
    env.echo = [this](const store::RunLogLine& line) {
      std::lock_guard<std::mutex> lock(lines_mu_);
      lines_.push_back(line.level + ": " + line.text);
    };
    return env;
  }

  // Spools `raw` and records it as pending, as the mailbox checker does.
  int64_t Deliver(const std::string& raw) {
    auto w = spool_->Create();
    EXPECT_TRUE(w.ok());
    if (!w.ok()) return 0;
    EXPECT_TRUE(w->Append(raw).ok());
    auto file = w->Finish();
    EXPECT_TRUE(file.ok());
    if (!file.ok()) return 0;
    EXPECT_TRUE(spool_->Sync({*file}).ok());
    store::NewDownload nd;
    nd.uidvalidity = 1;
    nd.uid = std::to_string(++uid_);
    nd.sha256 = file->sha256;
    nd.size = file->size;
    nd.spool_path = file->path;
    nd.internal_date = kInternalDate;
    auto outcome = store_->RecordDownloads(mailbox_id_, {nd}, kNow);
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    if (!outcome.ok()) return 0;
    EXPECT_EQ(outcome->at(0), store::RecordOutcome::kNew);
    auto pending = store_->PendingDownloads(100000);
    EXPECT_TRUE(pending.ok());
    for (const auto& d : *pending) {
      if (d.spool_path == file->path) return d.id;
    }
    ADD_FAILURE() << "the recorded download is not pending";
    return 0;
  }

  // Delivers every case but the mask reply (its mask is known only once its
  // parent's conversation exists), processes, then delivers and processes it.
  void ProcessCorpus() {
    for (const MailCase& c : Corpus()) {
      if (c.thread == Thread::kMask) continue;
      download_of_[c.name] = Deliver(c.raw);
    }
    first_ = ProcessPending(env_);
    ASSERT_TRUE(first_.status.ok()) << first_.status.ToString();
    auto all = Messages();
    for (const MailCase& c : Corpus()) {
      if (c.thread != Thread::kMask) continue;
      auto conv = store_->GetConversation(ConversationOf(all, FindCase(Corpus(), c.parent)));
      ASSERT_TRUE(conv.ok());
      const MailCase masked = testing::WithMask(c, conv->mask);
      masked_[c.name] = masked;
      download_of_[c.name] = Deliver(masked.raw);
    }
    second_ = ProcessPending(env_);
    ASSERT_TRUE(second_.status.ok()) << second_.status.ToString();
  }

  // Every stored message by Message-ID, and by download id for generated ones.
  std::map<std::string, Stored> Messages() {
    std::map<std::string, Stored> out;
    auto convs = store_->ListConversations(100000, 0);
    EXPECT_TRUE(convs.ok());
    if (!convs.ok()) return out;
    for (const auto& conv : *convs) {
      auto msgs = store_->ConversationMessages(conv.id);
      EXPECT_TRUE(msgs.ok());
      if (!msgs.ok()) continue;
      for (auto& m : *msgs) {
        Stored s{conv.id, m};
        out["download:" + std::to_string(m.download_id)] = s;
        out[m.message_id] = std::move(s);
      }
    }
    return out;
  }

  const Stored* Find(const std::map<std::string, Stored>& all, const MailCase& c) {
    auto it = all.find("download:" + std::to_string(download_of_[c.name]));
    return it == all.end() ? nullptr : &it->second;
  }

  int64_t ConversationOf(const std::map<std::string, Stored>& all, const MailCase& c) {
    const Stored* s = Find(all, c);
    EXPECT_NE(s, nullptr) << c.name;
    return s ? s->conversation_id : -1;
  }

  std::size_t MessageCount() {
    std::size_t n = 0;
    for (const auto& [key, s] : Messages()) n += key.rfind("download:", 0) == 0;
    return n;
  }

  bool Logged(std::string_view needle) {
    std::lock_guard<std::mutex> lock(lines_mu_);
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::string AllLines() {
    std::lock_guard<std::mutex> lock(lines_mu_);
    std::string all;
    for (const auto& l : lines_) {
      all += l;
      all += '\n';
    }
    return all;
  }

  testing::TempDir dir_{"mailgate-processor-test"};
  std::shared_ptr<const store::Vault> vault_;
  std::string db_path_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Spool> spool_;
  int64_t mailbox_id_ = 0;
  int uid_ = 0;
  std::atomic<std::uint32_t> next_random_{0};
  std::mutex lines_mu_;
  std::vector<std::string> lines_;
  ProcessEnv env_;
  std::map<std::string, int64_t> download_of_;
  std::map<std::string, MailCase> masked_;
  ProcessResult first_, second_;
};

// --- The corpus itself ------------------------------------------------------

TEST(MailCorpusTest, EveryCaseParsesToTheFactsItStates) {
  for (const MailCase& c : MailCorpus()) {
    SCOPED_TRACE(c.name);
    mime::ParseOptions options;
    options.fallback_date = 42;
    auto m = mime::ParseMessage(c.raw, options);
    if (!c.is_message) {
      ASSERT_FALSE(m.ok());
      EXPECT_EQ(m.status().kind(), Status::Kind::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (c.message_id.empty()) {
      EXPECT_TRUE(m->message_id_generated);
    } else {
      EXPECT_EQ(m->message_id, c.message_id);
    }
    EXPECT_EQ(m->date_generated, !c.has_date);
    EXPECT_EQ(m->subject, c.subject);
    EXPECT_EQ(m->text_body, c.text_body);
    EXPECT_EQ(m->html_body, c.html_body);
    EXPECT_EQ(m->from.empty() ? "" : m->from[0].email, c.from_email);
    EXPECT_EQ(m->auto_submitted, c.auto_submitted);
    EXPECT_EQ(m->is_dsn, c.is_bounce);
    EXPECT_EQ(!m->warnings.empty(), c.has_warnings);
    ASSERT_EQ(m->attachments.size(), c.attachments.size());
    for (std::size_t i = 0; i < c.attachments.size(); ++i) {
      const auto& got = m->attachments[i];
      const auto& want = c.attachments[i];
      EXPECT_EQ(got.filename, want.filename);
      EXPECT_EQ(got.content_type, want.content_type);
      EXPECT_EQ(got.content_id, want.content_id);
      EXPECT_EQ(got.is_inline, want.is_inline);
      if (!want.sha256.empty()) {
        EXPECT_EQ(got.sha256, want.sha256);
        EXPECT_EQ(got.data.size(), want.size);
        EXPECT_EQ(Sha256Hex(want.data), want.sha256);
      }
    }
  }
}

TEST(MailCorpusTest, CoversTheNamedShapesWithSeveralMegabytes) {
  const auto corpus = MailCorpus();
  for (const char* name : {"plain",
                           "alternative",
                           "attachments",
                           "inline-image",
                           "forward",
                           "charset-utf-8",
                           "charset-iso-8859-1",
                           "charset-iso-8859-2",
                           "charset-iso-8859-15",
                           "charset-windows-1251",
                           "charset-windows-1252",
                           "charset-gb18030",
                           "charset-shift_jis",
                           "charset-koi8-r",
                           "encoded-words",
                           "reply",
                           "reply-references",
                           "reply-mask",
                           "bounce",
                           "auto-reply",
                           "no-id-no-date",
                           "malformed",
                           "not-a-message",
                           "empty"}) {
    EXPECT_EQ(FindCase(corpus, name).name, name);
  }
  EXPECT_GE(FindCase(corpus, "attachments").attachments[0].size, 3u * 1024 * 1024);
}

TEST(MailCorpusTest, SameSeedSameBytesOtherSeedOtherMessages) {
  const auto a = MailCorpus(3, 1000), b = MailCorpus(3, 1000), c = MailCorpus(4, 1000);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].raw, b[i].raw) << a[i].name;
    if (!a[i].raw.empty()) {
      EXPECT_NE(a[i].raw, c[i].raw) << a[i].name;
    }
  }
}

// --- Processing ---------------------------------------------------------------

TEST_F(ProcessorTest, EveryCaseIsStoredByteExact) {
  ProcessCorpus();
  auto all = Messages();
  for (const MailCase& original : Corpus()) {
    if (!original.is_message) continue;
    const MailCase& c = masked_.count(original.name) ? masked_[original.name] : original;
    SCOPED_TRACE(c.name);
    const Stored* s = Find(all, c);
    ASSERT_NE(s, nullptr);
    const store::MessageRecord& m = s->message;
    EXPECT_EQ(m.direction, "in");
    EXPECT_EQ(m.mailbox_id, mailbox_id_);
    EXPECT_EQ(m.subject, c.subject);
    EXPECT_EQ(m.text_body, c.text_body);
    EXPECT_EQ(m.html_body, c.html_body);
    EXPECT_EQ(m.sha256, Sha256Hex(c.raw));
    EXPECT_EQ(m.size, c.raw.size());
    EXPECT_EQ(m.from.empty() ? "" : m.from[0].email, c.from_email);
    ASSERT_EQ(m.attachments.size(), c.attachments.size());
    for (std::size_t i = 0; i < c.attachments.size(); ++i) {
      const auto& got = m.attachments[i];
      const auto& want = c.attachments[i];
      EXPECT_EQ(got.filename, want.filename);
      EXPECT_EQ(got.content_type, want.content_type);
      EXPECT_EQ(got.content_id, want.content_id);
      EXPECT_EQ(got.is_inline, want.is_inline);
      auto data = store_->AttachmentData(got.sha256);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      EXPECT_EQ(got.size, data->size());
      EXPECT_EQ(Sha256Hex(*data), got.sha256);
      if (!want.sha256.empty()) {
        EXPECT_EQ(got.sha256, want.sha256);
        EXPECT_TRUE(*data == want.data) << "attachment bytes differ";
      }
    }
    // Stored: the spool file is gone.
    auto d = store_->GetDownload(download_of_[c.name]);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->state, store::DownloadState::kProcessed);
    EXPECT_FALSE(Exists(d->spool_path));
  }
}

TEST_F(ProcessorTest, ThreadsByEachRule) {
  ProcessCorpus();
  auto all = Messages();
  std::set<int64_t> roots;
  std::size_t new_cases = 0;
  for (const MailCase& original : Corpus()) {
    if (!original.is_message) continue;
    const MailCase& c = masked_.count(original.name) ? masked_[original.name] : original;
    SCOPED_TRACE(c.name);
    const Stored* s = Find(all, c);
    ASSERT_NE(s, nullptr);
    const std::string& why = s->message.thread_reason;
    switch (c.thread) {
      case Thread::kNew:
        ++new_cases;
        EXPECT_TRUE(roots.insert(s->conversation_id).second) << "two new cases share one";
        EXPECT_EQ(why, "new");
        continue;
      case Thread::kInReplyTo:
        EXPECT_EQ(why.rfind("In-Reply-To <", 0), 0u) << why;
        break;
      case Thread::kReferences:
        EXPECT_EQ(why, "References <" + FindCase(Corpus(), c.parent).message_id + ">");
        break;
      case Thread::kMask:
        EXPECT_EQ(why.rfind("mask ", 0), 0u) << why;
        break;
      case Thread::kBounce:
        EXPECT_EQ(why, "bounce of <" + FindCase(Corpus(), c.parent).message_id + ">");
        break;
    }
    EXPECT_EQ(s->conversation_id, ConversationOf(all, FindCase(Corpus(), c.parent)));
  }
  EXPECT_EQ(first_.new_conversations + second_.new_conversations, new_cases);
  auto convs = store_->ListConversations(1000, 0);
  ASSERT_TRUE(convs.ok());
  EXPECT_EQ(convs->size(), new_cases);
  // A new conversation takes the message's subject and a mask from `random`.
  auto plain = store_->GetConversation(ConversationOf(all, FindCase(Corpus(), "plain")));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->subject, "Printer on fire");
  EXPECT_TRUE(MaskInSubject("[#" + plain->mask + "]").has_value()) << plain->mask;
}

TEST_F(ProcessorTest, BounceMarksTheAddressAndThreadsToTheOriginal) {
  ProcessCorpus();
  auto all = Messages();
  const MailCase& bounce = FindCase(Corpus(), "bounce");
  const Stored* s = Find(all, bounce);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->message.is_bounce);
  EXPECT_EQ(s->conversation_id, ConversationOf(all, FindCase(Corpus(), "alternative")));
  auto bad = store_->ListUndeliverable();
  ASSERT_TRUE(bad.ok());
  ASSERT_EQ(bad->size(), 1u);
  EXPECT_EQ((*bad)[0].email, bounce.undeliverable);
  EXPECT_EQ((*bad)[0].status, bounce.undeliverable_status);
  EXPECT_EQ((*bad)[0].message_id, s->message.id);
  EXPECT_NE((*bad)[0].diagnostic.find("User unknown"), std::string::npos);
  EXPECT_TRUE(Logged("gone@example.net marked undeliverable (5.1.1)")) << AllLines();
  // Nobody else is a bounce.
  for (const auto& [key, m] : all) {
    if (key.rfind("download:", 0) == 0 && m.message.id != s->message.id) {
      EXPECT_FALSE(m.message.is_bounce) << m.message.message_id;
    }
  }
}

TEST_F(ProcessorTest, DelayedDsnDoesNotMarkTheAddress) {
  std::string raw = FindCase(Corpus(), "bounce").raw;
  raw.replace(raw.find("Status: 5.1.1"), 13, "Status: 4.4.1");
  raw.replace(raw.find("Action: failed"), 14, "Action: delayed");
  Deliver(raw);
  auto r = ProcessPending(env_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.processed, 1u);
  auto bad = store_->ListUndeliverable();
  ASSERT_TRUE(bad.ok());
  EXPECT_TRUE(bad->empty());
}

TEST_F(ProcessorTest, AutoReplyIsFlagged) {
  ProcessCorpus();
  auto all = Messages();
  for (const MailCase& c : Corpus()) {
    if (!c.is_message || c.thread == Thread::kMask) continue;
    const Stored* s = Find(all, c);
    ASSERT_NE(s, nullptr) << c.name;
    EXPECT_EQ(s->message.auto_submitted, c.auto_submitted) << c.name;
  }
  const Stored* s = Find(all, FindCase(Corpus(), "auto-reply"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->message.auto_submitted_reason, "Auto-Submitted: auto-replied");
  EXPECT_TRUE(Logged("automatic reply (Auto-Submitted: auto-replied)")) << AllLines();
}

TEST_F(ProcessorTest, MissingMessageIdAndDateAreGenerated) {
  ProcessCorpus();
  auto all = Messages();
  const Stored* s = Find(all, FindCase(Corpus(), "no-id-no-date"));
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->message.message_id_generated);
  EXPECT_NE(s->message.message_id.find("@generated.mailgate.invalid"), std::string::npos);
  EXPECT_TRUE(s->message.date_generated);
  EXPECT_EQ(s->message.date, kInternalDate);
  EXPECT_EQ(s->message.return_path, "noreply@example.com");
  const Stored* p = Find(all, FindCase(Corpus(), "plain"));
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->message.message_id_generated);
  EXPECT_FALSE(p->message.date_generated);
  EXPECT_EQ(p->message.date, 1793700000);
}

TEST_F(ProcessorTest, DownloadTimeStandsInWithoutInternalDate) {
  std::string raw = FindCase(Corpus(), "no-id-no-date").raw;
  auto w = spool_->Create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(raw).ok());
  auto file = w->Finish();
  ASSERT_TRUE(file.ok());
  store::NewDownload nd{0, "uidl-1", file->sha256, file->size, file->path, 0};
  ASSERT_TRUE(store_->RecordDownloads(mailbox_id_, {nd}, kNow - 60).ok());
  auto r = ProcessPending(env_);
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.processed, 1u);
  auto all = Messages();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.begin()->second.message.date, kNow - 60);
}

TEST_F(ProcessorTest, MalformedMimeIsStoredWithWarnings) {
  ProcessCorpus();
  auto all = Messages();
  const Stored* s = Find(all, FindCase(Corpus(), "malformed"));
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->message.attachments.size(), 1u);
  EXPECT_EQ(s->message.attachments[0].filename, "broken.bin");
  EXPECT_TRUE(Logged("warning: Message " + std::to_string(s->message.id) +
                     ": invalid UTF-8 bytes in a text part were replaced"))
      << AllLines();
}

TEST_F(ProcessorTest, NotAMessageIsQuarantinedWithItsReasonAndKept) {
  ProcessCorpus();
  EXPECT_EQ(first_.quarantined, 2u);
  auto q = store_->QuarantinedDownloads();
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  for (const auto& d : *q) {
    EXPECT_TRUE(d.id == download_of_["not-a-message"] || d.id == download_of_["empty"]);
    EXPECT_FALSE(d.error.empty());
    EXPECT_TRUE(Exists(d.spool_path)) << "a quarantined file must be kept";
    EXPECT_TRUE(Logged("Quarantined download " + std::to_string(d.id) + ": " + d.error));
  }
  auto garbage = store_->GetDownload(download_of_["not-a-message"]);
  ASSERT_TRUE(garbage.ok());
  EXPECT_NE(garbage->error.find("not an RFC 5322 message"), std::string::npos) << garbage->error;
}

TEST_F(ProcessorTest, LogNamesSenderConversationAndSummary) {
  ProcessCorpus();
  auto all = Messages();
  const MailCase& plain = FindCase(Corpus(), "plain");
  const Stored* p = Find(all, plain);
  ASSERT_NE(p, nullptr);
  auto conv = store_->GetConversation(p->conversation_id);
  ASSERT_TRUE(conv.ok());
  const std::size_t corpus_messages = Corpus().size() - 3;  // less the mask reply and garbage
  EXPECT_TRUE(Logged("info: Processing " + std::to_string(corpus_messages + 2) + " messages"))
      << AllLines();
  EXPECT_TRUE(Logged("Message " + std::to_string(p->message.id) + " <" + plain.message_id +
                     "> from alice@example.com: new conversation " + conv->mask))
      << AllLines();
  const MailCase& reply = FindCase(Corpus(), "reply");
  EXPECT_TRUE(Logged("<" + reply.message_id + "> from alice@example.com: joined conversation " +
                     std::to_string(p->conversation_id) + " (In-Reply-To <" + plain.message_id +
                     ">)"))
      << AllLines();
  // Reply-To wins over From, Return-Path stands in for a missing From.
  EXPECT_TRUE(Logged("> from billing-replies@example.org: new conversation")) << AllLines();
  EXPECT_TRUE(Logged("> from noreply@example.com: new conversation")) << AllLines();
  EXPECT_TRUE(Logged("info: " + std::to_string(first_.processed) + " processed, 2 quarantined, " +
                     std::to_string(first_.new_conversations) + " new conversations"))
      << AllLines();
  // The run and its log are in the store.
  auto runs = store_->ListRuns("process", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  const store::Run& run = (*runs)[1];
  EXPECT_EQ(run.id, first_.run_id);
  EXPECT_EQ(run.status, "ok");
  EXPECT_EQ(run.summary, std::to_string(first_.processed) + " processed, 2 quarantined, " +
                             std::to_string(first_.new_conversations) + " new conversations");
  auto lines = store_->RunLog(first_.run_id);
  ASSERT_TRUE(lines.ok());
  EXPECT_GE(lines->size(), first_.processed + 2);
}

TEST_F(ProcessorTest, MissingSpoolFileIsQuarantinedLoudlyAndReprocessRestoresIt) {
  const MailCase& plain = FindCase(Corpus(), "plain");
  const int64_t id = Deliver(plain.raw);
  auto d = store_->GetDownload(id);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(std::filesystem::remove(d->spool_path));

  auto r = ProcessPending(env_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.processed, 0u);
  EXPECT_EQ(r.quarantined, 1u);
  d = store_->GetDownload(id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, store::DownloadState::kQuarantined);
  EXPECT_NE(d->error.find("MISSING"), std::string::npos) << d->error;

  // Someone restores the file from a backup.
  std::ofstream(d->spool_path, std::ios::binary) << plain.raw;
  r = Reprocess(env_, id);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.processed, 1u);
  EXPECT_EQ(r.quarantined, 0u);
  EXPECT_TRUE(Logged("Download " + std::to_string(id) + " put back in the queue")) << AllLines();
  d = store_->GetDownload(id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, store::DownloadState::kProcessed);
  EXPECT_FALSE(Exists(d->spool_path));
  EXPECT_EQ(MessageCount(), 1u);
}

TEST_F(ProcessorTest, ReprocessOfGarbageQuarantinesItAgain) {
  const int64_t id = Deliver(FindCase(Corpus(), "not-a-message").raw);
  ASSERT_EQ(ProcessPending(env_).quarantined, 1u);
  auto r = Reprocess(env_, id);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.quarantined, 1u);
  auto d = store_->GetDownload(id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, store::DownloadState::kQuarantined);
  EXPECT_TRUE(Exists(d->spool_path));
}

TEST_F(ProcessorTest, ReprocessRefusesUnknownAndUnquarantinedDownloads) {
  EXPECT_EQ(Reprocess(env_, 4242).status.kind(), Status::Kind::kNotFound);
  const int64_t id = Deliver(FindCase(Corpus(), "plain").raw);
  EXPECT_EQ(Reprocess(env_, id).status.kind(), Status::Kind::kFailedPrecondition);
  ASSERT_TRUE(ProcessPending(env_).status.ok());
  EXPECT_EQ(Reprocess(env_, id).status.kind(), Status::Kind::kFailedPrecondition);
  EXPECT_EQ(MessageCount(), 1u);
}

TEST_F(ProcessorTest, RunningTwiceStoresEachMessageOnce) {
  ProcessCorpus();
  const std::size_t before = MessageCount();
  auto again = ProcessPending(env_);
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(again.processed, 0u);
  EXPECT_EQ(again.quarantined, 0u);
  EXPECT_EQ(MessageCount(), before);
  EXPECT_TRUE(Logged("No messages to process"));
}

TEST_F(ProcessorTest, SweepRemovesWhatACrashAfterCommitLeftAndNothingElse) {
  const MailCase& plain = FindCase(Corpus(), "plain");
  const int64_t id = Deliver(plain.raw);
  ASSERT_EQ(ProcessPending(env_).processed, 1u);
  auto d = store_->GetDownload(id);
  ASSERT_TRUE(d.ok());
  // The crash: the commit happened, Spool::Remove did not.
  std::ofstream(d->spool_path, std::ios::binary) << plain.raw;
  // A file the checker is spooling right now: no row yet.
  auto w = spool_->Create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(FindCase(Corpus(), "reply").raw).ok());
  auto in_flight = w->Finish();
  ASSERT_TRUE(in_flight.ok());
  // And a quarantined one, which must stay too.
  const int64_t bad = Deliver(FindCase(Corpus(), "not-a-message").raw);

  auto r = ProcessPending(env_);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.processed, 0u);
  EXPECT_EQ(r.quarantined, 1u);
  EXPECT_FALSE(Exists(d->spool_path));
  EXPECT_TRUE(Exists(in_flight->path));
  auto q = store_->GetDownload(bad);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(Exists(q->spool_path));
  EXPECT_TRUE(Logged("Removed 1 spool file of messages already stored")) << AllLines();
  EXPECT_EQ(MessageCount(), 1u);
}

// Attachment bytes go to pack files beside the database, made durable before
// the commit that records the message. When they cannot be written, nothing
// is committed and nothing removed: the message waits, whole, for the next run.
TEST_F(ProcessorTest, AttachmentFilesThatCannotBeWrittenLeaveTheMessagePending) {
  const MailCase& c = FindCase(Corpus(), "attachments");
  const int64_t plain = Deliver(FindCase(Corpus(), "plain").raw);
  const int64_t id = Deliver(c.raw);
  const std::string folder = dir_.path() + "/attachments";
  std::ofstream(folder) << "a file where the attachment folder goes";

  auto r = ProcessPending(env_);
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kind(), Status::Kind::kIo) << r.status.ToString();
  EXPECT_NE(r.status.message().find("attachments"), std::string::npos) << r.status.ToString();
  EXPECT_EQ(r.quarantined, 0u);
  EXPECT_EQ(MessageCount(), 0u) << "the group is not committed";
  for (int64_t d : {plain, id}) {
    auto got = store_->GetDownload(d);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->state, store::DownloadState::kPending);
    EXPECT_TRUE(Exists(got->spool_path));
  }

  std::filesystem::remove(folder);
  r = ProcessPending(env_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.processed, 2u);
  auto all = Messages();
  auto it = all.find("download:" + std::to_string(id));
  ASSERT_NE(it, all.end());
  ASSERT_EQ(it->second.message.attachments.size(), c.attachments.size());
  for (const store::AttachmentRecord& a : it->second.message.attachments) {
    auto data = store_->AttachmentData(a.sha256);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    EXPECT_EQ(Sha256Hex(*data), a.sha256);
  }
  EXPECT_TRUE(std::filesystem::exists(folder + "/pack-000001"));
  EXPECT_FALSE(Exists(store_->GetDownload(id)->spool_path));
}

TEST_F(ProcessorTest, SmallBatchesDrainTheWholeQueue) {
  for (const char* name : {"plain", "reply", "alternative", "attachments", "charset-koi8-r"}) {
    Deliver(FindCase(Corpus(), name).raw);
  }
  auto r = ProcessPending(env_, 2);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.processed, 5u);
  EXPECT_EQ(MessageCount(), 5u);
  EXPECT_TRUE(Logged("Processing 2 messages"));
  EXPECT_TRUE(Logged("Processing 1 message"));
}

TEST_F(ProcessorTest, TwoProcessorsOnTwoConnectionsStoreEachMessageOnce) {
  // Distinct messages (the plain case with a numbered Message-ID and subject).
  const std::string plain = FindCase(Corpus(), "plain").raw;
  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i) {
    std::string raw = plain;
    const std::string n = std::to_string(i);
    raw.replace(raw.find("Message-ID: <"), 13, "Message-ID: <m" + n + ".");
    raw.replace(raw.find("Subject: Printer on fire"), 24, "Subject: Printer " + n + " on fire");
    Deliver(raw);
  }
  auto second_store = store::OpenSqliteStore(db_path_, vault_);
  ASSERT_TRUE(second_store.ok()) << second_store.status().ToString();
  ProcessEnv env2 = MakeEnv(second_store->get());
  ProcessResult r1, r2;
  std::thread t1([&] { r1 = ProcessPending(env_, 7); });
  std::thread t2([&] { r2 = ProcessPending(env2, 7); });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.status.ok()) << r1.status.ToString();
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  EXPECT_EQ(r1.processed + r2.processed, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(r1.quarantined + r2.quarantined, 0u);
  EXPECT_EQ(MessageCount(), static_cast<std::size_t>(kMessages));
  auto pending = store_->PendingDownloads(1000);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  auto left = spool_->List();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

}  // namespace
}  // namespace mailgate::pipeline
