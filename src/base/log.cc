#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace mailgate {

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
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace mailgate
