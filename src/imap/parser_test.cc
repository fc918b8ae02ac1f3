#include "imap/parser.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace mailgate::imap {
namespace {

using namespace std::string_literals;

// Records what reached the sink, chunk boundaries included.
class RecordingSink : public LiteralSink {
 public:
  Status BeginLiteral(uint64_t seq, std::string_view item, uint64_t size) override {
    events.push_back("begin " + std::to_string(seq) + " " + std::string(item) + " " +
                     std::to_string(size));
    body.clear();
    return Status::Ok();
  }
  Status LiteralChunk(std::string_view chunk) override {
    ++chunks;
    largest_chunk = std::max(largest_chunk, chunk.size());
    body.append(chunk);
    if (fail_after_bytes && body.size() >= fail_after_bytes) {
      return Status::Io("disk full; free space in the spool directory");
    }
    return Status::Ok();
  }
  Status EndLiteral() override {
    events.push_back("end " + std::to_string(body.size()));
    bodies.push_back(body);
    return Status::Ok();
  }
  std::vector<std::string> events;
  std::vector<std::string> bodies;
  std::string body;
  std::size_t chunks = 0;
  std::size_t largest_chunk = 0;
  std::size_t fail_after_bytes = 0;
};

std::string Dump(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kAtom:
      return v.text;
    case Value::Kind::kString:
      return std::string("\"").append(v.text).append("\"");
    case Value::Kind::kNil:
      return "NIL";
    case Value::Kind::kStreamed:
      return std::string("<").append(std::to_string(v.size)).append(" streamed>");
    case Value::Kind::kList: {
      std::string s = "(";
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) s += ' ';
        s += Dump(v.items[i]);
      }
      return s + ")";
    }
  }
  return "?";
}

std::string Dump(const Response& r) {
  std::string s;
  switch (r.kind) {
    case Response::Kind::kContinuation:
      s = "+";
      break;
    case Response::Kind::kUntagged:
      s = "*";
      break;
    case Response::Kind::kTagged:
      s = "tag=" + r.tag;
      break;
  }
  // Appends piece by piece: g++ 12 warns falsely (-Wrestrict) on "literal" + string&&.
  if (r.is_status()) s.append(" cond=").append(ConditionName(r.condition));
  if (!r.code.empty())
    s.append(" code=").append(r.code).append("[").append(r.code_args).append("]");
  if (r.number) s.append(" n=").append(std::to_string(*r.number));
  if (!r.name.empty()) s.append(" name=").append(r.name);
  for (const auto& v : r.data) s.append(" ").append(Dump(v));
  if (!r.text.empty() || r.kind == Response::Kind::kContinuation) s.append(" text=").append(r.text);
  if (!r.sink_status.ok()) s.append(" sink=").append(r.sink_status.ToString());
  return s;
}

struct Outcome {
  std::vector<std::string> responses;
  Parser::ErrorCode error = Parser::ErrorCode::kNone;
  std::string error_message;
};

// Feeds `input` in pieces of `step` bytes (0: all at once), the way a socket might.
Outcome Parse(std::string_view input, std::size_t step, LiteralSink* sink = nullptr,
              ParserLimits limits = {}) {
  Outcome out;
  Parser p(limits);
  p.set_literal_sink(sink);
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    std::string_view piece = input.substr(pos, n);
    while (!piece.empty()) {
      std::size_t used = 0;
      const auto r = p.Feed(piece, &used);
      EXPECT_LE(used, piece.size());
      if (r == Parser::Result::kError) {
        out.error = p.error_code();
        out.error_message = p.error().message();
        EXPECT_TRUE(p.fatal());
        return out;
      }
      if (r == Parser::Result::kResponse) out.responses.push_back(Dump(p.TakeResponse()));
      if (r == Parser::Result::kNeedMore) {
        EXPECT_EQ(used, piece.size());
      }
      piece.remove_prefix(used);
    }
    pos += n;
  }
  return out;
}

// Every split of the input must give the same result as feeding it whole.
std::vector<std::string> ParseEverySplit(std::string_view input) {
  const Outcome whole = Parse(input, 0);
  EXPECT_EQ(whole.error, Parser::ErrorCode::kNone) << whole.error_message;
  for (std::size_t step : {1, 2, 3, 5, 7, 64}) {
    const Outcome split = Parse(input, step);
    EXPECT_EQ(split.responses, whole.responses) << "step " << step;
  }
  return whole.responses;
}

