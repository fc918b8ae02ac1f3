#include "oauth/provider.h"

#include <cctype>

#include "http/http_client.h"

namespace mailgate::oauth {
namespace {

constexpr std::string_view kGoogleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth";
constexpr std::string_view kGoogleToken = "https://oauth2.googleapis.com/token";
constexpr std::string_view kGoogleDevice = "https://oauth2.googleapis.com/device/code";

bool ValidTenant(std::string_view t) {
  if (t.empty() || t.size() > 256) return false;
  for (char c : t) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

Status CheckEndpoint(std::string_view option, const std::string& url) {
  if (url.empty()) return Status::Ok();
  Status s = http::CheckUrlAllowed(url);
  if (!s.ok()) return Status::InvalidArgument(std::string(option) + ": " + s.message());
  return Status::Ok();
}

// Exchange Online per cloud: Microsoft's "Exchange Online in national
// clouds" endpoints. US Government (GCC High) signs in at
// login.microsoftonline.us and serves mail from outlook.office365.us; the
// cloud operated by 21Vianet signs in at login.chinacloudapi.cn (formerly
// login.partner.microsoftonline.cn) and serves partner.outlook.cn.
constexpr MicrosoftCloud kGlobalCloud{"global", "https://outlook.office.com",
                                      "https://outlook.office365.com", "outlook.office365.com",
                                      "smtp.office365.com"};
constexpr MicrosoftCloud kUsGovernmentCloud{"us-government", "https://outlook.office365.us",
                                            "https://outlook.office365.us", "outlook.office365.us",
                                            "smtp.office365.us"};
constexpr MicrosoftCloud kChinaCloud{"china", "https://partner.outlook.cn",
                                     "https://partner.outlook.cn", "partner.outlook.cn",
                                     "smtp.partner.outlook.cn"};

// "https://Login.MicrosoftOnline.us:443/" -> "login.microsoftonline.us".
std::string AuthorityHost(std::string_view authority) {
  if (auto p = authority.find("://"); p != std::string_view::npos) authority.remove_prefix(p + 3);
  authority = authority.substr(0, authority.find_first_of("/:?#"));
  std::string host(authority);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

}  // namespace

const MicrosoftCloud& MicrosoftCloudFor(std::string_view authority) {
  const std::string host = AuthorityHost(authority);
  if (host == "login.microsoftonline.us") return kUsGovernmentCloud;
  if (host == "login.chinacloudapi.cn" || host == "login.partner.microsoftonline.cn")
    return kChinaCloud;
  return kGlobalCloud;
}

bool SendsClientSecret(const store::Account& account, Flow flow) {
  if (account.provider != "microsoft") return true;
  return flow == Flow::kBrowser || flow == Flow::kClientCredentials;
}

std::string_view FlowName(Flow flow) {
  switch (flow) {
    case Flow::kBrowser:
      return "browser";
    case Flow::kLoopback:
      return "loopback";
    case Flow::kDevice:
      return "device";
    case Flow::kClientCredentials:
      return "client-credentials";
  }
  return "browser";
}

StatusOr<Flow> ParseFlow(std::string_view name) {
  for (Flow f : {Flow::kBrowser, Flow::kLoopback, Flow::kDevice, Flow::kClientCredentials}) {
    if (FlowName(f) == name) return f;
  }
  return Status::InvalidArgument("unknown flow '" + std::string(name) +
                                 "'; use browser, device or client-credentials");
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

Status NormalizeAccount(store::Account& a) {
  if (a.name.empty() || a.name.size() > 100 ||
      a.name.find_first_of("/ \t\r\n") != std::string::npos) {
    return Status::InvalidArgument(
        "an account name must be 1-100 characters without spaces or '/'");
  }
  if (a.client_id.empty()) {
    return Status::InvalidArgument(
        "--client-id is required: the application (client) ID of your "
        "app registration");
  }
  while (a.authority.ends_with('/')) a.authority.pop_back();
  if (a.provider == "microsoft") {
    if (a.authority.empty()) a.authority = kMicrosoftAuthority;
    if (a.tenant.empty()) a.tenant = "common";
    if (!ValidTenant(a.tenant)) {
      return Status::InvalidArgument(
          "--tenant '" + a.tenant +
          "' is not a tenant: use common, organizations, consumers, a "
          "tenant ID (GUID) or a domain such as contoso.onmicrosoft.com");
    }
    if (!a.auth_url.empty() || !a.token_url.empty() || !a.device_url.empty()) {
      return Status::InvalidArgument(
          "--auth-url/--token-url/--device-url are for --provider generic; for Microsoft use "
          "--authority (sovereign clouds) and --tenant");
    }
    MAILGATE_RETURN_IF_ERROR(CheckEndpoint("--authority", a.authority));
  } else if (a.provider == "google") {
    if (!a.tenant.empty() || !a.authority.empty()) {
      return Status::InvalidArgument("--tenant and --authority are for --provider microsoft");
    }
  } else if (a.provider == "generic") {
    if (a.token_url.empty()) {
      return Status::InvalidArgument(
          "--provider generic needs --token-url (and --auth-url for the browser flow, "
          "--device-url for the device flow)");
    }
    if (!a.tenant.empty() || !a.authority.empty()) {
      return Status::InvalidArgument("--tenant and --authority are for --provider microsoft");
    }
  } else {
    return Status::InvalidArgument("unknown provider '" + a.provider +
                                   "'; use microsoft, google or generic");
  }
  MAILGATE_RETURN_IF_ERROR(CheckEndpoint("--auth-url", a.auth_url));
  MAILGATE_RETURN_IF_ERROR(CheckEndpoint("--token-url", a.token_url));
  MAILGATE_RETURN_IF_ERROR(CheckEndpoint("--device-url", a.device_url));
  return Status::Ok();
}

StatusOr<Endpoints> ResolveEndpoints(const store::Account& a) {
  Endpoints e;
  if (a.provider == "microsoft") {
    const std::string base = a.authority + "/" + a.tenant + "/oauth2/v2.0/";
    e.authorize = base + "authorize";
    e.token = base + "token";
    e.device = base + "devicecode";
  } else if (a.provider == "google") {
    // Overridable for tests and for Google-compatible servers.
    e.authorize = a.auth_url.empty() ? std::string(kGoogleAuthorize) : a.auth_url;
    e.token = a.token_url.empty() ? std::string(kGoogleToken) : a.token_url;
    e.device = a.device_url.empty() ? std::string(kGoogleDevice) : a.device_url;
    e.authorize_extras = {{"access_type", "offline"}, {"prompt", "consent"}};
  } else if (a.provider == "generic") {
    e.authorize = a.auth_url;
    e.token = a.token_url;
    e.device = a.device_url;
  } else {
    return Status::InvalidArgument("unknown provider '" + a.provider + "'");
  }
  return e;
}

StatusOr<std::vector<std::string>> ScopesFor(const store::Account& a, Flow flow) {
  if (!a.scopes.empty()) return a.scopes;
  if (a.provider == "microsoft") {
    const MicrosoftCloud& cloud = MicrosoftCloudFor(a.authority);
    if (flow == Flow::kClientCredentials) {
      std::string scope(cloud.app_only);
      scope += "/.default";
      return std::vector<std::string>{scope};
    }
    std::vector<std::string> scopes = {"offline_access"};
    for (std::string_view p : {"/IMAP.AccessAsUser.All", "/POP.AccessAsUser.All", "/SMTP.Send"}) {
      std::string scope(cloud.delegated);
      scope += p;
      scopes.push_back(scope);
    }
    return scopes;
  }
  if (a.provider == "google") return std::vector<std::string>{std::string(kGoogleMailScope)};
  return Status::InvalidArgument("account '" + a.name +
                                 "' has no scopes; add it again with --scope for each scope the "
                                 "provider should grant");
}

}  // namespace mailgate::oauth
