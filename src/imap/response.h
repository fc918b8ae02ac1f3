// What the IMAP response parser produces (RFC 9051 §7, RFC 3501 §7).
#ifndef MAILGATE_IMAP_RESPONSE_H_
#define MAILGATE_IMAP_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::imap {

// One value of a response's data: atoms (numbers are atoms too), strings (quoted or
// literal), NIL, parenthesized lists, and message literals that went to a sink.
struct Value {
  enum class Kind { kAtom, kString, kNil, kList, kStreamed };
  Kind kind = Kind::kAtom;
  std::string text;          // kAtom, kString
  std::vector<Value> items;  // kList
  uint64_t size = 0;         // kStreamed: the literal's size; its bytes went to the sink

  bool is_list() const { return kind == Kind::kList; }
  bool is_nil() const { return kind == Kind::kNil; }
  // True for an atom equal to `name`, ignoring case.
  bool IsAtom(std::string_view name) const;
  // An atom or string made of decimal digits that fits in 64 bits.
  std::optional<uint64_t> AsNumber() const;
  // Atom or string text; empty for NIL.
  const std::string& AsString() const { return text; }
};

enum class Condition { kNone, kOk, kNo, kBad, kPreauth, kBye };
std::string_view ConditionName(Condition c);

struct Response {
  enum class Kind { kContinuation, kUntagged, kTagged };
  Kind kind = Kind::kUntagged;
  std::string tag;                         // kTagged
  Condition condition = Condition::kNone;  // status responses (tagged, or * OK/NO/BAD/PREAUTH/BYE)
  std::string code;                        // resp-text-code atom, upper case ("UIDVALIDITY"), or ""
  std::string code_args;                   // the rest of the code, raw ("3857529045")
  std::string text;                        // resp-text; for continuations the whole text after "+ "
  std::optional<uint64_t> number;          // "* 5 EXISTS" -> 5
  std::string name;                        // data name, upper case: "EXISTS", "FETCH", "LIST"...
  std::vector<Value> data;                 // values after the name
  // Not OK when the literal sink refused a message body; the response was still read to
  // its end, so the connection stays usable and only that message failed.
  Status sink_status;
  // The response as it appeared on the wire, for the debug trace: literal bodies are
  // summarised as "(N bytes)" and a long response is cut.
  std::string trace;

  bool is_status() const { return condition != Condition::kNone; }
};

// Value lookup in a FETCH msg-att list ("UID 42 FLAGS (...)"): the value after `key`
// (case-insensitive), or nullptr.
const Value* FindItem(const std::vector<Value>& items, std::string_view key);

}  // namespace mailgate::imap

#endif  // MAILGATE_IMAP_RESPONSE_H_
