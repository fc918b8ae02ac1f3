#include "imap/parser.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

namespace mailgate::imap {
namespace {

constexpr std::size_t kTraceMax = 2048;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

std::optional<uint64_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

bool IsMessageItem(std::string_view key) {
  const std::string k = Upper(key);
  return k.starts_with("BODY[") || k.starts_with("BINARY[") || k == "RFC822" ||
         k == "RFC822.HEADER" || k == "RFC822.TEXT";
}

}  // namespace

bool Value::IsAtom(std::string_view name) const {
  return kind == Kind::kAtom && EqualsIgnoreCase(text, name);
}

std::optional<uint64_t> Value::AsNumber() const {
  if (kind != Kind::kAtom && kind != Kind::kString) return std::nullopt;
  return ParseNumber(text);
}

std::string_view ConditionName(Condition c) {
  switch (c) {
    case Condition::kNone:
      return "";
    case Condition::kOk:
      return "OK";
    case Condition::kNo:
      return "NO";
    case Condition::kBad:
      return "BAD";
    case Condition::kPreauth:
      return "PREAUTH";
    case Condition::kBye:
      return "BYE";
  }
  return "";
}

const Value* FindItem(const std::vector<Value>& items, std::string_view key) {
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].kind == Value::Kind::kAtom && EqualsIgnoreCase(items[i].text, key)) {
      return &items[i + 1];
    }
  }
  return nullptr;
}

Parser::Parser(ParserLimits limits) : limits_(limits) {}

Parser::Step Parser::Error(ErrorCode code, std::string message) {
  error_code_ = code;
  error_ = Status::Protocol("the IMAP server sent a malformed response (" + message +
                            "); the connection was closed. If this repeats, report it to the "
                            "mail server's administrator");
  return Step::kError;
}

void Parser::Reset() {
  state_ = State::kTag;
  started_ = false;
  tok_.clear();
  stack_.clear();
  bracket_depth_ = 0;
  line_len_ = 0;
  resp_bytes_ = 0;
  trace_cut_ = false;
}

Response Parser::TakeResponse() {
  Response r = std::move(resp_);
  resp_ = Response();
  return r;
}

void Parser::TraceByte(char c) {
  if (c == '\r' || c == '\n') return;
  if (resp_.trace.size() < kTraceMax) {
    resp_.trace += c;
  } else if (!trace_cut_) {
    resp_.trace += "...";
    trace_cut_ = true;
  }
}

void Parser::TraceText(std::string_view s) {
  if (resp_.trace.size() < kTraceMax) resp_.trace += s;
}

void Parser::PushValue(Value v) {
  stack_.back().push_back(std::move(v));
}

void Parser::FinishAtom() {
  Value v;
  if (EqualsIgnoreCase(tok_, "NIL")) {
    v.kind = Value::Kind::kNil;
  } else {
    v.kind = Value::Kind::kAtom;
    v.text = std::move(tok_);
  }
  tok_.clear();
  PushValue(std::move(v));
}

bool Parser::WantsStreaming() const {
  if (sink_ == nullptr || resp_.kind != Response::Kind::kUntagged || resp_.name != "FETCH" ||
      !resp_.number || stack_.size() != 2) {
    return false;
  }
  const auto& items = stack_[1];
  // In "(KEY VALUE KEY VALUE ...)" a value follows an odd number of items.
  return items.size() % 2 == 1 && items.back().kind == Value::Kind::kAtom &&
         IsMessageItem(items.back().text);
}

Parser::Step Parser::StartLiteral() {
  line_len_ = 0;  // the literal header ends a line
  literal_streamed_ = WantsStreaming();
  literal_sink_failed_ = false;
  if (literal_streamed_) {
    if (literal_size_ > limits_.max_message_literal) {
      return Error(ErrorCode::kLiteralTooLarge, "a message of " + std::to_string(literal_size_) +
                                                    " bytes, over the limit of " +
                                                    std::to_string(limits_.max_message_literal));
    }
    Status s = sink_->BeginLiteral(*resp_.number, Upper(stack_[1].back().text), literal_size_);
    if (!s.ok()) {
      literal_sink_failed_ = true;
      resp_.sink_status = std::move(s);
    }
  } else {
    if (literal_size_ > limits_.max_inline_literal ||
        resp_bytes_ + literal_size_ > limits_.max_response) {
      return Error(ErrorCode::kLiteralTooLarge, "a literal of " + std::to_string(literal_size_) +
                                                    " bytes, over the limit of " +
                                                    std::to_string(limits_.max_inline_literal));
    }
    resp_bytes_ += literal_size_;
    tok_.clear();
    tok_.reserve(literal_size_);
  }
  TraceText(" (" + std::to_string(literal_size_) + " bytes) ");
  literal_left_ = literal_size_;
  if (literal_left_ == 0) {
    FinishLiteral();
  } else {
    state_ = State::kLiteralData;
  }
  return Step::kConsumed;
}

