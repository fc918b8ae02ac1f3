#include "base/status.h"

#include <gtest/gtest.h>

namespace mailgate {
namespace {

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, KindDecidesRetry) {
  EXPECT_TRUE(Status::Connect("refused").retryable());
  EXPECT_TRUE(Status::Transient("421").retryable());
  EXPECT_FALSE(Status::Auth("bad token").retryable());
  EXPECT_FALSE(Status::Permanent("550").retryable());
}

TEST(StatusTest, ContextIsPrepended) {
  Status s = Status::Tls("certificate expired").WithContext("imap.example.com:993");
  EXPECT_EQ(s.kind(), Status::Kind::kTls);
  EXPECT_EQ(s.ToString(), "tls: imap.example.com:993: certificate expired");
}

Status FailsThenStops(int* calls) {
  ++*calls;
  MAILGATE_RETURN_IF_ERROR(Status::Io("disk full"));
  ++*calls;
  return Status::Ok();
}

TEST(StatusTest, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_EQ(FailsThenStops(&calls).kind(), Status::Kind::kIo);
  EXPECT_EQ(calls, 1);
}

TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<int> v = 42;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  StatusOr<int> e = Status::NotFound("no such mailbox 'x'");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().kind(), Status::Kind::kNotFound);
}

TEST(StatusOrTest, OkStatusIsRefusedAsError) {
  StatusOr<int> e = Status::Ok();
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().kind(), Status::Kind::kInternal);
}

}  // namespace
}  // namespace mailgate
