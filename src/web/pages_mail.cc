// Conversations (list, search, thread, attachments, reply), Scheduler (jobs
// with "run now", runs and their live logs) and Alerts (with Reprocess for
// quarantined downloads).
#include <spdlog/spdlog.h>

#include "view/records_json.h"
#include "web/console_internal.h"
#include "web/html.h"
#include "web/html_sanitizer.h"
#include "web/pages.h"

namespace mailgate::web {
namespace {

constexpr int kPageSize = 50;

using view::AddressesText;

std::string AttachmentUrl(int64_t conversation_id, int64_t attachment_id) {
  return "/conversations/" + std::to_string(conversation_id) + "/attachments/" +
         std::to_string(attachment_id);
}

// Bytes that are safe as a filename in Content-Disposition: printable ASCII
// without quotes, backslashes, slashes or control characters.
std::string SafeFilename(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/' || c == ';') {
      out += '_';
    } else {
      out += static_cast<char>(c);
    }
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
  if (out.empty()) out = "attachment";
  return out.substr(0, 200);
}

// Image types a browser may show inline from our origin (never SVG or HTML).
bool InlineImageType(std::string_view type) {
  return type == "image/png" || type == "image/jpeg" || type == "image/gif" || type == "image/webp";
}

}  // namespace

// --- Conversations ------------------------------------------------------------------

std::string RenderConversationsPage(const PageFrame& frame,
                                    const std::vector<store::Conversation>& conversations,
                                    const std::string& query, int page, bool has_more) {
  std::string body = "<h1>Conversations</h1>";
  body +=
      "<form method=\"get\" action=\"/conversations\" id=\"conversation-search\"><input "
      "type=\"search\" name=\"q\" id=\"q\" placeholder=\"Search by subject or sender\" value=\"" +
      EscapeHtml(query) + "\"> <button type=\"submit\" id=\"search\">Search</button></form>";
  if (conversations.empty()) {
    body += "<p id=\"no-conversations\">No conversations" +
            std::string(query.empty() ? " yet." : " match.") + "</p>";
    return RenderPage(frame, body);
  }
  body +=
      "<table id=\"conversations\"><tr><th>Subject</th><th>From</th><th>Messages</th>"
      "<th>Updated</th><th>Mask</th></tr>";
  for (const auto& c : conversations) {
    body += "<tr><td><a href=\"/conversations/" + std::to_string(c.id) + "\">" +
            EscapeHtml(c.subject.empty() ? "(no subject)" : c.subject) + "</a></td><td>" +
            EscapeHtml(c.last_from) + "</td><td>" + std::to_string(c.message_count) + "</td><td>" +
            FormatTime(c.updated_at) + "</td><td>" + EscapeHtml(c.mask) + "</td></tr>";
  }
  body += "</table><p>";
  const std::string q = query.empty() ? "" : "&q=" + UrlEncode(query);
  if (page > 1) {
    body += "<a id=\"newer\" href=\"/conversations?page=" + std::to_string(page - 1) + q +
            "\">Newer</a> ";
  }
  if (has_more) {
    body += "<a id=\"older\" href=\"/conversations?page=" + std::to_string(page + 1) + q +
            "\">Older</a>";
  }
  body += "</p>";
  return RenderPage(frame, body);
}