void Parser::FinishLiteral() {
  Value v;
  if (literal_streamed_) {
    if (!literal_sink_failed_) {
      Status s = sink_->EndLiteral();
      if (!s.ok()) resp_.sink_status = std::move(s);
    }
    v.kind = Value::Kind::kStreamed;
    v.size = literal_size_;
  } else {
    v.kind = Value::Kind::kString;
    v.text = std::move(tok_);
    tok_.clear();
  }
  PushValue(std::move(v));
  state_ = State::kValues;
}

Parser::Step Parser::EndLine(char c) {
  if (c == '\r') {
    state_ = State::kCr;
    return Step::kConsumed;
  }
  return Step::kComplete;
}

Parser::Step Parser::FinishWord(char c) {
  if (tok_.empty()) return Error(ErrorCode::kSyntax, "two spaces after the tag");
  const bool eol = c != ' ';
  if (EqualsIgnoreCase(tok_, "OK")) {
    resp_.condition = Condition::kOk;
  } else if (EqualsIgnoreCase(tok_, "NO")) {
    resp_.condition = Condition::kNo;
  } else if (EqualsIgnoreCase(tok_, "BAD")) {
    resp_.condition = Condition::kBad;
  } else if (resp_.kind == Response::Kind::kUntagged && EqualsIgnoreCase(tok_, "PREAUTH")) {
    resp_.condition = Condition::kPreauth;
  } else if (resp_.kind == Response::Kind::kUntagged && EqualsIgnoreCase(tok_, "BYE")) {
    resp_.condition = Condition::kBye;
  }
  if (resp_.condition != Condition::kNone) {
    tok_.clear();
    if (eol) return EndLine(c);
    state_ = State::kTextStart;
    return Step::kConsumed;
  }
  if (resp_.kind == Response::Kind::kTagged) {
    return Error(ErrorCode::kSyntax, "a tagged response without OK, NO or BAD");
  }
  if (auto n = ParseNumber(tok_)) {
    resp_.number = *n;
    tok_.clear();
    if (eol) return Error(ErrorCode::kSyntax, "a message number without a name");
    state_ = State::kWord2;
    return Step::kConsumed;
  }
  resp_.name = Upper(tok_);
  tok_.clear();
  stack_.assign(1, {});
  if (eol) return EndLine(c);
  state_ = State::kValues;
  return Step::kConsumed;
}

