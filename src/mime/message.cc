// ParseMessage: GMime does the MIME work; this file decides what a
// conversation needs from it and repairs what is broken instead of failing.
#include "mime/message.h"

#include <fcntl.h>
#include <gmime/gmime.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "base/sha256.h"
#include "mime/html_text.h"

namespace mailgate::mime {
namespace {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};

void InitGMimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(g_ascii_tolower(c));
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && g_ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && g_ascii_isspace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Valid UTF-8 out of anything: invalid sequences become U+FFFD.
std::string MakeValidUtf8(const char* text, std::ptrdiff_t len, bool* repaired) {
  if (!text) return {};
  if (len < 0) len = static_cast<std::ptrdiff_t>(std::strlen(text));
  if (g_utf8_validate(text, len, nullptr)) return std::string(text, static_cast<std::size_t>(len));
  *repaired = true;
  std::unique_ptr<gchar, GFree> valid(g_utf8_make_valid(text, len));
  return valid.get();
}

// The same for a string of our own: kept as it is (no copy) when valid.
std::string MakeValidUtf8(std::string&& text, bool* repaired) {
  if (g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr)) {
    return std::move(text);
  }
  *repaired = true;
  std::unique_ptr<gchar, GFree> valid(
      g_utf8_make_valid(text.data(), static_cast<gssize>(text.size())));
  return valid.get();
}

std::string HeaderValue(GMimeObject* obj, const char* name) {
  const char* v = g_mime_object_get_header(obj, name);
  return v ? std::string(v) : std::string();
}

std::vector<std::string> ParseIds(const std::string& header) {
  std::vector<std::string> ids;
  if (header.empty()) return ids;
  GMimeReferences* refs = g_mime_references_parse(nullptr, header.c_str());
  if (!refs) return ids;
  for (int i = 0; i < g_mime_references_length(refs); ++i) {
    ids.emplace_back(g_mime_references_get_message_id(refs, i));
  }
  g_mime_references_free(refs);
  return ids;
}

void AppendAddresses(InternetAddressList* list, std::vector<Address>& out) {
  if (!list) return;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      AppendAddresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
      continue;
    }
    const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
    const char* name = internet_address_get_name(ia);
    if (!addr || !*addr) continue;
    bool ignored = false;
    out.push_back({MakeValidUtf8(name ? name : "", -1, &ignored), addr});
  }
}

std::string ContentTypeOf(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (!ct) return "text/plain";
  std::string type =
      g_mime_content_type_get_media_type(ct) ? g_mime_content_type_get_media_type(ct) : "text";
  std::string sub = g_mime_content_type_get_media_subtype(ct)
                        ? g_mime_content_type_get_media_subtype(ct)
                        : "plain";
  return Lower(type + "/" + sub);
}

// Undoes `encoding` on `in` (base64, quoted-printable, uuencode; other
// encodings are the bytes themselves), appending to `out`.
void Decode(GMimeContentEncoding encoding, const char* in, std::size_t len, std::string& out) {
  if (encoding != GMIME_CONTENT_ENCODING_BASE64 &&
      encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
      encoding != GMIME_CONTENT_ENCODING_UUENCODE) {
    out.append(in, len);
    return;
  }
  GMimeEncoding state;
  g_mime_encoding_init_decode(&state, encoding);
  out.reserve(out.size() + g_mime_encoding_outlen(&state, len));
  // Through a buffer on the stack, a block at a time: a std::string cannot
  // grow without zero-filling (C++20), and the block stays in the cache.
  constexpr std::size_t kBlock = 32768;
  char buf[kBlock + 64];  // room for what a block of input decodes to, at most
  while (len > 0) {
    const std::size_t n = std::min(len, kBlock);
    out.append(buf, g_mime_encoding_step(&state, in, n, buf));
    in += n;
    len -= n;
  }
}

