// Outgoing mail: compose and queue (durably, in the store's `outgoing`
// table), then deliver through the chosen transport with retries.
//
// Delivery, per message:
//   1. ClaimOutgoing marks it `sending` under this worker's lease;
//   2. connect, authenticate, MAIL/RCPT/DATA;
//   3. right after the server's 250 for DATA, RecordOutgoingAttempt marks it
//      `sent` (or queued for the recipients refused with 4xx);
//   4. QUIT, then the message joins its conversation (direction "out").
// The window that can duplicate a message is between the 250 in step 3 and
// the commit that follows it (one UPDATE, milliseconds): if the process dies
// there, the message stays `sending`, its lease expires and another attempt
// sends it again. SMTP offers no way to close that window (the server has
// taken responsibility before we can record it), so it is kept as short as
// the store allows: nothing else happens between the 250 and the commit.
// Step 4 is idempotent: a message found by its Message-ID is not stored twice.
//
// Retries: transient failures (4xx, network, TLS, authentication refused,
// a token that cannot be refreshed now) wait 1, 2, 5, 10, 30, then 60
// minutes between attempts, until 24 hours after the message was queued;
// then it fails. Permanent refusals (5xx for the message) fail at once.
// Recipients refused with 5xx are recorded and not retried; with 4xx they
// alone are retried.
#ifndef MAILGATE_SERVE_OUTBOX_H_
#define MAILGATE_SERVE_OUTBOX_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "mime/compose.h"
#include "pipeline/config.h"
#include "pipeline/run_log.h"
#include "store/store.h"

namespace mailgate::serve {

struct OutgoingRequest {
  std::string transport;  // empty: by From address, else the only transport
  mime::Draft draft;      // for a reply, in_reply_to/references are filled in
  int64_t reply_to_conversation = 0;
};

// The transport for a message: `requested` when given (kNotFound if it does
// not exist), else the one whose user name is the From address, else the only
// one. kInvalidArgument when none can be chosen, saying what to pass.
StatusOr<std::string> ChooseTransport(store::Store& store, const std::string& requested,
                                      const std::string& from_email);

// Composes the message (reply headers from the conversation's newest message)
// and queues it; returns its outgoing id.
StatusOr<int64_t> QueueMessage(store::Store& store, OutgoingRequest request, int64_t now);

// The delay before attempt `attempts + 1` after a transient failure.
int64_t RetryDelaySeconds(int attempts);
inline constexpr int64_t kGiveUpAfterSeconds = 24 * 3600;

struct OutboxEnv {
  store::Store* store = nullptr;  // REQUIRED; used only from the executor's thread
  pipeline::ConnectEnv connect;
  std::string holder;                     // lease holder id of this worker
  int64_t lease_seconds = 600;            // longer than any one delivery
  std::function<int64_t()> now;           // empty: the system clock
  std::function<std::uint32_t()> random;  // for new conversation masks; empty: CSPRNG
  pipeline::RunLog::Echo echo;
  int64_t only_id = 0;  // deliver only this message (mailgate send); 0: every due one
};

struct OutboxResult {
  Status status;  // failed only when the queue could not be read
  int64_t run_id = 0;
  std::size_t sent = 0, retrying = 0, failed = 0;
};

// Delivers every due message (one run of the "outgoing" job, with its run log).
// REQUIRES: `env` outlives the returned awaitable.
boost::asio::awaitable<OutboxResult> DeliverDue(boost::asio::any_io_executor ex, OutboxEnv& env);

// Adds a sent message to its conversation (a new one when it is not a reply)
// and marks it stored. Idempotent.
Status StoreSentMessage(store::Store& store, const store::OutgoingMessage& message, int64_t now,
                        const std::function<std::uint32_t()>& random);

}  // namespace mailgate::serve

#endif  // MAILGATE_SERVE_OUTBOX_H_
