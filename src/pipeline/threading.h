// Which conversation a received message belongs to. The rules, in order
// (those of the product in the seed guide, kept because users rely on them):
//   1. In-Reply-To names a message we stored;
//   2. References, newest first, names a message we stored;
//   3. the subject carries a conversation mask "[#ABC-12345-678]" we issued;
//   4. otherwise a new conversation (with a new mask).
// A bounce (DSN) threads to the message it reports on.
#ifndef MAILGATE_PIPELINE_THREADING_H_
#define MAILGATE_PIPELINE_THREADING_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "mime/message.h"

namespace mailgate::pipeline {

// What threading needs to know about stored messages; the processor backs it
// with the store, tests with a map.
class ConversationIndex {
 public:
  virtual ~ConversationIndex() = default;
  // The conversation holding the message with this Message-ID (no brackets).
  virtual StatusOr<std::optional<std::int64_t>> FindByMessageId(std::string_view message_id) = 0;
  // The conversation with this mask ("ABC-12345-678").
  virtual StatusOr<std::optional<std::int64_t>> FindByMask(std::string_view mask) = 0;
};

struct ThreadMatch {
  std::optional<std::int64_t> conversation_id;  // nullopt: start a new conversation
  std::string reason;  // for the processing log: "In-Reply-To <id>", "mask ABC-...", "new"
};

StatusOr<ThreadMatch> FindConversation(const mime::ParsedMessage& message,
                                       ConversationIndex& index);

// The mask inside "[#MASK]" in a subject, if it has the shape of one of ours.
std::optional<std::string> MaskInSubject(std::string_view subject);

// A new random mask "ABC-12345-678". `random` returns uniformly distributed
// 32-bit values (a CSPRNG in production, a fixed sequence in tests).
std::string NewMask(const std::function<std::uint32_t()>& random);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_THREADING_H_
