// REST API under /api/v1 (docs/openapi.yaml describes every endpoint).
// JSON in and out; errors are {"error": "..."} with the status code of the
// Status kind. Secrets are never returned: "password_set": true instead.
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "http/json.h"
#include "oauth/provider.h"
#include "pipeline/config.h"
#include "view/records_json.h"
#include "web/console_internal.h"

namespace mailgate::web {

HttpResponse AttachmentResponse(store::Store& store, int64_t conversation_id, int64_t attachment_id,
                                bool inline_image);

namespace json = boost::json;

HttpResponse JsonResponse(const json::value& value, int status) {
  return HttpResponse::Json(json::serialize(value) + "\n", status);
}

HttpResponse JsonError(int status, std::string_view message) {
  return JsonResponse(json::object{{"error", message}}, status);
}

HttpResponse JsonError(const Status& status) {
  return JsonError(HttpStatusFor(status), status.message());
}

namespace {

using view::ConversationJson;
using view::DownloadJson;
using view::MailboxJson;
using view::MessageJson;
using view::RunJson;
using view::TransportJson;

constexpr std::string_view kPrefix = "/api/v1";

std::string P(std::string_view path) {
  return std::string(kPrefix) + std::string(path);
}

StatusOr<int64_t> ParseId(std::string_view text) {
  int64_t v = 0;
  if (text.empty() || text.size() > 18) return Status::NotFound("no such id");
  for (char c : text) {
    if (c < '0' || c > '9') return Status::NotFound("no such id: '" + std::string(text) + "'");
    v = v * 10 + (c - '0');
  }
  return v;
}

int IntParam(const Params& q, std::string_view name, int fallback, int max) {
  auto v = ParseId(Param(q, name));
  if (!v.ok()) return fallback;
  return static_cast<int>(std::min<int64_t>(*v, max));
}

StatusOr<json::object> Body(const RequestContext& ctx) {
  if (ctx.request.body.empty()) return json::object{};
  auto o = http::ParseJsonObject(ctx.request.body, "the request body");
  if (!o.ok()) return Status::InvalidArgument(o.status().message());
  return o;
}

json::array Strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

json::object AccountJson(const store::Account& a) {
  return json::object{{"name", a.name},
                      {"provider", a.provider},
                      {"authority", a.authority},
                      {"tenant", a.tenant},
                      {"client_id", a.client_id},
                      {"client_secret_set", !a.client_secret.empty()},
                      {"scopes", Strings(a.scopes)},
                      {"auth_url", a.auth_url},
                      {"token_url", a.token_url},
                      {"device_url", a.device_url},
                      {"flow", a.flow},
                      {"status", store::AccountStatusName(a.status)},
                      {"last_error", a.last_error},
                      {"last_error_code", a.last_error_code},
                      {"access_expires_at", a.access_expires_at},
                      {"last_refresh_at", a.last_refresh_at},
                      {"created_at", a.created_at}};
}

// Reads optional fields of a JSON body into a configuration; a field of the
// wrong type is a 400.
struct Reader {
  const json::object& o;
  Status error;