// The decoded bytes of a leaf part (transfer encoding undone, charset not).
// The parser's parts point into the message's memory stream: the bytes are
// decoded from there straight into the string, in one pass and one copy
// (GMime's filter stream would copy them twice more on the way).
std::string DecodedContent(GMimePart* part) {
  GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
  if (!wrapper) return {};
  GMimeStream* source = g_mime_data_wrapper_get_stream(wrapper);  // not ours to unref
  if (!source) return {};
  const GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(wrapper);
  if (g_mime_stream_reset(source) == -1) return {};
  std::string out;
  if (GMIME_IS_STREAM_MEM(source)) {
    const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(source));
    const gint64 start = g_mime_stream_tell(source);  // the part's first byte, after reset
    const gint64 length = g_mime_stream_length(source);
    if (bytes && start >= 0 && length >= 0 &&
        static_cast<guint64>(start) + static_cast<guint64>(length) <= bytes->len) {
      Decode(encoding, reinterpret_cast<const char*>(bytes->data) + start,
             static_cast<std::size_t>(length), out);
      return out;
    }
  }
  // Any other stream (not from ParseMessage): read it whole, then decode.
  std::string raw;
  char buf[65536];
  for (;;) {
    const gssize n = g_mime_stream_read(source, buf, sizeof buf);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  Decode(encoding, raw.data(), raw.size(), out);
  return out;
}

// The whole serialised object (an embedded message/rfc822, say).
std::string Serialized(GMimeObject* obj) {
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(obj, nullptr, mem.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// Converters to UTF-8 by iconv name, kept open for the process's life and
// shared by its threads (one user at a time each): glibc loads (dlopen) a
// gconv module on every iconv_open and unloads it on the last iconv_close,
// which cost more than the conversion itself for short parts; kept per thread
// they were opened again by every parse thread of every batch. A name iconv
// does not know is remembered as such. The names come from mail, so the pool
// is bounded: past kConverterNames names a converter lives for one
// conversion.
constexpr std::size_t kConverterNames = 32;

class ConverterPool {
 public:
  static ConverterPool& Get() {
    static ConverterPool* pool = new ConverterPool;  // never destroyed: used until exit
    return *pool;
  }

  // An open converter, or (GIConv)-1 when iconv does not know the name.
  GIConv Take(const char* iconv_name) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(std::string_view(iconv_name));
      if (it != idle_.end()) {
        if (!it->second.known) return kNone;
        if (!it->second.open.empty()) {
          GIConv cd = it->second.open.back();
          it->second.open.pop_back();
          return cd;
        }
      }
    }
    GIConv cd = g_iconv_open("UTF-8", iconv_name);
    if (cd == kNone) {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kConverterNames) idle_[iconv_name].known = false;
    }
    return cd;
  }

  // Gives back a converter Take returned.
  void Give(const char* iconv_name, GIConv cd) {
    if (cd == kNone) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(std::string_view(iconv_name));
      if (it == idle_.end() && idle_.size() < kConverterNames) {
        it = idle_.emplace(iconv_name, Idle{}).first;
      }
      if (it != idle_.end()) {
        it->second.open.push_back(cd);
        return;
      }
    }
    g_iconv_close(cd);
  }

  static inline const GIConv kNone = reinterpret_cast<GIConv>(-1);

 private:
  struct Idle {
    bool known = true;
    std::vector<GIConv> open;  // at most one per thread that converted at once
  };
  std::mutex mu_;
  std::map<std::string, Idle, std::less<>> idle_;  // guarded by mu_
};

class Converter {
 public:
  explicit Converter(const char* iconv_name)
      : name_(iconv_name), cd_(ConverterPool::Get().Take(iconv_name)) {}
  ~Converter() { ConverterPool::Get().Give(name_, cd_); }
  Converter(const Converter&) = delete;
  Converter& operator=(const Converter&) = delete;

  bool ok() const { return cd_ != ConverterPool::kNone; }
  GIConv get() const { return cd_; }

 private:
  const char* name_;
  GIConv cd_;
};

