// mailgate account add|authorize|list|show|token|remove, and mailgate key
// generate|rotate: connected accounts and the master key that seals their
// secrets.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/session.h"
#include "http/http_client.h"
#include "oauth/account_edit.h"
#include "oauth/flows.h"
#include "oauth/loopback_listener.h"
#include "oauth/provider.h"
#include "oauth/token_manager.h"

namespace mailgate::cli {
namespace {

// Opens `url` in a browser when one can be started; never fails.
void TryOpenBrowser(const std::string& url) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if (!(display && *display) && !(wayland && *wayland)) return;
  const char* path = std::getenv("PATH");
  bool found = false;
  std::stringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (!d.empty() && ::access((d + "/xdg-open").c_str(), X_OK) == 0) found = true;
  }
  if (!found) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Detach from our terminal output: browsers are chatty.
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execlp("xdg-open", "xdg-open", url.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

boost::json::object AccountJson(const store::Account& a, bool detail,
                                const std::vector<store::Alert>& alerts) {
  boost::json::object o;
  o["name"] = a.name;
  o["provider"] = a.provider;
  o["status"] = std::string(store::AccountStatusName(a.status));
  o["flow"] = a.flow;
  o["access_token_expires_at"] = a.access_expires_at ? FormatTime(a.access_expires_at) : "";
  o["last_refresh_at"] = a.last_refresh_at ? FormatTime(a.last_refresh_at) : "";
  o["last_error"] = a.last_error;
  o["last_error_code"] = a.last_error_code;
  if (!detail) return o;
  o["authority"] = a.authority;
  o["tenant"] = a.tenant;
  o["client_id"] = a.client_id;
  // Whether a secret exists, never the secret.
  o["client_secret"] = a.client_secret.empty() ? "none" : "set";
  o["refresh_token"] = a.refresh_token.empty() ? "none" : "stored";
  o["access_token"] = a.access_token.empty() ? "none" : "stored";
  boost::json::array scopes;
  auto flow = oauth::ParseFlow(a.flow.empty() ? "browser" : a.flow);
  auto effective = oauth::ScopesFor(a, flow.ok() ? *flow : oauth::Flow::kBrowser);
  if (effective.ok()) {
    for (const auto& s : *effective) scopes.emplace_back(s);
  }
  o["scopes"] = std::move(scopes);
  auto endpoints = oauth::ResolveEndpoints(a);
  o["token_endpoint"] = !a.grant_token_url.empty() ? a.grant_token_url
                        : endpoints.ok()           ? endpoints->token
                                                   : "";
  o["failure_count"] = a.failure_count;
  o["retry_at"] = a.retry_at ? FormatTime(a.retry_at) : "";
  o["created_at"] = FormatTime(a.created_at);
  boost::json::array al;
  for (const auto& alert : alerts) {
    if (alert.subject != "account/" + a.name) continue;
    al.push_back(boost::json::object{{"kind", alert.kind},
                                     {"message", alert.message},
                                     {"created_at", FormatTime(alert.created_at)}});
  }
  o["alerts"] = std::move(al);
  return o;
}

std::string NextStep(const store::Account& a) {
  switch (a.status) {
    case store::AccountStatus::kNotAuthorized:
      return "run `mailgate account authorize " + a.name + "`";
    case store::AccountStatus::kReauthorizationRequired:
      return oauth::RemedyFor(a);
    case store::AccountStatus::kDegraded:
      return "Mailgate retries on its own; check the network and the provider's status";
    case store::AccountStatus::kOk:
      return "";
  }
  return "";
}

// The client secret from a file, or from standard input for "-" (never from
// the command line, where other users see it in the process list).
StatusOr<store::Secret> ReadClientSecret(const std::string& file) {
  if (file != "-") {
    auto secret = ReadSecretFile(file, "client secret");
    if (!secret.ok()) return secret.status();
    return store::Secret(std::move(*secret));
  }
  std::stringstream ss;
  ss << std::cin.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return Status::InvalidArgument("no client secret on standard input");
  return store::Secret(std::move(s));
}

// Where the mail servers of the account's cloud are, for the next steps.
void PrintMailHosts(const store::Account& a) {
  if (a.provider != "microsoft") return;
  const oauth::MicrosoftCloud& cloud = oauth::MicrosoftCloudFor(a.authority);
  std::printf("Mail servers (Exchange Online, %s cloud): IMAP %s:993, POP3 %s:995, SMTP %s:587.\n",
              std::string(cloud.name).c_str(), std::string(cloud.mail_host).c_str(),
              std::string(cloud.mail_host).c_str(), std::string(cloud.smtp_host).c_str());
}

// --- add ---------------------------------------------------------------

struct AddOptions {
  store::Account account;
  std::string secret_file;
};

int RunAdd(const GlobalOptions& g, AddOptions& o) {
  store::Account& a = o.account;
  if (!o.secret_file.empty()) {
    auto secret = ReadClientSecret(o.secret_file);
    if (!secret.ok()) return PrintError(secret.status()), kExitFailure;
    a.client_secret = std::move(*secret);
  }
  // "common" only works for multitenant apps; the app registration's default
  // is single-tenant, which fails there with AADSTS50194. Ask rather than guess.
  if (a.provider == "microsoft" && a.tenant.empty()) {
    PrintError(Status::InvalidArgument(
        "--tenant is required for Microsoft: give the Directory (tenant) ID or a domain of your "
        "tenant (the app registration's Overview page shows it), or `organizations` / `common` "
        "for a multitenant app"));
    return kExitUsage;
  }
  if (Status s = oauth::NormalizeAccount(a); !s.ok()) return PrintError(s), kExitUsage;
  auto st = OpenStore(g);
  if (!st.ok()) return PrintError(st.status()), kExitFailure;
  const int64_t now = oauth::SystemClock().NowSeconds();
  if (Status s = (*st)->CreateAccount(a, now); !s.ok()) return PrintError(s), kExitFailure;
  std::printf("Added account '%s' (%s%s). Next: mailgate account authorize %s\n", a.name.c_str(),
              a.provider.c_str(), a.tenant.empty() ? "" : (", tenant " + a.tenant).c_str(),
              a.name.c_str());
  PrintMailHosts(a);
  return kExitOk;
}

// --- edit --------------------------------------------------------------

struct EditOptions {
  std::string name;
  // Each set only when its option was given (an empty value is a value).
  std::optional<std::string> client_id;
  std::optional<std::string> tenant;
  std::optional<std::string> authority;
  std::optional<std::string> auth_url;  // generic accounts' endpoints
  std::optional<std::string> token_url;
  std::optional<std::string> device_url;
  std::string secret_file;
  bool no_secret = false;
  std::vector<std::string> scopes;
  bool default_scopes = false;
};

// Changes an account's configuration. A new client ID, tenant, authority or
// (generic) token URL belongs to another app, directory or authorization
// server: the old grant cannot be refreshed there, so it is dropped and the
// account must be authorized again. A new
// secret or new scopes keep the grant, and the account's token is fetched
// again at once: that lifts a refusal the old secret caused, and the
// account's alert clears when the new token comes.
int RunEdit(const GlobalOptions& g, const EditOptions& o) {
  if (!o.secret_file.empty() && o.no_secret) {
    PrintError(
        Status::InvalidArgument("give --client-secret-file or --no-client-secret, not both"));
    return kExitUsage;
  }
  if (!o.scopes.empty() && o.default_scopes) {
    PrintError(Status::InvalidArgument("give --scope or --default-scopes, not both"));
    return kExitUsage;
  }
  store::AccountUpdate edit;
  edit.client_id = o.client_id;
  edit.tenant = o.tenant;
  edit.authority = o.authority;
  edit.auth_url = o.auth_url;
  edit.token_url = o.token_url;
  edit.device_url = o.device_url;
  if (!o.scopes.empty()) edit.scopes = o.scopes;
  if (o.default_scopes) edit.scopes = std::vector<std::string>{};
  if (o.no_secret) edit.client_secret = store::Secret();
  if (!o.secret_file.empty()) {
    auto secret = ReadClientSecret(o.secret_file);
    if (!secret.ok()) return PrintError(secret.status()), kExitFailure;
    edit.client_secret = std::move(*secret);
  }
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto result = oauth::EditAccount(*session->store, o.name, edit);
  if (!result.ok()) {
    PrintError(result.status());
    return result.status().kind() == Status::Kind::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  const store::Account& a = result->account;
  const std::vector<std::string>& changed = result->changed;
  if (changed.empty()) {
    std::printf("Nothing to change for account '%s'.\n", a.name.c_str());
    return kExitOk;
  }
  std::string what;
  for (const auto& c : changed) {
    if (!what.empty()) what += ", ";
    what += c;
  }
  std::printf("Account '%s': changed %s.\n", a.name.c_str(), what.c_str());
  if (result->app_changed) PrintMailHosts(a);
  if (result->needs_authorization) {
    if (result->grant_removed)
      std::printf(
          "The old grant belongs to the previous app, tenant or token URL and was removed.\n");
    std::printf("Next: mailgate account authorize %s\n", a.name.c_str());
    return kExitOk;
  }
  auto token = session->tokens->GetAccessToken(a.name, true);
  if (!token.ok()) {
    PrintError(token.status().WithContext("account '" + a.name + "' was changed, but"));
    return kExitFailure;
  }
  auto now = session->store->GetAccount(a.name);
  if (!now.ok()) return PrintError(now.status()), kExitFailure;
  std::printf("Account '%s' works: new access token valid until %s.\n", a.name.c_str(),
              FormatTime(now->access_expires_at).c_str());
  return kExitOk;
}

// --- authorize -----------------------------------------------------------

struct AuthorizeOptions {
  std::string name;
  std::string flow;
  bool no_open = false;
  std::string login_hint;
  int port = 0;
  int timeout = 300;
};

int RunAuthorize(const GlobalOptions& g, const AuthorizeOptions& o) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto a = session->store->GetAccount(o.name);
  if (!a.ok()) return PrintError(a.status()), kExitFailure;
  std::string flow_name = o.flow;
  if (flow_name.empty()) flow_name = a->flow.empty() ? "browser" : a->flow;
  auto flow = oauth::ParseFlow(flow_name);
  if (!flow.ok()) return PrintError(flow.status()), kExitUsage;
  auto endpoints = oauth::ResolveEndpoints(*a);
  if (!endpoints.ok()) return PrintError(endpoints.status()), kExitFailure;
  // The CLI's browser flow redirects to its loopback listener: a public
  // client's flow, recorded as such so that refreshes send no secret.
  if (*flow == oauth::Flow::kBrowser) flow = oauth::Flow::kLoopback;
  auto scopes = oauth::ScopesFor(*a, *flow);
  if (!scopes.ok()) return PrintError(scopes.status()), kExitFailure;
  if (*flow == oauth::Flow::kClientCredentials && a->provider == "microsoft" &&
      (a->tenant == "common" || a->tenant == "organizations" || a->tenant == "consumers")) {
    PrintError(Status::InvalidArgument(
        "app-only access needs the tenant that granted the application permissions, not '" +
        a->tenant + "': run `mailgate account edit " + a->name +
        " --tenant <your tenant ID or domain>`"));
    return kExitUsage;
  }
  const oauth::Client client = oauth::ClientFor(*a, *flow);
  const oauth::Timeouts timeouts;
  http::HttpClient& http = *session->http;

  StatusOr<oauth::TokenResponse> tokens = Status::Internal("no flow ran");
  oauth::OAuthError oerr;
  switch (*flow) {
    case oauth::Flow::kBrowser:
    case oauth::Flow::kLoopback: {
      if (endpoints->authorize.empty()) {
        return PrintError(Status::InvalidArgument(
                   "account '" + a->name +
                   "' has no authorization endpoint; add it again with --auth-url")),
               kExitFailure;
      }
      auto listener = oauth::LoopbackListener::Start(o.port);
      if (!listener.ok()) return PrintError(listener.status()), kExitFailure;
      auto request = oauth::BuildAuthorizationRequest(*endpoints, a->client_id, *scopes,
                                                      (*listener)->redirect_uri(),
                                                      oauth::SystemRandom(), o.login_hint);
      std::printf("Open this URL in a browser and sign in (waiting up to %d s):\n%s\n", o.timeout,
                  request.url.c_str());
      std::fflush(stdout);
      if (!o.no_open) TryOpenBrowser(request.url);
      auto response = (*listener)->Wait(std::chrono::seconds(o.timeout));
      if (!response.ok()) return PrintError(response.status()), kExitFailure;
      tokens = oauth::CompleteAuthorization(http, request, client, *response, timeouts, &oerr);
      break;
    }
    case oauth::Flow::kDevice: {
      auto device =
          oauth::StartDeviceAuthorization(http, *endpoints, client, *scopes, timeouts, &oerr);
      if (!device.ok()) {
        tokens = device.status();
        break;
      }
      std::printf("To sign in, open %s and enter the code %s (valid %lld minutes).\n",
                  device->verification_uri.c_str(), device->user_code.c_str(),
                  static_cast<long long>(device->expires_in / 60));
      std::fflush(stdout);
      tokens = oauth::PollDeviceAuthorization(http, oauth::SystemClock(), *endpoints, client,
                                              *device, timeouts, &oerr);
      break;
    }
    case oauth::Flow::kClientCredentials:
      tokens =
          oauth::ClientCredentialsGrant(http, endpoints->token, client, *scopes, timeouts, &oerr);
      break;
  }
  if (!tokens.ok()) {
    Status err = tokens.status().WithContext("authorizing account '" + a->name + "'");
    if (!oerr.error.empty()) {
      // Say what fixes it: for a refused client, not another authorization.
      store::Account refused = *a;
      refused.last_error = oauth::DescribeOAuthError(oerr);
      refused.last_error_code = oerr.code;
      if (const std::string remedy = oauth::RemedyFor(refused);
          remedy != "run `mailgate account authorize " + a->name + "`") {
        err = Status::Auth(err.message() + "; " + remedy);
      }
    }
    PrintError(err);
    return kExitFailure;
  }
  if (*flow != oauth::Flow::kClientCredentials && tokens->refresh_token.empty()) {
    spdlog::warn(
        "the provider issued no refresh token (is offline_access among the scopes?); "
        "mail will stop when the access token expires");
  }
  Status saved = session->tokens->SaveGrant(a->name, *flow, endpoints->token, *tokens);
  if (!saved.ok()) return PrintError(saved), kExitFailure;
  std::printf(
      "Account '%s' is authorized (%s flow); access token valid until %s.\n", a->name.c_str(),
      *flow == oauth::Flow::kLoopback ? "browser" : std::string(oauth::FlowName(*flow)).c_str(),
      FormatTime(oauth::SystemClock().NowSeconds() + tokens->expires_in).c_str());
  return kExitOk;
}

// --- list / show -----------------------------------------------------------

int RunList(const GlobalOptions& g, bool json) {
  auto st = OpenStore(g);
  if (!st.ok()) return PrintError(st.status()), kExitFailure;
  auto accounts = (*st)->ListAccounts();
  if (!accounts.ok()) return PrintError(accounts.status()), kExitFailure;
  if (json) {
    boost::json::array arr;
    for (const auto& a : *accounts) arr.push_back(AccountJson(a, false, {}));
    std::printf("%s\n", boost::json::serialize(arr).c_str());
    return kExitOk;
  }
  if (accounts->empty()) {
    std::printf(
        "No accounts. Add one with `mailgate account add NAME --provider microsoft "
        "--client-id ID`.\n");
    return kExitOk;
  }
  std::printf("%-20s %-10s %-25s %-21s %s\n", "NAME", "PROVIDER", "STATUS", "TOKEN EXPIRES",
              "LAST ERROR");
  for (const auto& a : *accounts) {
    std::printf(
        "%-20s %-10s %-25s %-21s %s\n", a.name.c_str(), a.provider.c_str(),
        std::string(store::AccountStatusName(a.status)).c_str(),
        FormatTime(a.access_expires_at).c_str(),
        a.last_error_code.empty() ? a.last_error.substr(0, 40).c_str() : a.last_error_code.c_str());
  }
  return kExitOk;
}

int RunShow(const GlobalOptions& g, const std::string& name, bool json) {
  auto st = OpenStore(g);
  if (!st.ok()) return PrintError(st.status()), kExitFailure;
  auto a = (*st)->GetAccount(name);
  if (!a.ok()) return PrintError(a.status()), kExitFailure;
  auto alerts = (*st)->ListAlerts(true);
  if (!alerts.ok()) return PrintError(alerts.status()), kExitFailure;
  boost::json::object o = AccountJson(*a, true, *alerts);
  if (json) {
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return kExitOk;
  }
  auto field = [&](const char* label, const boost::json::value& v) {
    std::string text;
    if (v.is_string()) {
      text = std::string(v.as_string());
    } else if (v.is_array()) {
      for (const auto& e : v.as_array()) {
        if (!text.empty()) text += ' ';
        text += e.is_string() ? std::string(e.as_string()) : "";
      }
    } else {
      text = boost::json::serialize(v);
    }
    if (text.empty()) text = "-";
    std::printf("%-18s %s\n", label, text.c_str());
  };
  field("Name:", o["name"]);
  field("Provider:", o["provider"]);
  if (a->provider == "microsoft") {
    field("Authority:", o["authority"]);
    field("Tenant:", o["tenant"]);
  }
  field("Client ID:", o["client_id"]);
  field("Client secret:", o["client_secret"]);
  field("Scopes:", o["scopes"]);
  field("Token endpoint:", o["token_endpoint"]);
  field("Flow:", o["flow"]);
  field("Status:", o["status"]);
  field("Refresh token:", o["refresh_token"]);
  field("Token expires:", o["access_token_expires_at"]);
  field("Last refresh:", o["last_refresh_at"]);
  field("Last error:", o["last_error"]);
  field("Error code:", o["last_error_code"]);
  if (a->failure_count > 0) {
    field("Failures:", o["failure_count"]);
    field("Next attempt:", o["retry_at"]);
  }
  for (const auto& al : o["alerts"].as_array()) {
    std::printf("%-18s %s\n",
                "Alert:", std::string(al.as_object().at("message").as_string()).c_str());
  }
  if (const std::string next = NextStep(*a); !next.empty()) {
    std::printf("%-18s %s\n", "Next step:", next.c_str());
  }
  return kExitOk;
}

// --- token / remove ----------------------------------------------------------

struct TokenOptions {
  std::string name;
  bool print = false;
  bool force = false;
  int refresh_margin = 600;
  int timeout = 30;
};

int RunToken(const GlobalOptions& g, const TokenOptions& o) {
  oauth::TokenManagerOptions options;
  options.refresh_margin = std::chrono::seconds(o.refresh_margin);
  options.timeouts.total = std::chrono::seconds(o.timeout);
  options.timeouts.connect = std::chrono::seconds(std::min(o.timeout, 10));
  auto session = OpenSession(g, options);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto token = session->tokens->GetAccessToken(o.name, o.force);
  if (!token.ok()) return PrintError(token.status()), kExitFailure;
  if (o.print) {
    std::printf("%s\n", token->c_str());
    return kExitOk;
  }
  auto a = session->store->GetAccount(o.name);
  if (!a.ok()) return PrintError(a.status()), kExitFailure;
  std::printf("Account '%s' has a valid access token until %s (%s). Use --print to output it.\n",
              o.name.c_str(), FormatTime(a->access_expires_at).c_str(),
              std::string(store::AccountStatusName(a->status)).c_str());
  return kExitOk;
}

int RunRemove(const GlobalOptions& g, const std::string& name) {
  auto st = OpenStore(g);
  if (!st.ok()) return PrintError(st.status()), kExitFailure;
  if (Status s = (*st)->DeleteAccount(name); !s.ok()) return PrintError(s), kExitFailure;
  (void)(*st)->ResolveAlerts("account/" + name, oauth::SystemClock().NowSeconds());
  std::printf("Removed account '%s' and its stored tokens.\n", name.c_str());
  return kExitOk;
}

// --- key ---------------------------------------------------------------------

int RunKeyGenerate() {
  std::printf("%s\n", store::EncodeMasterKey(store::GenerateMasterKey()).c_str());
  return kExitOk;
}

// Re-seals every secret under a new key. With a key file the sequence is
// crash-safe: the new key is written to master.key.next first (and loaded
// as an extra key by every process from then on), the database is re-sealed
// in one transaction, and only then does master.key.next replace master.key.
int RunKeyRotate(const GlobalOptions& g) {
  auto dir = PrepareDataDir(g);
  if (!dir.ok()) return PrintError(dir.status()), kExitFailure;
  const char* env = std::getenv("MAILGATE_MASTER_KEY");
  const bool env_key = env && *env;
  auto current = OpenVault(g);
  if (!current.ok()) return PrintError(current.status()), kExitFailure;
  store::MasterKey next_key;
  if (env_key) {
    const char* next_env = std::getenv("MAILGATE_NEW_MASTER_KEY");
    if (!next_env || !*next_env) {
      PrintError(Status::InvalidArgument(
          "the master key comes from MAILGATE_MASTER_KEY: create a new one with `mailgate key "
          "generate`, run `mailgate key rotate` with it in MAILGATE_NEW_MASTER_KEY, then make it "
          "the new MAILGATE_MASTER_KEY"));
      return kExitUsage;
    }
    auto k = store::ParseMasterKey(next_env);
    if (!k.ok()) return PrintError(k.status().WithContext("MAILGATE_NEW_MASTER_KEY")), kExitUsage;
    next_key = *k;
  } else {
    next_key = store::GenerateMasterKey();
    Status s = store::WriteKeyFile(store::NextMasterKeyPath(*dir), next_key);
    if (!s.ok()) return PrintError(s), kExitFailure;
  }
  auto st = OpenStore(g, *current);
  if (!st.ok()) return PrintError(st.status()), kExitFailure;
  auto next = std::make_shared<const store::Vault>(next_key);
  if (Status s = (*st)->ResealSecrets(next); !s.ok()) {
    if (!env_key) std::filesystem::remove(store::NextMasterKeyPath(*dir));
    return PrintError(s), kExitFailure;
  }
  if (!env_key) {
    std::error_code ec;
    std::filesystem::rename(store::NextMasterKeyPath(*dir), store::MasterKeyPath(*dir), ec);
    if (ec) {
      PrintError(Status::Io("the secrets are sealed with the new key in '" +
                            store::NextMasterKeyPath(*dir) + "' but it could not replace '" +
                            store::MasterKeyPath(*dir) + "' (" + ec.message() +
                            "); move it there by hand"));
      return kExitFailure;
    }
  }
  std::printf("All secrets are now sealed with the new master key (id %s).%s\n",
              next->key_id().c_str(),
              env_key ? " Set MAILGATE_MASTER_KEY to the new key now." : "");
  return kExitOk;
}

}  // namespace

void RegisterAccountCommand(CLI::App& app, RunState& state) {
  CLI::App* account = app.add_subcommand("account", "Connected accounts (OAuth2 grants)");
  account->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  CLI::App* cmd = account->add_subcommand("add", "Add a connected account");
  cmd->add_option("name", add->account.name, "Account name")->required();
  cmd->add_option("--provider", add->account.provider, "microsoft, google or generic")
      ->required()
      ->check(CLI::IsMember({"microsoft", "google", "generic"}));
  cmd->add_option("--client-id", add->account.client_id, "Application (client) ID")->required();
  cmd->add_option("--tenant", add->account.tenant,
                  "Microsoft tenant (required): a GUID or a domain; organizations or common for "
                  "a multitenant app");
  cmd->add_option("--authority", add->account.authority,
                  "Microsoft authority (default https://login.microsoftonline.com)");
  cmd->add_option("--client-secret-file", add->secret_file,
                  "File holding the client secret (- reads standard input)");
  cmd->add_option("--scope", add->account.scopes, "Scope to request (repeatable)");
  cmd->add_option("--auth-url", add->account.auth_url, "Authorization endpoint (generic)");
  cmd->add_option("--token-url", add->account.token_url, "Token endpoint (generic)");
  cmd->add_option("--device-url", add->account.device_url, "Device authorization endpoint");
  cmd->callback([add, &state] { state.exit_code = RunAdd(state.global, *add); });

  auto edit = std::make_shared<EditOptions>();
  cmd = account->add_subcommand(
      "edit",
      "Change an account's client ID, client secret, tenant, authority, scopes or (generic) "
      "endpoints");
  cmd->add_option("name", edit->name, "Account name")->required();
  auto edit_text = std::make_shared<std::array<std::string, 6>>();
  CLI::Option* edit_client_id =
      cmd->add_option("--client-id", (*edit_text)[0], "Application (client) ID");
  CLI::Option* edit_tenant =
      cmd->add_option("--tenant", (*edit_text)[1],
                      "Microsoft tenant: a GUID or a domain, organizations, consumers or common");
  CLI::Option* edit_authority =
      cmd->add_option("--authority", (*edit_text)[2],
                      "Microsoft authority (sovereign clouds: https://login.microsoftonline.us, "
                      "https://login.chinacloudapi.cn)");
  cmd->add_option("--client-secret-file", edit->secret_file,
                  "File holding the new client secret (- reads standard input)");
  cmd->add_flag("--no-client-secret", edit->no_secret, "Remove the client secret");
  cmd->add_option("--scope", edit->scopes, "Scope to request (repeatable; replaces all)");
  cmd->add_flag("--default-scopes", edit->default_scopes, "Go back to the provider's scopes");
  CLI::Option* edit_auth_url = cmd->add_option("--auth-url", (*edit_text)[3],
                                               "Authorization endpoint (generic; \"\" removes it)");
  CLI::Option* edit_token_url =
      cmd->add_option("--token-url", (*edit_text)[4],
                      "Token endpoint (generic; removes the grant: authorize again)");
  CLI::Option* edit_device_url = cmd->add_option(
      "--device-url", (*edit_text)[5], "Device authorization endpoint (generic; \"\" removes it)");
  cmd->callback([=, &state] {
    if (edit_client_id->count() > 0) edit->client_id = (*edit_text)[0];
    if (edit_tenant->count() > 0) edit->tenant = (*edit_text)[1];
    if (edit_authority->count() > 0) edit->authority = (*edit_text)[2];
    if (edit_auth_url->count() > 0) edit->auth_url = (*edit_text)[3];
    if (edit_token_url->count() > 0) edit->token_url = (*edit_text)[4];
    if (edit_device_url->count() > 0) edit->device_url = (*edit_text)[5];
    state.exit_code = RunEdit(state.global, *edit);
  });

  auto auth = std::make_shared<AuthorizeOptions>();
  cmd = account->add_subcommand("authorize", "Obtain a grant for an account");
  cmd->add_option("name", auth->name, "Account name")->required();
  cmd->add_option("--flow", auth->flow, "browser (default), device or client-credentials")
      ->check(CLI::IsMember({"browser", "device", "client-credentials"}));
  cmd->add_flag("--no-open", auth->no_open, "Print the URL but do not start a browser");
  cmd->add_option("--login-hint", auth->login_hint, "Pre-fill the sign-in with this user");
  cmd->add_option("--port", auth->port, "Loopback port for the browser's redirect (default: any)");
  cmd->add_option("--timeout", auth->timeout, "Seconds to wait for the browser")
      ->capture_default_str();
  cmd->callback([auth, &state] { state.exit_code = RunAuthorize(state.global, *auth); });

  auto list_json = std::make_shared<bool>(false);
  cmd = account->add_subcommand("list", "List accounts and their token status");
  cmd->add_flag("--json", *list_json, "Machine-readable output");
  cmd->callback([list_json, &state] { state.exit_code = RunList(state.global, *list_json); });

  auto show = std::make_shared<std::pair<std::string, bool>>();
  cmd = account->add_subcommand("show", "Show an account: status, scopes, expiry, last error");
  cmd->add_option("name", show->first, "Account name")->required();
  cmd->add_flag("--json", show->second, "Machine-readable output");
  cmd->callback(
      [show, &state] { state.exit_code = RunShow(state.global, show->first, show->second); });

  auto token = std::make_shared<TokenOptions>();
  cmd = account->add_subcommand("token", "Get a valid access token (refreshing if needed)");
  cmd->add_option("name", token->name, "Account name")->required();
  cmd->add_flag("--print", token->print, "Print the token (only the token) on stdout");
  cmd->add_flag("--force", token->force, "Refresh even if the current token is still valid");
  cmd->add_option("--refresh-margin", token->refresh_margin,
                  "Refresh when fewer than this many seconds remain")
      ->capture_default_str();
  cmd->add_option("--timeout", token->timeout, "Seconds allowed per token request")
      ->capture_default_str();
  cmd->callback([token, &state] { state.exit_code = RunToken(state.global, *token); });

  auto remove = std::make_shared<std::string>();
  cmd = account->add_subcommand("remove", "Remove an account and its tokens");
  cmd->add_option("name", *remove, "Account name")->required();
  cmd->callback([remove, &state] { state.exit_code = RunRemove(state.global, *remove); });

  CLI::App* key = app.add_subcommand("key", "The master key that seals stored secrets");
  key->require_subcommand(1);
  key->add_subcommand("generate", "Print a new random master key (for MAILGATE_MASTER_KEY)")
      ->callback([&state] { state.exit_code = RunKeyGenerate(); });
  key->add_subcommand("rotate", "Re-encrypt every stored secret under a new master key")
      ->callback([&state] { state.exit_code = RunKeyRotate(state.global); });
}

}  // namespace mailgate::cli
