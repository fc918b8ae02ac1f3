// The line engine: Asio TCP socket, optionally wrapped in OpenSSL TLS.
//
// Concurrency contract: a Connection is used by one coroutine at a time on a
// single-threaded executor (no strand); at most one operation is pending.
#include "net/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

namespace mailgate::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string_view TlsModeName(TlsMode mode) {
  switch (mode) {
    case TlsMode::kNone:
      return "none";
    case TlsMode::kStartTls:
      return "starttls";
    case TlsMode::kImplicit:
      return "tls";
  }
  return "?";
}

namespace {

// The least room offered to one read. A TLS read returns at most one record
// (16 KB) whatever the room; plaintext reads take what the socket has.
constexpr std::size_t kReadChunk = 64 * 1024;
// Non-blocking reads in a row before one goes through the reactor (~1 MB of TLS).
constexpr std::size_t kSyncReads = 64;

bool IsIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string Seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// "notAfter" of the peer certificate as "2024-01-31 12:00:00 UTC", or "".
std::string CertTime(const ASN1_TIME* t) {
  if (t == nullptr) return "";
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// The DNS names and IP addresses a certificate is valid for, for error messages.
std::string CertNames(X509* cert) {
  if (cert == nullptr) return "";
  std::string out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    const int n = sk_GENERAL_NAME_num(names);
    for (int i = 0; i < n && i < 5; ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      std::string name;
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                    static_cast<std::size_t>(ASN1_STRING_length(s)));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = gn->d.iPAddress;
        const unsigned char* p = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) {
          name = std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) +
                 "." + std::to_string(p[3]);
        } else {
          name = "(an IPv6 address)";
        }
      }
      if (name.empty()) continue;
      if (!out.empty()) out += ", ";
      out += name;
    }
    GENERAL_NAMES_free(names);
  }
  if (out.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      out = cn;
  }
  return out;
}

// The trust store for `ca_file` (empty: the system's alone), built once and
// shared by every connection of the process. Building it parses the system's
// bundle, ~140 PEM certificates: when every connection did it, that was two
// thirds of serve's CPU in bench/scale's 1,000-mailbox round. Only stores that
// loaded are kept, so a bad CA file fails at every connection, as before.
X509_STORE* SharedTrustStore(const std::string& ca_file, std::string& error) {
  static std::mutex mu;
  // One ref each, never freed: the map lives on the heap for the process's
  // life, so the stores stay reachable (no leak report) and no connection
  // still running at exit finds its store destroyed by a static destructor.
  static auto* const stores = new std::map<std::string, X509_STORE*, std::less<>>();
  std::lock_guard lock(mu);
  if (auto it = stores->find(ca_file); it != stores->end()) return it->second;
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  if (X509_STORE_set_default_paths(store) != 1) {
    spdlog::warn("cannot load the system's trusted CA certificates");
    ERR_clear_error();
  }
  if (!ca_file.empty() && X509_STORE_load_file(store, ca_file.c_str()) != 1) {
    char reason[256] = {};
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    ERR_clear_error();
    error = reason;
    X509_STORE_free(store);
    return nullptr;
  }
  stores->emplace(ca_file, store);
  return store;
}

}  // namespace

struct Connection::Impl {
  // Shared with the timer's completion handler, which may run after the
  // operation it guarded completed (or after the connection is gone).
  //
  // One deadline per operation, but not one timer per operation: arming only
  // records when the operation is due, and the timer is re-programmed only when
  // it would otherwise fire too late. While reads follow each other (a message
  // body arrives as one TLS record after another, ~4,400 for the benchmark's
  // 70 MB) the one wait stays pending; when it fires it finds the current
  // operation's due time and waits again, or cancels the socket. Re-arming a
  // timer per read cost two timerfd_settime calls and a cancelled completion
  // handler per TLS record. After the last operation the wait stays pending
  // until its expiry at most io_timeout later, or until Close() or destruction.
  struct Deadline {
    uint64_t generation = 0;  // of the wait in progress; older handlers do nothing
    bool armed = false;       // an operation is in progress
    bool fired = false;       // ... and its deadline passed: it was cancelled
    bool waiting = false;     // the timer has a wait pending
    std::chrono::steady_clock::time_point due;  // of the operation in progress
    asio::steady_timer* timer = nullptr;
    tcp::socket* socket = nullptr;
    tcp::resolver* resolver = nullptr;
  };