// `raw` in charset `iconv_name` to UTF-8; false (and `why`) when the charset is
// unknown or the bytes are not valid in it.
bool ConvertToUtf8(const std::string& raw, const char* iconv_name, std::string& out,
                   std::string& why) {
  const Converter converter(iconv_name);
  if (!converter.ok()) {
    why = "the charset is not supported";
    return false;
  }
  GIConv cd = converter.get();
  g_iconv(cd, nullptr, nullptr, nullptr, nullptr);  // back to the initial shift state
  out.assign(raw.size() + raw.size() / 2 + 16, '\0');
  gchar* in = const_cast<gchar*>(raw.data());
  gsize in_left = raw.size();
  gsize done = 0;
  bool flushing = false;
  for (;;) {
    gchar* o = out.data() + done;
    gsize o_left = out.size() - done;
    // A last call without input writes the shift back to the initial state
    // (ISO-2022-JP ends in ASCII).
    const gsize rc = flushing ? g_iconv(cd, nullptr, nullptr, &o, &o_left)
                              : g_iconv(cd, &in, &in_left, &o, &o_left);
    const int err = errno;
    done = static_cast<gsize>(o - out.data());
    if (rc != static_cast<gsize>(-1)) {
      if (flushing) break;
      flushing = true;
      continue;
    }
    if (err == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    why = err == EILSEQ ? "an invalid byte sequence" : "an incomplete byte sequence at the end";
    return false;
  }
  out.resize(done);
  return true;
}

// Converts a text part to UTF-8. A missing or unknown charset is not fatal:
// undeclared 8-bit text is read as windows-1252 (what senders without a
// declaration almost always mean), and bytes that still do not convert
// become U+FFFD.
std::string TextOf(GMimePart* part, ParsedMessage& msg) {
  std::string raw = DecodedContent(part);
  const char* declared = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  std::string charset = declared ? Lower(Trim(declared)) : "";
  if (charset.empty() || charset == "us-ascii" || charset == "ascii") {
    if (g_utf8_validate(raw.data(), static_cast<gssize>(raw.size()), nullptr)) return raw;
    charset = "windows-1252";
  }
  if (charset == "utf-8" || charset == "utf8") {
    bool repaired = false;
    std::string out = MakeValidUtf8(std::move(raw), &repaired);
    if (repaired) msg.warnings.push_back("invalid UTF-8 bytes in a text part were replaced");
    return out;
  }
  const char* iconv_name = g_mime_charset_iconv_name(charset.c_str());
  std::string converted, why;
  if (!ConvertToUtf8(raw, iconv_name, converted, why)) {
    msg.warnings.push_back("text in charset '" + charset + "' could not be converted (" + why +
                           "); invalid bytes were replaced");
    bool repaired = false;
    return MakeValidUtf8(std::move(raw), &repaired);
  }
  bool repaired = false;
  std::string out = MakeValidUtf8(std::move(converted), &repaired);
  if (repaired) msg.warnings.push_back("invalid bytes in charset '" + charset + "' were replaced");
  return out;
}

// RFC 3464 fields: blocks of "Name: value" lines separated by empty lines.
std::vector<std::vector<std::pair<std::string, std::string>>> ParseDsnBlocks(
    std::string_view body) {
  std::vector<std::vector<std::pair<std::string, std::string>>> blocks(1);
  std::istringstream in{std::string(body)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !blocks.back().empty()) {
      blocks.back().back().second += " " + Trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    blocks.back().emplace_back(Lower(Trim(line.substr(0, colon))), Trim(line.substr(colon + 1)));
  }
  if (blocks.back().empty()) blocks.pop_back();
  return blocks;
}

// "rfc822; user@example.com" -> "user@example.com".
std::string DsnAddress(const std::string& value) {
  const auto semi = value.find(';');
  std::string addr = Trim(semi == std::string::npos ? value : value.substr(semi + 1));
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>')
    addr = addr.substr(1, addr.size() - 2);
  return addr;
}

void ReadDeliveryStatus(const std::string& body, ParsedMessage& msg) {
  auto blocks = ParseDsnBlocks(body);
  // The first block holds per-message fields; each later one a recipient.
  for (std::size_t i = 1; i < blocks.size(); ++i) {
    DsnRecipient r;
    for (const auto& [name, value] : blocks[i]) {
      // Final-Recipient wins; Original-Recipient stands in when it is absent.
      if (name == "final-recipient" || (name == "original-recipient" && r.address.empty()))
        r.address = DsnAddress(value);
      else if (name == "action")
        r.action = Lower(value);
      else if (name == "status")
        r.status = value;
      else if (name == "diagnostic-code")
        r.diagnostic = DsnAddress(value);
    }
    if (!r.address.empty()) msg.dsn_recipients.push_back(std::move(r));
  }
}

std::string MessageIdFromHeaders(const std::string& headers) {
  for (const auto& block : ParseDsnBlocks(headers)) {
    for (const auto& [name, value] : block) {
      if (name == "message-id") {
        auto ids = ParseIds(value);
        if (!ids.empty()) return ids.front();
      }
    }
    break;  // only the header block counts
  }
  return {};
}

class Walker {
 public:
  explicit Walker(ParsedMessage& msg) : msg_(msg) {}

  void Walk(GMimeObject* obj, bool in_report) {
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      const std::string type = ContentTypeOf(obj);
      const bool report = type == "multipart/report";
      for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) {
        Walk(g_mime_multipart_get_part(mp, i), in_report || report);
      }
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      if (in_report && inner && msg_.dsn_original_message_id.empty()) {
        const char* id = g_mime_message_get_message_id(inner);
        if (id) msg_.dsn_original_message_id = id;
      }
      Attachment a;
      a.content_type = "message/rfc822";
      const char* subject = inner ? g_mime_message_get_subject(inner) : nullptr;
      bool ignored = false;
      a.filename = MakeValidUtf8(subject && *subject ? subject : "message", -1, &ignored) + ".eml";
      a.data = inner ? Serialized(GMIME_OBJECT(inner)) : std::string();
      AddAttachment(std::move(a));
      return;
    }
    if (!GMIME_IS_PART(obj)) return;
    GMimePart* part = GMIME_PART(obj);
    const std::string type = ContentTypeOf(obj);
    const char* disposition = g_mime_object_get_disposition(obj);
    const bool is_attachment = disposition && g_ascii_strcasecmp(disposition, "attachment") == 0;
    const char* filename = g_mime_part_get_filename(part);

    if (in_report &&
        (type == "message/delivery-status" || type == "message/global-delivery-status")) {
      msg_.is_dsn = true;
      ReadDeliveryStatus(DecodedContent(part), msg_);
      return;
    }
    if (in_report && type == "text/rfc822-headers") {
      if (msg_.dsn_original_message_id.empty()) {
        msg_.dsn_original_message_id = MessageIdFromHeaders(DecodedContent(part));
      }
    }
    if (!is_attachment && !filename) {
      if (type == "text/plain" && msg_.text_body.empty()) {
        msg_.text_body = TextOf(part, msg_);
        return;
      }
      if (type == "text/html" && msg_.html_body.empty()) {
        msg_.html_body = TextOf(part, msg_);
        return;
      }
    }
    Attachment a;
    bool repaired = false;
    a.filename = filename ? MakeValidUtf8(filename, -1, &repaired) : "";
    a.content_type = type;
    const char* cid = g_mime_part_get_content_id(part);
    if (cid) a.content_id = cid;
    a.is_inline = (disposition && g_ascii_strcasecmp(disposition, "inline") == 0) ||
                  (!disposition && !a.content_id.empty());
    a.data = DecodedContent(part);
    AddAttachment(std::move(a));
  }

 private:
  void AddAttachment(Attachment a) {
    a.sha256 = Sha256Hex(a.data);
    msg_.attachments.push_back(std::move(a));
  }

  ParsedMessage& msg_;
};

