#include "pipeline/threading.h"

namespace mailgate::pipeline {
namespace {

bool IsUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// "ABC-12345-678"
bool IsMask(std::string_view s) {
  if (s.size() != 13 || s[3] != '-' || s[9] != '-') return false;
  for (int i = 0; i < 3; ++i) {
    if (!IsUpper(s[i])) return false;
  }
  for (int i = 4; i < 9; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  for (int i = 10; i < 13; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> MaskInSubject(std::string_view subject) {
  std::size_t pos = 0;
  while ((pos = subject.find("[#", pos)) != std::string_view::npos) {
    const std::size_t close = subject.find(']', pos + 2);
    if (close == std::string_view::npos) break;
    std::string_view inner = subject.substr(pos + 2, close - pos - 2);
    if (IsMask(inner)) return std::string(inner);
    pos += 2;
  }
  return std::nullopt;
}

std::string NewMask(const std::function<std::uint32_t()>& random) {
  std::string mask;
  for (int i = 0; i < 3; ++i) mask += static_cast<char>('A' + random() % 26);
  mask += '-';
  for (int i = 0; i < 5; ++i) mask += static_cast<char>('0' + random() % 10);
  mask += '-';
  for (int i = 0; i < 3; ++i) mask += static_cast<char>('0' + random() % 10);
  return mask;
}

StatusOr<ThreadMatch> FindConversation(const mime::ParsedMessage& message,
                                       ConversationIndex& index) {
  auto by_id = [&](const std::string& id, const std::string& why) -> StatusOr<ThreadMatch> {
    auto found = index.FindByMessageId(id);
    if (!found.ok()) return found.status();
    if (*found) return ThreadMatch{*found, why + " <" + id + ">"};
    return ThreadMatch{std::nullopt, ""};
  };

  if (message.is_dsn && !message.dsn_original_message_id.empty()) {
    auto m = by_id(message.dsn_original_message_id, "bounce of");
    if (!m.ok() || m->conversation_id) return m;
  }
  for (const auto& id : message.in_reply_to) {
    auto m = by_id(id, "In-Reply-To");
    if (!m.ok() || m->conversation_id) return m;
  }
  for (auto it = message.references.rbegin(); it != message.references.rend(); ++it) {
    auto m = by_id(*it, "References");
    if (!m.ok() || m->conversation_id) return m;
  }
  if (auto mask = MaskInSubject(message.subject)) {
    auto found = index.FindByMask(*mask);
    if (!found.ok()) return found.status();
    if (*found) return ThreadMatch{*found, "mask " + *mask};
  }
  return ThreadMatch{std::nullopt, "new"};
}

}  // namespace mailgate::pipeline