std::string RenderConversationPage(const PageFrame& frame, const store::Conversation& c,
                                   const std::vector<store::MessageRecord>& messages,
                                   int64_t remote_images_for, const std::string& notice_html) {
  const std::string base = "/conversations/" + std::to_string(c.id);
  std::string body = "<h1>" + EscapeHtml(c.subject.empty() ? "(no subject)" : c.subject) +
                     "</h1><p class=\"meta\">" + EscapeHtml(c.mask) + "</p>" + notice_html;
  for (const auto& m : messages) {
    body += "<article class=\"message\" id=\"message-" + std::to_string(m.id) + "\">";
    body += "<p class=\"meta\"><strong>" + EscapeHtml(AddressesText(m.from)) + "</strong> to " +
            EscapeHtml(AddressesText(m.to));
    if (!m.cc.empty()) body += ", cc " + EscapeHtml(AddressesText(m.cc));
    body += "<br>" + FormatTime(m.date) + (m.direction == "out" ? " (sent)" : "") + "</p>";
    if (!m.html_body.empty()) {
      SanitizeOptions opts;
      opts.allow_remote_images = remote_images_for == m.id;
      const int64_t conversation_id = c.id;
      const auto& attachments = m.attachments;
      opts.resolve_cid = [&attachments, conversation_id](std::string_view cid) -> std::string {
        for (const auto& a : attachments) {
          if (a.content_id == cid && InlineImageType(a.content_type)) {
            return AttachmentUrl(conversation_id, a.id) + "?inline=1";
          }
        }
        return {};
      };
      const SanitizeResult clean = SanitizeHtml(m.html_body, opts);
      // Two walls: the sanitizer's allow-list, then a sandboxed frame
      // (no scripts, no same-origin) under the page's CSP.
      body += "<iframe class=\"body\" sandbox title=\"Message body\" srcdoc=\"" +
              EscapeHtml(clean.html) + "\"></iframe>";
      if (clean.blocked_remote_images > 0) {
        body += "<p class=\"meta\">" + std::to_string(clean.blocked_remote_images) +
                " remote image(s) blocked. <a id=\"show-images-" + std::to_string(m.id) +
                "\" href=\"" + base + "?remote_images=" + std::to_string(m.id) + "#message-" +
                std::to_string(m.id) + "\">show remote images</a></p>";
      }
    } else {
      body += "<pre class=\"body\">" + EscapeHtml(m.text_body) + "</pre>";
    }
    if (!m.attachments.empty()) {
      body += "<ul class=\"attachments\">";
      for (const auto& a : m.attachments) {
        body += "<li><a href=\"" + AttachmentUrl(c.id, a.id) + "\">" +
                EscapeHtml(a.filename.empty() ? "attachment" : a.filename) + "</a> <span " +
                "class=\"meta\">" + EscapeHtml(a.content_type) + ", " + std::to_string(a.size) +
                " bytes</span></li>";
      }
      body += "</ul>";
    }
    body += "</article>";
  }
  std::string reply_to;
  std::string subject = c.subject;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->direction != "in") continue;
    const auto& from = it->reply_to.empty() ? it->from : it->reply_to;
    if (!from.empty()) reply_to = from.front().email;
    break;
  }
  if (!subject.starts_with("Re:") && !subject.starts_with("RE:")) subject = "Re: " + subject;
  body += "<h2>Reply</h2><form class=\"stacked\" method=\"post\" action=\"" + base +
          "/reply\" id=\"reply-form\">" + CsrfField(frame.csrf) + TextField("to", "To", reply_to) +
          TextField("cc", "Cc", "") + TextField("subject", "Subject", subject) +
          "<label for=\"body\">Message</label><textarea id=\"body\" name=\"body\"></textarea>"
          "<div class=\"actions\"><button type=\"submit\" id=\"reply-send\">Send</button></div>"
          "</form>";
  return RenderPage(frame, body);
}

// --- Scheduler ----------------------------------------------------------------------

std::string RenderSchedulerPage(const PageFrame& frame, const std::vector<JobInfo>& jobs,
                                const std::vector<store::Run>& runs,
                                const std::string& notice_html) {
  std::string body = "<h1>Scheduler</h1>" + notice_html;
  body +=
      "<table id=\"jobs\"><tr><th>Job</th><th>Enabled</th><th>Interval</th><th>Last run</th>"
      "<th>Next run</th><th></th></tr>";
  for (const auto& j : jobs) {
    body += "<tr id=\"job-" + EscapeHtml(j.job) + "\"><td>" + EscapeHtml(j.title) + "</td><td>" +
            (j.enabled ? "yes" : "no") + "</td><td>" +
            (j.interval_seconds > 0 ? std::to_string(j.interval_seconds) + " s" : "continuous") +
            "</td><td>" + FormatTime(j.last_run_at) + "</td><td>" + FormatTime(j.next_run_at) +
            "</td><td>" +
            PostButton("/scheduler/jobs/" + UrlEncode(j.job) + "/run", frame.csrf, "run now",
                       "run-now-" + j.job) +
            "</td></tr>";
  }
  body += "</table><h2>Recent runs</h2>";
  if (runs.empty()) {
    body += "<p id=\"no-runs\">No runs yet.</p>";
    return RenderPage(frame, body);
  }
  body +=
      "<table id=\"runs\"><tr><th>Run</th><th>Job</th><th>Subject</th><th>Started</th>"
      "<th>Status</th><th>Summary</th></tr>";
  for (const auto& r : runs) {
    const std::string cls = r.status == "ok"       ? "status-ok"
                            : r.status == "failed" ? "status-bad"
                                                   : "status-warn";
    body += "<tr><td><a href=\"/scheduler/runs/" + std::to_string(r.id) + "\">#" +
            std::to_string(r.id) + "</a></td><td>" + EscapeHtml(r.job) + "</td><td>" +
            EscapeHtml(r.subject) + "</td><td>" + FormatTime(r.started_at) +
            "</td><td><span class=\"" + cls + "\">" + EscapeHtml(r.status) + "</span></td><td>" +
            EscapeHtml(r.summary) + "</td></tr>";
  }
  body += "</table>";
  return RenderPage(frame, body);
}