  Impl(asio::any_io_executor ex, ConnectOptions opts)
      : options(std::move(opts)),
        ssl_ctx(asio::ssl::context::tls_client),
        stream(ex, ssl_ctx),
        resolver(ex),
        timer(ex),
        deadline(std::make_shared<Deadline>()) {
    deadline->timer = &timer;
    deadline->socket = &stream.next_layer();
    deadline->resolver = &resolver;
    trace = options.trace;
  }
  ~Impl() {
    deadline->timer = nullptr;
    deadline->socket = nullptr;
    deadline->resolver = nullptr;
    deadline->armed = false;
  }

  static void Wait(const std::shared_ptr<Deadline>& d, std::chrono::steady_clock::time_point at) {
    d->timer->expires_at(at);  // a pending wait completes as cancelled: stale generation
    d->waiting = true;
    d->timer->async_wait([d, gen = ++d->generation](error_code ec) {
      if (d->generation != gen) return;
      d->waiting = false;
      if (ec || !d->armed || d->timer == nullptr) return;
      if (std::chrono::steady_clock::now() < d->due) {
        Wait(d, d->due);  // an operation begun since this wait was set
        return;
      }
      d->fired = true;
      error_code ignored;
      if (d->socket != nullptr) d->socket->cancel(ignored);
      if (d->resolver != nullptr) d->resolver->cancel();
    });
  }

  void Arm(std::chrono::steady_clock::time_point until) {
    deadline->armed = true;
    deadline->fired = false;
    deadline->due = until;
    // A pending wait that expires no later re-checks the due time when it fires.
    if (deadline->waiting && timer.expiry() <= until) return;
    Wait(deadline, until);
  }
  void Arm(std::chrono::milliseconds d) { Arm(std::chrono::steady_clock::now() + d); }
  // Returns true when the deadline fired (the operation was cancelled by it).
  bool Disarm() {
    deadline->armed = false;
    return deadline->fired;
  }

  std::string Where() const { return options.host + ":" + std::to_string(options.port); }

  void Trace(TraceDirection dir, std::string_view text) {
    if (trace) {
      trace(dir, text);
      return;
    }
    if (!spdlog::should_log(spdlog::level::debug)) return;
    const char* tag = dir == TraceDirection::kRecv   ? "S:"
                      : dir == TraceDirection::kSend ? "C:"
                                                     : "*";
    spdlog::debug("{} {} {}", Where(), tag, text);
  }

  // Once an operation failed mid-way the stream state is unknown: every later
  // operation fails with the same status.
  Status Fail(Status s) {
    if (broken.ok()) broken = s;
    return s;
  }

