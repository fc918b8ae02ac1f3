#include "web/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "web/console_pages.h"

namespace mailgate::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxRequestBytes = 1 << 20;

Response MakeResponse(const Request& req, http::status status, std::string_view content_type,
                      std::string body) {
  Response res(status, req.version());
  res.set(http::field::server, "mailgate");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  // The console renders mail content: forbid scripts, frames of others and
  // MIME sniffing from the first page on.
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Route(const Request& req, store::Store& store) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return MakeResponse(req, http::status::method_not_allowed, "text/plain; charset=utf-8",
                        "method not allowed\n");
  }
  if (path == "/healthz") {
    return MakeResponse(req, http::status::ok, "text/plain; charset=utf-8", "ok\n");
  }
  if (path == "/") {
    auto mailboxes = store.ListMailboxes();
    if (!mailboxes.ok()) {
      spdlog::error("console: {}", mailboxes.status().ToString());
      return MakeResponse(req, http::status::internal_server_error, "text/plain; charset=utf-8",
                          "the store could not be read; see the server log\n");
    }
    return MakeResponse(req, http::status::ok, "text/html; charset=utf-8",
                        RenderHomePage(*mailboxes));
  }
  return MakeResponse(req, http::status::not_found, "text/plain; charset=utf-8", "not found\n");
}

asio::awaitable<void> Session(beast::tcp_stream stream, store::Store& store) {
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(kIdleTimeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxRequestBytes);
    auto [rec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rec) break;  // closed, timed out or malformed: nothing to answer
    const Request& req = parser.get();
    Response res = Route(req, store);
    if (req.method() == http::verb::head) res.body().clear();
    const bool keep_alive = res.keep_alive();
    auto [wec, m] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> Listen(tcp::acceptor& acceptor, store::Store& store) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("console: accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), Session(beast::tcp_stream(std::move(socket)), store),
                   asio::detached);
  }
}

StatusOr<tcp::endpoint> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen '" + listen +
                                   "' must be ADDR:PORT, e.g. 127.0.0.1:8025");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (ec || port < 0 || port > 65535) {
    return Status::InvalidArgument("--listen '" + listen +
                                   "' must be an IP address and a port, e.g. 127.0.0.1:8025");
  }
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

}  // namespace

Status Serve(const ServeOptions& options, store::Store& store) {
  auto endpoint = ParseListen(options.listen);
  if (!endpoint.ok()) return endpoint.status();
  asio::io_context io;
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Io("cannot listen on " + options.listen + ": " + ec.message() +
                      "; choose another address with --listen");
  }
  const auto bound = acceptor.local_endpoint();
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  const std::string url = "http://" + host + ":" + std::to_string(bound.port()) + "/";
  spdlog::info("console listening on {}", url);
  if (options.on_listening) options.on_listening(url);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int sig) {
    spdlog::info("signal {} received; shutting down", sig);
    acceptor.close();
    io.stop();
  });
  asio::co_spawn(io, Listen(acceptor, store), asio::detached);
  io.run();
  return Status::Ok();
}

}  // namespace mailgate::web
