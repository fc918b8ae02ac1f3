// IMAP IDLE push (RFC 2177): a mailbox with push=true is watched on a
// connection of its own, and new mail is downloaded the moment the server
// announces it, with the checker's durability order.
#ifndef MAILGATE_PIPELINE_WATCH_H_
#define MAILGATE_PIPELINE_WATCH_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>

#include "base/status.h"
#include "pipeline/checker.h"
#include "store/store.h"

namespace mailgate::pipeline {

// Runs until the io_context stops: connect, authenticate, check (as CheckMailbox does,
// same durability order), IDLE; on EXISTS fetch the new mail at once and call
// on_new_mail() after it is recorded; re-issue IDLE before 29 minutes (the connection's
// io_timeout is set above that); reconnect every 50 minutes (before the access token
// expires), at once when the server says BYE, and with growing backoff after failures
// (a failed check waits until the mailbox's delayed_until, as scheduled checks do).
// A server without IDLE capability: poll every `poll_interval` instead.
// Each check is a run of its own ("check", "mailbox/<name>").
// Returns only when it cannot watch: not an IMAP mailbox or a bad configuration
// (kInvalidArgument), or the mailbox was deleted or disabled in the store (OK).
// REQUIRES: `env` outlives the returned awaitable.
boost::asio::awaitable<Status> WatchMailbox(boost::asio::any_io_executor ex, store::Mailbox mailbox,
                                            CheckEnv& env, std::function<void()> on_new_mail,
                                            std::chrono::seconds poll_interval);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_WATCH_H_
