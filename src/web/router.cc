#include "web/router.h"

#include <optional>

namespace mailgate::web {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool IsCapture(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::optional<Params> MatchSegments(const std::vector<std::string>& pattern,
                                    const std::vector<std::string_view>& path) {
  if (pattern.size() != path.size()) return std::nullopt;
  Params params;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsCapture(pattern[i])) {
      if (path[i].empty()) return std::nullopt;
      params.emplace_back(pattern[i].substr(1, pattern[i].size() - 2), UrlDecode(path[i], false));
    } else if (pattern[i] != path[i]) {
      return std::nullopt;
    }
  }
  return params;
}

}  // namespace

const std::string& RequestContext::PathParam(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return kEmpty;
}

void Router::Add(std::string method, std::string_view pattern, Handler handler) {
  Route r;
  r.method = std::move(method);
  for (std::string_view s : Split(pattern)) r.segments.emplace_back(s);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  const auto segments = Split(path);
  const std::string_view effective = method == "HEAD" ? std::string_view("GET") : method;
  Match m;
  for (const Route& r : routes_) {
    auto params = MatchSegments(r.segments, segments);
    if (!params) continue;
    if (r.method == effective) {
      m.outcome = Outcome::kMatched;
      m.handler = &r.handler;
      m.params = std::move(*params);
      return m;
    }
    m.outcome = Outcome::kMethodNotAllowed;
    if (m.allow.find(r.method) == std::string::npos) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += r.method;
    }
  }
  return m;
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) {
    std::string pattern;
    for (const auto& seg : r.segments) pattern += "/" + seg;
    out.emplace_back(r.method, pattern);
  }
  return out;
}

}  // namespace mailgate::web
