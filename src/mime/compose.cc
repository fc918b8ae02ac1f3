#include "mime/compose.h"

#include <gmime/gmime.h>
#include <sodium.h>

#include <cctype>
#include <ctime>
#include <memory>
#include <mutex>

namespace mailgate::mime {
namespace {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

void InitGMimeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });  // counted by GMime: safe beside message.cc's
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// An addr-spec we are willing to put in a header and an envelope: one "@",
// something on both sides, no spaces, controls, brackets or commas.
bool PlausibleAddrSpec(std::string_view a) {
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  for (char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',' || c == '(' || c == ')' ||
        c == '"' || c == ';') {
      return false;
    }
  }
  return true;
}

Status CheckAddress(const Address& a, std::string_view role) {
  if (!PlausibleAddrSpec(a.email)) {
    return Status::InvalidArgument(std::string(role) + " address '" + a.email +
                                   "' is not an e-mail address like name@example.com");
  }
  return Status::Ok();
}

std::string Bracketed(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (id.empty()) continue;
    if (!out.empty()) out += ' ';
    out += '<';
    out += id;
    out += '>';
  }
  return out;
}

// Text with CRLF line ends (bare LF and bare CR become CRLF).
std::string Crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

GMimeObject* TextPart(const std::string& body) {
  GMimeTextPart* text = g_mime_text_part_new_with_subtype("plain");
  // Sets charset=utf-8 (us-ascii when it is) on the Content-Type.
  g_mime_text_part_set_text(text, body.c_str());
  GMimePart* part = GMIME_PART(text);
  // 7bit when it can be, else quoted-printable: readable by people and
  // safe through any relay (no 8BITMIME needed).
  g_mime_part_set_content_encoding(part, IsAscii(body) ? g_mime_part_get_best_content_encoding(
                                                             part, GMIME_ENCODING_CONSTRAINT_7BIT)
                                                       : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_OBJECT(text);
}

GMimeObject* AttachmentPart(const DraftAttachment& a) {
  std::string type = a.content_type.empty() ? "application/octet-stream" : a.content_type;
  const size_t slash = type.find('/');
  const std::string major = slash == std::string::npos ? "application" : type.substr(0, slash);
  const std::string minor = slash == std::string::npos ? "octet-stream" : type.substr(slash + 1);
  GMimePart* part = g_mime_part_new_with_type(major.c_str(), minor.c_str());
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(a.data.data(), a.data.size()));
  GPtr<GMimeDataWrapper> content(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, content.get());
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  // Content-Disposition: attachment; filename*=utf-8''... (RFC 2231) and the
  // Content-Type's name parameter for old readers.
  g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
  if (!a.filename.empty()) g_mime_part_set_filename(part, a.filename.c_str());
  return GMIME_OBJECT(part);
}

}  // namespace

StatusOr<Composed> Compose(const Draft& d) {
  InitGMimeOnce();
  MAILGATE_RETURN_IF_ERROR(CheckAddress(d.from, "the From"));
  if (d.to.empty() && d.cc.empty()) {
    return Status::InvalidArgument("a message needs at least one recipient (--to or --cc)");
  }
  for (const auto& a : d.to) MAILGATE_RETURN_IF_ERROR(CheckAddress(a, "the To"));
  for (const auto& a : d.cc) MAILGATE_RETURN_IF_ERROR(CheckAddress(a, "the Cc"));
  for (const auto& a : d.attachments) {
    if (a.content_type.find_first_of("\r\n;\"") != std::string::npos) {
      return Status::InvalidArgument("attachment content type '" + a.content_type +
                                     "' is not a type/subtype");
    }
  }

  Composed out;
  const size_t at = d.from.email.rfind('@');
  out.message_id = d.message_id.empty() ? NewMessageId(d.from.email.substr(at + 1)) : d.message_id;

  GPtr<GMimeMessage> message(g_mime_message_new(TRUE));
  auto add = [&](GMimeAddressType type, const Address& a) {
    g_mime_message_add_mailbox(message.get(), type, a.name.empty() ? nullptr : a.name.c_str(),
                               a.email.c_str());
  };
  add(GMIME_ADDRESS_TYPE_FROM, d.from);
  for (const auto& a : d.to) add(GMIME_ADDRESS_TYPE_TO, a);
  for (const auto& a : d.cc) add(GMIME_ADDRESS_TYPE_CC, a);
  g_mime_message_set_subject(message.get(), d.subject.c_str(), "utf-8");
  const int64_t when = d.date != 0 ? d.date : static_cast<int64_t>(::time(nullptr));
  GDateTime* date = g_date_time_new_from_unix_utc(when);
  g_mime_message_set_date(message.get(), date);
  g_date_time_unref(date);
  g_mime_message_set_message_id(message.get(), out.message_id.c_str());
  if (!d.in_reply_to.empty()) {
    std::vector<std::string> refs = d.references;
    refs.push_back(d.in_reply_to);
    const std::string irt = "<" + d.in_reply_to + ">";
    g_mime_object_set_header(GMIME_OBJECT(message.get()), "In-Reply-To", irt.c_str(), nullptr);
    g_mime_object_set_header(GMIME_OBJECT(message.get()), "References", Bracketed(refs).c_str(),
                             nullptr);
  }

  const std::string body = Crlf(d.text_body);
  if (d.attachments.empty()) {
    GPtr<GMimeObject> text(TextPart(body));
    g_mime_message_set_mime_part(message.get(), text.get());
  } else {
    GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
    GPtr<GMimeObject> text(TextPart(body));
    g_mime_multipart_add(mixed.get(), text.get());
    for (const auto& a : d.attachments) {
      GPtr<GMimeObject> part(AttachmentPart(a));
      g_mime_multipart_add(mixed.get(), part.get());
    }
    g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(mixed.get()));
  }

  GMimeFormatOptions* format = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  const ssize_t n =
      g_mime_object_write_to_stream(GMIME_OBJECT(message.get()), format, stream.get());
  g_mime_format_options_free(format);
  if (n < 0) return Status::Internal("GMime could not write the message; please report this bug");
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
  out.raw.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
  return out;
}

std::string NewMessageId(std::string_view domain, const std::function<std::uint32_t()>& random) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    const std::uint32_t v = random ? random() : randombytes_random();
    for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xf];
  }
  out += '@';
  out += domain.empty() ? std::string_view("mailgate.invalid") : domain;
  return out;
}

StatusOr<Address> ParseAddress(std::string_view text) {
  InitGMimeOnce();
  const std::string s(text);
  GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, s.c_str()));
  if (!list || internet_address_list_length(list.get()) != 1) {
    return Status::InvalidArgument("'" + s +
                                   "' is not one e-mail address (name@example.com or "
                                   "\"Name <name@example.com>\")");
  }
  InternetAddress* ia = internet_address_list_get_address(list.get(), 0);
  if (!INTERNET_ADDRESS_IS_MAILBOX(ia)) {
    return Status::InvalidArgument("'" + s + "' is a group, not one e-mail address");
  }
  Address a;
  const char* name = internet_address_get_name(ia);
  if (name) a.name = name;
  a.email = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
  MAILGATE_RETURN_IF_ERROR(CheckAddress(a, "the"));
  return a;
}

std::string ReplySubject(std::string_view subject) {
  if (subject.size() >= 3 && std::tolower(static_cast<unsigned char>(subject[0])) == 'r' &&
      std::tolower(static_cast<unsigned char>(subject[1])) == 'e' && subject[2] == ':') {
    return std::string(subject);
  }
  return "Re: " + std::string(subject);
}

}  // namespace mailgate::mime