  Status IoError(const error_code& ec, bool timed_out, std::string_view what) {
    if (timed_out) {
      return Fail(Status::Transient("no " + std::string(what) + " from " + Where() + " within " +
                                    Seconds(options.io_timeout) +
                                    "; the server is slow or unreachable: try again later or "
                                    "raise the timeout"));
    }
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::connection_reset) {
      return Fail(Status::Connect(Where() + " closed the connection" +
                                  (ec == asio::error::connection_reset ? " (reset)" : "") +
                                  "; try again, and check the server's logs if it persists"));
    }
    return Fail(Status::Connect("connection to " + Where() + " failed: " + ec.message() +
                                "; try again, and check the network if it persists"));
  }

  // Reads whatever the socket has (at most `cap` bytes) into `out`.
  asio::awaitable<StatusOr<std::size_t>> ReadRaw(char* out, std::size_t cap) {
    if (!broken.ok()) co_return broken;
    error_code ec;
    std::size_t n = 0;
    // In a bulk transfer the bytes are usually there already: a non-blocking read
    // takes them without a trip through the reactor (an asynchronous read of a TLS
    // record cost four epoll_wait calls and as many handler dispatches, ~4,400
    // records for the benchmark's 70 MB). Only when the socket is empty does the
    // read wait, asynchronously and under the deadline. Every kSyncReads reads
    // one goes through the reactor anyway, so other coroutines on the thread
    // (other checks in `serve`) get their turn during a long download.
    if (sync_reads < kSyncReads) {
      ++sync_reads;
      if (tls) {
        n = stream.read_some(asio::buffer(out, cap), ec);
      } else {
        n = stream.next_layer().read_some(asio::buffer(out, cap), ec);
      }
      if (!ec) co_return n;
      if (ec != asio::error::would_block) co_return IoError(ec, false, "answer");
      ec.clear();
    }
    sync_reads = 0;
    Arm(options.io_timeout);
    if (tls) {
      std::tie(ec, n) = co_await stream.async_read_some(asio::buffer(out, cap), kUse);
    } else {
      std::tie(ec, n) = co_await stream.next_layer().async_read_some(asio::buffer(out, cap), kUse);
    }
    const bool timed_out = Disarm();
    if (ec) co_return IoError(ec, timed_out, "answer");
    co_return n;
  }

  // Received bytes not consumed yet.
  std::string_view Buffered() const {
    return std::string_view(in.get() + in_begin, in_end - in_begin);
  }
  void Drop(std::size_t n) {
    in_begin += std::min(n, in_end - in_begin);
    if (in_begin == in_end) in_begin = in_end = 0;
  }

  // Appends more bytes from the socket to the buffer, read straight into its free
  // tail (no bounce buffer, nothing zero-filled first).
  asio::awaitable<Status> Fill() {
    const std::size_t have = in_end - in_begin;
    if (in_cap - in_end < kReadChunk) {
      if (in_begin > 0 && have + kReadChunk <= in_cap) {
        std::memmove(in.get(), in.get() + in_begin, have);
      } else {
        const std::size_t cap = std::max(in_cap * 2, have + kReadChunk);
        auto bigger = std::make_unique_for_overwrite<char[]>(cap);
        if (have > 0) std::memcpy(bigger.get(), in.get() + in_begin, have);
        in = std::move(bigger);
        in_cap = cap;
      }
      in_begin = 0;
      in_end = have;
    }
    StatusOr<std::size_t> n = co_await ReadRaw(in.get() + in_end, in_cap - in_end);
    if (!n.ok()) co_return n.status();
    in_end += *n;
    co_return Status::Ok();
  }

  asio::awaitable<Status> Handshake(std::chrono::steady_clock::time_point until);
  Status TlsError(const error_code& ec, bool timed_out);

  ConnectOptions options;
  asio::ssl::context ssl_ctx;
  asio::ssl::stream<tcp::socket> stream;
  tcp::resolver resolver;
  asio::steady_timer timer;
  std::shared_ptr<Deadline> deadline;
  bool tls = false;
  long verify_error = X509_V_OK;  // first certificate failure of the handshake
  std::string verify_names, verify_not_after, verify_not_before;
  TraceFn trace;
  Status broken;
  std::size_t sync_reads = 0;  // since the last asynchronous read
  // Received, not yet consumed: in[in_begin, in_end) of in_cap bytes.
  std::unique_ptr<char[]> in;
  std::size_t in_cap = 0, in_begin = 0, in_end = 0;
};

