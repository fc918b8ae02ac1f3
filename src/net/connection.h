// The line engine shared by the IMAP, POP3 and SMTP clients (after curl's
// pingpong.c): one buffered TCP or TLS stream with CRLF splitting, a maximum
// line length, NUL rejection, partial writes, a deadline on every operation and
// STARTTLS upgrade in place.
//
// Only the small Asio headers appear here; the socket, the TLS stream and
// OpenSSL stay in connection.cc so that protocol code compiles quickly.
#ifndef MAILGATE_NET_CONNECTION_H_
#define MAILGATE_NET_CONNECTION_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailgate::net {

enum class TlsMode { kNone, kStartTls, kImplicit };

// "none", "starttls", "tls".
std::string_view TlsModeName(TlsMode mode);

enum class TraceDirection { kRecv, kSend, kInfo };

// Receives every line read or written (without CRLF) and connection events.
// The protocol layer redacts secrets before they get here (Write's trace_as);
// the engine itself never sees which bytes are secret.
using TraceFn = std::function<void(TraceDirection, std::string_view)>;

struct ConnectOptions {
  std::string host;  // also SNI and the name verified in the certificate
  uint16_t port = 0;
  TlsMode tls = TlsMode::kImplicit;
  bool verify_peer = true;  // false only by explicit user choice: warns on every connection
  std::string ca_file;      // extra trusted CA (PEM), in addition to the system store
  std::chrono::milliseconds connect_timeout{30'000};  // connect + TLS handshake
  std::chrono::milliseconds io_timeout{60'000};       // each read/write operation
  std::size_t max_line = 64 * 1024;                   // longest line accepted by ReadLine
  // Receives the trace from the first event on (connect, TLS handshake); empty:
  // debug-level log lines. SetTrace() replaces it later.
  TraceFn trace;
};

class Connection {
 public:
  // Connects (and for kImplicit performs the TLS handshake). Errors: Status::Connect,
  // Status::Tls (certificate problems say which: unknown CA, host name mismatch, expired).
  static boost::asio::awaitable<StatusOr<std::unique_ptr<Connection>>> Open(
      boost::asio::any_io_executor ex, ConnectOptions options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One line without its CRLF (a bare LF also ends a line). Errors: over max_line
  // (Status::Protocol), a NUL byte (Status::Protocol), timeout (Status::Transient),
  // EOF/reset (Status::Connect).
  boost::asio::awaitable<StatusOr<std::string>> ReadLine();
  // ReadLine without the trace entry: for message bodies, which the protocol
  // summarises as "(N bytes)" through Trace() instead.
  boost::asio::awaitable<StatusOr<std::string>> ReadLineUntraced();

  // Buffer-level access for incremental parsers (IMAP): returns the bytes currently
  // buffered, reading more from the socket first if the buffer is empty. The view is
  // valid until the next call on this connection. Consume(n) drops n bytes.
  // REQUIRES for Consume: n <= size of the view last returned.
  boost::asio::awaitable<StatusOr<std::string_view>> ReadSome();
  void Consume(std::size_t n);

  // Streams exactly n bytes to `sink` in chunks (literal bodies); never holds n bytes
  // at once. A non-OK status from the sink stops the transfer and is returned; the
  // connection is then out of sync and must be closed.
  boost::asio::awaitable<Status> ReadExactly(
      std::uint64_t n, const std::function<Status(std::string_view chunk)>& sink);

  // Writes all of `data` (partial writes handled). The trace shows `trace_as` instead of
  // data when it is non-empty (redaction: the protocol layer knows what is secret).
  boost::asio::awaitable<Status> Write(std::string_view data, std::string_view trace_as = {});
  // Write without a trace entry: for message bodies sent in chunks, which the
  // protocol summarises once through Trace().
  boost::asio::awaitable<Status> WriteUntraced(std::string_view data);

  // Upgrades in place after the protocol's STARTTLS/STLS exchange succeeded.
  // REQUIRES: !tls_active() and no bytes buffered beyond the server's reply (bytes
  // received before the handshake would be a plaintext injection: refused with
  // Status::Protocol, RFC 3207 §5 / CVE-2011-0411).
  boost::asio::awaitable<Status> StartTls();

  void SetTrace(TraceFn trace);
  // Adds an entry to the trace (the protocol's own notes, body summaries).
  void Trace(TraceDirection direction, std::string_view text);
  bool tls_active() const;
  const ConnectOptions& options() const;
  void Close();  // idempotent, no I/O wait

  struct Impl;  // defined in connection.cc

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when an I/O error leaves a connection unusable (closed, reset, timed
// out mid-response, or out of step with the protocol): the caller must open a
// new one before trying again.
inline bool ConnectionLost(const Status& s) {
  return s.kind() == Status::Kind::kConnect || s.kind() == Status::Kind::kTransient ||
         s.kind() == Status::Kind::kProtocol;
}

}  // namespace mailgate::net

// Coroutine forms of MAILGATE_RETURN_IF_ERROR (base/status.h): `return` is not
// allowed in a coroutine.
#define MAILGATE_CO_RETURN_IF_ERROR(expr)                         \
  do {                                                            \
    ::mailgate::Status mailgate_co_status_ = (expr);              \
    if (!mailgate_co_status_.ok()) co_return mailgate_co_status_; \
  } while (0)

// Evaluates `expr` (a StatusOr<T>), co_returns its error, else moves the value
// into `lhs` (a declaration such as `auto x` or an existing variable).
#define MAILGATE_CO_CONCAT_INNER_(a, b) a##b
#define MAILGATE_CO_CONCAT_(a, b) MAILGATE_CO_CONCAT_INNER_(a, b)
#define MAILGATE_CO_ASSIGN_OR_RETURN(lhs, expr) \
  MAILGATE_CO_ASSIGN_OR_RETURN_IMPL_(MAILGATE_CO_CONCAT_(mailgate_co_or_, __LINE__), lhs, expr)
#define MAILGATE_CO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                       \
  if (!tmp.ok()) co_return tmp.status();                   \
  lhs = std::move(tmp).value()

#endif  // MAILGATE_NET_CONNECTION_H_
