// POP3 client (RFC 1939; CAPA and pipelining RFC 2449; STLS RFC 2595; AUTH
// RFC 5034) on the shared line engine.
//
// Usage: Connect() (greeting, CAPA, STLS when configured), Authenticate(),
// then Stat/List/Uidl/Retr/Dele, and Quit() to commit deletions.
// A Client is used by one coroutine at a time.
#ifndef MAILGATE_POP3_POP3_CLIENT_H_
#define MAILGATE_POP3_POP3_CLIENT_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/connection.h"
#include "pop3/reply_parser.h"
#include "sasl/sasl.h"

namespace mailgate::pop3 {

// Receives a message in chunks: CRLF-terminated lines, dot-unstuffed.
using MessageSink = std::function<Status(std::string_view chunk)>;

class Client {
 public:
  // Connects, reads the greeting and the capabilities, and for TlsMode::kStartTls
  // upgrades with STLS (and fails, never falling back to plaintext, when the
  // server does not offer it). `trace` gets the redacted protocol trace.
  // No default argument: g++ 12 destroys default-argument temporaries of a
  // co_await expression twice. Callers pass a named (possibly empty) TraceFn.
  static boost::asio::awaitable<StatusOr<std::unique_ptr<Client>>> Connect(
      boost::asio::any_io_executor ex, net::ConnectOptions options, net::TraceFn trace);

  ~Client();

  // AUTH with the chosen SASL mechanism (XOAUTH2 always in two steps, as
  // Exchange Online requires), or USER/PASS for a password when the server
  // offers no usable SASL mechanism. On an authentication failure with a token
  // it asks auth.secret(true) once for a fresh token and retries, reconnecting
  // when the server closed the connection. Errors: Status::Auth (the message
  // explains known Exchange replies), Status::Transient ([SYS/TEMP], [IN-USE]).
  boost::asio::awaitable<Status> Authenticate(const sasl::AuthOptions& auth);

  boost::asio::awaitable<StatusOr<MailboxStat>> Stat();
  boost::asio::awaitable<StatusOr<std::vector<ListEntry>>> List();
  boost::asio::awaitable<StatusOr<std::vector<UidlEntry>>> Uidl();
  // Streams message `number` to `sink`.
  boost::asio::awaitable<Status> Retr(std::uint64_t number, MessageSink sink);
  // Retrieves several messages; with PIPELINING the RETR commands are sent
  // ahead (up to `window` outstanding). sink_for(number) gives each message's sink.
  boost::asio::awaitable<Status> RetrMany(std::vector<std::uint64_t> numbers,
                                          std::function<MessageSink(std::uint64_t number)> sink_for,
                                          std::size_t window = 8);
  // TOP (RFC 1939 §7): the header of message `number` and its first `lines` body
  // lines, streamed to `sink` like Retr. Status::Permanent when the server refuses.
  boost::asio::awaitable<Status> Top(std::uint64_t number, std::uint64_t lines, MessageSink sink);
  boost::asio::awaitable<Status> Dele(std::uint64_t number);
  // DELE for each number, pipelined when the server allows it.
  boost::asio::awaitable<Status> DeleMany(std::vector<std::uint64_t> numbers);
  boost::asio::awaitable<Status> Rset();
  boost::asio::awaitable<Status> Noop();
  // Ends the session; the server commits deletions (UPDATE state).
  boost::asio::awaitable<Status> Quit();

  const Capabilities& capabilities() const { return caps_; }
  bool authenticated() const { return authenticated_; }

 private:
  struct Reply {
    bool ok = false;
    std::string text;  // after "+OK" / "-ERR", leading space removed
  };

  Client(boost::asio::any_io_executor ex, net::ConnectOptions options, net::TraceFn trace);
  boost::asio::awaitable<Status> Open();
  boost::asio::awaitable<Status> ReadCapabilities();
  boost::asio::awaitable<StatusOr<Reply>> ReadReply();
  boost::asio::awaitable<StatusOr<Reply>> Command(std::string_view command,
                                                  std::string_view trace_as = {});
  // Reads a multi-line body up to the terminating ".", unstuffing, line by line.
  // Coroutine parameters are taken by value: g++ 12 may destroy a temporary
  // argument of a co_await expression before the coroutine is done with it.
  boost::asio::awaitable<Status> ReadMultiline(std::function<Status(std::string_view line)> on_line,
                                               bool trace_lines);
  boost::asio::awaitable<Status> ReadMessage(MessageSink sink);
  boost::asio::awaitable<Status> AuthenticateOnce(const sasl::AuthOptions& auth,
                                                  const std::string& secret);
  boost::asio::awaitable<Status> AuthenticateSasl(sasl::Mechanism mech,
                                                  const sasl::AuthOptions& auth,
                                                  const std::string& secret);
  boost::asio::awaitable<Status> UserPass(const sasl::AuthOptions& auth, const std::string& secret);
  Status ErrorFor(std::string_view command, const Reply& reply) const;
  Status Checked(Status s);

  boost::asio::any_io_executor ex_;
  net::ConnectOptions options_;
  net::TraceFn trace_;
  std::unique_ptr<net::Connection> conn_;
  Capabilities caps_;
  bool authenticated_ = false;
  bool closed_by_server_ = false;  // the last failure left no usable connection
};

// Explains a -ERR answer to authentication (exposed for tests). `token`: the
// secret was an OAuth2 access token. `oauth_error`: decoded error challenge.
Status AuthFailure(std::string_view server_text, std::string_view user, bool token,
                   std::string_view oauth_error);

}  // namespace mailgate::pop3

#endif  // MAILGATE_POP3_POP3_CLIENT_H_