void DetectAutoSubmitted(GMimeObject* top, ParsedMessage& msg) {
  const std::string auto_submitted = Lower(Trim(HeaderValue(top, "Auto-Submitted")));
  if (!auto_submitted.empty() && auto_submitted != "no") {
    msg.auto_submitted = true;
    msg.auto_submitted_reason = "Auto-Submitted: " + auto_submitted;
    return;
  }
  for (const char* h : {"X-Autoreply", "X-Autorespond", "X-Autoresponder"}) {
    if (g_mime_object_get_header(top, h)) {
      msg.auto_submitted = true;
      msg.auto_submitted_reason = h;
      return;
    }
  }
  const std::string precedence = Lower(Trim(HeaderValue(top, "Precedence")));
  if (precedence == "bulk" || precedence == "junk" || precedence == "auto_reply" ||
      precedence == "list") {
    msg.auto_submitted = true;
    msg.auto_submitted_reason = "Precedence: " + precedence;
  }
}

// `raw_sha256` gives the message's digest; it is asked only when the message
// has no Message-ID.
StatusOr<ParsedMessage> ParseStream(GMimeStream* stream,
                                    const std::function<std::string()>& raw_sha256,
                                    const ParseOptions& options) {
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!message) {
    return Status::InvalidArgument(
        "not an RFC 5322 message: no header block could be read; the message was kept for "
        "inspection");
  }
  GMimeObject* top = GMIME_OBJECT(message.get());
  if (!g_mime_header_list_get_count(g_mime_object_get_header_list(top))) {
    return Status::InvalidArgument(
        "not an RFC 5322 message: it has no headers; the message was kept for inspection");
  }

  ParsedMessage msg;
  bool repaired = false;
  if (const char* id = g_mime_message_get_message_id(message.get()); id && *id) {
    msg.message_id = MakeValidUtf8(id, -1, &repaired);
  } else {
    // Derived from the content so that processing the same message again
    // yields the same id (exactly-once threading across crashes).
    msg.message_id = raw_sha256().substr(0, 32) + "@generated.mailgate.invalid";
    msg.message_id_generated = true;
  }
  msg.in_reply_to = ParseIds(HeaderValue(top, "In-Reply-To"));
  msg.references = ParseIds(HeaderValue(top, "References"));
  if (const char* s = g_mime_message_get_subject(message.get())) {
    msg.subject = MakeValidUtf8(s, -1, &repaired);
  }
  AppendAddresses(g_mime_message_get_from(message.get()), msg.from);
  AppendAddresses(g_mime_message_get_sender(message.get()), msg.sender);
  AppendAddresses(g_mime_message_get_reply_to(message.get()), msg.reply_to);
  AppendAddresses(g_mime_message_get_to(message.get()), msg.to);
  AppendAddresses(g_mime_message_get_cc(message.get()), msg.cc);
  msg.return_path = Trim(HeaderValue(top, "Return-Path"));
  if (msg.return_path.size() >= 2 && msg.return_path.front() == '<' &&
      msg.return_path.back() == '>') {
    msg.return_path = msg.return_path.substr(1, msg.return_path.size() - 2);
  }
  if (GDateTime* date = g_mime_message_get_date(message.get())) {
    msg.date = g_date_time_to_unix(date);
  } else {
    msg.date = options.fallback_date;
    msg.date_generated = true;
  }
  if (repaired) msg.warnings.push_back("invalid UTF-8 in a header was replaced");

  if (GMimeObject* body = g_mime_message_get_mime_part(message.get())) {
    Walker(msg).Walk(body, false);
  }
  if (msg.text_body.empty() && !msg.html_body.empty()) {
    msg.text_body = HtmlToText(msg.html_body);
    msg.text_from_html = true;
  }
  DetectAutoSubmitted(top, msg);
  return msg;
}