std::string RenderRunPage(const PageFrame& frame, const store::Run& run,
                          const std::vector<store::RunLogLine>& lines) {
  PageFrame f = frame;
  const bool running = run.status == "running";
  if (running) f.refresh_seconds = 2;
  std::string body = "<h1>Run #" + std::to_string(run.id) + ": " + EscapeHtml(run.job) +
                     (run.subject.empty() ? "" : " " + EscapeHtml(run.subject)) + "</h1>";
  body += "<p id=\"run-status\">Status: <strong>" + EscapeHtml(run.status) + "</strong>" +
          (running ? " (this page refreshes every 2 seconds)" : "") + ". Started " +
          FormatTime(run.started_at) +
          (run.finished_at ? ", finished " + FormatTime(run.finished_at) : std::string()) + ".</p>";
  if (!run.summary.empty()) body += "<p id=\"run-summary\">" + EscapeHtml(run.summary) + "</p>";
  body += RenderLog(lines, "run-log");
  body += "<p><a href=\"/scheduler\">Back to the Scheduler</a></p>";
  return RenderPage(f, body);
}

// --- Alerts ---------------------------------------------------------------------------

std::string RenderAlertsPage(const PageFrame& frame, const std::vector<store::Alert>& alerts,
                             const std::vector<store::Account>& accounts,
                             const std::vector<store::Mailbox>& mailboxes,
                             const std::vector<store::Download>& quarantined,
                             const std::string& notice_html) {
  std::string body = "<h1>Alerts</h1>" + notice_html;
  bool any = false;
  std::string reauth;
  for (const auto& a : accounts) {
    if (a.status != store::AccountStatus::kReauthorizationRequired) continue;
    reauth +=
        "<li><strong class=\"status-bad\">reauthorization required</strong>: account <a "
        "href=\"/accounts\">" +
        EscapeHtml(a.name) + "</a> " + EscapeHtml(a.last_error_code) + " " +
        EscapeHtml(a.last_error) + "</li>";
  }
  if (!reauth.empty()) {
    any = true;
    body += "<h2>Connected Accounts</h2><ul id=\"alerts-accounts\">" + reauth + "</ul>";
  }
  std::string failing;
  for (const auto& m : mailboxes) {
    if (m.consecutive_failures == 0 && m.last_error.empty()) continue;
    failing += "<li>mailbox <a href=\"/mailboxes/" + UrlEncode(m.name) + "\">" +
               EscapeHtml(m.name) + "</a>: " + std::to_string(m.consecutive_failures) +
               " consecutive failure(s); " + EscapeHtml(m.last_error) + "</li>";
  }
  if (!failing.empty()) {
    any = true;
    body += "<h2>Failing mailboxes</h2><ul id=\"alerts-mailboxes\">" + failing + "</ul>";
  }
  if (!alerts.empty()) {
    any = true;
    body +=
        "<h2>Open alerts</h2><table id=\"alerts\"><tr><th>Raised</th><th>Kind</th>"
        "<th>About</th><th>Message</th></tr>";
    for (const auto& a : alerts) {
      body += "<tr><td>" + FormatTime(a.created_at) + "</td><td>" + EscapeHtml(a.kind) +
              "</td><td>" + EscapeHtml(a.subject) + "</td><td>" + EscapeHtml(a.message) +
              "</td></tr>";
    }
    body += "</table>";
  }
  if (!quarantined.empty()) {
    any = true;
    body +=
        "<h2>Quarantined messages</h2><table id=\"quarantine\"><tr><th>Download</th>"
        "<th>Mailbox</th><th>Size</th><th>Downloaded</th><th>Why</th><th></th></tr>";
    for (const auto& d : quarantined) {
      body += "<tr><td>" + std::to_string(d.id) + "</td><td>" + EscapeHtml(d.mailbox_name) +
              "</td><td>" + std::to_string(d.size) + " bytes</td><td>" +
              FormatTime(d.downloaded_at) + "</td><td>" + EscapeHtml(d.error) + "</td><td>" +
              PostButton("/alerts/quarantine/" + std::to_string(d.id) + "/reprocess", frame.csrf,
                         "Reprocess", "reprocess-" + std::to_string(d.id)) +
              "</td></tr>";
    }
    body += "</table>";
  }
  if (!any) body += "<p id=\"no-alerts\">Nothing needs attention.</p>";
  return RenderPage(frame, body);
}