Parser::Step Parser::StepByte(char c) {
  const bool eol = c == '\r' || c == '\n';
  switch (state_) {
    case State::kTag:
      if (c == ' ' || eol) {
        if (tok_.empty()) return Error(ErrorCode::kSyntax, "a line without a tag");
        if (tok_ == "+") {
          resp_.kind = Response::Kind::kContinuation;
          tok_.clear();
          if (eol) return EndLine(c);
          state_ = State::kContText;
          return Step::kConsumed;
        }
        if (eol) return Error(ErrorCode::kSyntax, "a line with nothing but a tag");
        if (tok_ == "*") {
          resp_.kind = Response::Kind::kUntagged;
        } else {
          resp_.kind = Response::Kind::kTagged;
          resp_.tag = tok_;
        }
        tok_.clear();
        state_ = State::kWord;
        return Step::kConsumed;
      }
      tok_ += c;
      return Step::kConsumed;

    case State::kContText:
    case State::kText:
      if (eol) {
        resp_.text = std::move(tok_);
        tok_.clear();
        return EndLine(c);
      }
      tok_ += c;
      return Step::kConsumed;

    case State::kWord:
      if (c == ' ' || eol) return FinishWord(c);
      tok_ += c;
      return Step::kConsumed;

    case State::kWord2:
      if (c == ' ' || eol) {
        if (tok_.empty()) return Error(ErrorCode::kSyntax, "two spaces after a message number");
        resp_.name = Upper(tok_);
        tok_.clear();
        stack_.assign(1, {});
        if (eol) return EndLine(c);
        state_ = State::kValues;
        return Step::kConsumed;
      }
      tok_ += c;
      return Step::kConsumed;

    case State::kTextStart:
      if (c == '[') {
        state_ = State::kCode;
        return Step::kConsumed;
      }
      state_ = State::kText;
      return Step::kReprocess;

    case State::kCode:
      if (c == ']') {
        const auto sp = tok_.find(' ');
        resp_.code = Upper(std::string_view(tok_).substr(0, sp));
        if (sp != std::string::npos) resp_.code_args = tok_.substr(sp + 1);
        tok_.clear();
        state_ = State::kCodeEnd;
        return Step::kConsumed;
      }
      if (eol) {  // "[" without "]": plain text after all
        resp_.text = "[" + tok_;
        tok_.clear();
        return EndLine(c);
      }
      tok_ += c;
      return Step::kConsumed;

    case State::kCodeEnd:
      if (c == ' ') {
        state_ = State::kText;
        return Step::kConsumed;
      }
      if (eol) return EndLine(c);
      state_ = State::kText;
      return Step::kReprocess;

    case State::kValues:
      switch (c) {
        case ' ':
          return Step::kConsumed;
        case '(':
          if (stack_.size() > limits_.max_depth) {
            return Error(ErrorCode::kTooDeep,
                         "lists nested deeper than " + std::to_string(limits_.max_depth));
          }
          stack_.emplace_back();
          return Step::kConsumed;
        case ')': {
          if (stack_.size() < 2) return Error(ErrorCode::kSyntax, "an unbalanced ')'");
          Value v;
          v.kind = Value::Kind::kList;
          v.items = std::move(stack_.back());
          stack_.pop_back();
          PushValue(std::move(v));
          return Step::kConsumed;
        }
        case '"':
          tok_.clear();
          state_ = State::kQuoted;
          return Step::kConsumed;
        case '{':
          literal8_ = false;
          literal_digits_ = false;
          literal_size_ = 0;
          state_ = State::kLiteralSize;
          return Step::kConsumed;
        case '~':
          state_ = State::kLiteralTilde;
          return Step::kConsumed;
        case '\r':
        case '\n':
          if (stack_.size() > 1) return Error(ErrorCode::kSyntax, "an unterminated list");
          return EndLine(c);
        default:
          tok_.clear();
          bracket_depth_ = 0;
          state_ = State::kAtom;
          return Step::kReprocess;
      }

    case State::kAtom:
      if (bracket_depth_ > 0) {
        if (eol) return Error(ErrorCode::kSyntax, "an unterminated '['");
        if (c == '[') ++bracket_depth_;
        if (c == ']') --bracket_depth_;
        tok_ += c;
        return Step::kConsumed;
      }
      if (c == ' ' || c == '(' || c == ')' || eol) {
        FinishAtom();
        state_ = State::kValues;
        return Step::kReprocess;
      }
      if (c == '[') bracket_depth_ = 1;
      tok_ += c;
      return Step::kConsumed;

    case State::kQuoted:
      if (c == '\\') {
        state_ = State::kQuotedEscape;
        return Step::kConsumed;
      }
      if (c == '"') {
        Value v;
        v.kind = Value::Kind::kString;
        v.text = std::move(tok_);
        tok_.clear();
        PushValue(std::move(v));
        state_ = State::kValues;
        return Step::kConsumed;
      }
      if (eol) return Error(ErrorCode::kSyntax, "an unterminated quoted string");
      tok_ += c;
      return Step::kConsumed;

    case State::kQuotedEscape:
      // RFC 9051 §9: only quoted-specials may be escaped.
      if (c != '"' && c != '\\') {
        return Error(ErrorCode::kSyntax, "an invalid escape in a quoted string");
      }
      tok_ += c;
      state_ = State::kQuoted;
      return Step::kConsumed;

    case State::kLiteralTilde:
      if (c != '{') return Error(ErrorCode::kSyntax, "'~' not followed by a literal");
      literal8_ = true;
      literal_digits_ = false;
      literal_size_ = 0;
      state_ = State::kLiteralSize;
      return Step::kConsumed;

    case State::kLiteralSize:
      if (c >= '0' && c <= '9') {
        const uint64_t d = static_cast<uint64_t>(c - '0');
        // Checked digit by digit: "{18446744073709551616}" must not wrap around.
        if (literal_size_ > (std::numeric_limits<uint64_t>::max() - d) / 10) {
          return Error(ErrorCode::kLiteralTooLarge, "a literal size over 2^64-1");
        }
        literal_size_ = literal_size_ * 10 + d;
        if (literal_size_ > std::max(limits_.max_message_literal, limits_.max_inline_literal)) {
          return Error(ErrorCode::kLiteralTooLarge,
                       "a literal larger than " +
                           std::to_string(
                               std::max(limits_.max_message_literal, limits_.max_inline_literal)) +
                           " bytes");
        }
        literal_digits_ = true;
        return Step::kConsumed;
      }
      if (!literal_digits_) return Error(ErrorCode::kSyntax, "a literal without a size");
      if (c == '+') {  // LITERAL+ syntax (RFC 7888), tolerated in responses too
        state_ = State::kLiteralClose;
        return Step::kConsumed;
      }
      if (c == '}') {
        state_ = State::kLiteralCr;
        return Step::kConsumed;
      }
      return Error(ErrorCode::kSyntax, "a bad literal size");

    case State::kLiteralClose:
      if (c != '}') return Error(ErrorCode::kSyntax, "a bad literal size");
      state_ = State::kLiteralCr;
      return Step::kConsumed;

    case State::kLiteralCr:
      if (c == '\r') {
        state_ = State::kLiteralLf;
        return Step::kConsumed;
      }
      if (c == '\n') return StartLiteral();
      return Error(ErrorCode::kSyntax, "a literal size not at the end of a line");

    case State::kLiteralLf:
      if (c == '\n') return StartLiteral();
      return Error(ErrorCode::kSyntax, "a CR without LF");

    case State::kCr:
      if (c == '\n') return Step::kComplete;
      return Error(ErrorCode::kSyntax, "a CR without LF");

    case State::kLiteralData:
      break;  // handled in Feed()
  }
  return Error(ErrorCode::kSyntax, "an internal parser state");
}

