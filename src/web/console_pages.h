// Server-rendered pages of the web console. Pure functions of their inputs,
// so they are tested without a server.
#ifndef MAILGATE_WEB_CONSOLE_PAGES_H_
#define MAILGATE_WEB_CONSOLE_PAGES_H_

#include <string>
#include <vector>

#include "store/store.h"

namespace mailgate::web {

// The console's front page: the Email Mailboxes and what to do next.
std::string RenderHomePage(const std::vector<store::Mailbox>& mailboxes);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONSOLE_PAGES_H_