Status Connection::Impl::TlsError(const error_code& ec, bool timed_out) {
  if (timed_out) {
    return Fail(
        Status::Tls("TLS handshake with " + Where() + " did not finish within " +
                    Seconds(options.connect_timeout) +
                    "; check that the port speaks TLS (or choose --encryption starttls/none "
                    "to match the server)"));
  }
  SSL* ssl = stream.native_handle();
  const long verify = verify_error != X509_V_OK ? verify_error : SSL_get_verify_result(ssl);
  if (options.verify_peer && verify != X509_V_OK) {
    std::string msg = "TLS certificate of " + Where() + " refused: ";
    switch (verify) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        msg +=
            "the server's certificate is not signed by a trusted CA; pass --ca-file with the CA "
            "certificate (PEM) that signed it, or have the server send its full chain";
        break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH: {
        const std::string& names = verify_names;
        msg += "the server's certificate is for another host name (" +
               (names.empty() ? std::string("no usable name") : names) + "), not " + options.host +
               "; connect with the name the certificate carries, or fix the server's "
               "certificate";
        break;
      }
      case X509_V_ERR_CERT_HAS_EXPIRED: {
        const std::string& when = verify_not_after;
        msg += "the server's certificate expired" + (when.empty() ? "" : " on " + when) +
               "; the server's administrator must renew it (or check this machine's clock)";
        break;
      }
      case X509_V_ERR_CERT_NOT_YET_VALID: {
        const std::string& when = verify_not_before;
        msg += "the server's certificate is not valid before" + (when.empty() ? "" : " " + when) +
               "; check this machine's clock";
        break;
      }
      default:
        msg += std::string(X509_verify_cert_error_string(verify)) +
               "; fix the server's certificate, or pass --ca-file with the CA that signed it";
    }
    return Fail(Status::Tls(std::move(msg)));
  }
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
      ec == asio::error::connection_reset) {
    return Fail(Status::Tls("TLS handshake with " + Where() +
                            " failed: the server closed the connection; check that the port "
                            "speaks TLS and that the server accepts TLS 1.2 or later"));
  }
  std::string detail = ec.message();
  std::string hint = "check the port and the --encryption mode";
  if (detail.find("wrong version number") != std::string::npos ||
      detail.find("packet length too long") != std::string::npos ||
      detail.find("http request") != std::string::npos) {
    hint =
        "the port does not seem to speak TLS at once: use --encryption starttls (or none) for this "
        "port, or the implicit-TLS port";
  } else if (detail.find("protocol version") != std::string::npos) {
    hint = "the server does not offer TLS 1.2 or later; upgrade the server's TLS configuration";
  }
  return Fail(Status::Tls("TLS handshake with " + Where() + " failed: " + detail + "; " + hint));
}

asio::awaitable<Status> Connection::Impl::Handshake(std::chrono::steady_clock::time_point until) {
  SSL* ssl = stream.native_handle();
  // SNI carries host names only (RFC 6066 §3); the certificate check still
  // covers IP literals, against the certificate's IP address entries.
  const bool ip = IsIpLiteral(options.host);
  if (!ip && SSL_set_tlsext_host_name(ssl, options.host.c_str()) != 1)
    co_return Fail(Status::Tls("cannot set the TLS server name " + options.host));
  if (options.verify_peer) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, options.host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, options.host.c_str(), 0);
    if (ok != 1) co_return Fail(Status::Tls("cannot verify against host name " + options.host));
    stream.set_verify_mode(asio::ssl::verify_peer);
    // Remember the first failure and the certificate it concerns: after a
    // failed handshake OpenSSL no longer hands out the peer's certificate.
    stream.set_verify_callback([this](bool preverified, asio::ssl::verify_context& vctx) {
      if (!preverified && verify_error == X509_V_OK) {
        X509_STORE_CTX* sctx = vctx.native_handle();
        verify_error = X509_STORE_CTX_get_error(sctx);
        X509* cert = X509_STORE_CTX_get_current_cert(sctx);
        verify_names = CertNames(cert);
        if (cert != nullptr) {
          verify_not_after = CertTime(X509_get0_notAfter(cert));
          verify_not_before = CertTime(X509_get0_notBefore(cert));
        }
      }
      return preverified;
    });
  } else {
    stream.set_verify_mode(asio::ssl::verify_none);
    spdlog::warn(
        "TLS certificate verification is OFF for {} (explicitly disabled); anyone on the "
        "network path can read the credentials. Fix the server's certificate or pass its CA "
        "with --ca-file instead",
        Where());
  }
  Arm(until);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kUse);
  const bool timed_out = Disarm();
  if (ec) co_return TlsError(ec, timed_out);
  tls = true;
  Trace(TraceDirection::kInfo, std::string("TLS established: ") + SSL_get_version(ssl) + " " +
                                   SSL_get_cipher_name(ssl) +
                                   (options.verify_peer ? "" : " (certificate NOT verified)"));
  co_return Status::Ok();
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

