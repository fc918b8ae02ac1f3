// An IMAP4rev1/IMAP4rev2 client (RFC 3501, RFC 9051) on the shared line engine.
//
// One Client is one connection, used by one coroutine at a time. Commands run in order;
// UidFetchMessages pipelines its UID FETCH commands up to ClientOptions::pipeline_depth
// (isync's model) and streams message bodies to a MessageSink. A command that carries a
// synchronizing literal is never sent behind other commands and waits for its
// continuation before anything else is written.
//
// Errors (Status kinds): kConnect (unreachable, closed), kTls, kAuth (credentials refused:
// re-authorize), kProtocol (the server broke IMAP; the connection is closed), kPermanent
// (the server refused the operation), kTransient (try later, including a session the server
// ended), kNotFound (no such mailbox). Messages say what to do and never contain a token
// or a password; the trace redacts AUTHENTICATE/LOGIN and summarises literals.
#ifndef MAILGATE_IMAP_CLIENT_H_
#define MAILGATE_IMAP_CLIENT_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "imap/parser.h"
#include "net/connection.h"
#include "sasl/sasl.h"

namespace mailgate::imap {

struct ClientOptions {
  net::ConnectOptions connect;
  sasl::AuthOptions auth;
  std::size_t pipeline_depth = 8;  // UID FETCH commands in flight at once
  std::size_t fetch_batch = 8;     // UIDs per UID FETCH command
  // RFC 9051 §5.4: servers may log out a client idle for 30 minutes; IDLE is re-issued
  // before that. Each IDLE also ends before connect.io_timeout, which bounds every read.
  std::chrono::milliseconds idle_reissue{std::chrono::minutes(28)};
  ParserLimits limits;
  net::TraceFn trace;   // null: spdlog at debug level
  bool send_id = true;  // RFC 2971 ID when the server offers it
};

class Capabilities {
 public:
  void Set(std::string_view space_separated);
  bool Has(std::string_view cap) const;  // case-insensitive
  // SASL mechanisms from AUTH=... entries.
  std::vector<std::string> AuthMechanisms() const;
  std::string ToString() const;
  bool empty() const { return caps_.empty(); }

 private:
  std::set<std::string> caps_;  // upper case
};

struct MailboxInfo {
  std::string name;  // UTF-8
  uint32_t exists = 0;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;
  bool read_only = false;
  std::vector<std::string> flags;
  std::vector<std::string> permanent_flags;
};

struct ListEntry {
  std::string name;       // UTF-8 (decoded from modified UTF-7)
  std::string delimiter;  // "" for NIL
  std::vector<std::string> attributes;
};

struct MailboxStatus {
  std::optional<uint32_t> messages, uidnext, uidvalidity, unseen;
};

struct FetchedMessage {
  uint32_t seq = 0;
  uint32_t uid = 0;
  uint64_t rfc822_size = 0;
  std::string internal_date;  // as the server wrote it: "17-Jul-1996 02:44:25 -0700"
  std::vector<std::string> flags;
  uint64_t body_size = 0;
};

// Receives fetched messages. For each: BeginMessage, MessageChunk..., then EndMessage
// with the attributes (the UID may come after the body on the wire, so it is known only
// at the end), or AbortMessage if the body could not be completed.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual Status BeginMessage(uint32_t seq, uint64_t size) = 0;
  virtual Status MessageChunk(std::string_view chunk) = 0;
  virtual Status EndMessage(const FetchedMessage& message) = 0;
  // Discard what arrived since BeginMessage.
  virtual void AbortMessage() {}
  // Asked before each further UID FETCH command is sent: false stops requesting
  // messages (commands already in flight still complete), e.g. once the sink cannot
  // keep what arrives.
  virtual bool WantMore() { return true; }
};

struct FetchReport {
  std::size_t fetched = 0;
  // UIDs the server returned nothing for (expunged meanwhile).
  std::vector<uint32_t> missing;
  // Messages that failed alone (sink refused, or the server said NO for them).
  std::vector<std::pair<uint32_t, Status>> failed;
  // UIDs never asked for because MessageSink::WantMore said no.
  std::vector<uint32_t> unrequested;
};

// A message's size without its body (UID FETCH ... (UID RFC822.SIZE)).
struct MessageSize {
  uint32_t uid = 0;
  uint64_t size = 0;
};

// Selected header fields of one message, as the server sent them (raw header lines,
// CRLF-terminated, possibly folded), from BODY.PEEK[HEADER.FIELDS (...)].
struct HeaderFields {
  uint32_t uid = 0;
  std::string raw;
};

