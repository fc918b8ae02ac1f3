// SqlStore: conversations, messages, attachments and undeliverable addresses.
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>

#include "store/sql_store.h"

namespace mailgate::store {
namespace {

// List columns (addresses, Message-ID lists) hold one entry per line. An
// address line is "email<TAB>name", so even an empty address is a non-empty
// line and "" can only mean an empty list. CR, LF and TAB carry no meaning
// in a display name or address and become spaces; in a Message-ID they are
// dropped, and empty IDs are left out.
std::string Flatten(std::string_view s, bool drop) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\t') {
      if (!drop) out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  if (text.empty()) return out;
  size_t i = 0;
  for (;;) {
    const size_t j = text.find('\n', i);
    if (j == std::string_view::npos) {
      out.push_back(text.substr(i));
      return out;
    }
    out.push_back(text.substr(i, j - i));
    i = j + 1;
  }
}

std::string EncodeAddresses(const std::vector<AddressRecord>& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += '\n';
    out += Flatten(list[i].email, false);
    out += '\t';
    out += Flatten(list[i].name, false);
  }
  return out;
}

std::vector<AddressRecord> DecodeAddresses(std::string_view text) {
  std::vector<AddressRecord> out;
  for (std::string_view line : Lines(text)) {
    const size_t tab = line.find('\t');
    AddressRecord a;
    a.email = std::string(line.substr(0, tab));
    if (tab != std::string_view::npos) a.name = std::string(line.substr(tab + 1));
    out.push_back(std::move(a));
  }
  return out;
}

std::string EncodeIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    std::string clean = Flatten(id, true);
    if (clean.empty()) continue;
    if (!out.empty()) out += '\n';
    out += clean;
  }
  return out;
}

std::vector<std::string> DecodeIds(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view line : Lines(text)) out.emplace_back(line);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kConversationColumns =
    "id, mask, subject, mailbox_id, message_count, last_from, created_at, updated_at";

constexpr std::string_view kMessageColumns =
    "id, conversation_id, mailbox_id, download_id, direction, message_id, message_id_generated, "
    "in_reply_to, refs, subject, from_addrs, reply_to_addrs, to_addrs, cc_addrs, return_path, "
    "date, date_generated, text_body, html_body, text_from_html, auto_submitted, "
    "auto_submitted_reason, is_bounce, sha256, size, thread_reason, created_at";

Conversation ConversationFromRow(const SqlRow& row) {
  Conversation c;
  c.id = ToInt(row[0]);
  c.mask = ToText(row[1]);
  c.subject = ToText(row[2]);
  c.mailbox_id = ToInt(row[3]);
  c.message_count = static_cast<int>(ToInt(row[4]));
  c.last_from = ToText(row[5]);
  c.created_at = ToInt(row[6]);
  c.updated_at = ToInt(row[7]);
  return c;
}

MessageRecord MessageFromRow(const SqlRow& row) {
  MessageRecord m;
  m.id = ToInt(row[0]);
  m.conversation_id = ToInt(row[1]);
  m.mailbox_id = ToInt(row[2]);
  m.download_id = ToInt(row[3]);  // NULL (outgoing) reads as 0
  m.direction = ToText(row[4]);
  m.message_id = ToText(row[5]);
  m.message_id_generated = ToInt(row[6]) != 0;
  m.in_reply_to = DecodeIds(ToText(row[7]));
  m.references = DecodeIds(ToText(row[8]));
  m.subject = ToText(row[9]);
  m.from = DecodeAddresses(ToText(row[10]));
  m.reply_to = DecodeAddresses(ToText(row[11]));
  m.to = DecodeAddresses(ToText(row[12]));
  m.cc = DecodeAddresses(ToText(row[13]));
  m.return_path = ToText(row[14]);
  m.date = ToInt(row[15]);
  m.date_generated = ToInt(row[16]) != 0;
  m.text_body = ToText(row[17]);
  m.html_body = ToText(row[18]);
  m.text_from_html = ToInt(row[19]) != 0;
  m.auto_submitted = ToInt(row[20]) != 0;
  m.auto_submitted_reason = ToText(row[21]);
  m.is_bounce = ToInt(row[22]) != 0;
  m.sha256 = ToText(row[23]);
  m.size = static_cast<uint64_t>(ToInt(row[24]));
  m.thread_reason = ToText(row[25]);
  m.created_at = ToInt(row[26]);
  return m;
}

