// Process-wide logging set-up. Code logs through spdlog directly
// (spdlog::info(...)); this only configures level and format once at start.
#ifndef MAILGATE_BASE_LOG_H_
#define MAILGATE_BASE_LOG_H_

#include <string_view>

#include "base/status.h"

namespace mailgate {

// level: trace|debug|info|warn|error|off.
// Logs go to stderr so that command output on stdout stays machine-readable.
Status InitLogging(std::string_view level);

// format: "text" (the default: "2026-11-28 13:46:11.123 info  message") or
// "json" (one object per line: {"time":"2026-11-28T13:46:11.123Z",
// "level":"info","message":"..."}, for log collectors).
// REQUIRES: InitLogging ran.
Status SetLogFormat(std::string_view format);

}  // namespace mailgate

#endif  // MAILGATE_BASE_LOG_H_
