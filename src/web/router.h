// A small router: method + path pattern -> handler. Patterns are literal
// segments and `{name}` captures ("/mailboxes/{name}/test"); a capture
// matches one non-empty segment and is percent-decoded.
#ifndef MAILGATE_WEB_ROUTER_H_
#define MAILGATE_WEB_ROUTER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "web/http_types.h"

namespace mailgate::web {

// What a handler gets: the request, the captures, who is asking.
struct RequestContext {
  const HttpRequest& request;
  Params path_params;
  const Principal& principal;
  Params query;  // parsed query string
  Params form;   // parsed urlencoded body (POST forms); empty otherwise

  const std::string& PathParam(std::string_view name) const;
};

using Handler = std::function<HttpResponse(RequestContext&)>;

class Router {
 public:
  // REQUIRES: `pattern` starts with '/'. Later routes never shadow earlier
  // ones: the first match wins.
  void Add(std::string method, std::string_view pattern, Handler handler);

  enum class Outcome { kMatched, kNotFound, kMethodNotAllowed };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Handler* handler = nullptr;
    Params params;
    std::string allow;  // kMethodNotAllowed: the methods the path accepts
  };
  // HEAD matches GET routes.
  Match Find(std::string_view method, std::string_view path) const;

  // Every (method, pattern), in the order added (tests walk them all).
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for a capture
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_ROUTER_H_