Parser::Result Parser::Feed(std::string_view data, std::size_t* consumed) {
  *consumed = 0;
  if (error_code_ != ErrorCode::kNone) return Result::kError;
  std::size_t i = 0;
  while (i < data.size()) {
    if (state_ == State::kLiteralData) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<uint64_t>(literal_left_, data.size() - i));
      const std::string_view chunk = data.substr(i, n);
      if (literal_streamed_) {
        // Message bodies pass through byte-exact, NULs included: they are data for the
        // store, not protocol.
        if (!literal_sink_failed_) {
          Status s = sink_->LiteralChunk(chunk);
          if (!s.ok()) {
            literal_sink_failed_ = true;
            resp_.sink_status = std::move(s);
          }
        }
      } else {
        if (!literal8_ && chunk.find('\0') != std::string_view::npos) {
          *consumed = i;
          Error(ErrorCode::kNul, "a NUL byte in a literal");
          return Result::kError;
        }
        tok_.append(chunk);
      }
      i += n;
      literal_left_ -= n;
      if (literal_left_ == 0) FinishLiteral();
      continue;
    }
    const char c = data[i];
    started_ = true;
    if (c == '\0') {
      *consumed = i;
      Error(ErrorCode::kNul, "a NUL byte");
      return Result::kError;
    }
    if (c == '\n') {
      line_len_ = 0;
    } else if (++line_len_ > limits_.max_line) {
      *consumed = i;
      Error(ErrorCode::kLineTooLong,
            "a line longer than " + std::to_string(limits_.max_line) + " bytes");
      return Result::kError;
    }
    if (++resp_bytes_ > limits_.max_response) {
      *consumed = i;
      Error(ErrorCode::kResponseTooLarge,
            "a response larger than " + std::to_string(limits_.max_response) + " bytes");
      return Result::kError;
    }
    TraceByte(c);
    Step step;
    do {
      step = StepByte(c);
    } while (step == Step::kReprocess);
    ++i;
    if (step == Step::kError) {
      *consumed = i;
      return Result::kError;
    }
    if (step == Step::kComplete) {
      if (!stack_.empty()) resp_.data = std::move(stack_[0]);
      Reset();
      *consumed = i;
      return Result::kResponse;
    }
  }
  *consumed = i;
  return Result::kNeedMore;
}

}  // namespace mailgate::imap