// A buffer to read spool files into, one per thread.
struct ReadBuffer {
  // Kept between messages up to this size; a larger message's buffer is
  // given back after it.
  static constexpr guint kKept = 4u << 20;

  GByteArray* bytes = g_byte_array_new();
  ReadBuffer() = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer() { g_byte_array_unref(bytes); }

  void Release() {
    if (bytes->len > kKept) {
      g_byte_array_unref(bytes);
      bytes = g_byte_array_new();
    }
    g_byte_array_set_size(bytes, 0);
  }
};

ReadBuffer& ThreadReadBuffer() {
  thread_local ReadBuffer buffer;
  return buffer;
}

}  // namespace

StatusOr<ParsedMessage> ParseMessage(std::string_view raw, const ParseOptions& options) {
  InitGMimeOnce();
  if (raw.empty()) return Status::InvalidArgument("the message is empty");
  // The memory stream copies; messages are parsed one at a time, so the copy
  // is bounded by the largest accepted message.
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  if (!options.raw_sha256.empty()) {
    return ParseStream(
        stream.get(), [&] { return options.raw_sha256; }, options);
  }
  return ParseStream(
      stream.get(), [raw] { return Sha256Hex(raw); }, options);
}

StatusOr<ParsedMessage> ParseMessageFile(const std::string& path, const ParseOptions& options) {
  InitGMimeOnce();
  // The file is read once, into the byte array the memory stream reads:
  // no copy of the message in between, and the parser's parts point into it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Io("cannot read the spool file '" + path + "': " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::Io("cannot read the spool file '" + path + "': " + std::strerror(errno));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return Status::InvalidArgument("the message is empty");
  // The thread's buffer, reused from one message to the next: memory the
  // kernel has already mapped (a fresh buffer costs a page fault per 4 KB as
  // the file is read into it). Nothing the parse returns points into it.
  ReadBuffer& buffer = ThreadReadBuffer();
  GByteArray* bytes = buffer.bytes;
  g_byte_array_set_size(bytes, static_cast<guint>(size));
  struct Done {
    ReadBuffer& buffer;
    ~Done() { buffer.Release(); }
  } done{buffer};
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(bytes));
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream.get()), FALSE);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, bytes->data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::Io("error reading the spool file '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) break;  // shorter than fstat said: parse what is there
    got += static_cast<std::size_t>(n);
  }
  g_byte_array_set_size(bytes, static_cast<guint>(got));
  if (!options.raw_sha256.empty()) {
    return ParseStream(
        stream.get(), [&] { return options.raw_sha256; }, options);
  }
  return ParseStream(
      stream.get(),
      [bytes] {
        return Sha256Hex(std::string_view(reinterpret_cast<const char*>(bytes->data), bytes->len));
      },
      options);
}

}  // namespace mailgate::mime