struct IdleResult {
  bool changed = false;  // EXISTS, EXPUNGE or FETCH arrived
  uint32_t exists = 0;   // messages in the mailbox afterwards
};

class Client {
 public:
  // Connects, reads the greeting, learns the capabilities and (for TlsMode::kStartTls)
  // upgrades to TLS; STARTTLS not offered is an error, never a plaintext fallback.
  static boost::asio::awaitable<StatusOr<std::unique_ptr<Client>>> Connect(
      boost::asio::any_io_executor ex, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // AUTHENTICATE (SASL-IR when offered) or LOGIN for passwords without AUTH=PLAIN/LOGIN.
  // With OAuth2, a refused token makes it ask the provider once for a fresh one
  // (force_refresh) and try again before it returns Status::Auth.
  boost::asio::awaitable<Status> Authenticate();

  // RFC 2971. Returns the server's ID fields ("name", "version"...), empty if NIL.
  boost::asio::awaitable<StatusOr<std::vector<std::pair<std::string, std::string>>>> Id();

  boost::asio::awaitable<StatusOr<MailboxInfo>> Select(std::string_view mailbox,
                                                       bool read_only = false);
  // CREATE. Status::AlreadyExists when the server says so ([ALREADYEXISTS], RFC 5530).
  boost::asio::awaitable<Status> Create(std::string_view mailbox);
  // DELETE (the mailbox and its messages). Status::NotFound when it does not exist.
  boost::asio::awaitable<Status> Delete(std::string_view mailbox);
  boost::asio::awaitable<StatusOr<std::vector<ListEntry>>> List(std::string_view reference,
                                                                std::string_view pattern);
  boost::asio::awaitable<StatusOr<MailboxStatus>> StatusOf(std::string_view mailbox);  // STATUS
  // `criteria` is raw IMAP search syntax, e.g. "ALL" or "UID 100:*".
  boost::asio::awaitable<StatusOr<std::vector<uint32_t>>> UidSearch(std::string_view criteria);
  // UID FETCH (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[]), pipelined.
  boost::asio::awaitable<StatusOr<FetchReport>> UidFetchMessages(const std::vector<uint32_t>& uids,
                                                                 MessageSink& sink);
  // UID FETCH <uids> (UID RFC822.SIZE): what a download would cost, before it starts.
  // Sorted by UID; UIDs the server returned nothing for (expunged) are absent.
  boost::asio::awaitable<StatusOr<std::vector<MessageSize>>> UidFetchSizes(
      const std::vector<uint32_t>& uids);
  // UID FETCH <uids> (UID BODY.PEEK[HEADER.FIELDS (<fields>)]): a few header lines of
  // messages that are not downloaded (to name an oversized one). Does not set \Seen.
  // `fields` are header names (atoms: letters, digits, '-'). Sorted by UID.
  boost::asio::awaitable<StatusOr<std::vector<HeaderFields>>> UidFetchHeaderFields(
      const std::vector<uint32_t>& uids, std::vector<std::string> fields);
  // op: "+FLAGS", "-FLAGS" or "FLAGS" (sent .SILENT).
  boost::asio::awaitable<Status> UidStore(const std::vector<uint32_t>& uids, std::string_view op,
                                          const std::vector<std::string>& flags);
  // Marks the messages \Deleted and expunges exactly them: UID EXPUNGE (UIDPLUS), else
  // EXPUNGE only when no other message is marked \Deleted (else Status::Permanent).
  boost::asio::awaitable<Status> UidExpunge(const std::vector<uint32_t>& uids);
  // MOVE (RFC 6851), else COPY + \Deleted + expunge as UidExpunge.
  boost::asio::awaitable<Status> UidMove(const std::vector<uint32_t>& uids,
                                         std::string_view destination);
  // IDLE until the mailbox changes or max_wait passes, re-issuing IDLE as needed.
  boost::asio::awaitable<StatusOr<IdleResult>> Idle(std::chrono::milliseconds max_wait);
  boost::asio::awaitable<Status> Noop();
  boost::asio::awaitable<Status> Logout();

  const Capabilities& capabilities() const;
  // The selected mailbox, kept current by untagged EXISTS/EXPUNGE.
  const MailboxInfo& mailbox() const;
  bool authenticated() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "1:3,7,9:10" for a set of UIDs (sorted, duplicates removed).
std::string UidSet(std::vector<uint32_t> uids);

// An astring for a command: an atom when possible, else a quoted string; nullopt when a
// literal is needed (CR, LF, NUL or 8-bit bytes).
std::optional<std::string> QuoteAstring(std::string_view s);

}  // namespace mailgate::imap

#endif  // MAILGATE_IMAP_CLIENT_H_
