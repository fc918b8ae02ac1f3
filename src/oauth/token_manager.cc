#include "oauth/token_manager.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "oauth/flows.h"

namespace mailgate::oauth {
namespace {

std::string Subject(std::string_view account) {
  return "account/" + std::string(account);
}

std::string AuthorizeHint(std::string_view account) {
  return "run `mailgate account authorize " + std::string(account) + "`";
}

}  // namespace

std::string RemedyFor(const store::Account& a) {
  const std::string& code = a.last_error_code;
  const std::string edit = "`mailgate account edit " + a.name;
  const std::string secret_file = edit + " --client-secret-file FILE`";
  if (code == "AADSTS7000222") {
    return "the client secret expired: create a new one in Entra ID (App registrations > "
           "Certificates & secrets), save its Value in a file and run " +
           secret_file;
  }
  if (code == "AADSTS7000215") {
    return "the client secret is wrong (the Secret ID instead of its Value?): save the "
           "secret's Value in a file and run " +
           secret_file;
  }
  if (code == "AADSTS700025") {
    return "the app is a public client and refuses a client secret: run " + edit +
           " --no-client-secret`, or use the client-credentials flow with a confidential app";
  }
  if (code == "AADSTS7000218") {
    return "the app wants a client secret: turn on \"Allow public client flows\" and register "
           "http://localhost under \"Mobile and desktop applications\" in the app's "
           "Authentication page, then " +
           AuthorizeHint(a.name);
  }
  if (code == "AADSTS50194") {
    return "the app is single-tenant: run " + edit +
           " --tenant <your tenant ID or domain>`, then " + AuthorizeHint(a.name);
  }
  if (code == "AADSTS700016") {
    return "no app with client ID '" + a.client_id + "' in tenant '" + a.tenant +
           "': check both, correct them with " + edit + " --client-id ID --tenant TENANT`, then " +
           AuthorizeHint(a.name);
  }
  if (a.last_error.starts_with("invalid_client")) {
    return "the provider refused the client: check the client ID and secret, correct them with " +
           edit + " --client-id ID` or " + secret_file;
  }
  return AuthorizeHint(a.name);
}

std::string ReauthorizationMessage(const store::Account& a) {
  const std::string remedy = RemedyFor(a);
  std::string msg = "account '" + a.name + "' ";
  msg += remedy == AuthorizeHint(a.name) ? "needs re-authorization" : "cannot get tokens";
  if (!a.last_error.empty()) msg += ": " + a.last_error;
  return msg + "; " + remedy;
}

TokenManager::TokenManager(store::Store& store, http::HttpClient& http, Clock& clock,
                           Random& random, TokenManagerOptions options)
    : store_(store), http_(http), clock_(clock), random_(random), options_(options) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  host_ = host;
  holder_ = host_ + ":" + std::to_string(::getpid()) + ":" + random_.Token(6);
}

std::mutex& TokenManager::AccountMutex(std::string_view account) {
  std::lock_guard lock(map_mu_);
  auto it = account_mu_.find(account);
  if (it == account_mu_.end()) {
    it = account_mu_.emplace(std::string(account), std::make_unique<std::mutex>()).first;
  }
  return *it->second;
}