asio::awaitable<StatusOr<std::unique_ptr<Connection>>> Connection::Open(asio::any_io_executor ex,
                                                                        ConnectOptions options) {
  if (options.host.empty() || options.port == 0)
    co_return Status::InvalidArgument("a host name and a port are required to connect");
  auto impl = std::make_unique<Impl>(ex, std::move(options));
  Impl& c = *impl;
  const auto until = std::chrono::steady_clock::now() + c.options.connect_timeout;

  if (c.options.tls != TlsMode::kNone) {
    SSL_CTX* ctx = c.ssl_ctx.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    std::string error;
    X509_STORE* store = SharedTrustStore(c.options.ca_file, error);
    if (store == nullptr) {
      co_return Status::InvalidArgument("cannot load the CA file " + c.options.ca_file + ": " +
                                        error + "; it must be readable and hold PEM certificates");
    }
    SSL_CTX_set1_cert_store(ctx, store);
  }

  c.Arm(until);
  auto [rec, endpoints] =
      co_await c.resolver.async_resolve(c.options.host, std::to_string(c.options.port), kUse);
  if (c.Disarm()) {
    co_return Status::Connect("cannot resolve " + c.options.host + " within " +
                              Seconds(c.options.connect_timeout) + "; check DNS and the host name");
  }
  if (rec) {
    co_return Status::Connect("cannot resolve host name " + c.options.host + ": " + rec.message() +
                              "; check the host name");
  }

  tcp::socket& sock = c.stream.next_layer();
  error_code last;
  bool connected = false;
  for (const auto& entry : endpoints) {
    error_code ignored;
    sock.close(ignored);
    sock.open(entry.endpoint().protocol(), last);
    if (last) continue;
    c.Arm(until);
    std::tie(last) = co_await sock.async_connect(entry.endpoint(), kUse);
    if (c.Disarm()) {
      co_return Status::Connect("cannot connect to " + c.Where() + ": no answer within " +
                                Seconds(c.options.connect_timeout) +
                                "; check host, port and firewalls");
    }
    if (!last) {
      connected = true;
      c.Trace(TraceDirection::kInfo,
              "connected to " + c.Where() + " (" + entry.endpoint().address().to_string() + ")");
      break;
    }
  }
  if (!connected) {
    co_return Status::Connect("cannot connect to " + c.Where() + ": " +
                              (last ? last.message() : std::string("no address")) +
                              "; check host, port and that the server is running");
  }
  error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  // Synchronous reads return at once when nothing is there (ReadRaw).
  sock.non_blocking(true, ignored);

  if (c.options.tls == TlsMode::kImplicit) {
    Status s = co_await c.Handshake(until);
    if (!s.ok()) co_return s;
  }
  co_return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

asio::awaitable<StatusOr<std::string>> Connection::ReadLine() {
  auto line = co_await ReadLineUntraced();
  if (line.ok()) impl_->Trace(TraceDirection::kRecv, *line);
  co_return line;
}

asio::awaitable<StatusOr<std::string>> Connection::ReadLineUntraced() {
  Impl& c = *impl_;
  // Relative to the first unconsumed byte: Fill() may move the bytes to the front.
  std::size_t scanned = 0;
  for (;;) {
    const std::string_view have = c.Buffered();
    const std::size_t nl = have.find('\n', scanned);
    if (nl != std::string_view::npos) {
      std::size_t end = nl;
      if (end > 0 && have[end - 1] == '\r') --end;
      if (end > c.options.max_line) break;  // reported below
      std::string line(have.substr(0, end));
      c.Drop(nl + 1);
      if (line.find('\0') != std::string::npos) {
        co_return c.Fail(Status::Protocol(c.Where() +
                                          " sent a NUL byte in a line, which the protocol "
                                          "forbids; the server is broken or not a mail server"));
      }
      co_return line;
    }
    scanned = have.size();
    // +1: the CR of a line of exactly max_line octets may still be waiting for its LF.
    if (have.size() > c.options.max_line + 1) break;
    Status s = co_await c.Fill();
    if (!s.ok()) co_return s;
  }
  co_return c.Fail(Status::Protocol(c.Where() + " sent a line longer than " +
                                    std::to_string(c.options.max_line) +
                                    " octets; the server is broken or not a mail server"));
}

asio::awaitable<StatusOr<std::string_view>> Connection::ReadSome() {
  Impl& c = *impl_;
  if (c.in_begin == c.in_end) {
    Status s = co_await c.Fill();
    if (!s.ok()) co_return s;
  }
  co_return c.Buffered();
}

void Connection::Consume(std::size_t n) {
  impl_->Drop(n);
}

asio::awaitable<Status> Connection::ReadExactly(
    std::uint64_t n, const std::function<Status(std::string_view chunk)>& sink) {
  Impl& c = *impl_;
  const std::uint64_t total = n;
  // Bytes already buffered first, then straight from the socket, never reading
  // past the n-th byte so nothing of the next response is swallowed.
  const std::size_t have = c.in_end - c.in_begin;
  if (have > 0 && n > 0) {
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(have, n));
    Status s = sink(c.Buffered().substr(0, take));
    Consume(take);
    n -= take;
    if (!s.ok()) co_return c.Fail(s);
  }
  std::array<char, 64 * 1024> chunk;
  while (n > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, chunk.size()));
    StatusOr<std::size_t> got = co_await c.ReadRaw(chunk.data(), want);
    if (!got.ok()) co_return got.status();
    Status s = sink(std::string_view(chunk.data(), *got));
    n -= *got;
    if (!s.ok()) co_return c.Fail(s);
  }
  c.Trace(TraceDirection::kRecv, "(" + std::to_string(total) + " bytes)");
  co_return Status::Ok();
}