TEST(ParserTest, GreetingWithCapabilityCode) {
  auto r = ParseEverySplit(
      "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2] Dovecot ready.\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(
      r[0],
      "* cond=OK code=CAPABILITY[IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2] text=Dovecot ready.");
}

TEST(ParserTest, SelectResponses) {
  auto r = ParseEverySplit(
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
      "* 172 EXISTS\r\n"
      "* 1 RECENT\r\n"
      "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
      "* OK [UIDNEXT 4392] Predicted next UID\r\n"
      "A142 OK [READ-WRITE] SELECT completed\r\n");
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0], "* name=FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
  EXPECT_EQ(r[1], "* cond=OK code=PERMANENTFLAGS[(\\Deleted \\Seen \\*)] text=Limited");
  EXPECT_EQ(r[2], "* n=172 name=EXISTS");
  EXPECT_EQ(r[4], "* cond=OK code=UIDVALIDITY[3857529045] text=UIDs valid");
  EXPECT_EQ(r[5], "* cond=OK code=UIDNEXT[4392] text=Predicted next UID");
  EXPECT_EQ(r[6], "tag=A142 cond=OK code=READ-WRITE[] text=SELECT completed");
}

TEST(ParserTest, TaggedFailuresAndCodes) {
  auto r = ParseEverySplit(
      "a2 NO AUTHENTICATE failed.\r\n"
      "a3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
      "a4 NO [TRYCREATE] No such mailbox\r\n"
      "a5 OK [APPENDUID 38505 3955] APPEND completed\r\n"
      "a6 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
      "a7 BAD\r\n");
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0], "tag=a2 cond=NO text=AUTHENTICATE failed.");
  EXPECT_EQ(r[1], "tag=a3 cond=NO code=AUTHENTICATIONFAILED[] text=Authentication failed.");
  EXPECT_EQ(r[2], "tag=a4 cond=NO code=TRYCREATE[] text=No such mailbox");
  EXPECT_EQ(r[3], "tag=a5 cond=OK code=APPENDUID[38505 3955] text=APPEND completed");
  EXPECT_EQ(r[4], "tag=a6 cond=OK code=COPYUID[38505 304,319:320 3956:3958] text=Done");
  EXPECT_EQ(r[5], "tag=a7 cond=BAD");
}

