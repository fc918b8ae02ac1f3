#include "net/words.h"

#include <gtest/gtest.h>

namespace mailgate::net {
namespace {

TEST(WordsTest, RunsOfSpacesSeparateAndNoWordIsEmpty) {
  const std::string line = "  SASL  PLAIN XOAUTH2 ";
  auto w = SplitWords(line);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], "SASL");
  EXPECT_EQ(w[1], "PLAIN");
  EXPECT_EQ(w[2], "XOAUTH2");
  // The words point into the line (the IMPLEMENTATION parser relies on it).
  EXPECT_EQ(w[0].data(), line.data() + 2);
  EXPECT_TRUE(SplitWords("").empty());
  EXPECT_TRUE(SplitWords("   ").empty());
}

TEST(WordsTest, TabsAreNotSeparators) {
  auto w = SplitWords("AUTH\tLOGIN");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "AUTH\tLOGIN");
}

TEST(WordsTest, UpperCasesAsciiLettersOnly) {
  EXPECT_EQ(AsciiUpper("auth=Plain 8bitmime"), "AUTH=PLAIN 8BITMIME");
  EXPECT_EQ(AsciiUpper("\xc3\xa9t\xc3\xa9"), "\xc3\xa9T\xc3\xa9");
}

}  // namespace
}  // namespace mailgate::net
