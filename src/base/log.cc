#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

namespace mailgate {

namespace {

constexpr std::string_view kTextPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v";

// JSON lines: a message is escaped per RFC 8259 (quotes, backslashes and
// control characters; other bytes pass through as they are).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    const std::time_t t = static_cast<std::time_t>(secs.count());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char when[40];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = "{\"time\":\"";
    out += when;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
    out += frac;
    out += "\",\"level\":\"";
    const auto level = spdlog::level::to_string_view(msg.level);
    out.append(level.data(), level.size());
    out += "\",\"message\":\"";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else if (u < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", u);
        out += esc;
      } else {
        out += c;
      }
    }
    out += "\"}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Status SetLogFormat(std::string_view format) {
  auto logger = spdlog::default_logger();
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (format == "text") {
    logger->set_pattern(std::string(kTextPattern));
  } else {
    return Status::InvalidArgument("unknown log format '" + std::string(format) +
                                   "'; use text or json");
  }
  return Status::Ok();
}

Status InitLogging(std::string_view level) {
  const auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept that when asked for.
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + std::string(level) +
                                   "'; use trace, debug, info, warn, error or off");
  }
  auto logger = spdlog::get("mailgate");
  if (!logger) logger = spdlog::stderr_color_mt("mailgate");
  logger->set_level(lvl);
  logger->set_pattern(std::string(kTextPattern));
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace mailgate
