// Placeholder so that the mailgate::net target links while the engine is being
// written; replaced by the Asio/OpenSSL implementation in the next commit.
#include "net/connection.h"

namespace mailgate::net {

struct Connection::Impl {
  ConnectOptions options;
};

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

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

boost::asio::awaitable<StatusOr<std::unique_ptr<Connection>>> Connection::Open(
    boost::asio::any_io_executor, ConnectOptions) {
  co_return Status::Internal("net::Connection is not implemented yet");
}
boost::asio::awaitable<StatusOr<std::string>> Connection::ReadLine() {
  co_return Status::Internal("not implemented yet");
}
boost::asio::awaitable<StatusOr<std::string_view>> Connection::ReadSome() {
  co_return Status::Internal("not implemented yet");
}
void Connection::Consume(std::size_t) {}
boost::asio::awaitable<Status> Connection::ReadExactly(
    std::uint64_t, const std::function<Status(std::string_view)>&) {
  co_return Status::Internal("not implemented yet");
}
boost::asio::awaitable<Status> Connection::Write(std::string_view, std::string_view) {
  co_return Status::Internal("not implemented yet");
}
boost::asio::awaitable<Status> Connection::StartTls() {
  co_return Status::Internal("not implemented yet");
}
void Connection::SetTrace(TraceFn) {}
bool Connection::tls_active() const {
  return false;
}
const ConnectOptions& Connection::options() const {
  return impl_->options;
}
void Connection::Close() {}

}  // namespace mailgate::net
