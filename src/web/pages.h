// Renderers of the console's pages: pure functions of their inputs (no
// store, no server), so the HTML, and its escaping, is tested directly.
#ifndef MAILGATE_WEB_PAGES_H_
#define MAILGATE_WEB_PAGES_H_

#include <string>
#include <vector>

#include "store/store.h"
#include "web/console_actions.h"
#include "web/layout.h"

namespace mailgate::web {

// --- Connected Accounts ------------------------------------------------------
std::string RenderAccountsPage(const PageFrame& frame, const std::vector<store::Account>& accounts,
                               const std::string& redirect_uri, const std::string& notice_html,
                               const store::Account& form_values);
// The edit form of one account. Secrets are write-only: the client secret's
// field is always empty (blank keeps it).
std::string RenderAccountForm(const PageFrame& frame, const store::Account& account,
                              const std::string& notice_html);

// --- Email Transports and Email Mailboxes -------------------------------------
std::string RenderTransportsPage(const PageFrame& frame,
                                 const std::vector<store::Transport>& transports,
                                 const std::string& notice_html);
// `is_new`: the create form. `test_log`: the Test's lines (empty: no test ran).
std::string RenderTransportForm(const PageFrame& frame, const store::Transport& transport,
                                bool is_new, const std::vector<std::string>& account_names,
                                const std::string& notice_html, const std::string& send_to,
                                const std::vector<store::RunLogLine>* test_log);
std::string RenderMailboxesPage(const PageFrame& frame,
                                const std::vector<store::Mailbox>& mailboxes,
                                const std::string& notice_html);
std::string RenderMailboxForm(const PageFrame& frame, const store::Mailbox& mailbox, bool is_new,
                              const std::vector<std::string>& account_names,
                              const std::string& notice_html,
                              const std::vector<store::RunLogLine>* test_log);

// <pre id="test-log"> with one line per log line, escaped.
std::string RenderLog(const std::vector<store::RunLogLine>& lines, std::string_view id);

// --- Conversations -------------------------------------------------------------
std::string RenderConversationsPage(const PageFrame& frame,
                                    const std::vector<store::Conversation>& conversations,
                                    const std::string& query, int page, bool has_more);
// `remote_images_for`: the id of the message whose remote images the reader
// asked to see (0: none).
std::string RenderConversationPage(const PageFrame& frame, const store::Conversation& conversation,
                                   const std::vector<store::MessageRecord>& messages,
                                   int64_t remote_images_for, const std::string& notice_html);

// --- Scheduler and Alerts ------------------------------------------------------
std::string RenderSchedulerPage(const PageFrame& frame, const std::vector<JobInfo>& jobs,
                                const std::vector<store::Run>& runs,
                                const std::string& notice_html);
std::string RenderRunPage(const PageFrame& frame, const store::Run& run,
                          const std::vector<store::RunLogLine>& lines);
std::string RenderAlertsPage(const PageFrame& frame, const std::vector<store::Alert>& alerts,
                             const std::vector<store::Account>& accounts,
                             const std::vector<store::Mailbox>& mailboxes,
                             const std::vector<store::Download>& quarantined,
                             const std::string& notice_html);

// --- API tokens -----------------------------------------------------------------
// `new_token`: shown once, right after it was created.
std::string RenderTokensPage(const PageFrame& frame, const std::vector<store::ApiToken>& tokens,
                             const std::string& new_token, const std::string& notice_html);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_PAGES_H_
