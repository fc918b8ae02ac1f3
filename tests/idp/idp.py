#!/usr/bin/env python3
"""Mailgate test identity provider.

A loopback emulation of the Microsoft identity platform v2.0 endpoints that
Mailgate talks to (authorize, token, devicecode), plus an RFC 7662 token
introspection endpoint for Dovecot's oauth2 passdb, plus a JSON control API
under /_test/ that lets tests steer it (register clients, revoke users, expire
tokens, inject failures, read counters).

Why it exists: Mailgate's OAuth2 code must be tested against the behaviour that
bites in production (refresh-token rotation, AADSTS errors, device-code
polling, app-only tokens, 4 KB+ tokens, 503s and hangs) without a real tenant.
The behaviour copied here is documented in
shared/reference/microsoft-365-facts.md and in tests/idp/README.md.

Python 3 standard library only, so it starts in a fraction of a second on any
machine with python3.  Run:

    python3 tests/idp/idp.py --port 0 --ready-file /tmp/idp.port
"""

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

MAIL_HOST = "https://outlook.office.com/"
# Exchange Online answers to both host names; scopes for either are the same
# permission, so we normalise outlook.office365.com to outlook.office.com.
MAIL_HOST_ALIASES = ("https://outlook.office365.com/",)

# protocol -> (delegated scope name, application permission name)
PROTOCOL_PERMISSIONS = {
    "imap": ("IMAP.AccessAsUser.All", "IMAP.AccessAsApp"),
    "pop3": ("POP.AccessAsUser.All", "POP.AccessAsApp"),
    "smtp": ("SMTP.Send", "SMTP.SendAsApp"),
}
PROTOCOL_ALIASES = {"imap": "imap", "pop3": "pop3", "pop": "pop3",
                    "smtp": "smtp", "submission": "smtp"}
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}

GRANT_AUTH_CODE = "authorization_code"
GRANT_REFRESH = "refresh_token"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

REFRESH_TOKEN_LENGTH = 900
AUTH_CODE_LENGTH = 700
DEVICE_CODE_LENGTH = 200
MAX_BODY = 4 * 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Query/form fields whose values must never reach the log.
SECRET_FIELDS = {"code", "token", "access_token", "refresh_token",
                 "client_secret", "code_verifier", "code_challenge",
                 "device_code", "user_code", "id_token", "assertion",
                 "client_assertion", "password", "session_state"}

DEFAULT_SETTINGS = {
    "token_lifetime": 3600,            # replaced by --token-lifetime
    "access_token_length": 1500,       # Microsoft's are 1.5-4 KB
    "reuse_policy": "allow",           # "reject": rotated-out RT -> 70000
    "refresh_token_lifetime": 90 * 86400,
    "code_lifetime": 600,              # authorization codes: 10 minutes
    "device_interval": 5,
    "device_expires_in": 900,
    "device_auto_approve_after": 2,    # approve on the Nth poll; None = never
    "default_user": "user@example.test",
}


def default_clients():
    """The two app registrations every test can rely on."""
    return {
        "mailgate-test": make_client({"client_id": "mailgate-test"}),
        "mailgate-confidential": make_client({
            "client_id": "mailgate-confidential",
            "client_secret": "test-secret"}),
    }


