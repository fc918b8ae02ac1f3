// mailgate probe imap: connect, authenticate, examine INBOX, report.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <iostream>

#include "cli/commands.h"
#include "cli/probe.h"
#include "imap/client.h"

namespace mailgate::cli {

namespace asio = boost::asio;

int ProbeImap(const ProbeArgs& args) {
  imap::ClientOptions options;
  options.connect = ProbeConnectOptions(args);
  options.auth = ProbeAuthOptions(args);
  options.trace = ProbeTraceFn(args);

  asio::io_context io;
  Status result;
  imap::MailboxInfo inbox;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto client = co_await imap::Client::Connect(io.get_executor(), options);
        if (!client.ok()) {
          result = client.status();
          co_return;
        }
        Status s = co_await (*client)->Authenticate();
        if (!s.ok()) {
          result = s;
          co_return;
        }
        // EXAMINE, the read-only SELECT: a probe must not change the mailbox (not even
        // \Recent), since the console's Test button may run it at any time.
        auto selected = co_await (*client)->Select("INBOX", /*read_only=*/true);
        if (!selected.ok()) {
          result = selected.status();
          co_return;
        }
        inbox = *selected;
        (void)co_await (*client)->Logout();
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          result = Status::Internal(std::string("unexpected error: ") + ex.what() +
                                    "; please report this bug");
        }
      });
  io.run();
  if (!result.ok()) return ProbeFail(result);
  std::cout << "IMAP " << args.host << ":" << args.port << ": authenticated as " << args.user
            << "; INBOX: " << inbox.exists << (inbox.exists == 1 ? " message" : " messages")
            << ", UIDVALIDITY " << inbox.uidvalidity << ", UIDNEXT " << inbox.uidnext << "\n";
  return kExitOk;
}

}  // namespace mailgate::cli