  void Str(std::string_view key, std::string& out) {
    if (auto it = o.find(key); it != o.end()) {
      if (it->value().is_string()) {
        out = std::string(it->value().as_string());
      } else {
        Fail(key, "a string");
      }
    }
  }
  template <typename T>
  void Int(std::string_view key, T& out) {
    if (auto it = o.find(key); it != o.end()) {
      if (it->value().is_int64()) {
        out = static_cast<T>(it->value().as_int64());
      } else if (it->value().is_uint64()) {
        out = static_cast<T>(it->value().as_uint64());
      } else {
        Fail(key, "a number");
      }
    }
  }
  void Bool(std::string_view key, bool& out) {
    if (auto it = o.find(key); it != o.end()) {
      if (it->value().is_bool()) {
        out = it->value().as_bool();
      } else {
        Fail(key, "true or false");
      }
    }
  }
  void Secret(std::string_view key, store::Secret& out) {
    std::string v;
    bool present = o.contains(key);
    Str(key, v);
    if (present && error.ok()) out = store::Secret(v);
  }
  void Fail(std::string_view key, std::string_view what) {
    if (error.ok()) {
      error = Status::InvalidArgument("\"" + std::string(key) + "\" must be " + std::string(what));
    }
  }
};

Status CheckAccount(store::Store& store, const std::string& account) {
  if (account.empty()) return Status::Ok();
  auto a = store.GetAccount(account);
  if (a.ok()) return Status::Ok();
  if (a.status().kind() == Status::Kind::kNotFound) {
    return Status::InvalidArgument(a.status().message());
  }
  return a.status();
}

Status ApplyTransport(const json::object& o, store::Transport& t) {
  Reader r{o, {}};
  r.Str("name", t.name);
  r.Str("host", t.host);
  r.Int("port", t.port);
  r.Str("encryption", t.encryption);
  r.Str("username", t.username);
  r.Secret("password", t.password);
  r.Str("account", t.account);
  r.Int("timeout_seconds", t.timeout_seconds);
  if (o.contains("auth")) {
    r.Str("auth", t.auth);
  } else if (o.contains("account") || o.contains("password")) {
    t.auth = !t.account.empty() ? "xoauth2" : !t.password.empty() ? "password" : "none";
  }
  if (!r.error.ok()) return r.error;
  if (t.auth != "password") t.password = store::Secret();
  if (t.auth == "password" || t.auth == "none") t.account.clear();
  if (t.name.empty()) return Status::InvalidArgument("\"name\" is required");
  return pipeline::NormalizeTransport(t);
}

Status ApplyMailbox(const json::object& o, store::Mailbox& m) {
  Reader r{o, {}};
  r.Str("name", m.name);
  r.Bool("enabled", m.enabled);
  r.Str("protocol", m.protocol);
  r.Str("host", m.host);
  r.Int("port", m.port);
  r.Str("encryption", m.encryption);
  r.Str("username", m.username);
  r.Secret("password", m.password);
  r.Str("account", m.account);
  r.Str("folder", m.folder);
  r.Str("after_download", m.after_download);
  r.Int("max_size_kb", m.max_size_kb);
  r.Bool("download_oversized", m.download_oversized);
  r.Int("timeout_seconds", m.timeout_seconds);
  r.Int("max_messages_per_run", m.max_messages_per_run);
  r.Bool("push", m.push);
  if (o.contains("auth")) {
    r.Str("auth", m.auth);
  } else if (o.contains("account") || o.contains("password")) {
    m.auth = !m.account.empty() ? "xoauth2" : "password";
  }
  if (!r.error.ok()) return r.error;
  if (m.auth != "password") m.password = store::Secret();
  if (m.auth == "password") m.account.clear();
  if (m.name.empty()) return Status::InvalidArgument("\"name\" is required");
  return pipeline::NormalizeMailbox(m);
}

HttpResponse TestResponse(const TestOutcome& outcome) {
  json::object o{{"ok", outcome.status.ok()}, {"log", view::RunLogJson(outcome.lines)}};
  if (!outcome.status.ok()) o["error"] = outcome.status.message();
  return JsonResponse(o, 200);
}

void AddAccountApi(Console::State& s) {
  s.router.Add("GET", P("/accounts"), [&s](RequestContext&) {
    auto all = s.store().ListAccounts();
    if (!all.ok()) return JsonError(all.status());
    json::array out;
    for (const auto& a : *all) out.push_back(AccountJson(a));
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/accounts/{name}"), [&s](RequestContext& ctx) {
    auto a = s.store().GetAccount(ctx.PathParam("name"));
    if (!a.ok()) return JsonError(a.status());
    return JsonResponse(AccountJson(*a));
  });
  s.router.Add("POST", P("/accounts"), [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    store::Account a;
    Reader r{*body, {}};
    r.Str("name", a.name);
    r.Str("provider", a.provider);
    r.Str("authority", a.authority);
    r.Str("tenant", a.tenant);
    r.Str("client_id", a.client_id);
    r.Secret("client_secret", a.client_secret);
    r.Str("auth_url", a.auth_url);
    r.Str("token_url", a.token_url);
    r.Str("device_url", a.device_url);
    if (auto it = body->find("scopes"); it != body->end()) {
      if (!it->value().is_array()) r.Fail("scopes", "an array of strings");
      for (const auto& v : it->value().is_array() ? it->value().as_array() : json::array()) {
        if (v.is_string()) a.scopes.emplace_back(v.as_string());
      }
    }
    Status st = r.error;
    if (st.ok() && a.name.empty()) st = Status::InvalidArgument("\"name\" is required");
    if (st.ok()) st = oauth::NormalizeAccount(a);
    if (st.ok()) st = s.store().CreateAccount(a, s.now());
    if (!st.ok()) return JsonError(st);
    auto saved = s.store().GetAccount(a.name);
    if (!saved.ok()) return JsonError(saved.status());
    return JsonResponse(AccountJson(*saved), 201);
  });
  // Configuration edits: only the fields present change. "client_secret":
  // a new one, or "" to remove it; it is never returned.
  auto edit = [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    Reader r{*body, {}};
    store::AccountUpdate u;
    auto str = [&](std::string_view key, std::optional<std::string>& out) {
      if (!body->contains(key)) return;
      std::string v;
      r.Str(key, v);
      out = std::move(v);
    };
    str("client_id", u.client_id);
    str("tenant", u.tenant);
    str("authority", u.authority);
    str("auth_url", u.auth_url);
    str("token_url", u.token_url);
    str("device_url", u.device_url);
    if (body->contains("client_secret")) {
      store::Secret secret;
      r.Secret("client_secret", secret);
      u.client_secret = std::move(secret);
    }
    if (auto it = body->find("scopes"); it != body->end()) {
      if (!it->value().is_array()) r.Fail("scopes", "an array of strings");
      std::vector<std::string> scopes;
      for (const auto& v : it->value().is_array() ? it->value().as_array() : json::array()) {
        if (v.is_string()) scopes.emplace_back(v.as_string());
      }
      u.scopes = std::move(scopes);
    }
    for (const auto& field : *body) {
      const std::string_view key(field.key().data(), field.key().size());
      static constexpr std::string_view kEditable[] = {"client_id", "client_secret", "tenant",
                                                       "authority", "scopes",        "auth_url",
                                                       "token_url", "device_url"};
      if (std::find(std::begin(kEditable), std::end(kEditable), key) == std::end(kEditable)) {
        r.Fail(key,
               "left out: only client_id, client_secret, tenant, authority, scopes and (generic "
               "accounts) auth_url, token_url and device_url can be changed (remove the account "
               "and add it again for the rest)");
      }
    }
    if (!r.error.ok()) return JsonError(r.error);
    auto result = EditAccount(s, ctx.PathParam("name"), u);
    if (!result.ok()) return JsonError(result.status());
    auto saved = s.store().GetAccount(ctx.PathParam("name"));
    if (!saved.ok()) return JsonError(saved.status());
    return JsonResponse(AccountJson(*saved));
  };
  s.router.Add("PATCH", P("/accounts/{name}"), edit);
  s.router.Add("POST", P("/accounts/{name}/client-credentials"), [&s](RequestContext& ctx) {
    return ConnectClientCredentials(
        s, ctx.PathParam("name"), [&s, name = ctx.PathParam("name")](const Status& st) {
          if (st.kind() == Status::Kind::kNotFound) return JsonError(st);
          if (!st.ok()) {
            // The provider's refusal (AADSTS...) or a configuration to fix:
            // not the API caller's credentials, so not a 401.
            return JsonError(st.kind() == Status::Kind::kTransient ? 503 : 409, st.message());
          }
          auto saved = s.store().GetAccount(name);
          if (!saved.ok()) return JsonError(saved.status());
          return JsonResponse(AccountJson(*saved));
        });
  });
  s.router.Add("DELETE", P("/accounts/{name}"), [&s](RequestContext& ctx) {
    Status st = s.store().DeleteAccount(ctx.PathParam("name"));
    if (!st.ok()) return JsonError(st);
    (void)s.store().ResolveAlerts("account/" + ctx.PathParam("name"), s.now());
    return HttpResponse{204, "application/json", {}, "", {}};
  });
}

void AddTransportApi(Console::State& s) {
  s.router.Add("GET", P("/transports"), [&s](RequestContext&) {
    auto all = s.store().ListTransports();
    if (!all.ok()) return JsonError(all.status());
    json::array out;
    for (const auto& t : *all) out.push_back(TransportJson(t));
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/transports/{name}"), [&s](RequestContext& ctx) {
    auto t = s.store().GetTransport(ctx.PathParam("name"));
    if (!t.ok()) return JsonError(t.status());
    return JsonResponse(TransportJson(*t));
  });
  s.router.Add("POST", P("/transports"), [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    store::Transport t;
    t.auth = "none";
    Status st = ApplyTransport(*body, t);
    if (st.ok()) st = CheckAccount(s.store(), t.account);
    if (st.ok()) st = s.store().CreateTransport(t, s.now());
    if (!st.ok()) return JsonError(st);
    return JsonResponse(TransportJson(*s.store().GetTransport(t.name)), 201);
  });
  auto update = [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    auto t = s.store().GetTransport(ctx.PathParam("name"));
    if (!t.ok()) return JsonError(t.status());
    body->erase("name");  // names are immutable
    Status st = ApplyTransport(*body, *t);
    if (st.ok()) st = CheckAccount(s.store(), t->account);
    if (st.ok()) st = s.store().UpdateTransport(*t);
    if (!st.ok()) return JsonError(st);
    return JsonResponse(TransportJson(*t));
  };
  s.router.Add("PUT", P("/transports/{name}"), update);
  s.router.Add("PATCH", P("/transports/{name}"), update);
  s.router.Add("DELETE", P("/transports/{name}"), [&s](RequestContext& ctx) {
    Status st = s.store().DeleteTransport(ctx.PathParam("name"));
    if (!st.ok()) return JsonError(st);
    return HttpResponse{204, "application/json", {}, "", {}};
  });
  s.router.Add("POST", P("/transports/{name}/test"), [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    auto t = s.store().GetTransport(ctx.PathParam("name"));
    if (!t.ok()) return JsonError(t.status());
    if (!s.deps.tester) return JsonError(409, "Test is not available in this server");
    std::string send_to;
    Reader r{*body, {}};
    r.Str("send_to", send_to);
    if (!r.error.ok()) return JsonError(r.error);
    ConnectionTester* tester = s.deps.tester;
    return HttpResponse::Later([tester, t = *t, send_to](std::function<void(HttpResponse)> done) {
      tester->TestTransport(t, send_to, [done](TestOutcome o) { done(TestResponse(o)); });
    });
  });
}

void AddMailboxApi(Console::State& s) {
  s.router.Add("GET", P("/mailboxes"), [&s](RequestContext&) {
    auto all = s.store().ListMailboxes();
    if (!all.ok()) return JsonError(all.status());
    json::array out;
    for (const auto& m : *all) out.push_back(MailboxJson(m));
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/mailboxes/{name}"), [&s](RequestContext& ctx) {
    auto m = s.store().GetMailbox(ctx.PathParam("name"));
    if (!m.ok()) return JsonError(m.status());
    return JsonResponse(MailboxJson(*m));
  });
  s.router.Add("POST", P("/mailboxes"), [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    store::Mailbox m;
    m.auth = "password";
    Status st = ApplyMailbox(*body, m);
    if (st.ok()) st = CheckAccount(s.store(), m.account);
    if (st.ok()) st = s.store().CreateMailbox(m, s.now());
    if (!st.ok()) return JsonError(st);
    return JsonResponse(MailboxJson(*s.store().GetMailbox(m.name)), 201);
  });
  auto update = [&s](RequestContext& ctx) {
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    auto m = s.store().GetMailbox(ctx.PathParam("name"));
    if (!m.ok()) return JsonError(m.status());
    body->erase("name");
    Status st = ApplyMailbox(*body, *m);
    if (st.ok()) st = CheckAccount(s.store(), m->account);
    if (st.ok()) st = s.store().UpdateMailbox(*m);
    if (!st.ok()) return JsonError(st);
    return JsonResponse(MailboxJson(*m));
  };
  s.router.Add("PUT", P("/mailboxes/{name}"), update);
  s.router.Add("PATCH", P("/mailboxes/{name}"), update);
  s.router.Add("DELETE", P("/mailboxes/{name}"), [&s](RequestContext& ctx) {
    Status st = s.store().DeleteMailbox(ctx.PathParam("name"));
    if (!st.ok()) return JsonError(st);
    return HttpResponse{204, "application/json", {}, "", {}};
  });
  s.router.Add("POST", P("/mailboxes/{name}/test"), [&s](RequestContext& ctx) {
    auto m = s.store().GetMailbox(ctx.PathParam("name"));
    if (!m.ok()) return JsonError(m.status());
    if (!s.deps.tester) return JsonError(409, "Test is not available in this server");
    ConnectionTester* tester = s.deps.tester;
    return HttpResponse::Later([tester, m = *m](std::function<void(HttpResponse)> done) {
      tester->TestMailbox(m, [done](TestOutcome o) { done(TestResponse(o)); });
    });
  });
}

void AddMailApi(Console::State& s) {
  s.router.Add("GET", P("/conversations"), [&s](RequestContext& ctx) {
    const std::string q = Param(ctx.query, "q");
    const int limit = std::max(1, IntParam(ctx.query, "limit", 50, 500));
    const int offset = IntParam(ctx.query, "offset", 0, 1'000'000'000);
    auto list = q.empty() ? s.store().ListConversations(limit, offset)
                          : s.store().SearchConversations(q, limit, offset);
    if (!list.ok()) return JsonError(list.status());
    json::array items;
    for (const auto& c : *list) items.push_back(ConversationJson(c));
    return JsonResponse(
        json::object{{"items", std::move(items)}, {"limit", limit}, {"offset", offset}});
  });
  s.router.Add("GET", P("/conversations/{id}"), [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return JsonError(id.status());
    auto c = s.store().GetConversation(*id);
    if (!c.ok()) return JsonError(c.status());
    auto messages = s.store().ConversationMessages(*id);
    if (!messages.ok()) return JsonError(messages.status());
    json::object out = ConversationJson(*c);
    json::array list;
    for (const auto& m : *messages) list.push_back(MessageJson(m));
    out["messages"] = std::move(list);
    return JsonResponse(out);
  });
  s.router.Add("POST", P("/conversations/{id}/reply"), [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return JsonError(id.status());
    auto body = Body(ctx);
    if (!body.ok()) return JsonError(body.status());
    ReplyDraft d;
    Reader r{*body, {}};
    r.Str("subject", d.subject);
    r.Str("body", d.body);
    r.Str("transport", d.transport);
    r.Str("from", d.from);
    for (std::string_view key : {"to", "cc"}) {
      auto it = body->find(key);
      if (it == body->end()) continue;
      if (!it->value().is_array()) {
        r.Fail(key, "an array of addresses");
        continue;
      }
      for (const auto& v : it->value().as_array()) {
        if (v.is_string()) (key == "to" ? d.to : d.cc).emplace_back(v.as_string());
      }
    }
    if (!r.error.ok()) return JsonError(r.error);
    if (d.to.empty()) return JsonError(400, "\"to\" needs at least one address");
    auto queued = s.deps.actions->QueueReply(*id, std::move(d));
    if (!queued.ok()) return JsonError(queued.status());
    return JsonResponse(json::object{{"message_id", *queued}}, 202);
  });
  s.router.Add("GET", P("/attachments/{sha256}"), [&s](RequestContext& ctx) {
    const std::string& sha = ctx.PathParam("sha256");
    auto data = s.store().AttachmentData(sha);
    if (!data.ok()) return JsonError(data.status());
    HttpResponse r;
    r.content_type = "application/octet-stream";
    r.body = std::move(*data);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + sha + "\"");
    return r;
  });
  s.router.Add("GET", P("/quarantine"), [&s](RequestContext&) {
    auto q = s.store().QuarantinedDownloads();
    if (!q.ok()) return JsonError(q.status());
    json::array out;
    for (const auto& d : *q) out.push_back(DownloadJson(d));
    return JsonResponse(out);
  });
  s.router.Add("POST", P("/quarantine/{id}/reprocess"), [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return JsonError(id.status());
    Status st = s.deps.actions->Reprocess(*id);
    if (!st.ok()) return JsonError(st);
    return JsonResponse(json::object{{"reprocessing", *id}}, 202);
  });
  s.router.Add("GET", P("/runs"), [&s](RequestContext& ctx) {
    auto runs = s.store().ListRuns(Param(ctx.query, "job"),
                                   std::max(1, IntParam(ctx.query, "limit", 50, 500)));
    if (!runs.ok()) return JsonError(runs.status());
    json::array out;
    for (const auto& r : *runs) out.push_back(RunJson(r));
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/runs/{id}"), [&s](RequestContext& ctx) {
    auto id = ParseId(ctx.PathParam("id"));
    if (!id.ok()) return JsonError(id.status());
    auto run = s.store().GetRun(*id);
    if (!run.ok()) return JsonError(run.status());
    auto log = s.store().RunLog(*id);
    if (!log.ok()) return JsonError(log.status());
    json::object out = RunJson(*run);
    out["log"] = view::RunLogJson(*log);
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/alerts"), [&s](RequestContext& ctx) {
    auto alerts = s.store().ListAlerts(Param(ctx.query, "all") != "true");
    if (!alerts.ok()) return JsonError(alerts.status());
    json::array out;
    for (const auto& a : *alerts) {
      out.push_back(json::object{{"id", a.id},
                                 {"kind", a.kind},
                                 {"subject", a.subject},
                                 {"message", a.message},
                                 {"created_at", a.created_at},
                                 {"resolved_at", a.resolved_at}});
    }
    return JsonResponse(out);
  });
  s.router.Add("GET", P("/jobs"), [&s](RequestContext&) {
    json::array out;
    for (const auto& j : s.deps.actions->Jobs()) {
      out.push_back(json::object{{"job", j.job},
                                 {"title", j.title},
                                 {"enabled", j.enabled},
                                 {"interval_seconds", j.interval_seconds},
                                 {"last_run_at", j.last_run_at},
                                 {"next_run_at", j.next_run_at}});
    }
    return JsonResponse(out);
  });
  s.router.Add("POST", P("/jobs/{job}/run"), [&s](RequestContext& ctx) {
    Status st = s.deps.actions->RunJobNow(ctx.PathParam("job"));
    if (!st.ok()) return JsonError(st);
    return JsonResponse(json::object{{"started", ctx.PathParam("job")}}, 202);
  });
}

}  // namespace

void AddApi(Console::State& s) {
  AddAccountApi(s);
  AddTransportApi(s);
  AddMailboxApi(s);
  AddMailApi(s);
}

}  // namespace mailgate::web
