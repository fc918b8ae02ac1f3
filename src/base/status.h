// Status and StatusOr: errors as cheap values (after LevelDB's Status).
//
// Every error carries a Kind that tells the caller's retry policy what to do
// mechanically (retry later, ask the user, give up) and a message written for
// the person who reads it: what went wrong and what to do next. Messages must
// never contain a secret (token, password, client secret).
#ifndef MAILGATE_BASE_STATUS_H_
#define MAILGATE_BASE_STATUS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mailgate {

class [[nodiscard]] Status {
 public:
  enum class Kind {
    kOk = 0,
    kInvalidArgument,     // the caller (or the user's input) is wrong; fix and retry
    kNotFound,            // the named thing does not exist
    kAlreadyExists,       // the named thing exists already
    kFailedPrecondition,  // not in the state the operation needs (e.g. already done)
    kConnect,             // could not reach the server; transient
    kTls,                 // TLS handshake or certificate verification failed
    kAuth,                // credentials refused; retrying will not help
    kProtocol,            // the peer broke the protocol (or we did)
    kPermanent,           // the peer refused for good (e.g. SMTP 5xx)
    kTransient,           // try again later (4xx, timeout, 5xx from an HTTP API)
    kIo,                  // local file system or database failure
    kInternal,            // a bug in Mailgate
  };

  // An OK status holds no allocation.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Kind::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Kind::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Kind::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Kind::kFailedPrecondition, std::move(msg)};
  }
  static Status Connect(std::string msg) { return {Kind::kConnect, std::move(msg)}; }
  static Status Tls(std::string msg) { return {Kind::kTls, std::move(msg)}; }
  static Status Auth(std::string msg) { return {Kind::kAuth, std::move(msg)}; }
  static Status Protocol(std::string msg) { return {Kind::kProtocol, std::move(msg)}; }
  static Status Permanent(std::string msg) { return {Kind::kPermanent, std::move(msg)}; }
  static Status Transient(std::string msg) { return {Kind::kTransient, std::move(msg)}; }
  static Status Io(std::string msg) { return {Kind::kIo, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Kind::kInternal, std::move(msg)}; }

  bool ok() const { return kind_ == Kind::kOk; }
  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // True when the same operation may succeed later without anyone changing
  // configuration: the scheduler retries these with backoff.
  bool retryable() const {
    return kind_ == Kind::kConnect || kind_ == Kind::kTransient || kind_ == Kind::kIo;
  }

  // Returns a copy with `context` prepended: "context: message".
  Status WithContext(std::string_view context) const;

  // "<kind>: <message>", or "OK".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.kind_ == b.kind_ && a.message_ == b.message_;
  }

 private:
  Status(Kind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}

  Kind kind_ = Kind::kOk;
  std::string message_;
};

// A short lowercase name for a kind ("auth", "tls", ...), stable for logs,
// JSON and metrics labels.
std::string_view KindName(Status::Kind kind);

// StatusOr<T>: a value or the error that prevented it.
// REQUIRES: a StatusOr built from a Status is never built from an OK status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("StatusOr built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace mailgate

// Evaluates `expr` (a Status) and returns it from the enclosing function when
// it is not OK.
#define MAILGATE_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::mailgate::Status mailgate_status_ = (expr);        \
    if (!mailgate_status_.ok()) return mailgate_status_; \
  } while (0)

#endif  // MAILGATE_BASE_STATUS_H_