TEST(ParserTest, ContinuationsAndBye) {
  auto r = ParseEverySplit(
      "+ idling\r\n"
      "+\r\n"
      "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"
      "* BYE Session invalidated - AccessTokenExpired\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], "+ text=idling");
  EXPECT_EQ(r[1], "+ text=");
  EXPECT_EQ(r[2], "+ text=eyJzdGF0dXMiOiI0MDEifQ==");
  EXPECT_EQ(r[3], "* cond=BYE text=Session invalidated - AccessTokenExpired");
}

TEST(ParserTest, QuotedStringsWithEscapesAndLiterals) {
  auto r = ParseEverySplit(
      "* LIST (\\HasNoChildren) \"/\" \"a \\\"quoted\\\" \\\\ name\"\r\n"
      "* LIST () \"/\" {6}\r\nIN\"BO)\r\n"
      "* LIST (\\Noselect) NIL {5+}\r\nabcde\r\n"
      "* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1)\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], "* name=LIST (\\HasNoChildren) \"/\" \"a \"quoted\" \\ name\"");
  EXPECT_EQ(r[1], "* name=LIST () \"/\" \"IN\"BO)\"");
  EXPECT_EQ(r[2], "* name=LIST (\\Noselect) NIL \"abcde\"");
  EXPECT_EQ(r[3], "* name=STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1)");
}

TEST(ParserTest, NestedListsNilAndBracketAtoms) {
  auto r = ParseEverySplit(
      "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
      "1)"
      " \"mixed\") BODY[HEADER.FIELDS (FROM TO)] {4}\r\nab\r\n)\r\n"
      "* SEARCH 2 84 882\r\n"
      "* SEARCH\r\n"
      "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0],
            "* n=1 name=FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
            "NIL \"7bit\" 3 1) \"mixed\") BODY[HEADER.FIELDS (FROM TO)] \"ab\r\n\")");
  EXPECT_EQ(r[1], "* name=SEARCH 2 84 882");
  EXPECT_EQ(r[2], "* name=SEARCH");
  EXPECT_EQ(r[3], "* name=NAMESPACE ((\"\" \"/\")) NIL NIL");
}

TEST(ParserTest, BareLfEndsALine) {
  auto r = ParseEverySplit("* 3 EXISTS\na1 OK done\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1], "tag=a1 cond=OK text=done");
}

const std::string kFetch =
    "* 12 FETCH (UID 42 RFC822.SIZE 11 FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
    "BODY[] {11}\r\nHi\0\r\nthere!)\r\n"s
    "* 13 FETCH (BODY[] {0}\r\n UID 43)\r\n"
    "* 14 FETCH (FLAGS (\\Seen \\Answered) UID 44)\r\n";

TEST(ParserTest, MessageLiteralsStreamToTheSinkInEverySplit) {
  for (std::size_t step : {0, 1, 2, 5, 100}) {
    RecordingSink sink;
    Outcome o = Parse(kFetch, step, &sink);
    ASSERT_EQ(o.error, Parser::ErrorCode::kNone) << o.error_message;
    ASSERT_EQ(o.responses.size(), 3u);
    EXPECT_EQ(o.responses[0],
              "* n=12 name=FETCH (UID 42 RFC822.SIZE 11 FLAGS (\\Seen) INTERNALDATE "
              "\"17-Jul-1996 02:44:25 -0700\" BODY[] <11 streamed>)");
    EXPECT_EQ(o.responses[1], "* n=13 name=FETCH (BODY[] <0 streamed> UID 43)");
    EXPECT_EQ(o.responses[2], "* n=14 name=FETCH (FLAGS (\\Seen \\Answered) UID 44)");
    ASSERT_EQ(sink.bodies.size(), 2u);
    EXPECT_EQ(sink.bodies[0], "Hi\0\r\nthere!"s);  // byte-exact, NUL included
    EXPECT_EQ(sink.bodies[1], "");
    EXPECT_EQ(sink.events[0], "begin 12 BODY[] 11");
    if (step == 1) {
      EXPECT_EQ(sink.largest_chunk, 1u);  // nothing was gathered before the sink saw it
    }
  }
}

TEST(ParserTest, LargeBodyIsNeverBufferedByTheParser) {
  const std::string body(1 << 20, 'x');
  const std::string input =
      "* 1 FETCH (UID 7 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\n";
  RecordingSink sink;
  Outcome o = Parse(input, 16 * 1024, &sink);
  ASSERT_EQ(o.responses.size(), 1u);
  EXPECT_EQ(sink.bodies.at(0), body);
  EXPECT_LE(sink.largest_chunk, 16u * 1024);
  EXPECT_GE(sink.chunks, body.size() / (16 * 1024));
}

TEST(ParserTest, SinkRefusalFailsOnlyThatMessage) {
  RecordingSink sink;
  sink.fail_after_bytes = 3;
  Outcome o = Parse(kFetch, 1, &sink);
  ASSERT_EQ(o.error, Parser::ErrorCode::kNone);
  ASSERT_EQ(o.responses.size(), 3u);
  EXPECT_NE(o.responses[0].find("sink=io: disk full"), std::string::npos);
  EXPECT_EQ(o.responses[2], "* n=14 name=FETCH (FLAGS (\\Seen \\Answered) UID 44)");
}

TEST(ParserTest, WithoutSinkMessageLiteralsAreKeptInline) {
  Outcome o = Parse("* 1 FETCH (BODY[] {3}\r\nabc)\r\n", 1);
  ASSERT_EQ(o.responses.size(), 1u);
  EXPECT_EQ(o.responses[0], "* n=1 name=FETCH (BODY[] \"abc\")");
}

TEST(ParserTest, Literal8MayCarryNul) {
  Outcome o = Parse("* 1 FETCH (BINARY[1] ~{3}\r\na\0b)\r\n"s, 1);
  ASSERT_EQ(o.error, Parser::ErrorCode::kNone) << o.error_message;
  EXPECT_EQ(o.responses.at(0), "* n=1 name=FETCH (BINARY[1] \"a\0b\")"s);
}

TEST(ParserTest, TraceSummarisesLiterals) {
  Parser p;
  RecordingSink sink;
  p.set_literal_sink(&sink);
  const std::string in = "* 2 FETCH (UID 9 BODY[] {5}\r\nhello)\r\n";
  std::size_t used = 0;
  ASSERT_EQ(p.Feed(in, &used), Parser::Result::kResponse);
  const Response r = p.TakeResponse();
  EXPECT_EQ(r.trace, "* 2 FETCH (UID 9 BODY[] {5} (5 bytes) )");
  EXPECT_EQ(r.trace.find("hello"), std::string::npos);
}

TEST(ParserTest, ConsumedStopsAtTheEndOfEachResponse) {
  Parser p;
  const std::string in = "* 1 EXISTS\r\n* 2 EXISTS\r\na1 OK";
  std::size_t used = 0;
  ASSERT_EQ(p.Feed(in, &used), Parser::Result::kResponse);
  EXPECT_EQ(used, 12u);
  EXPECT_EQ(p.TakeResponse().number, 1u);
  std::string_view rest = std::string_view(in).substr(used);
  ASSERT_EQ(p.Feed(rest, &used), Parser::Result::kResponse);
  EXPECT_EQ(p.TakeResponse().number, 2u);
  rest.remove_prefix(used);
  EXPECT_EQ(p.Feed(rest, &used), Parser::Result::kNeedMore);
  EXPECT_TRUE(p.in_response());
  ASSERT_EQ(p.Feed(" done\r\n", &used), Parser::Result::kResponse);
  EXPECT_EQ(p.TakeResponse().tag, "a1");
}

// Adversarial input: every case is a clean, typed, fatal error.

TEST(ParserAdversarialTest, LiteralSizeOf2To64) {
  for (std::size_t step : {0, 1}) {
    Outcome o = Parse("* 1 FETCH (BODY[] {18446744073709551616}\r\n", step);
    EXPECT_EQ(o.error, Parser::ErrorCode::kLiteralTooLarge);
  }
  // With no configured limit, the digit-by-digit overflow check is what stops it.
  ParserLimits unlimited;
  unlimited.max_message_literal = std::numeric_limits<uint64_t>::max();
  for (std::size_t step : {0, 1}) {
    Outcome o = Parse("* 1 FETCH (BODY[] {18446744073709551616}\r\n", step, nullptr, unlimited);
    EXPECT_EQ(o.error, Parser::ErrorCode::kLiteralTooLarge);
    EXPECT_NE(o.error_message.find("2^64"), std::string::npos);
  }
  RecordingSink sink;
  Outcome max = Parse("* 1 FETCH (BODY[] {18446744073709551615}\r\n", 1, &sink);
  EXPECT_EQ(max.error, Parser::ErrorCode::kLiteralTooLarge);
  EXPECT_TRUE(sink.events.empty());
  Outcome inline_big = Parse("* LIST () \"/\" {16777217}\r\n", 1);
  EXPECT_EQ(inline_big.error, Parser::ErrorCode::kLiteralTooLarge);
}

TEST(ParserAdversarialTest, UnterminatedQuote) {
  Outcome o = Parse("* LIST () \"/\" \"INBOX\r\n", 1);
  EXPECT_EQ(o.error, Parser::ErrorCode::kSyntax);
  EXPECT_NE(o.error_message.find("unterminated quoted string"), std::string::npos);
  EXPECT_NE(o.error_message.find("report it"), std::string::npos);  // says what to do
}

TEST(ParserAdversarialTest, Nesting10000Deep) {
  const std::string in = "* X " + std::string(10000, '(') + std::string(10000, ')') + "\r\n";
  Outcome o = Parse(in, 1);
  EXPECT_EQ(o.error, Parser::ErrorCode::kTooDeep);
  Outcome whole = Parse(in, 0);
  EXPECT_EQ(whole.error, Parser::ErrorCode::kTooDeep);
}

TEST(ParserAdversarialTest, NulByte) {
  EXPECT_EQ(Parse("* OK hel\0lo\r\n"s, 1).error, Parser::ErrorCode::kNul);
  EXPECT_EQ(Parse("* LIST () \"/\" {3}\r\na\0b\r\n"s, 1).error, Parser::ErrorCode::kNul);
  EXPECT_EQ(Parse("* LIST () \"/\" \"a\0b\"\r\n"s, 0).error, Parser::ErrorCode::kNul);
}

TEST(ParserAdversarialTest, TenMegabyteLine) {
  const std::string in = "* OK " + std::string(10 * 1024 * 1024, 'a') + "\r\n";
  Outcome o = Parse(in, 64 * 1024);
  EXPECT_EQ(o.error, Parser::ErrorCode::kLineTooLong);
}

TEST(ParserAdversarialTest, LongLinesAcrossLiteralsAreCountedPerLine) {
  ParserLimits limits;
  limits.max_line = 100;
  // Each line is short; the literal bytes do not count as line length.
  const std::string ok = "* LIST () \"/\" {200}\r\n" + std::string(200, 'm') + "\r\n";
  EXPECT_EQ(Parse(ok, 7, nullptr, limits).error, Parser::ErrorCode::kNone);
  limits.max_response = 150;
  EXPECT_EQ(Parse(ok, 7, nullptr, limits).error, Parser::ErrorCode::kLiteralTooLarge);
}

TEST(ParserAdversarialTest, MalformedStructure) {
  EXPECT_EQ(Parse("* X (a b\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* X a)\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("a1 FETCH x\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse(" * OK\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* 1 FETCH (BODY[] {12x}\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* 1 FETCH (BODY[] {}\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* 1 FETCH (BODY[] {3} \r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* X \"a\\qb\"\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* OK x\ry\r\n", 1).error, Parser::ErrorCode::kSyntax);
  EXPECT_EQ(Parse("* 1 FETCH (BODY[HEADER\r\n", 1).error, Parser::ErrorCode::kSyntax);
}

TEST(ParserAdversarialTest, ErrorIsSticky) {
  Parser p;
  std::size_t used = 0;
  ASSERT_EQ(p.Feed("* X )\r\n", &used), Parser::Result::kError);
  EXPECT_EQ(p.Feed("* OK\r\n", &used), Parser::Result::kError);
  EXPECT_EQ(p.error().kind(), Status::Kind::kProtocol);
}

// A cheap fuzz pass that runs with every build: mutated responses must give the same
// outcome whether fed whole or in random splits, and never crash or hang.
TEST(ParserFuzzTest, MutatedInputBehavesTheSameInEverySplit) {
  const std::vector<std::string> corpus = {
      "* OK [CAPABILITY IMAP4rev1 SASL-IR] ready\r\n",
      "* 3 FETCH (UID 7 FLAGS (\\Seen) BODY[] {5}\r\nhello INTERNALDATE \"x\")\r\n",
      "* LIST (\\Noselect) \"/\" {3+}\r\nabc\r\na1 OK [READ-WRITE] done\r\n",
      "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n* BYE bye\r\n",
      "* 1 FETCH (BODYSTRUCTURE ((\"a\" NIL) \"b\") BODY[HEADER.FIELDS (TO)] ~{2}\r\nxy)\r\n",
  };
  ParserLimits limits;
  limits.max_line = 200;
  limits.max_depth = 8;
  limits.max_inline_literal = 64;
  limits.max_response = 1000;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::string specials = "(){}[]\"\\+~*\r\n 0123456789\0";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in = corpus[next() % corpus.size()];
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = next() % (in.size() + 1);
      const char c = (next() % 2) ? specials[next() % specials.size()] : static_cast<char>(next());
      switch (next() % 3) {
        case 0:
          in.insert(in.begin() + static_cast<std::ptrdiff_t>(pos), c);
          break;
        case 1:
          if (pos < in.size()) in.erase(pos, 1);
          break;
        default:
          if (pos < in.size()) in[pos] = c;
          break;
      }
    }
    const Outcome whole = Parse(in, 0, nullptr, limits);
    const Outcome bytes = Parse(in, 1, nullptr, limits);
    const Outcome odd = Parse(in, 1 + next() % 9, nullptr, limits);
    ASSERT_EQ(whole.responses, bytes.responses) << iter;
    ASSERT_EQ(whole.error, bytes.error) << iter;
    ASSERT_EQ(whole.responses, odd.responses) << iter;
    ASSERT_EQ(whole.error, odd.error) << iter;
  }
}

TEST(ValueTest, NumbersAndLookup) {
  Outcome o;
  Parser p;
  std::size_t used = 0;
  ASSERT_EQ(p.Feed("* 5 FETCH (UID 4294967295 RFC822.SIZE 99999999999 FLAGS ())\r\n", &used),
            Parser::Result::kResponse);
  Response r = p.TakeResponse();
  ASSERT_EQ(r.data.size(), 1u);
  const auto& items = r.data[0].items;
  ASSERT_NE(FindItem(items, "uid"), nullptr);
  EXPECT_EQ(FindItem(items, "UID")->AsNumber(), 4294967295u);
  EXPECT_EQ(FindItem(items, "RFC822.SIZE")->AsNumber(), 99999999999u);
  EXPECT_TRUE(FindItem(items, "FLAGS")->is_list());
  EXPECT_EQ(FindItem(items, "BODY[]"), nullptr);
  Value v;
  v.text = "123456789012345678901";
  EXPECT_FALSE(v.AsNumber().has_value());
}

}  // namespace
}  // namespace mailgate::imap
