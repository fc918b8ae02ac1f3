// mailgate-faultproxy: a TCP proxy that puts distance and faults between a
// client and a real server, for the reliability suite and the "distance"
// benchmark. TLS passes through untouched (the proxy only moves bytes), so a
// fault lands at an arbitrary byte: mid-line, mid-literal, mid-handshake.
//
//   mailgate-faultproxy --target 127.0.0.1:993 [--listen 127.0.0.1:0]
//       [--delay-ms 25] [--fault-rate 0.2] [--faults reset,stall,truncate]
//       [--seed N] [--port-file F] [--log-file F]
//
// --delay-ms adds that much one-way latency in each direction (a round trip
// costs twice), without limiting bandwidth. With --fault-rate p, each
// connection is, with probability p, given one fault from --faults at a
// random byte offset of the server's reply stream (within the first
// --fault-window bytes):
//   reset     close both sides abruptly (RST) at that offset;
//   truncate  deliver up to the offset, then close cleanly (FIN);
//   stall     deliver up to the offset, then forward nothing more, holding
//             the connection open until the client gives up.
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

enum class Fault { kNone, kReset, kTruncate, kStall };

struct Options {
  std::string listen = "127.0.0.1:0";
  std::string target;
  int delay_ms = 0;
  double fault_rate = 0;
  std::vector<Fault> faults = {Fault::kReset, Fault::kTruncate, Fault::kStall};
  std::uint64_t fault_window = std::uint64_t{256} * 1024;
  std::uint64_t seed = 1;
  std::string port_file;
  std::string log_file;
};

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kNone:
      return "none";
    case Fault::kReset:
      return "reset";
    case Fault::kTruncate:
      return "truncate";
    case Fault::kStall:
      return "stall";
  }
  return "?";
}

std::FILE* g_log = stderr;

tcp::endpoint ParseEndpoint(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("expected ADDR:PORT, got '" + s + "'");
  return {asio::ip::make_address(s.substr(0, colon)),
          static_cast<unsigned short>(std::stoi(s.substr(colon + 1)))};
}

// One proxied connection: two pumps (client->server, server->client), each a
// reader that timestamps chunks and a writer that sends them when due.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(tcp::socket client, tcp::socket server, const Options& opts, Fault fault,
       std::uint64_t fault_at, int id)
      : client_(std::move(client)),
        server_(std::move(server)),
        opts_(opts),
        fault_(fault),
        fault_at_(fault_at),
        id_(id) {}

  void Start() {
    auto self = shared_from_this();
    asio::co_spawn(client_.get_executor(), Pump(client_, server_, false), asio::detached);
    asio::co_spawn(client_.get_executor(), Pump(server_, client_, true), asio::detached);
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string data;
    bool eof = false;
  };

  asio::awaitable<void> Pump(tcp::socket& from, tcp::socket& to, bool from_server) {
    auto self = shared_from_this();
    auto queue = std::make_shared<std::deque<Chunk>>();
    auto wake = std::make_shared<asio::steady_timer>(from.get_executor(), Clock::time_point::max());
    asio::co_spawn(from.get_executor(), Writer(to, queue, wake), asio::detached);
    std::vector<char> buf(std::size_t{64} * 1024);
    for (;;) {
      auto [ec, n] =
          co_await from.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        queue->push_back({Clock::now() + Delay(), {}, true});
        wake->cancel();
        co_return;
      }
      std::string data(buf.data(), n);
      if (from_server && fault_ != Fault::kNone && delivered_ + data.size() > fault_at_) {
        data.resize(fault_at_ - delivered_);
        std::fprintf(g_log, "conn %d: %s after %llu bytes from the server\n", id_,
                     FaultName(fault_), static_cast<unsigned long long>(fault_at_));
        std::fflush(g_log);
        if (!data.empty()) queue->push_back({Clock::now() + Delay(), data, false});
        delivered_ = fault_at_;
        if (fault_ == Fault::kStall) {
          wake->cancel();
          co_return;  // forward nothing more; the sockets stay open
        }
        queue->push_back({Clock::now() + Delay(), {}, true});
        abort_after_flush_ = fault_ == Fault::kReset;
        wake->cancel();
        co_return;
      }
      if (from_server) delivered_ += data.size();
      queue->push_back({Clock::now() + Delay(), std::move(data), false});
      wake->cancel();
    }
  }

  asio::awaitable<void> Writer(tcp::socket& to, std::shared_ptr<std::deque<Chunk>> queue,
                               std::shared_ptr<asio::steady_timer> wake) {
    auto self = shared_from_this();
    for (;;) {
      while (queue->empty()) {
        wake->expires_at(Clock::time_point::max());
        co_await wake->async_wait(asio::as_tuple(asio::use_awaitable));
      }
      Chunk c = std::move(queue->front());
      queue->pop_front();
      if (c.due > Clock::now()) {
        asio::steady_timer t(to.get_executor(), c.due);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (c.eof) {
        boost::system::error_code ig;
        if (abort_after_flush_) {
          // SO_LINGER 0 turns close into a RST, on both sides.
          client_.set_option(asio::socket_base::linger(true, 0), ig);
          server_.set_option(asio::socket_base::linger(true, 0), ig);
          client_.close(ig);
          server_.close(ig);
        } else {
          to.shutdown(tcp::socket::shutdown_send, ig);
        }
        co_return;
      }
      auto [ec, n] =
          co_await asio::async_write(to, asio::buffer(c.data), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        boost::system::error_code ig;
        client_.close(ig);
        server_.close(ig);
        co_return;
      }
    }
  }

  Clock::duration Delay() const { return std::chrono::milliseconds(opts_.delay_ms); }

  tcp::socket client_, server_;
  const Options& opts_;
  Fault fault_;
  std::uint64_t fault_at_;
  std::uint64_t delivered_ = 0;
  bool abort_after_flush_ = false;
  int id_;
};

