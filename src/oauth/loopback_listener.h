// The CLI's redirect target for the browser flow: a one-shot HTTP listener
// on http://127.0.0.1:<port>/ (RFC 8252 §7.3: loopback IP, any port).
//
// Thread safety: one thread at a time.
#ifndef MAILGATE_OAUTH_LOOPBACK_LISTENER_H_
#define MAILGATE_OAUTH_LOOPBACK_LISTENER_H_

#include <chrono>
#include <memory>
#include <string>

#include "base/status.h"
#include "oauth/flows.h"

namespace mailgate::oauth {

class LoopbackListener {
 public:
  // Listens on 127.0.0.1:`port` (0: the system picks one).
  static StatusOr<std::unique_ptr<LoopbackListener>> Start(int port = 0);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  // "http://127.0.0.1:<port>/"
  const std::string& redirect_uri() const { return redirect_uri_; }

  // Waits for the browser's redirect to "/" with code+state (or error),
  // answers it with a short page, and returns the parameters. Other paths
  // (favicon.ico) get a 404 and the wait goes on. kTransient on timeout.
  StatusOr<AuthorizationResponse> Wait(std::chrono::milliseconds timeout);

 private:
  explicit LoopbackListener(int fd, int port);
  int fd_;
  std::string redirect_uri_;
};

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_LOOPBACK_LISTENER_H_
