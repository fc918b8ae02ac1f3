// An incremental, resumable, bounded IMAP response parser (after isync's drv_imap.c
// and Dovecot's lib-imap/imap-parser.c).
//
// Feed() takes whatever bytes the socket delivered, in any split (one byte at a time
// works), and returns "need more" until a whole response is parsed; the state is kept
// between calls. Message literals in FETCH responses (BODY[...], BINARY[...], RFC822*)
// go to a LiteralSink in the chunks they arrived in, straight from the caller's buffer,
// so a message is never held whole in memory, let alone twice.
//
// Limits (ParserLimits) bound the memory a hostile or broken server can make us use.
// Every parse error is fatal for the connection: the byte stream cannot be resynchronised
// reliably (a literal announcement may have been missed). A sink refusing a body is not
// a parse error: the literal is drained and Response::sink_status carries the refusal.
#ifndef MAILGATE_IMAP_PARSER_H_
#define MAILGATE_IMAP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "imap/response.h"

namespace mailgate::imap {

struct ParserLimits {
  // Longest line, literals excluded (a 1-million-UID SEARCH answer is ~8 MB; fetch
  // in ranges instead).
  std::size_t max_line = 4 * 1024 * 1024;
  std::size_t max_depth = 64;  // parenthesized list nesting
  // Largest literal kept in memory (mailbox names, header fields, a body without sink).
  std::uint64_t max_inline_literal = 16 * 1024 * 1024;
  // Largest message literal streamed to the sink.
  std::uint64_t max_message_literal = std::uint64_t{4} * 1024 * 1024 * 1024;
  // All bytes of one response kept in memory (lines plus inline literals).
  std::size_t max_response = 64 * 1024 * 1024;
};

// Receives message literals. Calls come in order Begin, Chunk..., End for each literal.
class LiteralSink {
 public:
  virtual ~LiteralSink() = default;
  // A literal of `size` bytes follows as the value of `item` (upper case, e.g. "BODY[]")
  // in the response "* <seq> FETCH (...)".
  virtual Status BeginLiteral(uint64_t seq, std::string_view item, uint64_t size) = 0;
  virtual Status LiteralChunk(std::string_view chunk) = 0;
  virtual Status EndLiteral() = 0;
};

class Parser {
 public:
  enum class Result { kNeedMore, kResponse, kError };
  enum class ErrorCode {
    kNone,
    kSyntax,            // not IMAP (unterminated quote or list, bad literal header...)
    kLineTooLong,       // a line over max_line
    kTooDeep,           // lists nested over max_depth
    kLiteralTooLarge,   // literal size over the limit, or over 2^64-1
    kResponseTooLarge,  // one response over max_response
    kNul,               // a NUL byte outside a message literal
  };

  explicit Parser(ParserLimits limits = {});

  // May be null: message literals are then kept inline (bounded by max_inline_literal).
  // REQUIRES: `sink` outlives its use by this parser; change it only between responses.
  void set_literal_sink(LiteralSink* sink) { sink_ = sink; }

  // Consumes a prefix of `data` and sets *consumed to its length.
  //   kNeedMore: all of data was consumed and the response is not complete yet.
  //   kResponse: a response is complete (TakeResponse()); the rest of data is unread.
  //   kError: error() says why; the parser stays in error (fatal for the connection).
  Result Feed(std::string_view data, std::size_t* consumed);

  // REQUIRES: the last Feed() returned kResponse.
  Response TakeResponse();

  ErrorCode error_code() const { return error_code_; }
  // Status::Protocol naming the problem; OK when there is none.
  const Status& error() const { return error_; }
  // All parse errors are fatal; kept as a function so the contract is written down.
  bool fatal() const { return error_code_ != ErrorCode::kNone; }
  // True when a response has started but is not complete (e.g. the peer closed mid-literal).
  bool in_response() const { return started_; }

 private:
  enum class State {
    kTag,
    kWord,
    kWord2,
    kContText,
    kTextStart,
    kCode,
    kCodeEnd,
    kText,
    kValues,
    kAtom,
    kQuoted,
    kQuotedEscape,
    kLiteralTilde,
    kLiteralSize,
    kLiteralClose,
    kLiteralCr,
    kLiteralLf,
    kLiteralData,
    kCr,
  };

  enum class Step { kConsumed, kReprocess, kComplete, kError };

  Step StepByte(char c);
  Step EndLine(char c);
  Step Error(ErrorCode code, std::string message);
  Step FinishWord(char c);
  void FinishAtom();
  void PushValue(Value v);
  Step StartLiteral();
  void FinishLiteral();
  bool WantsStreaming() const;
  void TraceByte(char c);
  void TraceText(std::string_view s);
  void Reset();

  ParserLimits limits_;
  LiteralSink* sink_ = nullptr;

  State state_ = State::kTag;
  Response resp_;
  bool started_ = false;
  std::string tok_;
  std::vector<std::vector<Value>> stack_;  // stack_[0]: top-level data
  int bracket_depth_ = 0;                  // inside "[...]" of an atom such as BODY[...]
  std::size_t line_len_ = 0;
  std::size_t resp_bytes_ = 0;
  bool literal8_ = false;
  bool literal_digits_ = false;
  uint64_t literal_size_ = 0;
  uint64_t literal_left_ = 0;
  bool literal_streamed_ = false;
  bool literal_sink_failed_ = false;
  bool trace_cut_ = false;

  ErrorCode error_code_ = ErrorCode::kNone;
  Status error_;
};

}  // namespace mailgate::imap

#endif  // MAILGATE_IMAP_PARSER_H_
