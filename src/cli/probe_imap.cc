// mailgate probe imap: connect, authenticate, examine INBOX, report.
#include <iostream>

#include "cli/commands.h"
#include "cli/probe.h"
#include "cli/session.h"
#include "imap/client.h"

namespace mailgate::cli {

namespace asio = boost::asio;

int ProbeImap(const ProbeArgs& args) {
  imap::ClientOptions options;
  options.connect = ProbeConnectOptions(args);
  options.auth = ProbeAuthOptions(args);
  options.trace = ProbeTraceFn(args);

  imap::MailboxInfo inbox;
  const Status result = RunAsync([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto client = co_await imap::Client::Connect(ex, options);
    if (!client.ok()) co_return client.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*client)->Authenticate());
    // EXAMINE, the read-only SELECT: a probe must not change the mailbox (not even
    // \Recent), since the console's Test button may run it at any time.
    auto selected = co_await (*client)->Select("INBOX", /*read_only=*/true);
    if (!selected.ok()) co_return selected.status();
    inbox = *selected;
    (void)co_await (*client)->Logout();
    co_return Status::Ok();
  });
  if (!result.ok()) return ProbeFail(result);
  std::cout << "IMAP " << args.host << ":" << args.port << ": authenticated as " << args.user
            << "; INBOX: " << inbox.exists << (inbox.exists == 1 ? " message" : " messages")
            << ", UIDVALIDITY " << inbox.uidvalidity << ", UIDNEXT " << inbox.uidnext << "\n";
  return kExitOk;
}

}  // namespace mailgate::cli