asio::awaitable<void> Accept(tcp::acceptor& acceptor, tcp::endpoint target, const Options& opts) {
  std::mt19937_64 rng(opts.seed);
  int next_id = 0;
  for (;;) {
    auto [ec, client] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const int id = ++next_id;
    tcp::socket server(acceptor.get_executor());
    auto [cec] = co_await server.async_connect(target, asio::as_tuple(asio::use_awaitable));
    if (cec) {
      std::fprintf(g_log, "conn %d: cannot reach the target: %s\n", id, cec.message().c_str());
      std::fflush(g_log);
      continue;  // the client sees its connection closed
    }
    boost::system::error_code ig;
    client.set_option(tcp::no_delay(true), ig);
    server.set_option(tcp::no_delay(true), ig);
    Fault fault = Fault::kNone;
    std::uint64_t at = 0;
    if (opts.fault_rate > 0 && std::uniform_real_distribution<>(0, 1)(rng) < opts.fault_rate &&
        !opts.faults.empty()) {
      fault =
          opts.faults[std::uniform_int_distribution<std::size_t>(0, opts.faults.size() - 1)(rng)];
      at = std::uniform_int_distribution<std::uint64_t>(0, opts.fault_window)(rng);
    }
    std::make_shared<Link>(std::move(client), std::move(server), opts, fault, at, id)->Start();
  }
}

int Usage(const char* msg) {
  std::fprintf(stderr,
               "mailgate-faultproxy: %s\n"
               "usage: mailgate-faultproxy --target ADDR:PORT [--listen ADDR:PORT] [--delay-ms N]\n"
               "       [--fault-rate P] [--faults reset,truncate,stall] [--fault-window BYTES]\n"
               "       [--seed N] [--port-file F] [--log-file F]\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
        return argv[++i];
      };
      if (a == "--listen")
        opts.listen = next();
      else if (a == "--target")
        opts.target = next();
      else if (a == "--delay-ms")
        opts.delay_ms = std::stoi(next());
      else if (a == "--fault-rate")
        opts.fault_rate = std::stod(next());
      else if (a == "--fault-window")
        opts.fault_window = std::stoull(next());
      else if (a == "--seed")
        opts.seed = std::stoull(next());
      else if (a == "--port-file")
        opts.port_file = next();
      else if (a == "--log-file")
        opts.log_file = next();
      else if (a == "--faults") {
        opts.faults.clear();
        std::string list = next();
        std::size_t pos = 0;
        while (pos <= list.size()) {
          auto comma = list.find(',', pos);
          std::string f =
              list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
          if (f == "reset")
            opts.faults.push_back(Fault::kReset);
          else if (f == "truncate")
            opts.faults.push_back(Fault::kTruncate);
          else if (f == "stall")
            opts.faults.push_back(Fault::kStall);
          else if (!f.empty())
            throw std::runtime_error("unknown fault '" + f + "'");
          if (comma == std::string::npos) break;
          pos = comma + 1;
        }
      } else {
        return Usage(("unknown option " + a).c_str());
      }
    }
    if (opts.target.empty()) return Usage("--target is required");
    if (!opts.log_file.empty()) {
      g_log = std::fopen(opts.log_file.c_str(), "a");
      if (!g_log) return Usage("cannot open the log file");
    }
    asio::io_context io;
    tcp::acceptor acceptor(io, ParseEndpoint(opts.listen));
    const auto port = acceptor.local_endpoint().port();
    if (!opts.port_file.empty()) {
      // Written then renamed, so a reader never sees a partial number.
      std::string tmp = opts.port_file + ".tmp";
      std::ofstream(tmp) << port << "\n";
      std::rename(tmp.c_str(), opts.port_file.c_str());
    }
    std::printf("listening on %s:%u -> %s\n",
                acceptor.local_endpoint().address().to_string().c_str(), port, opts.target.c_str());
    std::fflush(stdout);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { io.stop(); });
    asio::co_spawn(io, Accept(acceptor, ParseEndpoint(opts.target), opts), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  return 0;
}
