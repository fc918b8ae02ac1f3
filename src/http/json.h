// JSON parsing at the boundary: Boost.JSON's exceptions and error codes
// become Status values.
#ifndef MAILGATE_HTTP_JSON_H_
#define MAILGATE_HTTP_JSON_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mailgate::http {

// Parses `text` as a JSON object; `what` names it in the error.
StatusOr<boost::json::object> ParseJsonObject(std::string_view text, std::string_view what);

// Typed field access; nullopt when absent or of another type. Numbers given
// as strings (some providers send "3600") are accepted by GetInt.
std::optional<std::string> GetString(const boost::json::object& o, std::string_view key);
std::optional<int64_t> GetInt(const boost::json::object& o, std::string_view key);

}  // namespace mailgate::http

#endif  // MAILGATE_HTTP_JSON_H_