def make_client(spec):
    """Normalise a client registration posted to /_test/clients."""
    secret = spec.get("client_secret")
    mailbox = spec.get("app_mailbox")
    if isinstance(mailbox, str):
        mailbox = [mailbox]
    # An app with a secret (for app-only access) whose redirect URI is under
    # "Mobile and desktop applications": its delegated flows are a public
    # client's, which may not present the secret (700025).
    public_platform = bool(spec.get("public_platform", False))
    return {
        "client_id": spec["client_id"],
        "client_secret": secret,
        "public_platform": public_platform,
        # The secret's end date has passed (7000222).
        "secret_expired": bool(spec.get("secret_expired", False)),
        "redirect_uris": list(spec.get("redirect_uris") or []),
        # Public clients get device-code flows by default, confidential ones
        # not (the Azure portal's "Allow public client flows" switch).
        "allow_public_client_flows": bool(
            spec.get("allow_public_client_flows",
                     secret is None or public_platform)),
        "app_permissions": list(spec.get("app_permissions") or []),
        "app_mailboxes": [m.lower() for m in (mailbox or [])],
    }


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def random_token(length, prefix=""):
    """An opaque url-safe token of exactly `length` characters."""
    body = secrets.token_urlsafe(length * 3 // 4 + 3)
    return (prefix + body)[:length]


def s256(verifier):
    """PKCE S256: BASE64URL(SHA256(ascii(verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def split_scopes(value):
    """Split a scope parameter, dropping duplicates but keeping the order."""
    out = []
    for s in (value or "").split():
        if s not in out:
            out.append(s)
    return out


def scope_key(scope):
    """Case-insensitive identity of a scope, with Exchange host aliases folded."""
    low = scope.lower()
    for alias in MAIL_HOST_ALIASES:
        if low.startswith(alias):
            return MAIL_HOST + low[len(alias):]
    return low


def scope_resource(scope):
    """The resource a scope belongs to; bare names belong to Microsoft Graph."""
    key = scope_key(scope)
    if "://" in key:
        return key.rsplit("/", 1)[0]
    return "https://graph.microsoft.com"


def is_mail_resource(scope):
    return scope_key(scope).startswith(MAIL_HOST)


def utc_stamp(t=None):
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


def first_values(qs):
    """parse_qs gives lists; OAuth parameters are single-valued."""
    return {k: v[0] for k, v in qs.items()}


def redact_path(path):
    """Path with the values of secret query fields replaced, for logging."""
    parts = urlsplit(path)
    if not parts.query:
        return parts.path
    pairs = []
    for k, vals in parse_qs(parts.query, keep_blank_values=True).items():
        for v in vals:
            pairs.append((k, "REDACTED" if k.lower() in SECRET_FIELDS else v))
    return parts.path + "?" + urlencode(pairs)


class IdpError(Exception):
    """An OAuth error answered in Microsoft's JSON shape.

    code is the AADSTS number (None for the few errors, like slow_down, that
    Microsoft documents without one)."""

    def __init__(self, error, code, message, status=400):
        super().__init__(message)
        self.error, self.code, self.message, self.status = \
            error, code, message, status


class ControlError(Exception):
    """A bad request to the /_test/ control API (plain JSON error)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def microsoft_error_body(err, correlation_id=None):
    """The exact layout of login.microsoftonline.com's error responses:
    description = "AADSTSnnn: text\\r\\nTrace ID: ..\\r\\nCorrelation ID: ..
    \\r\\nTimestamp: ..", repeated as separate fields."""
    trace = str(uuid.uuid4())
    corr = correlation_id or str(uuid.uuid4())
    stamp = utc_stamp()
    prefix = "AADSTS%d: " % err.code if err.code else ""
    body = {
        "error": err.error,
        "error_description": "%s%s\r\nTrace ID: %s\r\nCorrelation ID: %s"
                             "\r\nTimestamp: %s" % (prefix, err.message, trace,
                                                     corr, stamp),
        "error_codes": [err.code] if err.code else [],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
    }
    if err.code:
        body["error_uri"] = \
            "https://login.microsoftonline.com/error?code=%d" % err.code
    return body


# --------------------------------------------------------------------------
# State: clients, grants, tokens, counters.  One lock around all of it; every
# operation is short, so a single lock keeps the reasoning simple.
# --------------------------------------------------------------------------

class State:
    def __init__(self, token_lifetime, state_file=None):
        self.lock = threading.RLock()
        self.cli_token_lifetime = token_lifetime
        self.state_file = state_file
        self.reset(keep_clients=False)
        if state_file and os.path.exists(state_file):
            self.load()

    # -- lifecycle -----------------------------------------------------------

    def reset(self, keep_clients=False):
        with self.lock:
            self.settings = dict(DEFAULT_SETTINGS,
                                 token_lifetime=self.cli_token_lifetime)
            if not keep_clients:
                self.clients = default_clients()
            self.codes = {}          # auth code -> grant info
            self.access = {}         # access token -> info
            self.refresh = {}        # refresh token -> info
            self.devices = {}        # device code -> info
            if not keep_clients:
                # mailbox -> users with FullAccess (Add-MailboxPermission)
                self.permissions = {}
            self.stats = self.new_stats()
            # Failure injection (not persisted): one rule per client ID it is
            # scoped to, "" for the rule that meets every client.
            self.fail_rules = {}
            self.clock_offset = 0.0  # /_test/clock moves time forward

    @staticmethod
    def new_stats():
        return {"token_requests": {}, "tokens_issued": {}, "errors": {},
                "refreshes": 0, "failed_reuse_attempts": 0,
                "introspections": 0, "introspections_active": 0,
                "introspections_by_protocol": {}, "authorize_requests": 0,
                "devicecode_requests": 0, "injected_failures": 0,
                "minted": 0, "mailbox_checks": 0, "tokens_issued_by_client": {},
                "mailbox_checks_granted": 0, "users": {}}

    def now(self):
        return time.time() + self.clock_offset

    def save(self):
        """Persist to --state-file (temp + rename) so a restart keeps tokens."""
        if not self.state_file:
            return
        data = {k: getattr(self, k) for k in
                ("settings", "clients", "codes", "access", "refresh",
                 "devices", "stats", "clock_offset", "permissions")}
        tmp = "%s.tmp.%d" % (self.state_file, os.getpid())
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.state_file)

    def load(self):
        try:
            with open(self.state_file) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("idp: ignoring unreadable state file: %s\n" % e)
            return
        for k, v in data.items():
            if hasattr(self, k) and k != "lock":
                setattr(self, k, v)

    # -- counters ------------------------------------------------------------

    def user_stats(self, user):
        return self.stats["users"].setdefault(user, {
            "tokens_issued": 0, "refreshes": 0, "failed_reuse_attempts": 0,
            "introspections": 0, "introspections_active": 0})

    def bump(self, table, key, n=1):
        self.stats[table][key] = self.stats[table].get(key, 0) + n

    # -- failure injection ---------------------------------------------------

    def take_failure(self, endpoint, client_id=None):
        """Consume one injected failure for `endpoint`, if one is armed: the
        rule scoped to the request's client first, else the unscoped one."""
        with self.lock:
            for key in ([client_id] if client_id else []) + [""]:
                rule = self.fail_rules.get(key)
                if not rule or rule["count"] <= 0:
                    continue
                if rule["endpoint"] not in ("any", endpoint):
                    continue
                rule["count"] -= 1
                self.stats["injected_failures"] += 1
                return dict(rule)
            return None

    # -- clients ---------------------------------------------------------------

    def authenticate_client(self, form, headers, tenant, grant):
        """Identify and authenticate the client like Entra ID does.

        Secret in the form (client_secret_post) or HTTP Basic. A public client
        may not send a secret; a confidential one must, unless it has "Allow
        public client flows"; device code without that switch -> 7000218."""
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(auth[6:].strip()).decode("utf-8")
                b_id, _, b_secret = raw.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise IdpError("invalid_client", 7000215,
                               "Invalid client secret provided.", 401)
            b_id, b_secret = unquote_plus(b_id), unquote_plus(b_secret)
            if client_id and client_id != b_id:
                raise IdpError("invalid_request", 900144,
                               "The client_id in the body does not match the "
                               "one in the Authorization header.")
            client_id, secret = b_id, b_secret
        if not client_id:
            raise IdpError("invalid_request", 900144,
                           "The request body must contain the following "
                           "parameter: 'client_id'.")
        client = self.clients.get(client_id)
        if client is None:
            raise IdpError("unauthorized_client", 700016,
                           "Application with identifier '%s' was not found in "
                           "the directory '%s'. This can happen if the "
                           "application has not been installed by the "
                           "administrator of the tenant or consented to by any "
                           "user in the tenant. You may have sent your "
                           "authentication request to the wrong tenant."
                           % (client_id, tenant))
        if secret:
            if client["client_secret"] is None or (
                    client["public_platform"] and
                    grant != GRANT_CLIENT_CREDENTIALS):
                raise IdpError("invalid_client", 700025,
                               "Client is public so neither 'client_assertion'"
                               " nor 'client_secret' should be presented.", 401)
            if not hmac.compare_digest(secret.encode(),
                                       client["client_secret"].encode()):
                raise IdpError("invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the "
                               "secret being sent in the request is the client "
                               "secret value, not the client secret ID, for a "
                               "secret added to app '%s'." % client_id, 401)
            if client["secret_expired"]:
                raise IdpError("invalid_client", 7000222,
                               "The provided client secret keys for app '%s' "
                               "are expired." % client_id, 401)
            return client
        missing = IdpError("invalid_client", 7000218,
                           "The request body must contain the following "
                           "parameter: 'client_assertion' or 'client_secret'.",
                           401)
        if grant == GRANT_CLIENT_CREDENTIALS:
            raise missing
        if not client["allow_public_client_flows"] and (
                client["client_secret"] is not None or
                grant == GRANT_DEVICE_CODE):
            raise missing
        return client

    # -- scopes ----------------------------------------------------------------

    @staticmethod
    def check_delegated_scopes(scopes):
        """Validate a delegated scope list; returns the granted scopes.

        A delegated /.default on Exchange grants the three mail scopes."""
        if not scopes:
            raise IdpError("invalid_request", 900144,
                           "The request body must contain the following "
                           "parameter: 'scope'.")
        resource_scopes = [s for s in scopes if s.lower() not in OIDC_SCOPES]
        defaults = [s for s in resource_scopes if s.endswith("/.default")]
        if defaults and len(resource_scopes) > 1:
            raise IdpError("invalid_scope", 70011,
                           "The provided value for the input parameter 'scope' "
                           "is not valid. The scope %s is not valid. .default "
                           "scope can't be combined with resource-specific "
                           "scopes." % " ".join(scopes))
        if len({scope_resource(s) for s in resource_scopes}) > 1:
            raise IdpError("invalid_scope", 28000,
                           "Provided value for the input parameter scope is "
                           "not valid because it contains more than one "
                           "resource. Scope %s is not valid." % " ".join(scopes))
        granted = []
        for s in scopes:
            if s.endswith("/.default") and is_mail_resource(s):
                granted += [MAIL_HOST + p[0]
                            for p in PROTOCOL_PERMISSIONS.values()]
            else:
                granted.append(s)
        return granted

    # -- token issuance ----------------------------------------------------------

    def issue(self, *, user, client_id, tenant, scopes, grant, offline,
              lifetime=None, roles=None, length=None):
        """Create an access token (and a refresh token when offline_access
        was granted: Microsoft issues none without it) and return the token
        endpoint's JSON."""
        now = self.now()
        lifetime = int(lifetime or self.settings["token_lifetime"])
        at = random_token(int(length or self.settings["access_token_length"]))
        app_only = roles is not None
        self.access[at] = {
            "user": user, "client_id": client_id, "tenant": tenant,
            "scopes": scopes, "iat": now, "exp": now + lifetime,
            "app_only": app_only, "roles": roles or [], "revoked": None}
        resp = {"token_type": "Bearer"}
        if not app_only:
            resp["scope"] = " ".join(scopes)
        resp.update({"expires_in": lifetime, "ext_expires_in": lifetime,
                     "access_token": at})
        if offline and not app_only:
            rt = random_token(REFRESH_TOKEN_LENGTH, prefix="0.A")
            self.refresh[rt] = {
                "user": user, "client_id": client_id, "tenant": tenant,
                "scopes": scopes, "iat": now,
                "exp": now + self.settings["refresh_token_lifetime"],
                "rotated": False, "revoked": None}
            resp["refresh_token"] = rt
        self.bump("tokens_issued", grant)
        self.bump("tokens_issued_by_client", client_id)
        if user:
            self.user_stats(user)["tokens_issued"] += 1
        return resp

    # -- grants ------------------------------------------------------------------

    def grant_authorization_code(self, tenant, form, client):
        code = form.get("code")
        if not code:
            raise IdpError("invalid_request", 900144,
                           "The request body must contain the following "
                           "parameter: 'code'.")
        info = self.codes.get(code)
        if info is None or info["client_id"] != client["client_id"]:
            raise IdpError("invalid_grant", 70000,
                           "The provided value for the 'code' parameter is "
                           "not valid.")
        if info["redeemed"]:
            raise IdpError("invalid_grant", 54005,
                           "OAuth2 Authorization code was already redeemed, "
                           "please retry with a new valid code or use an "
                           "existing refresh token.")
        if self.now() > info["exp"]:
            raise IdpError("invalid_grant", 70008,
                           "The provided authorization code or refresh token "
                           "has expired due to inactivity. Send a new "
                           "interactive authorization request for this user "
                           "and resource.")
        if info["tenant"].lower() != tenant.lower():
            raise IdpError("invalid_grant", 7000012,
                           "The grant was obtained for a different tenant.")
        if form.get("redirect_uri") != info["redirect_uri"]:
            raise IdpError("invalid_grant", 70000,
                           "The provided value for the 'redirect_uri' is not "
                           "valid. The value must exactly match the redirect "
                           "URI used to obtain the authorization code.")
        if info["challenge"]:
            verifier = form.get("code_verifier") or ""
            if not hmac.compare_digest(s256(verifier), info["challenge"]):
                raise IdpError("invalid_grant", 501481,
                               "The Code_Verifier does not match the "
                               "code_challenge supplied in the authorization "
                               "request.")
        info["redeemed"] = True
        return self.issue(user=info["user"], client_id=client["client_id"],
                          tenant=tenant, scopes=info["scopes"],
                          grant=GRANT_AUTH_CODE,
                          offline="offline_access" in info["scopes"])

    def grant_refresh_token(self, tenant, form, client):
        rt = form.get("refresh_token")
        if not rt:
            raise IdpError("invalid_request", 900144,
                           "The request body must contain the following "
                           "parameter: 'refresh_token'.")
        info = self.refresh.get(rt)
        if info is None or info["client_id"] != client["client_id"]:
            raise IdpError("invalid_grant", 70000,
                           "The provided value for the input parameter "
                           "'refresh_token' or 'assertion' is not valid.")
        user = info["user"]
        if info["tenant"].lower() != tenant.lower():
            raise IdpError("invalid_grant", 7000012,
                           "The grant was obtained for a different tenant.")
        if info["revoked"] == "password_change":
            raise IdpError("invalid_grant", 50173,
                           "The provided grant has expired due to it being "
                           "revoked, a fresh auth token is needed. The user "
                           "might have changed or reset their password. The "
                           "grant was issued on '%s'." % utc_stamp(info["iat"]))
        if info["revoked"]:
            raise IdpError("invalid_grant", 70043,
                           "The refresh token has expired or is invalid due "
                           "to sign-in frequency checks by conditional access. "
                           "The token was issued on %s." % utc_stamp(info["iat"]))
        if self.now() > info["exp"]:
            raise IdpError("invalid_grant", 700082,
                           "The refresh token has expired due to inactivity. "
                           "The token was issued on %s and was inactive for "
                           "90.00:00:00." % utc_stamp(info["iat"]))
        if info["rotated"] and self.settings["reuse_policy"] == "reject":
            self.stats["failed_reuse_attempts"] += 1
            self.user_stats(user)["failed_reuse_attempts"] += 1
            raise IdpError("invalid_grant", 70000,
                           "The provided value for the input parameter "
                           "'refresh_token' or 'assertion' is not valid. The "
                           "refresh token was already used (rotated out).")
        requested = split_scopes(form.get("scope"))
        granted_keys = {scope_key(s) for s in info["scopes"]}
        for s in requested:
            if s.lower() not in OIDC_SCOPES and scope_key(s) not in granted_keys:
                raise IdpError("invalid_scope", 70011,
                               "The provided value for the input parameter "
                               "'scope' is not valid. The scope %s was not "
                               "part of the original grant." % s)
        if requested:
            scopes = [s for s in requested
                      if s.lower() not in OIDC_SCOPES or
                      scope_key(s) in granted_keys]
            if "offline_access" not in scopes:
                scopes.append("offline_access")   # the grant keeps it
        else:
            scopes = list(info["scopes"])
        info["rotated"] = True
        self.stats["refreshes"] += 1
        self.user_stats(user)["refreshes"] += 1
        resp = self.issue(user=user, client_id=client["client_id"],
                          tenant=tenant, scopes=scopes, grant=GRANT_REFRESH,
                          offline=True)
        # The new refresh token carries the whole original grant, so a later
        # refresh may ask for any scope of it again.
        self.refresh[resp["refresh_token"]]["scopes"] = info["scopes"]
        return resp

    def grant_client_credentials(self, tenant, form, client):
        scopes = split_scopes(form.get("scope"))
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise IdpError("invalid_scope", 70011,
                           "The provided value for the input parameter 'scope' "
                           "is not valid. The scope %s is not valid. Client "
                           "credential flows must have a scope value with "
                           "/.default suffixed to the resource identifier "
                           "(application ID URI)." % " ".join(scopes))
        return self.issue(user=None, client_id=client["client_id"],
                          tenant=tenant, scopes=scopes,
                          grant=GRANT_CLIENT_CREDENTIALS, offline=False,
                          roles=list(client["app_permissions"]))

    def grant_device_code(self, tenant, form, client):
        dc = form.get("device_code")
        if not dc:
            raise IdpError("invalid_request", 900144,
                           "The request body must contain the following "
                           "parameter: 'device_code'.")
        dev = self.devices.get(dc)
        if dev is None or dev["client_id"] != client["client_id"]:
            raise IdpError("bad_verification_code", 70000,
                           "The provided value for the input parameter "
                           "'device_code' is not valid.")
        now = self.now()
        if now > dev["exp"]:
            raise IdpError("expired_token", 70020,
                           "The provided value for the input parameter "
                           "'device_code' is not valid. Device code expired.")
        if dev["tenant"].lower() != tenant.lower():
            raise IdpError("invalid_grant", 7000012,
                           "The grant was obtained for a different tenant.")
        if dev["status"] == "redeemed":
            raise IdpError("invalid_grant", 70000,
                           "The provided value for the input parameter "
                           "'device_code' is not valid. It was already "
                           "redeemed.")
        if dev["status"] == "denied":
            raise IdpError("authorization_declined", 65004,
                           "User declined to consent to access the app.")
        last, dev["last_poll"] = dev["last_poll"], now
        if last is not None and dev["interval"] and \
                now - last < dev["interval"]:
            raise IdpError("slow_down", None,
                           "OAuth 2.0 device flow error. Polling faster than "
                           "the interval of %s seconds; slow down."
                           % dev["interval"])
        if dev["status"] == "pending":
            dev["polls"] += 1
            after = dev["auto_approve_after"]
            if after is not None and dev["polls"] >= after:
                dev["status"], dev["user"] = \
                    "approved", self.settings["default_user"].lower()
        if dev["status"] != "approved":
            raise IdpError("authorization_pending", 70016,
                           "OAuth 2.0 device flow error. Authorization is "
                           "pending. Continue polling.")
        dev["status"] = "redeemed"
        return self.issue(user=dev["user"], client_id=client["client_id"],
                          tenant=tenant, scopes=dev["scopes"],
                          grant=GRANT_DEVICE_CODE,
                          offline="offline_access" in dev["scopes"])

    GRANTS = {GRANT_AUTH_CODE: grant_authorization_code,
              GRANT_REFRESH: grant_refresh_token,
              GRANT_CLIENT_CREDENTIALS: grant_client_credentials,
              GRANT_DEVICE_CODE: grant_device_code}

    def token(self, tenant, form, headers):
        """POST /{tenant}/oauth2/v2.0/token"""
        with self.lock:
            grant = form.get("grant_type") or ""
            self.bump("token_requests", grant or "(missing)")
            try:
                if not grant:
                    raise IdpError("invalid_request", 900144,
                                   "The request body must contain the "
                                   "following parameter: 'grant_type'.")
                handler = self.GRANTS.get(grant)
                if handler is None:
                    raise IdpError("unsupported_grant_type", 70003,
                                   "The app requested an unsupported grant "
                                   "type '%s'." % grant)
                client = self.authenticate_client(form, headers, tenant, grant)
                return handler(self, tenant, form, client)
            except IdpError as e:
                self.bump("errors", "%s/%s" % (e.error, e.code or "-"))
                raise
            finally:
                self.save()

    # -- authorize / devicecode ------------------------------------------------------

    def new_code(self, *, client_id, redirect_uri, scopes, user, tenant,
                 challenge):
        with self.lock:
            self.stats["authorize_requests"] += 1
            code = random_token(AUTH_CODE_LENGTH, prefix="0.A")
            self.codes[code] = {
                "client_id": client_id, "redirect_uri": redirect_uri,
                "scopes": scopes, "user": user.lower(), "tenant": tenant,
                "challenge": challenge, "redeemed": False,
                "exp": self.now() + self.settings["code_lifetime"]}
            self.save()
            return code

    def devicecode(self, tenant, form, base_url):
        """POST /{tenant}/oauth2/v2.0/devicecode"""
        with self.lock:
            self.stats["devicecode_requests"] += 1
            client_id = form.get("client_id")
            if not client_id:
                raise IdpError("invalid_request", 900144,
                               "The request body must contain the following "
                               "parameter: 'client_id'.")
            if client_id not in self.clients:
                raise IdpError("unauthorized_client", 700016,
                               "Application with identifier '%s' was not found "
                               "in the directory '%s'." % (client_id, tenant))
            scopes = self.check_delegated_scopes(split_scopes(form.get("scope")))
            dc = random_token(DEVICE_CODE_LENGTH)
            alphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"
            user_code = "".join(secrets.choice(alphabet) for _ in range(9))
            s = self.settings
            self.devices[dc] = {
                "client_id": client_id, "tenant": tenant, "scopes": scopes,
                "user_code": user_code, "exp": self.now() + s["device_expires_in"],
                "interval": s["device_interval"], "status": "pending",
                "user": None, "polls": 0, "last_poll": None,
                "auto_approve_after": s["device_auto_approve_after"]}
            self.save()
            uri = base_url + "/devicelogin"
            return {"user_code": user_code, "device_code": dc,
                    "verification_uri": uri,
                    "expires_in": s["device_expires_in"],
                    "interval": s["device_interval"],
                    "message": "To sign in, use a web browser to open the page "
                               "%s and enter the code %s to authenticate."
                               % (uri, user_code)}

    def decide_device(self, user_code, user, approve):
        with self.lock:
            for dev in self.devices.values():
                if dev["user_code"].upper() == (user_code or "").upper():
                    if dev["status"] != "pending":
                        raise ControlError("device code is %s" % dev["status"],
                                           409)
                    dev["status"] = "approved" if approve else "denied"
                    dev["user"] = (user or self.settings["default_user"]).lower()
                    self.save()
                    return {"ok": True, "status": dev["status"],
                            "user": dev["user"]}
            raise ControlError("unknown user_code", 404)

    # -- introspection (RFC 7662) --------------------------------------------------

    def introspect(self, token, protocol):
        """Answer for Dovecot's oauth2 passdb.  Always a JSON object for a
        200 answer: `active: false` for anything not usable, never an error,
        because Dovecot treats errors/5xx as a temporary failure."""
        with self.lock:
            self.stats["introspections"] += 1
            self.bump("introspections_by_protocol", protocol or "(any)")
            info = self.access.get(token) if token else None
            result = self._introspect(info, protocol)
            if info and info["user"]:
                us = self.user_stats(info["user"])
                us["introspections"] += 1
                if result["active"]:
                    us["introspections_active"] += 1
            if result["active"]:
                self.stats["introspections_active"] += 1
                if result["username"] and not (info and info["user"]):
                    us = self.user_stats(result["username"])
                    us["introspections"] += 1
                    us["introspections_active"] += 1
            self.save()
            return result

    def _introspect(self, info, protocol, mailbox=None):
        """The introspection answer.  With `mailbox`, an app-only token is
        answered for that mailbox if it is one of its client's."""
        inactive = {"active": False}
        if info is None or info["revoked"] or self.now() >= info["exp"]:
            return inactive
        if protocol is not None and protocol not in PROTOCOL_PERMISSIONS:
            return inactive
        wanted = [protocol] if protocol else list(PROTOCOL_PERMISSIONS)
        if info["app_only"]:
            if not all(is_mail_resource(s) for s in info["scopes"]):
                return inactive         # e.g. a Graph token
            roles = {r.lower() for r in info["roles"]}
            if not any(PROTOCOL_PERMISSIONS[p][1].lower() in roles
                       for p in wanted):
                return inactive
            client = self.clients.get(info["client_id"])
            mailboxes = client["app_mailboxes"] if client else []
            if mailbox is not None:
                if mailbox not in mailboxes:
                    return inactive
                mailboxes = [mailbox]
            if len(mailboxes) != 1:
                return inactive         # cannot tell which mailbox
            username = mailboxes[0]
            scope = " ".join(info["roles"])
        else:
            keys = {scope_key(s) for s in info["scopes"]}
            if not any(scope_key(MAIL_HOST + PROTOCOL_PERMISSIONS[p][0]) in keys
                       for p in wanted):
                return inactive
            username = info["user"]
            scope = " ".join(info["scopes"])
        return {"active": True, "username": username, "email": username,
                "scope": scope, "client_id": info["client_id"],
                "token_type": "Bearer", "exp": int(info["exp"]),
                "iat": int(info["iat"]), "tid": info["tenant"],
                "aud": MAIL_HOST.rstrip("/"),
                "app_only": info["app_only"]}

    def check_mailbox(self, token, protocol, mailbox):
        """May `token` open `mailbox` over `protocol`?  Dovecot's second
        oauth2 passdb asks this through its password-grant hook (the only
        request of Dovecot's oauth2 passdb that names the user).  A token
        opens its own user's mailbox; a delegated token also opens the
        mailboxes its user has FullAccess to; an app-only token with the
        protocol's AccessAsApp permission opens every mailbox granted to its
        client.  Returns the introspection answer, with `username` set to
        the mailbox, or None."""
        mailbox = (mailbox or "").lower()
        with self.lock:
            self.stats["mailbox_checks"] += 1
            info = self.access.get(token) if token else None
            if not mailbox:
                return None
            result = self._introspect(info, protocol, mailbox)
            if not result["active"]:
                return None
            if not info["app_only"] and mailbox != info["user"] and \
                    info["user"] not in self.permissions.get(mailbox, []):
                return None
            self.stats["mailbox_checks_granted"] += 1
            return dict(result, username=mailbox, email=mailbox)

    def set_permission(self, spec):
        """Add-MailboxPermission -User U -AccessRights FullAccess (or, with
        "remove": true, Remove-MailboxPermission)."""
        mailbox = (spec.get("mailbox") or "").lower()
        users = spec.get("user")
        users = [users] if isinstance(users, str) else list(users or [])
        if not mailbox or not users:
            raise ControlError("need mailbox and user")
        with self.lock:
            have = self.permissions.setdefault(mailbox, [])
            for u in (u.lower() for u in users):
                if spec.get("remove"):
                    if u in have:
                        have.remove(u)
                elif u not in have:
                    have.append(u)
            self.save()
            return {"ok": True, "mailbox": mailbox, "full_access": list(have)}

    # -- control operations -------------------------------------------------------------

    def revoke(self, user=None, client_id=None, reason=None):
        reason = reason or "conditional_access"
        if reason not in ("conditional_access", "password_change"):
            raise ControlError("reason must be conditional_access or "
                               "password_change")
        if not user and not client_id:
            raise ControlError("need user or client_id")
        n = 0
        with self.lock:
            for table in (self.access, self.refresh):
                for info in table.values():
                    if (user and info["user"] == user.lower()) or \
                            (client_id and info["client_id"] == client_id):
                        if not info["revoked"]:
                            info["revoked"] = reason
                            n += 1
            self.save()
        return {"ok": True, "revoked": n}

    def expire(self, user=None, all_=False, refresh_tokens=False):
        if not user and not all_:
            raise ControlError("need user or all")
        past = self.now() - 1
        n = 0
        with self.lock:
            tables = [self.access] + ([self.refresh] if refresh_tokens else [])
            for table in tables:
                for info in table.values():
                    if all_ or info["user"] == user.lower():
                        info["exp"] = min(info["exp"], past)
                        n += 1
            self.save()
        return {"ok": True, "expired": n}

    def mint(self, spec):
        """POST /_test/token: a token without running a flow."""
        with self.lock:
            client_id = spec.get("client_id") or "mailgate-test"
            if client_id not in self.clients:
                raise ControlError("unknown client_id %s" % client_id)
            tenant = spec.get("tenant") or "common"
            if spec.get("app_only"):
                resp = self.issue(
                    user=None, client_id=client_id, tenant=tenant,
                    scopes=[MAIL_HOST + ".default"], grant="minted",
                    offline=False, lifetime=spec.get("lifetime"),
                    roles=list(self.clients[client_id]["app_permissions"]),
                    length=spec.get("access_token_length"))
            else:
                user = (spec.get("user") or self.settings["default_user"]).lower()
                scope = spec.get("scope") or " ".join(
                    [MAIL_HOST + p[0] for p in PROTOCOL_PERMISSIONS.values()]
                    + ["offline_access"])
                try:
                    scopes = self.check_delegated_scopes(split_scopes(scope))
                except IdpError as e:
                    raise ControlError(e.message)
                offline = spec.get("refresh_token", True)
                if offline and "offline_access" not in scopes:
                    scopes.append("offline_access")
                resp = self.issue(user=user, client_id=client_id,
                                  tenant=tenant, scopes=scopes, grant="minted",
                                  offline=offline,
                                  lifetime=spec.get("lifetime"),
                                  length=spec.get("access_token_length"))
            self.stats["minted"] += 1
            self.save()
            return resp

    def update_settings(self, spec):
        checks = {
            "token_lifetime": lambda v: isinstance(v, int) and v > 0,
            "access_token_length": lambda v: isinstance(v, int)
            and 16 <= v <= 1000000,
            "reuse_policy": lambda v: v in ("allow", "reject"),
            "refresh_token_lifetime": lambda v: isinstance(v, int) and v > 0,
            "code_lifetime": lambda v: isinstance(v, int) and v > 0,
            "device_interval": lambda v: isinstance(v, int) and v >= 0,
            "device_expires_in": lambda v: isinstance(v, int) and v > 0,
            "device_auto_approve_after": lambda v: v is None
            or (isinstance(v, int) and v >= 1),
            "default_user": lambda v: isinstance(v, str) and "@" in v,
        }
        with self.lock:
            for k, v in spec.items():
                if k not in checks:
                    raise ControlError("unknown setting %r" % k)
                if isinstance(v, bool) or not checks[k](v):
                    raise ControlError("bad value for %s: %r" % (k, v))
            self.settings.update(spec)
            self.save()
            return dict(self.settings)

    def set_failure(self, spec):
        mode = str(spec.get("mode", "503"))
        endpoint = spec.get("endpoint", "token")
        count = spec.get("count", 1)
        if mode not in ("503", "hang") or \
                endpoint not in ("token", "devicecode", "authorize", "any") or \
                not isinstance(count, int) or count < 0:
            raise ControlError("bad failure rule")
        # Scoped to one client, a rule replaces only that client's rule:
        # suites sharing the IdP neither see nor undo each other's failures.
        key = spec.get("client_id") or ""
        rule = {"count": count, "mode": mode, "endpoint": endpoint,
                "client_id": key or None,
                "hang_seconds": float(spec.get("hang_seconds", 30)),
                "retry_after": spec.get("retry_after")}
        with self.lock:
            self.fail_rules[key] = rule
            return {"ok": True, "rule": dict(rule)}


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------

