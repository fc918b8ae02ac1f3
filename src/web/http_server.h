// The HTTP server of `mailgate serve`: console pages, /healthz.
// Beast and Asio stay inside http_server.cc; this header is cheap to include.
#ifndef MAILGATE_WEB_HTTP_SERVER_H_
#define MAILGATE_WEB_HTTP_SERVER_H_

#include <functional>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::web {

struct ServeOptions {
  // "ADDR:PORT"; port 0 picks a free one (reported through on_listening).
  std::string listen = "127.0.0.1:8025";
  // Called once the socket listens, with the console's URL.
  std::function<void(const std::string& url)> on_listening;
};

// Serves until SIGINT or SIGTERM, then returns OK.
// REQUIRES: `store` outlives the call and is used by no other thread meanwhile.
Status Serve(const ServeOptions& options, store::Store& store);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_HTTP_SERVER_H_