namespace {

StatusOr<int64_t> ParseId(std::string_view text) {
  int64_t v = 0;
  if (text.empty() || text.size() > 18) return Status::NotFound("no such id");
  for (char c : text) {
    if (c < '0' || c > '9') return Status::NotFound("no such id");
    v = v * 10 + (c - '0');
  }
  return v;
}

int PageNumber(const Params& query) {
  auto p = ParseId(Param(query, "page"));
  return p.ok() && *p >= 1 && *p < 100000 ? static_cast<int>(*p) : 1;
}

HttpResponse ConversationView(Console::State& s, RequestContext& ctx, int64_t id,
                              const std::string& notice, int status) {
  auto c = s.store().GetConversation(id);
  if (!c.ok()) return ErrorPage(ctx, c.status(), "conversations");
  auto messages = s.store().ConversationMessages(id);
  if (!messages.ok()) return ErrorPage(ctx, messages.status(), "conversations");
  auto remote = ParseId(Param(ctx.query, "remote_images"));
  HttpResponse r =
      HttpResponse::Html(RenderConversationPage(Frame(ctx, c->subject, "conversations"), *c,
                                                *messages, remote.ok() ? *remote : 0, notice),
                         status);
  // The frames inherit this policy. Sanitised mail keeps vetted inline
  // styles; remote images load only after the reader asked for them.
  std::string csp =
      "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
      "frame-ancestors 'none'; base-uri 'none'; frame-src 'self'; img-src 'self' data:";
  if (remote.ok()) csp += " https: http:";
  r.headers.emplace_back("Content-Security-Policy", csp);
  return r;
}

std::vector<std::string> SplitAddresses(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ';' || c == ' ') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

HttpResponse AttachmentResponse(store::Store& store, int64_t conversation_id, int64_t attachment_id,
                                bool inline_image);

HttpResponse AttachmentResponse(store::Store& store, int64_t conversation_id, int64_t attachment_id,
                                bool inline_image) {
  auto messages = store.ConversationMessages(conversation_id);
  if (!messages.ok()) return HttpResponse::Text(messages.status().message() + "\n", 404);
  for (const auto& m : *messages) {
    for (const auto& a : m.attachments) {
      if (a.id != attachment_id) continue;
      auto data = store.AttachmentData(a.sha256);
      if (!data.ok()) return HttpResponse::Text(data.status().message() + "\n", 404);
      HttpResponse r;
      const bool show = inline_image && InlineImageType(a.content_type);
      r.content_type = show ? a.content_type : "application/octet-stream";
      r.body = std::move(*data);
      r.headers.emplace_back("Content-Disposition", std::string(show ? "inline" : "attachment") +
                                                        "; filename=\"" + SafeFilename(a.filename) +
                                                        "\"");
      r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; sandbox");
      return r;
    }
  }
  return HttpResponse::Text("no such attachment\n", 404);
}

void AddConversationPages(Console::State& s) {
  s.router.Add("GET", "/conversations", [&s](RequestContext& ctx) {
    const std::string q = Param(ctx.query, "q");
    const int page = PageNumber(ctx.query);
    const int offset = (page - 1) * kPageSize;
    auto list = q.empty() ? s.store().ListConversations(kPageSize + 1, offset)
                          : s.store().SearchConversations(q, kPageSize + 1, offset);
    if (!list.ok()) return ErrorPage(ctx, list.status(), "conversations");
    const bool more = list->size() > static_cast<size_t>(kPageSize);
    if (more) list->pop_back();
    return HttpResponse::Html(RenderConversationsPage(Frame(ctx, "Conversations", "conversations"),
                                                      *list, q, page, more));
  });
  s.router.Add("GET", "/conversations/{id}", [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return ErrorPage(ctx, Status::NotFound("no such conversation"), "conversations");
    const std::string notice = HasParam(ctx.query, "queued")
                                   ? Notice("ok", "Your reply is queued.", "reply-queued")
                                   : std::string();
    return ConversationView(s, ctx, *id, notice, 200);
  });
  s.router.Add("GET", "/conversations/{id}/attachments/{attachment}", [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    auto att = ParseId(ctx.PathParam("attachment"));
    if (!id.ok() || !att.ok()) return HttpResponse::Text("no such attachment\n", 404);
    return AttachmentResponse(s.store(), *id, *att, HasParam(ctx.query, "inline"));
  });
  s.router.Add("POST", "/conversations/{id}/reply", [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return ErrorPage(ctx, Status::NotFound("no such conversation"), "conversations");
    ReplyDraft draft;
    draft.to = SplitAddresses(Param(ctx.form, "to"));
    draft.cc = SplitAddresses(Param(ctx.form, "cc"));
    draft.subject = Param(ctx.form, "subject");
    draft.body = Param(ctx.form, "body");
    Status st;
    if (draft.to.empty()) st = Status::InvalidArgument("the reply needs a recipient in To");
    if (st.ok()) st = s.deps.actions->QueueReply(*id, std::move(draft)).status();
    if (!st.ok())
      return ConversationView(s, ctx, *id, Notice("error", st.message()), HttpStatusFor(st));
    return HttpResponse::Redirect("/conversations/" + std::to_string(*id) + "?queued=1");
  });
}

void AddSchedulerPages(Console::State& s) {
  auto page = [&s](RequestContext& ctx, const std::string& notice, int status) {
    auto runs = s.store().ListRuns("", 50);
    if (!runs.ok()) return ErrorPage(ctx, runs.status(), "scheduler");
    return HttpResponse::Html(RenderSchedulerPage(Frame(ctx, "Scheduler", "scheduler"),
                                                  s.deps.actions->Jobs(), *runs, notice),
                              status);
  };
  s.router.Add("GET", "/scheduler", [page](RequestContext& ctx) {
    const std::string started = Param(ctx.query, "started");
    return page(ctx,
                started.empty()
                    ? std::string()
                    : Notice("ok", "Started '" + started + "'; its log is below.", "job-started"),
                200);
  });
  s.router.Add("POST", "/scheduler/jobs/{job}/run", [&s, page](RequestContext& ctx) {
    const std::string& job = ctx.PathParam("job");
    Status st = s.deps.actions->RunJobNow(job);
    if (!st.ok()) return page(ctx, Notice("error", st.message(), "job-error"), HttpStatusFor(st));
    return HttpResponse::Redirect("/scheduler?started=" + UrlEncode(job));
  });
  s.router.Add("GET", "/scheduler/runs/{id}", [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return ErrorPage(ctx, Status::NotFound("no such run"), "scheduler");
    auto run = s.store().GetRun(*id);
    if (!run.ok()) return ErrorPage(ctx, run.status(), "scheduler");
    auto lines = s.store().RunLog(*id);
    if (!lines.ok()) return ErrorPage(ctx, lines.status(), "scheduler");
    return HttpResponse::Html(
        RenderRunPage(Frame(ctx, "Run #" + std::to_string(*id), "scheduler"), *run, *lines));
  });
}

void AddAlertPages(Console::State& s) {
  auto page = [&s](RequestContext& ctx, const std::string& notice, int status) {
    auto alerts = s.store().ListAlerts(true);
    auto accounts = s.store().ListAccounts();
    auto mailboxes = s.store().ListMailboxes();
    auto quarantined = s.store().QuarantinedDownloads();
    for (const Status* st :
         {&alerts.status(), &accounts.status(), &mailboxes.status(), &quarantined.status()}) {
      if (!st->ok()) return ErrorPage(ctx, *st, "alerts");
    }
    return HttpResponse::Html(RenderAlertsPage(Frame(ctx, "Alerts", "alerts"), *alerts, *accounts,
                                               *mailboxes, *quarantined, notice),
                              status);
  };
  s.router.Add("GET", "/alerts", [page](RequestContext& ctx) {
    return page(ctx,
                HasParam(ctx.query, "reprocessing")
                    ? Notice("ok", "The message is queued for processing again.", "reprocessing")
                    : std::string(),
                200);
  });
  s.router.Add("POST", "/alerts/quarantine/{id}/reprocess", [&s, page](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    Status st = id.ok() ? s.deps.actions->Reprocess(*id) : Status::NotFound("no such download");
    if (!st.ok())
      return page(ctx, Notice("error", st.message(), "reprocess-error"), HttpStatusFor(st));
    return HttpResponse::Redirect("/alerts?reprocessing=1");
  });
}

}  // namespace mailgate::web
