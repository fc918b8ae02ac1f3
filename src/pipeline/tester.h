// The Test buttons of Email Mailboxes and Email Transports: connect,
// authenticate and look, reporting every step (and the redacted protocol
// trace) in a RunLog, so the user sees where it went wrong and what to do.
#ifndef MAILGATE_PIPELINE_TESTER_H_
#define MAILGATE_PIPELINE_TESTER_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <string>

#include "base/status.h"
#include "pipeline/config.h"
#include "pipeline/run_log.h"
#include "store/store.h"

namespace mailgate::pipeline {

// IMAP: connect, authenticate, STATUS of the folder ("Connected to your
// mailbox successfully!" and the message count). POP3: connect, authenticate,
// STAT. Changes nothing on the server. `trace`: add the protocol trace to the log.
boost::asio::awaitable<Status> TestMailbox(boost::asio::any_io_executor ex, store::Mailbox mailbox,
                                           ConnectEnv env, RunLog* log, bool trace);

// Connect, EHLO, authenticate; with a non-empty `send_to`, send a short test
// message from the transport's user name to that address.
boost::asio::awaitable<Status> TestTransport(boost::asio::any_io_executor ex,
                                             store::Transport transport, ConnectEnv env,
                                             std::string send_to, RunLog* log, bool trace);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_TESTER_H_
