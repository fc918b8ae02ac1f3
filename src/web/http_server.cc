#include "web/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <thread>

#include "oauth/clock.h"
#include "web/console.h"
#include "web/pipeline_tester.h"

namespace mailgate::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

constexpr auto kIdleTimeout = std::chrono::seconds(30);
// A Test may wait for a slow server: its own timeouts end it first.
constexpr auto kResponseTimeout = std::chrono::seconds(180);
constexpr std::size_t kMaxRequestBytes = 1 << 20;
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

HttpRequest FromBeast(const BeastRequest& req, const std::string& remote_ip) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  r.body = req.body();
  r.remote_ip = remote_ip;
  return r;
}

BeastResponse ToBeast(const BeastRequest& req, HttpResponse res) {
  BeastResponse out(static_cast<bhttp::status>(res.status), req.version());
  out.set(bhttp::field::server, "mailgate");
  out.set(bhttp::field::content_type, res.content_type);
  for (auto& [k, v] : res.headers) out.insert(k, v);
  out.keep_alive(req.keep_alive());
  out.body() = std::move(res.body);
  out.prepare_payload();
  if (req.method() == bhttp::verb::head) out.body().clear();
  return out;
}

// Waits for a response that comes later (HttpResponse::later). The answer is
// posted back to this connection's executor, never resumed inline from inside
// whatever produced it (a test's own coroutine completing), and the
// initiation is a named object: g++ 12 mishandles a lambda temporary inside a
// co_await expression.
asio::awaitable<HttpResponse> AwaitLater(
    std::function<void(std::function<void(HttpResponse)>)> start) {
  auto ex = co_await asio::this_coro::executor;
  auto initiate = [start = std::move(start), ex](auto handler) mutable {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    start([h, ex](HttpResponse r) mutable {
      asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
    });
  };
  HttpResponse response =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(HttpResponse)>(
          std::move(initiate), asio::use_awaitable);
  co_return response;
}

// One connection's requests, over plain TCP or TLS.
template <typename Stream>
asio::awaitable<void> Exchange(Stream& stream, Console& console, const std::string& remote_ip) {
  beast::flat_buffer buffer;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  for (;;) {
    tcp_layer.expires_after(kIdleTimeout);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxRequestBytes);
    parser.header_limit(kMaxHeaderBytes);
    auto [rec, n] =
        co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rec == bhttp::error::body_limit) {
      BeastResponse tooBig(bhttp::status::payload_too_large, 11);
      tooBig.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      tooBig.body() = "request body too large (1 MiB at most)\n";
      tooBig.keep_alive(false);
      tooBig.prepare_payload();
      co_await bhttp::async_write(stream, tooBig, asio::as_tuple(asio::use_awaitable));
      break;
    }
    if (rec) break;  // closed, timed out or malformed: nothing to answer
    const BeastRequest& req = parser.get();
    HttpResponse res = console.Handle(FromBeast(req, remote_ip));
    if (res.later) {
      tcp_layer.expires_after(kResponseTimeout);
      res = co_await AwaitLater(std::move(res.later));
    }
    BeastResponse out = ToBeast(req, std::move(res));
    const bool keep_alive = out.keep_alive();
    tcp_layer.expires_after(kIdleTimeout);
    auto [wec, m] = co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
}

std::string RemoteIp(beast::tcp_stream& stream) {
  beast::error_code ec;
  const auto remote = stream.socket().remote_endpoint(ec);
  return ec ? std::string("unknown") : remote.address().to_string();
}

asio::awaitable<void> Session(beast::tcp_stream stream, Console& console) {
  const std::string remote_ip = RemoteIp(stream);
  co_await Exchange(stream, console, remote_ip);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> TlsSession(beast::tcp_stream tcp_stream, Console& console,
                                 asio::ssl::context& tls) {
  const std::string remote_ip = RemoteIp(tcp_stream);
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
  beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                               asio::as_tuple(asio::use_awaitable));
  if (hec) co_return;  // not TLS, or a client that gave up: nothing to answer
  co_await Exchange(stream, console, remote_ip);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  auto [sec] = co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  (void)sec;
}

asio::awaitable<void> Listen(tcp::acceptor& acceptor, Console& console, asio::ssl::context* tls) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("console: accept failed: {}", ec.message());
      continue;
    }
    if (tls != nullptr) {
      asio::co_spawn(acceptor.get_executor(),
                     TlsSession(beast::tcp_stream(std::move(socket)), console, *tls),
                     asio::detached);
    } else {
      asio::co_spawn(acceptor.get_executor(),
                     Session(beast::tcp_stream(std::move(socket)), console), asio::detached);
    }
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

