// Stored records as JSON, in one shape for the CLI's `--json` output and the
// REST API (docs/openapi.yaml): a script written against one reads the other.
//
// Contract: times are whole seconds since the epoch (0: never); secrets never
// appear, only whether one is set ("password_set"); field names follow the
// store's (username, not user).
#ifndef MAILGATE_VIEW_RECORDS_JSON_H_
#define MAILGATE_VIEW_RECORDS_JSON_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "store/store.h"

namespace mailgate::view {

boost::json::object TransportJson(const store::Transport& t);
// The checker's state (last check, failures, last error) is under "state".
boost::json::object MailboxJson(const store::Mailbox& m);
boost::json::array AddressesJson(const std::vector<store::AddressRecord>& list);
// For people: "Ann Example <ann@example.com>, bob@example.com" (not escaped).
std::string AddressesText(const std::vector<store::AddressRecord>& list);
boost::json::object ConversationJson(const store::Conversation& c);
// html_body is as received: clients must sanitise it before rendering.
boost::json::object MessageJson(const store::MessageRecord& m);
boost::json::object DownloadJson(const store::Download& d);
boost::json::object RunJson(const store::Run& r);
boost::json::array RunLogJson(const std::vector<store::RunLogLine>& lines);
boost::json::object OutgoingJson(const store::OutgoingMessage& m);

}  // namespace mailgate::view

#endif  // MAILGATE_VIEW_RECORDS_JSON_H_