OAUTH_PATH = re.compile(
    r"(?:/.*)?/(?P<tenant>[^/]+)/oauth2/v2\.0/"
    r"(?P<endpoint>authorize|token|devicecode)/?")
DISCOVERY_PATH = re.compile(
    r"(?:/.*)?/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration")
INTROSPECT_PATH = re.compile(r"/introspect(?:/(?P<protocol>[^/]+))?/?")
MAILBOX_CHECK_PATH = re.compile(r"/introspect/(?P<protocol>[^/]+)/mailbox/?")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, as Dovecot's client expects
    server_version = "MailgateTestIdP/1.0"
    sys_version = ""
    timeout = 300                     # drop idle keep-alive connections

    # -- plumbing --------------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def log_message(self, fmt, *args):
        """BaseHTTPRequestHandler would log the raw request line, which can
        hold codes and tokens: we log our own redacted line instead."""

    def log_error(self, fmt, *args):
        self.server.log("%s protocol-error %s" % (self.client_address[0],
                                                   args[0] if args else ""))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ControlError("request body too large", 413)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body=b"", content_type="application/json; charset=utf-8",
             headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.status = status
        self.send_response(status)
        if body or status != 302:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, no-cache")
        self.send_header("Pragma", "no-cache")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_oauth_error(self, err):
        self.note = ("%s %s/%s" % (self.note, err.error, err.code or "-")).strip()
        corr = self.headers.get("client-request-id")
        self.send(err.status, microsoft_error_body(err, corr))

    def base_url(self):
        host, port = self.server.server_address[:2]
        if ":" in host:
            host = "[%s]" % host
        return "http://%s:%d" % (host, port)

    def dispatch(self, method):
        start = time.monotonic()
        self.status, self.note = None, ""
        url = urlsplit(self.path)
        path = url.path
        m_intro = None
        try:
            body = self.read_body()
            query = first_values(parse_qs(url.query, keep_blank_values=True))
            m_oauth = OAUTH_PATH.fullmatch(path)
            m_intro = INTROSPECT_PATH.fullmatch(path)
            m_mailbox = MAILBOX_CHECK_PATH.fullmatch(path)
            m_disc = DISCOVERY_PATH.fullmatch(path)
            if m_mailbox and method == "POST":
                self.handle_mailbox_check(m_mailbox.group("protocol"), body)
            elif m_intro:
                self.handle_introspect(m_intro.group("protocol"), query, body)
            elif path.startswith("/_test/"):
                self.handle_control(method, path[len("/_test/"):].rstrip("/"),
                                    body)
            elif m_oauth:
                self.handle_oauth(method, m_oauth.group("tenant"),
                                  m_oauth.group("endpoint"), query, body)
            elif m_disc and method == "GET":
                self.handle_discovery(path[:-len("/v2.0/.well-known/"
                                                 "openid-configuration")])
            elif path in ("/devicelogin", "/devicelogin/"):
                self.handle_devicelogin(method, body)
            else:
                self.send(404, {"error": "not_found", "path": path})
        except ControlError as e:
            self.send(e.status, {"error": str(e)})
        except IdpError as e:
            self.send_oauth_error(e)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception:                                   # pragma: no cover
            self.server.log("internal error on %s %s:\n%s" % (
                method, redact_path(self.path), traceback.format_exc()))
            if self.status is None:
                if m_intro:
                    self.send(200, {"active": False})
                else:
                    self.send(500, {"error": "server_error"})
        finally:
            ms = (time.monotonic() - start) * 1000
            self.server.log("%s %s %s %s %.0fms%s" % (
                self.client_address[0], method, redact_path(self.path),
                self.status if self.status is not None else "-", ms,
                (" " + self.note) if self.note else ""))

    # -- identity platform endpoints ----------------------------------------------

    def handle_oauth(self, method, tenant, endpoint, query, body):
        form = first_values(parse_qs(body.decode("utf-8", "replace"),
                                     keep_blank_values=True))
        rule = self.state.take_failure(endpoint,
                                       form.get("client_id") or dict(query).get("client_id"))
        if rule:
            self.inject_failure(rule)
            return
        if endpoint == "authorize":
            params = dict(query)
            if method == "POST":
                params.update(form)
            self.handle_authorize(tenant, params)
            return
        if method != "POST":
            raise IdpError("invalid_request", 900561,
                           "The endpoint only accepts POST requests. "
                           "Received a %s request." % method)
        if endpoint == "token":
            self.note = "grant=%s" % form.get("grant_type", "")
            resp = self.state.token(tenant, form, self.headers)
        else:
            resp = self.state.devicecode(tenant, form, self.base_url())
        self.send(200, resp)

    def inject_failure(self, rule):
        """Answer 503 like Microsoft's front door, or hang and then drop the
        connection without a byte, to exercise client timeouts."""
        if rule["mode"] == "hang":
            self.note = "injected-hang"
            time.sleep(rule["hang_seconds"])
            self.close_connection = True
            return
        self.note = "injected-503"
        headers = {}
        if rule.get("retry_after") is not None:
            headers["Retry-After"] = str(rule["retry_after"])
        err = IdpError("temporarily_unavailable", 90033,
                       "A transient error has occurred. Please try again.", 503)
        self.send(503, microsoft_error_body(err), headers=headers)

    def handle_authorize(self, tenant, p):
        """Test mode: no login page, the user (login_hint or the default user)
        approves at once.  Errors go back to the redirect URI once it is known
        to be valid, and to an error page before that, like Entra ID."""
        client = self.state.clients.get(p.get("client_id", ""))
        if client is None:
            return self.error_page(700016, "Application with identifier '%s' "
                                   "was not found in the directory '%s'."
                                   % (p.get("client_id", ""), tenant))
        redirect_uri = p.get("redirect_uri", "")
        if not redirect_uri or not redirect_uri_allowed(client, redirect_uri):
            return self.error_page(50011, "The redirect URI '%s' specified in "
                                   "the request does not match the redirect "
                                   "URIs configured for the application '%s'."
                                   % (redirect_uri, client["client_id"]))
        state = p.get("state")
        try:
            if p.get("response_type") != "code":
                raise IdpError("unsupported_response_type", 700051,
                               "response_type '%s' is not supported by this "
                               "test identity provider; use 'code'."
                               % p.get("response_type", ""))
            challenge = p.get("code_challenge")
            method = p.get("code_challenge_method")
            if (challenge or method) and method != "S256":
                raise IdpError("invalid_request", 50149,
                               "Invalid Code_Challenge_method parameter. Only "
                               "S256 is accepted.")
            if method and not challenge:
                raise IdpError("invalid_request", 900144,
                               "The request body must contain the following "
                               "parameter: 'code_challenge'.")
            scopes = self.state.check_delegated_scopes(
                split_scopes(p.get("scope")))
        except IdpError as e:
            self.note = "%s/%s" % (e.error, e.code)
            params = {"error": e.error,
                      "error_description": "AADSTS%d: %s" % (e.code, e.message),
                      "error_uri": "https://login.microsoftonline.com/error"
                                   "?code=%d" % e.code}
            if state is not None:
                params["state"] = state
            return self.redirect(redirect_uri, params)
        user = p.get("login_hint") or self.state.settings["default_user"]
        code = self.state.new_code(client_id=client["client_id"],
                                   redirect_uri=redirect_uri, scopes=scopes,
                                   user=user, tenant=tenant,
                                   challenge=challenge)
        params = {"code": code}
        if state is not None:
            params["state"] = state
        params["session_state"] = str(uuid.uuid4())
        self.redirect(redirect_uri, params)

    def redirect(self, uri, params):
        sep = "&" if "?" in uri else "?"
        self.send(302, b"", headers={"Location": uri + sep + urlencode(params)})

    def error_page(self, code, message):
        self.note = "error-page/%d" % code
        page = ("<!DOCTYPE html><html><head><title>Sign in error</title></head>"
                "<body><h1>Sorry, but we're having trouble signing you in."
                "</h1><p>AADSTS%d: %s</p><p>Trace ID: %s<br>Timestamp: %s</p>"
                "</body></html>" % (code, html.escape(message), uuid.uuid4(),
                                    utc_stamp()))
        self.send(400, page, "text/html; charset=utf-8")

    def handle_discovery(self, prefix):
        base = self.base_url() + prefix
        self.send(200, {
            "issuer": base + "/v2.0",
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "token_endpoint": base + "/oauth2/v2.0/token",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "introspection_endpoint": self.base_url() + "/introspect",
            "response_types_supported": ["code"],
            "grant_types_supported": sorted(State.GRANTS),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_post", "client_secret_basic"]})

    # -- introspection ---------------------------------------------------------------

    def handle_introspect(self, protocol, query, body):
        """Dovecot sends `token=<urlescaped>` as a POST body (introspection_mode
        = post; older 2.3 releases without any Content-Type), appends the
        token to the URL (mode get: `...?token=` then `&client_id=&
        client_secret=`), or sends `Authorization: Bearer` (mode auth).  We
        accept all three, and JSON bodies too.  Path /introspect/<protocol>
        enforces that protocol's scope; /introspect/service takes the
        protocol from Dovecot's X-Dovecot-Auth-Service header."""
        token = None
        text = body.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                token = json.loads(text).get("token")
            except (ValueError, AttributeError):
                token = None
        elif text:
            token = first_values(parse_qs(text)).get("token")
        if not token:
            token = query.get("token") or query.get("access_token")
        if not token:
            auth = self.headers.get("Authorization", "")
            if auth[:7].lower() == "bearer ":
                token = auth[7:].strip()
        proto = None
        if protocol is not None and protocol.lower() == "service":
            # One passdb for every Dovecot service: with send_auth_headers =
            # yes, Dovecot names the service (imap, pop3, submission).
            service = self.headers.get("X-Dovecot-Auth-Service", "")
            proto = PROTOCOL_ALIASES.get(service.lower(), "(no-service-header)"
                                         if not service else service.lower())
        elif protocol is not None:
            proto = PROTOCOL_ALIASES.get(protocol.lower(), protocol.lower())
        result = self.state.introspect(token, proto)
        self.note = "protocol=%s active=%s" % (proto or "any",
                                               str(result["active"]).lower())
        if result["active"]:
            self.note += " user=%s" % result["username"]
        self.send(200, result)

    def handle_mailbox_check(self, protocol, body):
        """Dovecot's oauth2 passdb with `use_grant_password = yes` posts
        `grant_type=password&username=MAILBOX&password=TOKEN` (plus its
        client_id/client_secret, ignored here).  Granted: 200 with the token
        as `access_token` and the introspection fields, `username` being the
        mailbox.  Refused: 400 `invalid_grant`, which Dovecot takes as a
        definite failure (never a 5xx: that would be a temporary one)."""
        form = first_values(parse_qs(body.decode("utf-8", "replace")))
        proto = PROTOCOL_ALIASES.get(protocol.lower(), protocol.lower())
        token = form.get("password")
        result = self.state.check_mailbox(token, proto, form.get("username"))
        self.note = "mailbox-check protocol=%s granted=%s" % (
            proto, "true" if result else "false")
        if result is None:
            return self.send(400, {"error": "invalid_grant",
                                   "error_description": "the token may not "
                                   "open this mailbox"})
        self.note += " user=%s" % result["username"]
        self.send(200, dict(result, access_token=token,
                            expires_in=max(0, result["exp"] - int(self.state.now()))))

    # -- device login page -----------------------------------------------------------

    def handle_devicelogin(self, method, body):
        """A tiny page for people running the IdP by hand; tests use
        /_test/device/approve instead."""
        message = ""
        if method == "POST":
            form = first_values(parse_qs(body.decode("utf-8", "replace")))
            try:
                r = self.state.decide_device(form.get("user_code"),
                                             form.get("user"),
                                             form.get("action") != "deny")
                message = "Device %s for %s." % (r["status"], r["user"])
            except ControlError as e:
                message = "Error: %s" % e
        page = ("<!DOCTYPE html><html><head><title>Enter code</title></head>"
                "<body><h1>Mailgate test IdP - device login</h1><p>%s</p>"
                "<form method='post'>Code: <input name='user_code'> "
                "User: <input name='user' value='%s'> "
                "<button name='action' value='approve'>Approve</button> "
                "<button name='action' value='deny'>Deny</button></form>"
                "</body></html>" % (html.escape(message), html.escape(
                    self.state.settings["default_user"])))
        self.send(200, page, "text/html; charset=utf-8")

    # -- control API ---------------------------------------------------------------------

    def handle_control(self, method, name, body):
        st = self.state
        if method == "GET":
            if name == "stats":
                with st.lock:
                    return self.send(200, json.loads(json.dumps(st.stats)))
            if name == "settings":
                return self.send(200, dict(st.settings))
            if name == "clients":
                return self.send(200, list(st.clients.values()))
            if name == "permissions":
                with st.lock:
                    return self.send(200, dict(st.permissions))
            if name == "health":
                return self.send(200, {"ok": True})
            raise ControlError("unknown control endpoint", 404)
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            raise ControlError("body must be JSON")
        if not isinstance(spec, dict):
            raise ControlError("body must be a JSON object")
        if name == "clients":
            if not spec.get("client_id"):
                raise ControlError("client_id required")
            client = make_client(spec)
            with st.lock:
                st.clients[client["client_id"]] = client
                st.save()
            resp = {"ok": True, "client": client}
        elif name == "settings":
            resp = st.update_settings(spec)
        elif name == "revoke":
            resp = st.revoke(spec.get("user"), spec.get("client_id"),
                             spec.get("reason"))
        elif name == "expire":
            resp = st.expire(spec.get("user"), bool(spec.get("all")),
                             bool(spec.get("refresh_tokens")))
        elif name == "fail":
            resp = st.set_failure(spec)
        elif name == "permissions":
            resp = st.set_permission(spec)
        elif name in ("device/approve", "device/deny"):
            resp = st.decide_device(spec.get("user_code"), spec.get("user"),
                                    name == "device/approve")
        elif name == "token":
            resp = st.mint(spec)
        elif name == "reset":
            st.reset(keep_clients=bool(spec.get("keep_clients")))
            with st.lock:
                st.save()
            resp = {"ok": True}
        elif name == "clock":
            with st.lock:
                if spec.get("reset"):
                    st.clock_offset = 0.0
                st.clock_offset += float(spec.get("advance", 0))
                st.save()
                resp = {"now": st.now(), "offset": st.clock_offset}
        else:
            raise ControlError("unknown control endpoint", 404)
        self.send(200, resp)


def redirect_uri_allowed(client, uri):
    """Registered URIs must match exactly, except that loopback redirect URIs
    (http://127.0.0.1/..., http://localhost/...) match on any port, as RFC
    8252 section 7.3 and Entra ID do for native apps.  A client registered
    without redirect URIs accepts any (convenient for tests)."""
    registered = client["redirect_uris"]
    if not registered or uri in registered:
        return True
    u = urlsplit(uri)
    if u.scheme != "http" or u.hostname not in LOOPBACK_HOSTS:
        return False
    for r in registered:
        ru = urlsplit(r)
        if ru.scheme == "http" and ru.hostname == u.hostname and \
                (ru.path or "/") == (u.path or "/") and ru.query == u.query:
            return True
    return False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, state, log_file):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.log_lock = threading.Lock()
        self.log_stream = None
        if log_file == "-":
            self.log_stream = sys.stderr
        elif log_file:
            self.log_stream = open(log_file, "a", buffering=1)
        super().__init__(address, Handler)

    def log(self, line):
        if not self.log_stream:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        with self.log_lock:
            self.log_stream.write("%s %s\n" % (stamp, line))
            self.log_stream.flush()


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True,
                    help="TCP port, 0 = pick a free one")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--state-file", help="persist state here (JSON)")
    ap.add_argument("--log-file", help="request log ('-' = stderr)")
    ap.add_argument("--token-lifetime", type=int, default=3600,
                    help="access token lifetime in seconds")
    ap.add_argument("--ready-file",
                    help="write the listening port here once ready")
    args = ap.parse_args(argv)

    state = State(args.token_lifetime, args.state_file)
    server = Server((args.host, args.port), state, args.log_file)
    port = server.server_address[1]

    if args.ready_file:
        tmp = "%s.tmp.%d" % (args.ready_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.ready_file)
    host = "[%s]" % args.host if ":" in args.host else args.host
    print("idp listening on http://%s:%d" % (host, port), flush=True)
    server.log("listening on %s:%d" % (host, port))

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