asio::awaitable<Status> Connection::Write(std::string_view data, std::string_view trace_as) {
  Impl& c = *impl_;
  if (!c.broken.ok()) co_return c.broken;
  std::string_view shown = trace_as.empty() ? data : trace_as;
  // One trace entry per line, without line ends.
  while (!shown.empty()) {
    std::size_t nl = shown.find('\n');
    std::string_view line = shown.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    c.Trace(TraceDirection::kSend, line);
    if (nl == std::string_view::npos) break;
    shown.remove_prefix(nl + 1);
  }
  co_return co_await WriteUntraced(data);
}

asio::awaitable<Status> Connection::WriteUntraced(std::string_view data) {
  Impl& c = *impl_;
  if (!c.broken.ok()) co_return c.broken;
  c.Arm(c.options.io_timeout);
  error_code ec;
  if (c.tls) {
    std::tie(ec, std::ignore) = co_await asio::async_write(c.stream, asio::buffer(data), kUse);
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(c.stream.next_layer(), asio::buffer(data), kUse);
  }
  const bool timed_out = c.Disarm();
  if (ec) {
    if (timed_out) {
      co_return c.Fail(Status::Transient("could not send to " + c.Where() + " within " +
                                         Seconds(c.options.io_timeout) +
                                         "; the server is not reading: try again later"));
    }
    co_return c.IoError(ec, false, "answer");
  }
  co_return Status::Ok();
}

asio::awaitable<Status> Connection::StartTls() {
  Impl& c = *impl_;
  if (!c.broken.ok()) co_return c.broken;
  if (c.tls) co_return Status::Internal("StartTls on a connection that already uses TLS");
  if (c.in_begin != c.in_end) {
    // Bytes that arrived before the handshake are outside TLS's protection
    // (RFC 3207 §5, CVE-2011-0411): a man in the middle may have injected them.
    co_return c.Fail(
        Status::Protocol(c.Where() +
                         " sent data after its STARTTLS reply, before the TLS handshake; refusing "
                         "to continue (possible command injection on the network path)"));
  }
  co_return co_await c.Handshake(std::chrono::steady_clock::now() + c.options.connect_timeout);
}

void Connection::SetTrace(TraceFn trace) {
  impl_->trace = std::move(trace);
}
void Connection::Trace(TraceDirection direction, std::string_view text) {
  impl_->Trace(direction, text);
}
bool Connection::tls_active() const {
  return impl_->tls;
}
const ConnectOptions& Connection::options() const {
  return impl_->options;
}

void Connection::Close() {
  Impl& c = *impl_;
  c.timer.cancel();
  error_code ignored;
  tcp::socket& sock = c.stream.next_layer();
  if (!sock.is_open()) return;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  (void)c.Fail(Status::Connect("the connection to " + c.Where() + " was closed"));
}

}  // namespace mailgate::net
