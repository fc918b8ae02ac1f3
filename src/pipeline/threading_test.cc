#include "pipeline/threading.h"

#include <gtest/gtest.h>

#include <map>

namespace mailgate::pipeline {
namespace {

class MapIndex : public ConversationIndex {
 public:
  std::map<std::string, std::int64_t, std::less<>> by_id, by_mask;
  int lookups = 0;
  StatusOr<std::optional<std::int64_t>> FindByMessageId(std::string_view id) override {
    ++lookups;
    auto it = by_id.find(id);
    return it == by_id.end() ? std::nullopt : std::optional(it->second);
  }
  StatusOr<std::optional<std::int64_t>> FindByMask(std::string_view mask) override {
    auto it = by_mask.find(mask);
    return it == by_mask.end() ? std::nullopt : std::optional(it->second);
  }
};

TEST(ThreadingTest, InReplyToWinsOverReferences) {
  MapIndex index;
  index.by_id = {{"parent@x", 7}, {"root@x", 3}};
  mime::ParsedMessage m;
  m.in_reply_to = {"parent@x"};
  m.references = {"root@x"};
  auto match = FindConversation(m, index);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->conversation_id, 7);
  EXPECT_EQ(match->reason, "In-Reply-To <parent@x>");
}

TEST(ThreadingTest, ReferencesAreTriedNewestFirst) {
  MapIndex index;
  index.by_id = {{"root@x", 3}, {"middle@x", 5}};
  mime::ParsedMessage m;
  m.in_reply_to = {"unknown@x"};
  m.references = {"root@x", "middle@x", "unknown@x"};
  auto match = FindConversation(m, index);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->conversation_id, 5);
}

TEST(ThreadingTest, MaskInSubjectWhenNoHeaderMatches) {
  MapIndex index;
  index.by_mask = {{"ABC-12345-678", 9}};
  mime::ParsedMessage m;
  m.subject = "Re: [#ABC-12345-678] Printer on fire";
  auto match = FindConversation(m, index);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->conversation_id, 9);
}

TEST(ThreadingTest, UnknownEverythingStartsANewConversation) {
  MapIndex index;
  mime::ParsedMessage m;
  m.subject = "[#ZZZ-00000-000] not ours";
  m.references = {"a@x"};
  auto match = FindConversation(m, index);
  ASSERT_TRUE(match.ok());
  EXPECT_FALSE(match->conversation_id);
  EXPECT_EQ(match->reason, "new");
}

TEST(ThreadingTest, BounceThreadsToTheOriginal) {
  MapIndex index;
  index.by_id = {{"reply-1@example.test", 4}};
  mime::ParsedMessage m;
  m.is_dsn = true;
  m.dsn_original_message_id = "reply-1@example.test";
  auto match = FindConversation(m, index);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->conversation_id, 4);
}

TEST(MaskTest, OnlyWellFormedMasksAreRecognised) {
  EXPECT_EQ(MaskInSubject("[#ABC-12345-678]"), "ABC-12345-678");
  EXPECT_EQ(MaskInSubject("Re: [#abc-12345-678] [#ABD-12345-679] x"), "ABD-12345-679");
  EXPECT_FALSE(MaskInSubject("[#AB-12345-678]"));
  EXPECT_FALSE(MaskInSubject("[#ABC-1234X-678]"));
  EXPECT_FALSE(MaskInSubject("[#ABC-12345-678"));
}

TEST(MaskTest, NewMaskHasTheShapeItIsParsedWith) {
  std::uint32_t n = 0;
  std::string mask = NewMask([&n] { return n += 7; });
  EXPECT_EQ(MaskInSubject("[#" + mask + "]"), mask);
}

}  // namespace
}  // namespace mailgate::pipeline
