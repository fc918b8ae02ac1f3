#include "base/status.h"

namespace mailgate {

std::string_view KindName(Status::Kind kind) {
  switch (kind) {
    case Status::Kind::kOk:
      return "ok";
    case Status::Kind::kInvalidArgument:
      return "invalid_argument";
    case Status::Kind::kNotFound:
      return "not_found";
    case Status::Kind::kAlreadyExists:
      return "already_exists";
    case Status::Kind::kFailedPrecondition:
      return "failed_precondition";
    case Status::Kind::kConnect:
      return "connect";
    case Status::Kind::kTls:
      return "tls";
    case Status::Kind::kAuth:
      return "auth";
    case Status::Kind::kProtocol:
      return "protocol";
    case Status::Kind::kPermanent:
      return "permanent";
    case Status::Kind::kTransient:
      return "transient";
    case Status::Kind::kIo:
      return "io";
    case Status::Kind::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(kind_, std::move(msg));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(KindName(kind_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace mailgate