// Blocking work on a small pool of its own; `done` is posted back to the
// server's io_context, where the console (and the store) live.
class PoolRunner : public BlockingRunner {
 public:
  PoolRunner(asio::io_context& io, std::size_t threads) : io_(io), pool_(threads) {}
  // Waits for work in progress; queued work is dropped (its `done` too).
  ~PoolRunner() override {
    pool_.stop();
    pool_.join();
  }
  void Run(std::function<void()> work, std::function<void()> done) override {
    asio::post(pool_, [this, work = std::move(work), done = std::move(done)]() mutable {
      work();
      asio::post(io_, std::move(done));
    });
  }

 private:
  asio::io_context& io_;
  asio::thread_pool pool_;
};

// Argon2id needs 64 MiB per verification: a few at a time is plenty.
constexpr std::size_t kBlockingThreads = 2;

}  // namespace

struct Server::Impl {
  ServeOptions options;
  store::Store& store;
  ConsoleActions& actions;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::ssl::context> tls;  // HTTPS when a certificate is given
  std::unique_ptr<ConnectionTester> tester;
  std::unique_ptr<Console> console;
  // Declared after `console`: destroyed (joined) first, so no work in
  // progress outlives what it uses.
  std::unique_ptr<PoolRunner> blocking;
  std::thread thread;

  Impl(ServeOptions o, store::Store& s, ConsoleActions& a)
      : options(std::move(o)), store(s), actions(a) {}

  // Binds and builds the console; returns the URL.
  StatusOr<std::string> Open() {
    auto endpoint = ParseListen(options.listen);
    if (!endpoint.ok()) return endpoint.status();
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
      return Status::InvalidArgument("HTTPS needs both --tls-cert and --tls-key");
    }
    if (!options.tls_cert_file.empty()) {
      tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      beast::error_code tec;
      tls->use_certificate_chain_file(options.tls_cert_file, tec);
      if (tec) {
        return Status::InvalidArgument("cannot use the certificate " + options.tls_cert_file +
                                       ": " + tec.message() +
                                       "; give a PEM file with the certificate chain");
      }
      tls->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, tec);
      if (tec) {
        return Status::InvalidArgument("cannot use the private key " + options.tls_key_file + ": " +
                                       tec.message() +
                                       "; give the PEM key of that certificate, readable by "
                                       "this user");
      }
    }
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
    const std::string base =
        (tls ? "https://" : "http://") + host + ":" + std::to_string(bound.port());

    pipeline::ConnectEnv env;
    env.ca_file = options.ca_file;
    env.tokens = options.tokens;
    tester = NewPipelineTester(io.get_executor(), std::move(env));

    ConsoleDeps deps;
    deps.store = &store;
    deps.actions = &actions;
    deps.tester = tester.get();
    deps.clock = &oauth::SystemClock();
    deps.random = &oauth::SystemRandom();
    deps.http = options.http;
    deps.tokens = options.token_manager;
    blocking = std::make_unique<PoolRunner>(io, kBlockingThreads);
    deps.blocking = blocking.get();
    ConsoleOptions copts;
    copts.public_url = options.public_url.empty() ? base : options.public_url;
    while (copts.public_url.ends_with('/')) copts.public_url.pop_back();
    copts.auth.secure_cookie = copts.public_url.starts_with("https://");
    copts.max_body_bytes = kMaxRequestBytes;
    copts.metrics = options.metrics;
    console = std::make_unique<Console>(deps, std::move(copts));
    Status admin = console->auth().EnsureAdministrator(options.on_admin_created);
    if (!admin.ok()) return admin;
    spdlog::info("console listening on {}/", base);
    return base + "/";
  }
};

Server::Server(ServeOptions options, store::Store& store, ConsoleActions& actions)
    : impl_(std::make_unique<Impl>(std::move(options), store, actions)) {}

Server::~Server() {
  Stop();
}

StatusOr<std::string> Server::Start() {
  auto url = impl_->Open();
  if (!url.ok()) return url;
  asio::co_spawn(impl_->io, Listen(impl_->acceptor, *impl_->console, impl_->tls.get()),
                 asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return url;
}

void Server::Stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
  impl_->thread.join();
}

Status Serve(const ServeOptions& options, store::Store& store, ConsoleActions& actions) {
  Server::Impl impl(options, store, actions);
  auto url = impl.Open();
  if (!url.ok()) return url.status();
  if (options.on_listening) options.on_listening(*url);
  asio::signal_set signals(impl.io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int sig) {
    spdlog::info("signal {} received; shutting down", sig);
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    impl.io.stop();
  });
  asio::co_spawn(impl.io, Listen(impl.acceptor, *impl.console, impl.tls.get()), asio::detached);
  impl.io.run();
  return Status::Ok();
}

}  // namespace mailgate::web