Status NoSuchConversation(int64_t id) {
  return Status::NotFound("no conversation with id " + std::to_string(id) +
                          "; see `mailgate conversation list` for the conversations that exist");
}

}  // namespace

StatusOr<std::optional<int64_t>> SqlStore::ConversationByMessageId(std::string_view message_id) {
  const SqlValue params[] = {std::string(message_id)};
  auto r = db_->Query(
      "SELECT conversation_id FROM messages WHERE message_id = ? ORDER BY id LIMIT 1", params);
  if (!r.ok()) return r.status().WithContext("looking up a conversation by Message-ID");
  if (r->rows.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(ToInt(r->rows[0][0]));
}

StatusOr<std::optional<int64_t>> SqlStore::ConversationByMask(std::string_view mask) {
  const SqlValue params[] = {std::string(mask)};
  auto r = db_->Query("SELECT id FROM conversations WHERE mask = ?", params);
  if (!r.ok()) return r.status().WithContext("looking up a conversation by mask");
  if (r->rows.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(ToInt(r->rows[0][0]));
}

StatusOr<StoredMessageIds> SqlStore::StoreReceivedMessage(const ReceivedMessage& received,
                                                          int64_t now) {
  const MessageRecord& m = received.message;
  StoredMessageIds ids;
  Status s = InTransaction([&]() -> Status {
    ids = {};
    // Claim the download first: of two processors racing for it, the second
    // stops here and its transaction changes nothing.
    if (received.download_id != 0) {
      const SqlValue claim[] = {now, received.download_id};
      auto r = db_->Query(
          "UPDATE downloads SET state = 'processed', processed_at = ? "
          "WHERE id = ? AND state = 'pending'",
          claim);
      if (!r.ok()) return r.status();
      if (r->affected == 0) {
        const SqlValue id[] = {received.download_id};
        auto state = db_->Query("SELECT state FROM downloads WHERE id = ?", id);
        if (!state.ok()) return state.status();
        if (state->rows.empty()) {
          return Status::NotFound("no download with id " + std::to_string(received.download_id) +
                                  "; nothing was stored");
        }
        std::string msg = "download " + std::to_string(received.download_id);
        msg += " is ";
        msg += ToText(state->rows[0][0]);
        msg += ", not pending (already processed?); nothing was stored";
        return Status::FailedPrecondition(std::move(msg));
      }
    }

    const std::string last_from = m.from.empty() ? std::string() : m.from.front().email;
    if (!received.conversation_id) {
      const SqlValue conv[] = {received.new_mask, m.subject, m.mailbox_id, last_from, now, m.date};
      auto r = db_->Query(
          "INSERT INTO conversations (mask, subject, mailbox_id, message_count, last_from, "
          "created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?) RETURNING id",
          conv);
      if (r.status().kind() == Status::Kind::kAlreadyExists) {
        return Status::AlreadyExists("the conversation mask '" + received.new_mask +
                                     "' is taken; choose another mask");
      }
      if (!r.ok()) return r.status();
      ids.conversation_id = ToInt(r->rows.at(0).at(0));
      ids.created_conversation = true;
    } else {
      // last_from and updated_at follow the newest message, whatever order
      // messages arrive in.
      ids.conversation_id = *received.conversation_id;
      const SqlValue conv[] = {m.date, last_from, m.date, m.date, ids.conversation_id};
      auto r = db_->Query(
          "UPDATE conversations SET message_count = message_count + 1, "
          "last_from = CASE WHEN ? >= updated_at THEN ? ELSE last_from END, "
          "updated_at = CASE WHEN ? > updated_at THEN ? ELSE updated_at END WHERE id = ?",
          conv);
      if (!r.ok()) return r.status();
      if (r->affected == 0) return NoSuchConversation(ids.conversation_id);
    }

    const SqlValue msg[] = {
        ids.conversation_id,
        m.mailbox_id,
        received.download_id != 0 ? SqlValue(received.download_id) : SqlValue(nullptr),
        m.direction,
        m.message_id,
        int64_t{m.message_id_generated},
        EncodeIds(m.in_reply_to),
        EncodeIds(m.references),
        m.subject,
        EncodeAddresses(m.from),
        EncodeAddresses(m.reply_to),
        EncodeAddresses(m.to),
        EncodeAddresses(m.cc),
        m.return_path,
        m.date,
        int64_t{m.date_generated},
        m.text_body,
        m.html_body,
        int64_t{m.text_from_html},
        int64_t{m.auto_submitted},
        m.auto_submitted_reason,
        int64_t{m.is_bounce},
        m.sha256,
        static_cast<int64_t>(m.size),
        m.thread_reason,
        now};
    auto r = db_->Query(
        "INSERT INTO messages (conversation_id, mailbox_id, download_id, direction, message_id, "
        "message_id_generated, in_reply_to, refs, subject, from_addrs, reply_to_addrs, "
        "to_addrs, cc_addrs, return_path, date, date_generated, text_body, html_body, "
        "text_from_html, auto_submitted, auto_submitted_reason, is_bounce, sha256, size, "
        "thread_reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        msg);
    if (!r.ok()) return r.status();
    ids.message_id = ToInt(r->rows.at(0).at(0));

    for (size_t i = 0; i < m.attachments.size(); ++i) {
      const AttachmentRecord& a = m.attachments[i];
      const std::string sha256 = a.sha256.empty() ? Sha256Hex(a.data) : a.sha256;
      const auto size = static_cast<int64_t>(a.data.size());
      // Stored once per digest: a second message with the same bytes finds
      // them there. With attachment files, the bytes are appended to a pack
      // (once, outside SQLite's journal) and the row says where; the commit
      // waits until they are durable (InTransaction, Batch).
      if (files_) {
        const SqlValue exists_params[] = {sha256};
        auto found = db_->Query("SELECT 1 FROM blobs WHERE sha256 = ?", exists_params);
        if (!found.ok()) return found.status();
        if (found->rows.empty()) {
          auto at = files_->Put(sha256, a.data);
          if (!at.ok()) return at.status();
          const SqlValue blob[] = {sha256, size, SqlBlob{}, std::move(at->pack),
                                   static_cast<int64_t>(at->offset)};
          auto b = db_->Query(
              "INSERT INTO blobs (sha256, size, data, pack, pack_offset) VALUES (?, ?, ?, ?, ?)",
              blob);
          if (!b.ok()) return b.status();
        }
      } else {
        const SqlValue blob[] = {sha256, size, SqlBlob{a.data}};
        auto b = db_->Query(
            "INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            blob);
        if (!b.ok()) return b.status();
      }
      const SqlValue att[] = {ids.message_id, static_cast<int64_t>(i), a.filename, a.content_type,
                              a.content_id,   int64_t{a.is_inline},    sha256,     size};
      auto ar = db_->Query(
          "INSERT INTO attachments (message_id, position, filename, content_type, content_id, "
          "is_inline, sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          att);
      if (!ar.ok()) return ar.status();
    }

    for (const UndeliverableAddress& u : received.undeliverable) {
      const SqlValue params[] = {Lower(u.email), u.status, u.diagnostic, ids.message_id,
                                 u.reported_at != 0 ? u.reported_at : now};
      auto ur = db_->Query(
          "INSERT INTO undeliverable_addresses (email, status, diagnostic, message_id, "
          "reported_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET "
          "status = excluded.status, diagnostic = excluded.diagnostic, "
          "message_id = excluded.message_id, reported_at = excluded.reported_at",
          params);
      if (!ur.ok()) return ur.status();
    }
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("storing a message");
  return ids;
}

StatusOr<std::vector<Conversation>> SqlStore::ListConversations(int limit, int offset) {
  const SqlValue params[] = {int64_t{limit}, int64_t{offset}};
  std::string sql = "SELECT ";
  sql += kConversationColumns;
  sql += " FROM conversations ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?";
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("listing conversations");
  std::vector<Conversation> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back(ConversationFromRow(row));
  return out;
}

StatusOr<Conversation> SqlStore::GetConversation(int64_t id) {
  const SqlValue params[] = {id};
  std::string sql = "SELECT ";
  sql += kConversationColumns;
  sql += " FROM conversations WHERE id = ?";
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("reading conversation " + std::to_string(id));
  if (r->rows.empty()) return NoSuchConversation(id);
  return ConversationFromRow(r->rows[0]);
}

StatusOr<std::vector<MessageRecord>> SqlStore::ConversationMessages(int64_t conversation_id) {
  const SqlValue params[] = {conversation_id};
  std::string sql = "SELECT ";
  sql += kMessageColumns;
  sql += " FROM messages WHERE conversation_id = ? ORDER BY date, id";
  auto r = db_->Query(sql, params);
  if (!r.ok()) {
    return r.status().WithContext("reading the messages of conversation " +
                                  std::to_string(conversation_id));
  }
  std::vector<MessageRecord> out;
  out.reserve(r->rows.size());
  std::map<int64_t, size_t> index;  // message id -> position in `out`
  for (const auto& row : r->rows) {
    out.push_back(MessageFromRow(row));
    index[out.back().id] = out.size() - 1;
  }
  if (out.empty()) return out;
  auto a = db_->Query(
      "SELECT a.message_id, a.id, a.filename, a.content_type, a.content_id, a.is_inline, "
      "a.sha256, a.size FROM attachments a JOIN messages m ON m.id = a.message_id "
      "WHERE m.conversation_id = ? ORDER BY a.message_id, a.position",
      params);
  if (!a.ok()) {
    return a.status().WithContext("reading the attachments of conversation " +
                                  std::to_string(conversation_id));
  }
  for (const auto& row : a->rows) {
    auto it = index.find(ToInt(row[0]));
    if (it == index.end()) continue;
    AttachmentRecord att;
    att.id = ToInt(row[1]);
    att.filename = ToText(row[2]);
    att.content_type = ToText(row[3]);
    att.content_id = ToText(row[4]);
    att.is_inline = ToInt(row[5]) != 0;
    att.sha256 = ToText(row[6]);
    att.size = static_cast<uint64_t>(ToInt(row[7]));
    out[it->second].attachments.push_back(std::move(att));
  }
  return out;
}

StatusOr<std::string> SqlStore::AttachmentData(std::string_view sha256) {
  const SqlValue params[] = {std::string(sha256)};
  auto r = db_->Query("SELECT data, pack, pack_offset, size FROM blobs WHERE sha256 = ?", params);
  if (!r.ok()) return r.status().WithContext("reading attachment data");
  if (r->rows.empty()) {
    return Status::NotFound("no attachment with SHA-256 " + std::string(sha256) +
                            "; open the message again to get a current link");
  }
  const SqlRow& row = r->rows[0];
  const std::string pack = ToText(row[1]);
  if (pack.empty()) return ToText(row[0]);
  if (!files_) {
    return Status::FailedPrecondition("the bytes of attachment " + std::string(sha256) +
                                      " are in a pack file, and this store has no attachment "
                                      "folder");
  }
  auto data = files_->Get(pack, static_cast<uint64_t>(ToInt(row[2])),
                          static_cast<uint64_t>(ToInt(row[3])), sha256);
  if (!data.ok()) return data.status().WithContext("reading attachment data");
  return data;
}

StatusOr<std::vector<UndeliverableAddress>> SqlStore::ListUndeliverable() {
  auto r = db_->Query(
      "SELECT email, status, diagnostic, message_id, reported_at FROM undeliverable_addresses "
      "ORDER BY email",
      {});
  if (!r.ok()) return r.status().WithContext("listing undeliverable addresses");
  std::vector<UndeliverableAddress> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    out.push_back({ToText(row[0]), ToText(row[1]), ToText(row[2]), ToInt(row[3]), ToInt(row[4])});
  }
  return out;
}

}  // namespace mailgate::store
