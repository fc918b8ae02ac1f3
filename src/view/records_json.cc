#include "view/records_json.h"

#include <string>

#include "pipeline/config.h"

namespace mailgate::view {

namespace json = boost::json;

json::object TransportJson(const store::Transport& t) {
  return json::object{{"name", t.name},
                      {"host", t.host},
                      {"port", t.port},
                      {"effective_port", static_cast<int>(pipeline::EffectivePort(t))},
                      {"encryption", t.encryption},
                      {"auth", t.auth},
                      {"username", t.username},
                      {"password_set", !t.password.empty()},
                      {"account", t.account},
                      {"timeout_seconds", t.timeout_seconds},
                      {"created_at", t.created_at}};
}

json::object MailboxJson(const store::Mailbox& m) {
  return json::object{{"name", m.name},
                      {"enabled", m.enabled},
                      {"protocol", m.protocol},
                      {"host", m.host},
                      {"port", m.port},
                      {"effective_port", static_cast<int>(pipeline::EffectivePort(m))},
                      {"encryption", m.encryption},
                      {"username", m.username},
                      {"auth", m.auth},
                      {"password_set", !m.password.empty()},
                      {"account", m.account},
                      {"folder", m.folder},
                      {"after_download", m.after_download},
                      {"max_size_kb", m.max_size_kb},
                      {"download_oversized", m.download_oversized},
                      {"timeout_seconds", m.timeout_seconds},
                      {"max_messages_per_run", m.max_messages_per_run},
                      {"push", m.push},
                      {"state", json::object{{"checked_at", m.checked_at},
                                             {"consecutive_failures", m.consecutive_failures},
                                             {"delayed_until", m.delayed_until},
                                             {"last_error", m.last_error},
                                             {"last_success_at", m.last_success_at}}},
                      {"created_at", m.created_at}};
}

json::array AddressesJson(const std::vector<store::AddressRecord>& list) {
  json::array out;
  for (const auto& a : list) out.push_back(json::object{{"name", a.name}, {"email", a.email}});
  return out;
}

std::string AddressesText(const std::vector<store::AddressRecord>& list) {
  std::string out;
  for (const auto& a : list) {
    if (!out.empty()) out += ", ";
    if (!a.name.empty()) {
      out += a.name;
      out += " <";
      out += a.email;
      out += '>';
    } else {
      out += a.email;
    }
  }
  return out;
}

json::object ConversationJson(const store::Conversation& c) {
  return json::object{{"id", c.id},
                      {"mask", c.mask},
                      {"subject", c.subject},
                      {"mailbox_id", c.mailbox_id},
                      {"message_count", c.message_count},
                      {"last_from", c.last_from},
                      {"created_at", c.created_at},
                      {"updated_at", c.updated_at}};
}

json::object MessageJson(const store::MessageRecord& m) {
  json::array attachments;
  for (const auto& a : m.attachments) {
    attachments.push_back(json::object{{"id", a.id},
                                       {"filename", a.filename},
                                       {"content_type", a.content_type},
                                       {"content_id", a.content_id},
                                       {"inline", a.is_inline},
                                       {"sha256", a.sha256},
                                       {"size", a.size}});
  }
  return json::object{{"id", m.id},
                      {"direction", m.direction},
                      {"message_id", m.message_id},
                      {"message_id_generated", m.message_id_generated},
                      {"in_reply_to", json::array(m.in_reply_to.begin(), m.in_reply_to.end())},
                      {"references", json::array(m.references.begin(), m.references.end())},
                      {"subject", m.subject},
                      {"from", AddressesJson(m.from)},
                      {"reply_to", AddressesJson(m.reply_to)},
                      {"to", AddressesJson(m.to)},
                      {"cc", AddressesJson(m.cc)},
                      {"date", m.date},
                      {"date_generated", m.date_generated},
                      {"text_body", m.text_body},
                      {"html_body", m.html_body},
                      {"text_from_html", m.text_from_html},
                      {"auto_submitted", m.auto_submitted},
                      {"is_bounce", m.is_bounce},
                      {"sha256", m.sha256},
                      {"size", m.size},
                      {"thread_reason", m.thread_reason},
                      {"attachments", std::move(attachments)}};
}

json::object DownloadJson(const store::Download& d) {
  return json::object{{"id", d.id},
                      {"mailbox", d.mailbox_name},
                      {"uidvalidity", d.uidvalidity},
                      {"uid", d.uid},
                      {"size", d.size},
                      {"sha256", d.sha256},
                      {"spool_path", d.spool_path},
                      {"state", store::DownloadStateName(d.state)},
                      {"error", d.error},
                      {"downloaded_at", d.downloaded_at}};
}

json::object RunJson(const store::Run& r) {
  return json::object{{"id", r.id},
                      {"job", r.job},
                      {"subject", r.subject},
                      {"started_at", r.started_at},
                      {"finished_at", r.finished_at},
                      {"status", r.status},
                      {"summary", r.summary}};
}

json::array RunLogJson(const std::vector<store::RunLogLine>& lines) {
  json::array out;
  for (const auto& l : lines) {
    out.push_back(json::object{{"at_ms", l.at_ms}, {"level", l.level}, {"text", l.text}});
  }
  return out;
}

json::object OutgoingJson(const store::OutgoingMessage& m) {
  json::array results;
  for (const auto& r : m.results) {
    results.push_back(
        json::object{{"address", r.address}, {"code", r.code}, {"text", r.text}, {"at", r.at}});
  }
  return json::object{{"id", m.id},
                      {"state", store::OutgoingStateName(m.state)},
                      {"transport", m.transport},
                      {"from", m.mail_from},
                      {"recipients", json::array(m.recipients.begin(), m.recipients.end())},
                      {"message_id", m.message_id},
                      {"subject", m.subject},
                      {"conversation_id", m.conversation_id},
                      {"attempts", m.attempts},
                      {"next_attempt_at", m.next_attempt_at},
                      {"last_error", m.last_error},
                      {"results", std::move(results)},
                      {"created_at", m.created_at},
                      {"sent_at", m.sent_at}};
}

}  // namespace mailgate::view
