#include "serve/outbox.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <iterator>
#include <memory>
#include <utility>

#include "base/sha256.h"
#include "mime/message.h"
#include "pipeline/threading.h"
#include "serve/metrics.h"
#include "smtp/smtp_client.h"

namespace mailgate::serve {

namespace asio = boost::asio;

namespace {

int64_t Now(const OutboxEnv& env) {
  return env.now ? env.now() : static_cast<int64_t>(::time(nullptr));
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::vector<store::AddressRecord> Records(std::vector<mime::Address> list) {
  std::vector<store::AddressRecord> out;
  for (auto& a : list) out.push_back({std::move(a.name), std::move(a.email)});
  return out;
}

std::string Minutes(int64_t seconds) {
  const int64_t m = (seconds + 59) / 60;
  return std::to_string(m) + (m == 1 ? " minute" : " minutes");
}

// One delivery attempt's raw outcome, before it is classified.
struct AttemptOutcome {
  Status status;                               // the transaction failed as a whole (or before it)
  smtp::SendResult result;                     // when status is OK
  std::vector<smtp::RecipientResult> refused;  // status failed: every recipient refused
  std::unique_ptr<smtp::Client> client;        // still connected after DATA: QUIT later
};

asio::awaitable<AttemptOutcome> Attempt(asio::any_io_executor ex, store::Transport t,
                                        pipeline::ConnectEnv connect, store::OutgoingMessage m,
                                        pipeline::RunLog* log) {
  AttemptOutcome out;
  const net::ConnectOptions options = pipeline::ConnectOptionsFor(t, connect);
  const smtp::ClientOptions client_options;
  const net::TraceFn trace = connect.trace;
  const auto start = std::chrono::steady_clock::now();
  auto client = co_await smtp::Client::Connect(ex, options, client_options, trace);
  if (!client.ok()) {
    out.status = client.status();
    co_return out;
  }
  log->Info("Connected to " + t.host + ":" + std::to_string(pipeline::EffectivePort(t)) + " (" +
            pipeline::FormatDuration(std::chrono::steady_clock::now() - start) + ")");
  if (t.auth != "none") {
    auto auth = pipeline::AuthOptionsFor(t, connect);
    if (!auth.ok()) {
      out.status = auth.status();
      co_return out;
    }
    Status authenticated = co_await (*client)->Authenticate(*auth);
    if (!authenticated.ok()) {
      out.status = authenticated;
      co_return out;
    }
  }
  const smtp::Envelope envelope{m.mail_from, m.recipients};
  auto sent = co_await (*client)->Send(envelope, m.raw);
  if (!sent.ok()) {
    out.status = sent.status();
    out.refused = (*client)->refused_recipients();
  } else {
    out.result = std::move(*sent);
  }
  out.client = std::move(*client);
  co_return out;
}

// Records each recipient's reply in `a`; a 4xx refusal keeps its recipient
// for the next attempt. Returns the refusals as one line for last_error.
std::string RecordRecipients(const std::vector<smtp::RecipientResult>& recipients, int64_t now,
                             store::OutgoingAttempt& a) {
  std::string refused;
  for (const auto& r : recipients) {
    a.results.push_back({r.address, r.reply.code, r.reply.Text(), now});
    if (r.accepted()) {
      a.delivered_any = true;
      continue;
    }
    if (!refused.empty()) refused += "; ";
    refused += r.address + ": " + std::to_string(r.reply.code) + " " + r.reply.Text();
    if (r.reply.code >= 400 && r.reply.code < 500) a.remaining.push_back(r.address);
  }
  return refused;
}

// What to record for an attempt.
store::OutgoingAttempt Classify(const store::OutgoingMessage& m, const AttemptOutcome& o,
                                int64_t now) {
  store::OutgoingAttempt a;
  const bool expired = now - m.created_at >= kGiveUpAfterSeconds;
  if (!o.status.ok() && !o.refused.empty()) {
    // Every recipient refused: each one's reply is recorded; the 4xx ones are
    // tried again, and when none is left the message has failed. With one
    // recipient the error is the client's, which explains known replies.
    const std::string refused = RecordRecipients(o.refused, now, a);
    a.error =
        o.refused.size() == 1 ? o.status.message() : "every recipient was refused: " + refused;
    if (!a.remaining.empty() && !expired) {
      a.state = store::OutgoingState::kQueued;
      a.next_attempt_at = now + RetryDelaySeconds(m.attempts);
      return a;
    }
    if (!a.remaining.empty()) a.error += " (gave up after 24 hours of retries)";
    a.remaining.clear();
    a.state = store::OutgoingState::kFailed;
    return a;
  }
  if (!o.status.ok()) {
    if (o.status.kind() == Status::Kind::kPermanent || expired) {
      a.state = store::OutgoingState::kFailed;
      a.error = o.status.message();
      if (expired && o.status.kind() != Status::Kind::kPermanent) {
        a.error += " (gave up after 24 hours of retries)";
      }
      return a;
    }
    a.state = store::OutgoingState::kQueued;
    a.remaining = m.recipients;
    a.next_attempt_at = now + RetryDelaySeconds(m.attempts);
    a.error = o.status.message();
    return a;
  }
  a.error = RecordRecipients(o.result.recipients, now, a);
  if (!a.remaining.empty() && !expired) {
    a.state = store::OutgoingState::kQueued;
    a.next_attempt_at = now + RetryDelaySeconds(m.attempts);
  } else {
    a.remaining.clear();
    a.state = store::OutgoingState::kSent;
  }
  return a;
}

}  // namespace

int64_t RetryDelaySeconds(int attempts) {
  static constexpr int64_t kMinutes[] = {1, 2, 5, 10, 30, 60};
  const int i = attempts < 1 ? 0 : attempts - 1;
  const int last = static_cast<int>(std::size(kMinutes)) - 1;
  return 60 * kMinutes[i > last ? last : i];
}

StatusOr<std::string> ChooseTransport(store::Store& store, const std::string& requested,
                                      const std::string& from_email) {
  if (!requested.empty()) {
    auto t = store.GetTransport(requested);
    if (!t.ok()) return t.status();
    return t->name;
  }
  auto all = store.ListTransports();
  if (!all.ok()) return all.status();
  for (const auto& t : *all) {
    if (Lower(t.username) == Lower(from_email)) return t.name;
  }
  if (all->size() == 1) return all->front().name;
  if (all->empty()) {
    return Status::InvalidArgument(
        "there is no transport to send with; add one with `mailgate transport add`");
  }
  return Status::InvalidArgument("no transport's user name is " + from_email +
                                 "; choose one with --transport (see `mailgate transport list`)");
}

StatusOr<int64_t> QueueMessage(store::Store& store, OutgoingRequest req, int64_t now) {
  mime::Draft& d = req.draft;
  int64_t conversation_id = 0;
  if (req.reply_to_conversation != 0) {
    auto conv = store.GetConversation(req.reply_to_conversation);
    if (!conv.ok()) return conv.status();
    auto messages = store.ConversationMessages(conv->id);
    if (!messages.ok()) return messages.status();
    if (!messages->empty()) {
      // Reply to the newest message: its id and references thread the reply
      // in every mail client, and our processor threads the answer back.
      const store::MessageRecord& parent = messages->back();
      d.in_reply_to = parent.message_id;
      d.references = parent.references;
      if (d.to.empty() && d.cc.empty()) {
        const auto& who = !parent.reply_to.empty() ? parent.reply_to : parent.from;
        for (const auto& a : who) d.to.push_back({a.name, a.email});
      }
    }
    if (d.subject.empty()) d.subject = mime::ReplySubject(conv->subject);
    conversation_id = conv->id;
  }
  auto transport = ChooseTransport(store, req.transport, d.from.email);
  if (!transport.ok()) return transport.status();
  if (d.date == 0) d.date = now;
  auto composed = mime::Compose(d);
  if (!composed.ok()) return composed.status();
  store::OutgoingMessage m;
  m.transport = *transport;
  m.mail_from = d.from.email;
  for (const auto& a : d.to) m.recipients.push_back(a.email);
  for (const auto& a : d.cc) m.recipients.push_back(a.email);
  m.message_id = composed->message_id;
  m.subject = d.subject;
  m.conversation_id = conversation_id;
  m.raw = std::move(composed->raw);
  return store.QueueOutgoing(m, now);
}

Status StoreSentMessage(store::Store& store, const store::OutgoingMessage& m, int64_t now,
                        const std::function<std::uint32_t()>& random) {
  auto existing = store.ConversationByMessageId(m.message_id);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return store.MarkOutgoingStored(m.id, **existing);

  mime::ParseOptions options;
  options.fallback_date = now;
  auto parsed = mime::ParseMessage(m.raw, options);
  if (!parsed.ok()) return parsed.status().WithContext("reading back a sent message");
  mime::ParsedMessage& p = *parsed;
  store::ReceivedMessage received;
  if (m.conversation_id != 0) received.conversation_id = m.conversation_id;
  received.new_mask = pipeline::NewMask(random ? random : [] { return randombytes_random(); });
  store::MessageRecord& r = received.message;
  r.direction = "out";
  r.message_id = m.message_id;
  r.in_reply_to = std::move(p.in_reply_to);
  r.references = std::move(p.references);
  r.subject = std::move(p.subject);
  r.from = Records(std::move(p.from));
  r.reply_to = Records(std::move(p.reply_to));
  r.to = Records(std::move(p.to));
  r.cc = Records(std::move(p.cc));
  r.date = p.date;
  r.text_body = std::move(p.text_body);
  r.html_body = std::move(p.html_body);
  r.text_from_html = p.text_from_html;
  r.sha256 = Sha256Hex(m.raw);
  r.size = m.raw.size();
  for (mime::Attachment& a : p.attachments) {
    store::AttachmentRecord rec;
    rec.filename = std::move(a.filename);
    rec.content_type = std::move(a.content_type);
    rec.content_id = std::move(a.content_id);
    rec.is_inline = a.is_inline;
    rec.sha256 = std::move(a.sha256);
    rec.size = a.data.size();
    rec.data = std::move(a.data);
    r.attachments.push_back(std::move(rec));
  }
  r.thread_reason = m.conversation_id != 0 ? "sent as a reply" : "sent";
  r.created_at = now;
  auto ids = store.StoreReceivedMessage(received, now);
  if (!ids.ok()) return ids.status().WithContext("adding a sent message to its conversation");
  return store.MarkOutgoingStored(m.id, ids->conversation_id);
}

asio::awaitable<OutboxResult> DeliverDue(asio::any_io_executor ex, OutboxEnv& env) {
  OutboxResult result;
  pipeline::RunLog log(env.store, "outgoing", "", env.echo);
  Status started = log.Start();
  if (!started.ok()) {
    result.status = started;
    co_return result;
  }
  result.run_id = log.run_id();

  // Sent messages a crash kept out of their conversation.
  auto unstored = env.store->UnstoredSentOutgoing(100);
  if (unstored.ok()) {
    for (const auto& m : *unstored) {
      Status s = StoreSentMessage(*env.store, m, Now(env), env.random);
      if (!s.ok()) log.Warning("Message " + std::to_string(m.id) + ": " + s.message());
    }
  }

  for (;;) {
    auto claimed = env.store->ClaimOutgoing(env.holder, Now(env), env.lease_seconds);
    if (!claimed.ok()) {
      result.status = claimed.status();
      break;
    }
    if (!claimed->has_value()) break;
    store::OutgoingMessage m = std::move(**claimed);
    const std::string what = "Message " + std::to_string(m.id) + " <" + m.message_id + ">";
    if (m.attempts > 1) {
      log.Info(what + ": attempt " + std::to_string(m.attempts));
    }

    AttemptOutcome outcome;
    auto transport = env.store->GetTransport(m.transport);
    if (!transport.ok()) {
      outcome.status =
          transport.status().kind() == Status::Kind::kNotFound
              ? Status::Permanent("the transport '" + m.transport + "' no longer exists")
              : transport.status();
    } else {
      outcome = co_await Attempt(ex, *transport, env.connect, m, &log);
    }
    // Recorded at once: this is the window in which a crash re-sends (see outbox.h).
    const int64_t now = Now(env);
    const store::OutgoingAttempt attempt = Classify(m, outcome, now);
    Status recorded = env.store->RecordOutgoingAttempt(m.id, env.holder, attempt, now);
    if (outcome.client) (void)co_await outcome.client->Quit();
    if (!recorded.ok()) {
      log.Error(what + ": " + recorded.message());
      CountFailure("outgoing_store");
      continue;
    }
    switch (attempt.state) {
      case store::OutgoingState::kSent:
        ++result.sent;
        Count(Counter::kOutgoingSent);
        log.Info(what + " sent to " + std::to_string(m.recipients.size()) + " recipient(s)" +
                 (attempt.error.empty() ? "" : "; refused: " + attempt.error));
        break;
      case store::OutgoingState::kQueued:
        ++result.retrying;
        CountFailure("outgoing_transient");
        log.Warning(what + ": " + attempt.error + "; next attempt in " +
                    Minutes(attempt.next_attempt_at - now));
        break;
      default:
        ++result.failed;
        Count(Counter::kOutgoingFailed);
        CountFailure("outgoing_permanent");
        log.Error(what + " failed: " + attempt.error);
        break;
    }
    if (!m.stored && (attempt.delivered_any || m.sent_at != 0)) {
      m.sent_at = m.sent_at != 0 ? m.sent_at : now;
      Status s = StoreSentMessage(*env.store, m, Now(env), env.random);
      if (!s.ok()) log.Warning(what + ": " + s.message());
    }
    (void)log.Flush();
  }
  std::string summary = "sent " + std::to_string(result.sent) + ", retrying " +
                        std::to_string(result.retrying) + ", failed " +
                        std::to_string(result.failed);
  if (result.sent + result.retrying + result.failed == 0 && result.status.ok()) {
    log.Info("There are no messages ready to be sent.");
  }
  (void)log.Finish(result.status.ok(), summary);
  co_return result;
}

}  // namespace mailgate::serve
