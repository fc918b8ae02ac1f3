#include "http/json.h"

#include <boost/json/parse.hpp>
#include <charconv>

namespace mailgate::http {

StatusOr<boost::json::object> ParseJsonObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) {
    return Status::Protocol(std::string(what) + " is not valid JSON (" + ec.message() + ")");
  }
  if (!v.is_object()) return Status::Protocol(std::string(what) + " is not a JSON object");
  return std::move(v.as_object());
}

std::optional<std::string> GetString(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().as_string());
}

std::optional<int64_t> GetInt(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  const auto& v = it->value();
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.as_uint64());
  if (v.is_double()) {
    // Converting a double outside int64's range (1e300, NaN) is undefined
    // behaviour; such a number is no usable count of seconds anyway.
    const double d = v.as_double();
    if (!(d > -9.2e18 && d < 9.2e18)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (v.is_string()) {
    const auto& s = v.as_string();
    int64_t n = 0;
    auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (e == std::errc() && p == s.data() + s.size()) return n;
  }
  return std::nullopt;
}

}  // namespace mailgate::http