bool TokenManager::HolderIsDead(const std::string& holder) const {
  // Only a process on this host can be proved dead; elsewhere the lease
  // simply expires.
  const size_t c1 = holder.find(':'), c2 = holder.find(':', c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos) return false;
  if (holder.substr(0, c1) != host_) return false;
  const pid_t pid = static_cast<pid_t>(std::atoll(holder.substr(c1 + 1, c2 - c1 - 1).c_str()));
  if (pid <= 0 || pid == ::getpid()) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::chrono::milliseconds TokenManager::Backoff(int failures) {
  // Exponential, capped, with "equal jitter": half fixed, half random, so
  // many processes that failed together do not come back together.
  const double exp = std::min(30, std::max(0, failures - 1));
  const double full =
      std::min<double>(static_cast<double>(options_.backoff_max.count()),
                       static_cast<double>(options_.backoff_base.count()) * std::pow(2.0, exp));
  return std::chrono::milliseconds(static_cast<int64_t>(full / 2 + random_.Uniform() * full / 2));
}

StatusOr<TokenResponse> TokenManager::Request(const store::Account& a, OAuthError* error) {
  auto flow = ParseFlow(a.flow);
  if (!flow.ok()) return Status::Auth("the account has no usable grant");
  std::string token_url = a.grant_token_url;
  if (token_url.empty()) {
    auto e = ResolveEndpoints(a);
    if (!e.ok()) return e.status();
    token_url = e->token;
  }
  auto scopes = ScopesFor(a, *flow);
  if (!scopes.ok()) return scopes.status();
  const Client client = ClientFor(a, *flow);
  if (*flow == Flow::kClientCredentials) {
    return ClientCredentialsGrant(http_, token_url, client, *scopes, options_.timeouts, error);
  }
  if (a.refresh_token.empty()) {
    return Status::Auth(
        "no refresh token is stored (was offline_access granted?); the account must be "
        "authorized again");
  }
  // Google refuses a scope parameter it did not expect; the grant's scopes
  // apply anyway.
  std::vector<std::string> refresh_scopes;
  if (a.provider != "google") refresh_scopes = *scopes;
  return RefreshGrant(http_, token_url, client, a.refresh_token, refresh_scopes, options_.timeouts,
                      error);
}

StatusOr<std::string> TokenManager::GetAccessToken(std::string_view name, bool force_refresh) {
  std::lock_guard account_lock(AccountMutex(name));
  auto with_store = [this](auto&& fn) {
    std::lock_guard lock(store_mu_);
    return fn(store_);
  };
  std::optional<std::string> seen;  // the access token the caller may have been refused
  int attempts = 0;
  Status last = Status::Ok();
  const int64_t wait_limit = clock_.NowSeconds() + options_.lease_ttl_seconds +
                             options_.timeouts.total.count() / 1000 + 30;
  for (;;) {
    auto a = with_store([&](store::Store& s) { return s.GetAccount(name); });
    if (!a.ok()) return a.status();
    if (!seen) seen = a->access_token.reveal();
    if (a->status == store::AccountStatus::kReauthorizationRequired) {
      return Status::Auth(ReauthorizationMessage(*a));
    }
    if (a->flow.empty() || a->status == store::AccountStatus::kNotAuthorized) {
      return Status::Auth("account '" + a->name + "' is not authorized yet; " +
                          AuthorizeHint(a->name));
    }
    int64_t now = clock_.NowSeconds();
    const bool have = !a->access_token.empty();
    const bool fresh = have && a->access_expires_at - now > options_.refresh_margin.count();
    const bool replaced = have && a->access_token.reveal() != *seen;
    if (fresh && (!force_refresh || replaced)) return a->access_token.reveal();
    if (force_refresh && replaced && a->access_expires_at > now) return a->access_token.reveal();

    if (a->retry_at > now) {
      // Backing off after transient failures (ours or another process's).
      const bool usable = have && a->access_expires_at > now + 30;
      if (usable && !force_refresh) return a->access_token.reveal();
      if (attempts >= options_.max_attempts) {
        return Status::Transient("account '" + a->name + "': the identity provider is failing (" +
                                 a->last_error + "); Mailgate retries with backoff, try again " +
                                 "in " + std::to_string(a->retry_at - now) + " s");
      }
      clock_.SleepFor(std::chrono::seconds(std::min<int64_t>(
          a->retry_at - now,
          std::max<int64_t>(
              1, std::chrono::ceil<std::chrono::seconds>(options_.backoff_max).count()))));
      continue;
    }
    if (attempts >= options_.max_attempts) return last;

    auto got = with_store([&](store::Store& s) {
      return s.TryAcquireRefreshLease(name, holder_, now, options_.lease_ttl_seconds);
    });
    if (!got.ok()) return got.status();
    if (!*got) {
      auto holder = with_store([&](store::Store& s) { return s.RefreshLeaseHolder(name, now); });
      if (holder.ok() && !holder->empty() && HolderIsDead(*holder)) {
        spdlog::warn("account '{}': taking over the refresh lease of a process that died", name);
        got = with_store([&](store::Store& s) {
          return s.TryAcquireRefreshLease(name, holder_, now, options_.lease_ttl_seconds, *holder);
        });
        if (!got.ok()) return got.status();
      }
    }
    if (!*got) {
      if (now > wait_limit) {
        return Status::Transient("account '" + std::string(name) +
                                 "': another process has been refreshing the token for too long; "
                                 "try again");
      }
      clock_.SleepFor(options_.poll_interval);
      continue;
    }

    // We hold the lease. Someone may have finished just before we took it.
    a = with_store([&](store::Store& s) { return s.GetAccount(name); });
    if (!a.ok()) {
      (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
      return a.status();
    }
    now = clock_.NowSeconds();
    const bool fresh2 =
        !a->access_token.empty() && a->access_expires_at - now > options_.refresh_margin.count();
    if (a->status == store::AccountStatus::kReauthorizationRequired ||
        (fresh2 && (!force_refresh || a->access_token.reveal() != *seen)) || a->retry_at > now) {
      (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
      continue;
    }

    ++attempts;
    OAuthError oerr;
    spdlog::debug("account '{}': requesting a new access token", name);
    auto t = Request(*a, &oerr);
    now = clock_.NowSeconds();
    if (t.ok()) {
      store::AccountUpdate u;
      // Commit the rotated refresh token before anyone uses the access token.
      if (!t->refresh_token.empty()) u.refresh_token = t->refresh_token;
      u.access_token = t->access_token;
      u.access_expires_at = now + t->expires_in;
      u.status = store::AccountStatus::kOk;
      u.last_error = "";
      u.last_error_code = "";
      u.last_refresh_at = now;
      u.failure_count = 0;
      u.retry_at = 0;
      Status saved;
      for (int i = 0; i < 5; ++i) {
        saved = with_store([&](store::Store& s) { return s.UpdateAccount(name, u); });
        if (saved.ok() || !saved.retryable()) break;
        clock_.SleepFor(std::chrono::milliseconds(200));
      }
      if (saved.ok() && a->status != store::AccountStatus::kOk) {
        (void)with_store([&](store::Store& s) { return s.ResolveAlerts(Subject(name), now); });
      }
      (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
      if (!saved.ok()) {
        return saved.WithContext("account '" + std::string(name) +
                                 "': the new token could not be saved, so it is not used");
      }
      spdlog::info("account '{}': new access token, valid {} s{}", name, t->expires_in,
                   t->refresh_token.empty() ? "" : ", refresh token rotated");
      return t->access_token.reveal();
    }

    const Status& err = t.status();
    if (err.kind() == Status::Kind::kAuth) {
      store::AccountUpdate u;
      u.status = store::AccountStatus::kReauthorizationRequired;
      u.last_error = oerr.error.empty() ? err.message() : DescribeOAuthError(oerr);
      u.last_error_code = oerr.code;
      u.access_token = store::Secret();
      u.access_expires_at = 0;
      u.failure_count = 0;
      u.retry_at = 0;
      (void)with_store([&](store::Store& s) { return s.UpdateAccount(name, u); });
      a->last_error = *u.last_error;
      a->last_error_code = *u.last_error_code;
      const std::string msg = ReauthorizationMessage(*a);
      (void)with_store([&](store::Store& s) {
        return s.RaiseAlert("reauthorization_required", Subject(name), msg, now);
      });
      (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
      spdlog::error("{}", msg);
      return Status::Auth(msg);
    }
    if (err.kind() == Status::Kind::kInvalidArgument) {
      (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
      return err;
    }
    // Transient (or a misconfiguration that may be fixed): back off.
    const int failures = a->failure_count + 1;
    auto delay = Backoff(failures);
    if (oerr.retry_after > 0) {
      delay = std::max<std::chrono::milliseconds>(
          delay, std::chrono::seconds(std::min<int64_t>(oerr.retry_after, 3600)));
    }
    store::AccountUpdate u;
    u.status = store::AccountStatus::kDegraded;
    u.last_error = err.message();
    u.last_error_code = oerr.code;
    u.failure_count = failures;
    u.retry_at = now + std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(delay).count());
    (void)with_store([&](store::Store& s) { return s.UpdateAccount(name, u); });
    (void)with_store([&](store::Store& s) { return s.ReleaseRefreshLease(name, holder_); });
    spdlog::warn("account '{}': token request failed ({}); retry {} in {} ms", name, err.message(),
                 failures, delay.count());
    last = err.WithContext("account '" + std::string(name) + "'");
  }
}

Status TokenManager::SaveGrant(std::string_view name, Flow flow, const std::string& token_url,
                               const TokenResponse& t) {
  std::lock_guard account_lock(AccountMutex(name));
  std::lock_guard lock(store_mu_);
  const int64_t now = clock_.NowSeconds();
  store::AccountUpdate u;
  u.flow = std::string(FlowName(flow));
  u.grant_token_url = token_url;
  u.refresh_token = t.refresh_token;  // client credentials: clears any old one
  u.access_token = t.access_token;
  u.access_expires_at = now + t.expires_in;
  u.status = store::AccountStatus::kOk;
  u.last_error = "";
  u.last_error_code = "";
  u.last_refresh_at = now;
  u.failure_count = 0;
  u.retry_at = 0;
  MAILGATE_RETURN_IF_ERROR(store_.UpdateAccount(name, u));
  return store_.ResolveAlerts(Subject(name), now);
}

AccessTokenCallback MakeAccessTokenCallback(TokenManager& manager, std::string account) {
  return [&manager, account = std::move(account)](bool force_refresh) {
    return manager.GetAccessToken(account, force_refresh);
  };
}

}  // namespace mailgate::oauth
