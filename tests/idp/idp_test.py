#!/usr/bin/env python3
"""Tests for the Mailgate test identity provider (tests/idp/idp.py).

Starts the IdP as a subprocess on port 0 and drives it over HTTP with urllib,
the way Dovecot, the C++ client tests and the smoke tests will.

    python3 tests/idp/idp_test.py [-v]

Exits non-zero on failure.  Every test uses its own user names, and the IdP is
reset between tests, so the order does not matter.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = os.path.join(HERE, "idp.py")

IMAP = "https://outlook.office.com/IMAP.AccessAsUser.All"
POP = "https://outlook.office.com/POP.AccessAsUser.All"
SMTP = "https://outlook.office.com/SMTP.Send"
MAIL_DEFAULT = "https://outlook.office365.com/.default"
ALL_MAIL = " ".join([IMAP, POP, SMTP, "offline_access"])
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")

# Every secret the tests see; the log file must contain none of them.
SEEN_SECRETS = set()


def unique_user(tag):
    return "%s-%s@example.test" % (tag, secrets.token_hex(4))


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


NO_REDIRECT_OPENER = urllib.request.build_opener(NoRedirect)


class IdpProcess:
    """The IdP as a child process; measures its start-up time."""

    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="idp-test-")
        self.ready_file = os.path.join(self.dir, "ready")
        self.log_file = os.path.join(self.dir, "idp.log")
        start = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, IDP, "--port", "0", "--ready-file",
             self.ready_file, "--log-file", self.log_file] + list(extra_args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = start + 10
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError("idp exited: %s" % self.proc.stderr.read())
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("idp did not become ready")
            time.sleep(0.005)
        self.startup_seconds = time.monotonic() - start
        with open(self.ready_file) as f:
            self.ready_content = f.read()
        self.port = int(self.ready_content)
        self.stdout_line = self.proc.stdout.readline().decode()
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self, remove=True):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


class IdpTestCase(unittest.TestCase):
    """Shared IdP for the whole module, reset before each test."""

    idp = None

    @classmethod
    def setUpClass(cls):
        if IdpTestCase.idp is None:
            IdpTestCase.idp = IdpProcess()

    def setUp(self):
        self.control("reset")

    # -- HTTP helpers ----------------------------------------------------------

    def http(self, method, path, form=None, json_body=None, headers=None,
             timeout=10, raw_body=None, follow=True):
        """(status, headers, parsed body) for any answer, errors included."""
        url = self.idp.base + path
        data = None
        hdrs = dict(headers or {})
        if form is not None:
            data = urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif raw_body is not None:
            data = raw_body
        req = urllib.request.Request(url, data=data, headers=hdrs,
                                     method=method)
        opener = urllib.request.build_opener() if follow else NO_REDIRECT_OPENER
        try:
            resp = opener.open(req, timeout=timeout)
            status, rheaders, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rheaders, body = e.code, e.headers, e.read()
        ctype = rheaders.get("Content-Type", "")
        if body and ctype.startswith("application/json"):
            body = json.loads(body)
        return status, rheaders, body

    def control(self, name, body=None, method="POST"):
        status, _, resp = self.http(method, "/_test/" + name,
                                    json_body=body if method == "POST" else None,
                                    raw_body=b"{}" if method == "POST" and
                                    body is None else None)
        self.assertEqual(status, 200, resp)
        return resp

    def stats(self):
        return self.control("stats", method="GET")

    def token(self, form, tenant="common", headers=None, ok=True):
        status, _, body = self.http("POST", "/%s/oauth2/v2.0/token" % tenant,
                                    form=form, headers=headers)
        if isinstance(body, dict):
            for k in ("access_token", "refresh_token"):
                if k in body:
                    SEEN_SECRETS.add(body[k])
        if ok:
            self.assertEqual(status, 200, body)
        return status, body

    def assert_ms_error(self, status, body, error, code, http_status=400):
        """Check the full Microsoft error layout, not only the code."""
        self.assertEqual(status, http_status, body)
        self.assertEqual(body["error"], error, body)
        if code is None:
            self.assertEqual(body["error_codes"], [])
        else:
            self.assertEqual(body["error_codes"], [code], body)
            self.assertTrue(body["error_description"].startswith(
                "AADSTS%d: " % code), body["error_description"])
            self.assertEqual(body["error_uri"],
                             "https://login.microsoftonline.com/error?code=%d"
                             % code)
        self.assertRegex(body["timestamp"],
                         r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        self.assertRegex(body["trace_id"], UUID_RE)
        self.assertRegex(body["correlation_id"], UUID_RE)
        self.assertIn("\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                      % (body["trace_id"], body["correlation_id"],
                         body["timestamp"]), body["error_description"])

    def introspect(self, token, protocol=None, how="post"):
        path = "/introspect" + ("/" + protocol if protocol else "")
        if how == "post":
            status, _, body = self.http("POST", path, form={"token": token})
        elif how == "get":
            status, _, body = self.http("GET", path + "?" +
                                        urlencode({"token": token}))
        else:
            status, _, body = self.http(
                "GET", path, headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)     # always 200 for Dovecot
        self.assertNotIn("error", body)
        return body

    def authorize(self, params, tenant="common"):
        status, headers, body = self.http(
            "GET", "/%s/oauth2/v2.0/authorize?%s" % (tenant, urlencode(params)),
            follow=False)
        return status, headers.get("Location"), body

    def auth_code_flow(self, user, scope=ALL_MAIL, client_id="mailgate-test",
                       redirect="http://127.0.0.1:4711/callback",
                       tenant="common"):
        """Run authorize; returns (code, verifier)."""
        verifier, challenge = pkce_pair()
        status, location, _ = self.authorize({
            "client_id": client_id, "response_type": "code",
            "redirect_uri": redirect, "scope": scope, "state": "st-123",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "login_hint": user}, tenant=tenant)
        self.assertEqual(status, 302)
        self.assertTrue(location.startswith(redirect + "?"), location)
        q = parse_qs(urlsplit(location).query)
        self.assertEqual(q["state"], ["st-123"])
        SEEN_SECRETS.add(q["code"][0])
        return q["code"][0], verifier

    def login(self, user, scope=ALL_MAIL, tenant="common"):
        code, verifier = self.auth_code_flow(user, scope, tenant=tenant)
        return self.token({"grant_type": "authorization_code",
                           "client_id": "mailgate-test", "code": code,
                           "redirect_uri": "http://127.0.0.1:4711/callback",
                           "code_verifier": verifier}, tenant=tenant)[1]

    def refresh(self, rt, tenant="common", ok=True, **extra):
        form = {"grant_type": "refresh_token", "client_id": "mailgate-test",
                "refresh_token": rt}
        form.update(extra)
        return self.token(form, tenant=tenant, ok=ok)


class StartupTest(IdpTestCase):
    def test_ready_file_stdout_and_startup_time(self):
        idp = IdpProcess()
        try:
            sys.stderr.write("[idp start-up %.3fs] " % idp.startup_seconds)
            self.assertRegex(idp.ready_content, r"^\d+\n?$")
            self.assertEqual(idp.stdout_line.strip(),
                             "idp listening on http://127.0.0.1:%d" % idp.port)
            # Start-up time is reported above, not asserted: timing belongs
            # in benchmarks, and a loaded CI machine must not fail this test.
            with urllib.request.urlopen(idp.base + "/_test/health") as r:
                self.assertEqual(json.load(r), {"ok": True})
        finally:
            idp.stop()


class AuthorizationCodeTest(IdpTestCase):
    def test_pkce_ok_and_token_response_shape(self):
        user = unique_user("pkce")
        resp = self.login(user)
        self.assertEqual(resp["token_type"], "Bearer")
        self.assertEqual(resp["scope"].split(), ALL_MAIL.split())
        self.assertEqual(resp["expires_in"], 3600)
        self.assertEqual(resp["ext_expires_in"], 3600)
        self.assertEqual(len(resp["access_token"]), 1500)
        self.assertRegex(resp["access_token"], r"^[A-Za-z0-9_-]+$")
        self.assertIn("refresh_token", resp)
        info = self.introspect(resp["access_token"], "imap")
        self.assertTrue(info["active"])
        self.assertEqual(info["username"], user)
        self.assertEqual(info["client_id"], "mailgate-test")

    def test_bad_verifier(self):
        code, _ = self.auth_code_flow(unique_user("badpkce"))
        status, body = self.token({
            "grant_type": "authorization_code", "client_id": "mailgate-test",
            "code": code, "redirect_uri": "http://127.0.0.1:4711/callback",
            "code_verifier": "wrong-" + "x" * 50}, ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 501481)

    def test_code_reuse(self):
        code, verifier = self.auth_code_flow(unique_user("reuse"))
        form = {"grant_type": "authorization_code",
                "client_id": "mailgate-test", "code": code,
                "redirect_uri": "http://127.0.0.1:4711/callback",
                "code_verifier": verifier}
        self.token(form)
        status, body = self.token(form, ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 54005)

    def test_code_expires_after_ten_minutes(self):
        code, verifier = self.auth_code_flow(unique_user("codeexp"))
        self.control("clock", {"advance": 601})
        status, body = self.token({
            "grant_type": "authorization_code", "client_id": "mailgate-test",
            "code": code, "redirect_uri": "http://127.0.0.1:4711/callback",
            "code_verifier": verifier}, ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 70008)

    def test_redirect_uri_must_match_at_token(self):
        code, verifier = self.auth_code_flow(unique_user("redir"))
        status, body = self.token({
            "grant_type": "authorization_code", "client_id": "mailgate-test",
            "code": code, "redirect_uri": "http://127.0.0.1:4711/other",
            "code_verifier": verifier}, ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 70000)

    def test_no_offline_access_no_refresh_token(self):
        resp = self.login(unique_user("nooffline"), scope=IMAP)
        self.assertNotIn("refresh_token", resp)
        self.assertEqual(resp["scope"], IMAP)

    def test_authorize_errors(self):
        base = {"client_id": "mailgate-test", "response_type": "code",
                "redirect_uri": "http://127.0.0.1:9/cb", "scope": IMAP,
                "state": "s1"}
        # Unknown client: error page, never a redirect.
        status, location, body = self.authorize(dict(base, client_id="nope"))
        self.assertEqual(status, 400)
        self.assertIsNone(location)
        self.assertIn(b"AADSTS700016", body)
        # Redirect URI not registered: error page.
        self.control("clients", {"client_id": "reg-app",
                                 "redirect_uris": ["http://127.0.0.1/cb",
                                                   "https://app.example/cb"]})
        status, location, body = self.authorize(dict(
            base, client_id="reg-app", redirect_uri="https://evil.example/cb"))
        self.assertEqual(status, 400)
        self.assertIn(b"AADSTS50011", body)
        # Loopback URIs match on any port; other paths do not.
        for uri, ok in (("http://127.0.0.1:55123/cb", True),
                        ("http://127.0.0.1/cb", True),
                        ("https://app.example/cb", True),
                        ("http://127.0.0.1:55123/other", False),
                        ("https://app.example:8443/cb", False)):
            status, location, _ = self.authorize(dict(
                base, client_id="reg-app", redirect_uri=uri))
            self.assertEqual(status, 302 if ok else 400, uri)
            if ok:
                self.assertTrue(location.startswith(uri + "?"), location)
        # Errors after the redirect URI is validated go back as redirects.
        cases = [(dict(base, response_type="token"), "unsupported_response_type"),
                 (dict(base, code_challenge="abc", code_challenge_method="plain"),
                  "invalid_request"),
                 (dict(base, code_challenge="abc"), "invalid_request"),
                 (dict(base, scope=""), "invalid_request"),
                 (dict(base, scope=IMAP + " https://graph.microsoft.com/User.Read"),
                  "invalid_scope")]
        for params, error in cases:
            status, location, _ = self.authorize(params)
            self.assertEqual(status, 302, params)
            q = parse_qs(urlsplit(location).query)
            self.assertEqual(q["error"], [error], params)
            self.assertEqual(q["state"], ["s1"])
            self.assertTrue(q["error_description"][0].startswith("AADSTS"))
            self.assertNotIn("code", q)

    def test_default_user_without_login_hint(self):
        self.control("settings", {"default_user": "Default-X@example.test"})
        verifier, challenge = pkce_pair()
        status, location, _ = self.authorize({
            "client_id": "mailgate-test", "response_type": "code",
            "redirect_uri": "http://127.0.0.1:1/cb", "scope": IMAP,
            "code_challenge": challenge, "code_challenge_method": "S256"})
        code = parse_qs(urlsplit(location).query)["code"][0]
        _, resp = self.token({"grant_type": "authorization_code",
                              "client_id": "mailgate-test", "code": code,
                              "redirect_uri": "http://127.0.0.1:1/cb",
                              "code_verifier": verifier})
        self.assertEqual(self.introspect(resp["access_token"])["username"],
                         "default-x@example.test")

    def test_sovereign_cloud_prefix_and_tenant_forms(self):
        user = unique_user("sovereign")
        tenant = "contoso.example"
        code, verifier = self.auth_code_flow(user, tenant="some/prefix/" + tenant)
        status, body = self.token({
            "grant_type": "authorization_code", "client_id": "mailgate-test",
            "code": code, "redirect_uri": "http://127.0.0.1:4711/callback",
            "code_verifier": verifier}, tenant="other/prefix/" + tenant)
        self.assertEqual(status, 200, body)
        guid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
        resp = self.login(unique_user("guid"), tenant=guid)
        self.refresh(resp["refresh_token"], tenant=guid)
        status, _, disc = self.http(
            "GET", "/x/%s/v2.0/.well-known/openid-configuration" % guid)
        self.assertEqual(status, 200)
        self.assertTrue(disc["token_endpoint"].endswith(
            "/x/%s/oauth2/v2.0/token" % guid))

    def test_token_endpoint_errors(self):
        status, body = self.token({"client_id": "mailgate-test"}, ok=False)
        self.assert_ms_error(status, body, "invalid_request", 900144)
        status, body = self.token({"grant_type": "password",
                                   "client_id": "mailgate-test"}, ok=False)
        self.assert_ms_error(status, body, "unsupported_grant_type", 70003)
        status, _, body = self.http("GET", "/common/oauth2/v2.0/token")
        self.assert_ms_error(status, body, "invalid_request", 900561)
        status, body = self.token({"grant_type": "authorization_code",
                                   "client_id": "mailgate-test",
                                   "code": "garbage",
                                   "redirect_uri": "http://127.0.0.1/"},
                                  ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 70000)


class RefreshTest(IdpTestCase):
    def test_rotation_old_token_still_valid_by_default(self):
        user = unique_user("rotate")
        rt0 = self.login(user)["refresh_token"]
        _, r1 = self.refresh(rt0)
        self.assertNotEqual(r1["refresh_token"], rt0)
        self.assertEqual(r1["scope"].split(), ALL_MAIL.split())
        _, r2 = self.refresh(rt0)                   # Microsoft: still valid
        self.assertNotEqual(r2["refresh_token"], r1["refresh_token"])
        self.assertTrue(self.introspect(r2["access_token"], "smtp")["active"])
        st = self.stats()
        self.assertEqual(st["users"][user]["refreshes"], 2)
        self.assertEqual(st["users"][user]["failed_reuse_attempts"], 0)

    def test_reuse_policy_reject(self):
        self.control("settings", {"reuse_policy": "reject"})
        user = unique_user("reject")
        rt0 = self.login(user)["refresh_token"]
        _, r1 = self.refresh(rt0)
        status, body = self.refresh(rt0, ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 70000)
        _, r2 = self.refresh(r1["refresh_token"])   # the new one works
        self.assertIn("refresh_token", r2)
        st = self.stats()
        self.assertEqual(st["failed_reuse_attempts"], 1)
        self.assertEqual(st["users"][user]["failed_reuse_attempts"], 1)
        self.assertEqual(st["users"][user]["refreshes"], 2)

    def test_scope_subset_and_superset(self):
        user = unique_user("subset")
        rt = self.login(user, scope=IMAP + " " + SMTP + " offline_access")[
            "refresh_token"]
        _, r = self.refresh(rt, scope=SMTP + " offline_access")
        self.assertEqual(r["scope"].split(), [SMTP, "offline_access"])
        self.assertFalse(self.introspect(r["access_token"], "imap")["active"])
        self.assertTrue(self.introspect(r["access_token"], "smtp")["active"])
        # The rotated token still carries the whole grant.
        _, r2 = self.refresh(r["refresh_token"], scope=IMAP)
        self.assertTrue(self.introspect(r2["access_token"], "imap")["active"])
        status, body = self.refresh(r2["refresh_token"], ok=False, scope=POP)
        self.assert_ms_error(status, body, "invalid_scope", 70011)

    def test_wrong_tenant(self):
        rt = self.login(unique_user("tenant"), tenant="contoso.example")[
            "refresh_token"]
        status, body = self.refresh(rt, tenant="common", ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 7000012)
        self.refresh(rt, tenant="contoso.example")

    def test_revoked_user(self):
        user, other = unique_user("revoked"), unique_user("bystander")
        r = self.login(user)
        o = self.login(other)
        self.assertEqual(self.control("revoke", {"user": user})["revoked"], 2)
        status, body = self.refresh(r["refresh_token"], ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 70043)
        self.assertFalse(self.introspect(r["access_token"], "imap")["active"])
        self.assertTrue(self.introspect(o["access_token"], "imap")["active"])
        self.refresh(o["refresh_token"])
        # A new sign-in after revocation works again.
        self.assertTrue(self.introspect(self.login(user)["access_token"])[
            "active"])
        # Password-change flavour.
        r = self.login(user)
        self.control("revoke", {"user": user, "reason": "password_change"})
        status, body = self.refresh(r["refresh_token"], ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 50173)

    def test_expire_access_and_refresh_tokens(self):
        user = unique_user("expire")
        r = self.login(user)
        self.control("expire", {"user": user})
        self.assertFalse(self.introspect(r["access_token"], "imap")["active"])
        _, r2 = self.refresh(r["refresh_token"])     # refresh still fine
        self.assertTrue(self.introspect(r2["access_token"], "imap")["active"])
        self.control("expire", {"user": user, "refresh_tokens": True})
        status, body = self.refresh(r2["refresh_token"], ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 700082)
        self.assertFalse(self.introspect(r2["access_token"])["active"])

    def test_access_token_expires_with_time(self):
        self.control("settings", {"token_lifetime": 120})
        r = self.login(unique_user("lifetime"))
        self.assertEqual(r["expires_in"], 120)
        self.assertTrue(self.introspect(r["access_token"])["active"])
        self.control("clock", {"advance": 121})
        self.assertFalse(self.introspect(r["access_token"])["active"])
        self.control("clock", {"advance": 90 * 86400})
        status, body = self.refresh(r["refresh_token"], ok=False)
        self.assert_ms_error(status, body, "invalid_grant", 700082)

    def test_exactly_one_refresh_under_concurrency(self):
        """Parallel refreshes of one token under reuse_policy=reject: one
        wins, the others see invalid_grant, and the stats say so."""
        self.control("settings", {"reuse_policy": "reject"})
        user = unique_user("race")
        rt = self.login(user)["refresh_token"]
        results = []

        def worker():
            results.append(self.refresh(rt, ok=False)[0])
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] + [400] * 7)
        st = self.stats()["users"][user]
        self.assertEqual(st["refreshes"], 1)
        self.assertEqual(st["failed_reuse_attempts"], 7)


class ClientAuthTest(IdpTestCase):
    CONF = "mailgate-confidential"

    def code_for(self, client_id):
        verifier, challenge = pkce_pair()
        _, location, _ = self.authorize({
            "client_id": client_id, "response_type": "code",
            "redirect_uri": "http://127.0.0.1:1/cb",
            "scope": IMAP + " offline_access",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "login_hint": unique_user("conf")})
        return parse_qs(urlsplit(location).query)["code"][0], verifier

    def test_confidential_client_secret(self):
        code, verifier = self.code_for(self.CONF)
        form = {"grant_type": "authorization_code", "client_id": self.CONF,
                "code": code, "redirect_uri": "http://127.0.0.1:1/cb",
                "code_verifier": verifier}
        status, body = self.token(dict(form, client_secret="wrong"), ok=False)
        self.assert_ms_error(status, body, "invalid_client", 7000215, 401)
        status, body = self.token(form, ok=False)          # no secret at all
        self.assert_ms_error(status, body, "invalid_client", 7000218, 401)
        basic = base64.b64encode(b"mailgate-confidential:test-secret").decode()
        _, resp = self.token(form, headers={"Authorization": "Basic " + basic})
        status, body = self.refresh(resp["refresh_token"], ok=False,
                                    client_id=self.CONF)
        self.assert_ms_error(status, body, "invalid_client", 7000218, 401)
        self.refresh(resp["refresh_token"], client_id=self.CONF,
                     client_secret="test-secret")

    def test_unknown_client_and_public_client_with_secret(self):
        status, body = self.token({"grant_type": "refresh_token",
                                   "client_id": "no-such-app",
                                   "refresh_token": "x"}, ok=False)
        self.assert_ms_error(status, body, "unauthorized_client", 700016)
        status, body = self.token({"grant_type": "refresh_token",
                                   "client_id": "mailgate-test",
                                   "client_secret": "s",
                                   "refresh_token": "x"}, ok=False)
        self.assert_ms_error(status, body, "invalid_client", 700025, 401)

    def test_public_platform_app_refuses_its_secret_on_delegated_flows(self):
        self.control("clients", {"client_id": "public-platform",
                                 "client_secret": "pp-secret",
                                 "public_platform": True})
        code, verifier = self.code_for("public-platform")
        form = {"grant_type": "authorization_code",
                "client_id": "public-platform", "code": code,
                "redirect_uri": "http://127.0.0.1:1/cb",
                "code_verifier": verifier}
        status, body = self.token(dict(form, client_secret="pp-secret"),
                                  ok=False)
        self.assert_ms_error(status, body, "invalid_client", 700025, 401)
        code, verifier = self.code_for("public-platform")
        _, resp = self.token(dict(form, code=code, code_verifier=verifier))
        status, body = self.refresh(resp["refresh_token"], ok=False,
                                    client_id="public-platform",
                                    client_secret="pp-secret")
        self.assert_ms_error(status, body, "invalid_client", 700025, 401)
        self.refresh(resp["refresh_token"], client_id="public-platform")

    def test_expired_secret(self):
        self.control("clients", {"client_id": "expired-secret",
                                 "client_secret": "old",
                                 "secret_expired": True})
        status, body = self.token({"grant_type": "client_credentials",
                                   "client_id": "expired-secret",
                                   "client_secret": "old",
                                   "scope": "https://outlook.office365.com/"
                                            ".default"}, ok=False)
        self.assert_ms_error(status, body, "invalid_client", 7000222, 401)

    def test_refresh_token_bound_to_client(self):
        rt = self.login(unique_user("bound"))["refresh_token"]
        status, body = self.refresh(rt, ok=False, client_id=self.CONF,
                                    client_secret="test-secret")
        self.assert_ms_error(status, body, "invalid_grant", 70000)


class ClientCredentialsTest(IdpTestCase):
    def register_app(self, client_id, perms, mailbox="shared@example.test"):
        self.control("clients", {"client_id": client_id,
                                 "client_secret": "app-secret",
                                 "app_permissions": perms,
                                 "app_mailbox": mailbox})

    def app_token(self, client_id, scope=MAIL_DEFAULT, ok=True):
        return self.token({"grant_type": "client_credentials",
                           "client_id": client_id,
                           "client_secret": "app-secret", "scope": scope},
                          ok=ok)

    def test_app_only_token_and_introspection(self):
        mailbox = unique_user("shared")
        self.register_app("daemon-app", ["IMAP.AccessAsApp", "SMTP.SendAsApp"],
                          mailbox)
        _, resp = self.app_token("daemon-app")
        self.assertEqual(resp["token_type"], "Bearer")
        self.assertNotIn("refresh_token", resp)
        self.assertNotIn("scope", resp)     # like Microsoft for this grant
        self.assertEqual(resp["expires_in"], 3600)
        tok = resp["access_token"]
        for proto, active in (("imap", True), ("smtp", True),
                              ("submission", True), ("pop3", False),
                              (None, True)):
            info = self.introspect(tok, proto)
            self.assertEqual(info["active"], active, proto)
            if active:
                self.assertEqual(info["username"], mailbox)
        # Mailbox access must be exactly one mailbox.
        self.register_app("daemon-app", ["IMAP.AccessAsApp"], [])
        self.assertFalse(self.introspect(tok, "imap")["active"])
        # Roles are fixed when the token is issued, as in Entra ID.
        self.register_app("daemon-app", [], mailbox)
        self.assertTrue(self.introspect(tok, "imap")["active"])
        _, resp = self.app_token("daemon-app")
        self.assertFalse(self.introspect(resp["access_token"], "imap")["active"])

    def test_client_credentials_errors(self):
        self.register_app("daemon2", ["IMAP.AccessAsApp"])
        status, body = self.app_token("daemon2", scope=IMAP, ok=False)
        self.assert_ms_error(status, body, "invalid_scope", 70011)
        status, body = self.app_token(
            "daemon2", scope=MAIL_DEFAULT + " offline_access", ok=False)
        self.assert_ms_error(status, body, "invalid_scope", 70011)
        status, body = self.token({"grant_type": "client_credentials",
                                   "client_id": "mailgate-test",
                                   "scope": MAIL_DEFAULT}, ok=False)
        self.assert_ms_error(status, body, "invalid_client", 7000218, 401)
        status, body = self.token({"grant_type": "client_credentials",
                                   "client_id": "daemon2",
                                   "client_secret": "bad",
                                   "scope": MAIL_DEFAULT}, ok=False)
        self.assert_ms_error(status, body, "invalid_client", 7000215, 401)
        # A Graph token is not a mail token.
        _, resp = self.app_token("daemon2",
                                 scope="https://graph.microsoft.com/.default")
        self.assertFalse(self.introspect(resp["access_token"], "imap")["active"])


class DeviceCodeTest(IdpTestCase):
    def start(self, client_id="mailgate-test", scope=ALL_MAIL, ok=True):
        status, _, body = self.http("POST", "/organizations/oauth2/v2.0/"
                                    "devicecode", form={"client_id": client_id,
                                                        "scope": scope})
        if ok:
            self.assertEqual(status, 200, body)
            SEEN_SECRETS.add(body["device_code"])
        return status, body

    def poll(self, device_code, client_id="mailgate-test"):
        return self.token({"grant_type": DEVICE_GRANT, "client_id": client_id,
                           "device_code": device_code},
                          tenant="organizations", ok=False)

    def test_pending_then_approved(self):
        self.control("settings", {"device_interval": 0,
                                  "device_auto_approve_after": None})
        _, dc = self.start()
        self.assertEqual(dc["interval"], 0)
        self.assertEqual(dc["expires_in"], 900)
        self.assertEqual(dc["verification_uri"],
                         self.idp.base + "/devicelogin")
        self.assertIn(dc["user_code"], dc["message"])
        for _ in range(3):
            status, body = self.poll(dc["device_code"])
            self.assert_ms_error(status, body, "authorization_pending", 70016)
        user = unique_user("device")
        self.control("device/approve", {"user_code": dc["user_code"],
                                        "user": user})
        status, body = self.poll(dc["device_code"])
        self.assertEqual(status, 200, body)
        self.assertIn("refresh_token", body)
        self.assertEqual(self.introspect(body["access_token"], "pop3")[
            "username"], user)
        status, body = self.poll(dc["device_code"])        # single use
        self.assert_ms_error(status, body, "invalid_grant", 70000)

    def test_default_auto_approve_on_second_poll(self):
        self.control("settings", {"device_interval": 0,
                                  "default_user": "auto-dev@example.test"})
        _, dc = self.start()
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "authorization_pending", 70016)
        status, body = self.poll(dc["device_code"])
        self.assertEqual(status, 200, body)
        self.assertEqual(self.introspect(body["access_token"])["username"],
                         "auto-dev@example.test")

    def test_slow_down(self):
        self.control("settings", {"device_interval": 1,
                                  "device_auto_approve_after": None})
        _, dc = self.start()
        self.assertEqual(dc["interval"], 1)
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "authorization_pending", 70016)
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "slow_down", None)
        time.sleep(1.05)
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "authorization_pending", 70016)

    def test_expired(self):
        self.control("settings", {"device_interval": 0,
                                  "device_expires_in": 60})
        _, dc = self.start()
        self.assertEqual(dc["expires_in"], 60)
        self.control("clock", {"advance": 61})
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "expired_token", 70020)

    def test_denied_and_unknown(self):
        self.control("settings", {"device_interval": 0,
                                  "device_auto_approve_after": None})
        _, dc = self.start()
        self.control("device/deny", {"user_code": dc["user_code"]})
        status, body = self.poll(dc["device_code"])
        self.assert_ms_error(status, body, "authorization_declined", 65004)
        status, body = self.poll("not-a-device-code")
        self.assert_ms_error(status, body, "bad_verification_code", 70000)
        status, _, body = self.http("POST", "/_test/device/approve",
                                    json_body={"user_code": "NOPE"})
        self.assertEqual(status, 404)

    def test_public_client_flows_disabled(self):
        self.control("clients", {"client_id": "no-public-flows",
                                 "allow_public_client_flows": False})
        self.control("settings", {"device_interval": 0})
        _, dc = self.start(client_id="no-public-flows")
        status, body = self.poll(dc["device_code"], client_id="no-public-flows")
        self.assert_ms_error(status, body, "invalid_client", 7000218, 401)
        status, body = self.start(client_id="unknown-app", ok=False)
        self.assert_ms_error(status, body, "unauthorized_client", 700016)
        status, body = self.start(scope="", ok=False)
        self.assert_ms_error(status, body, "invalid_request", 900144)


class IntrospectionTest(IdpTestCase):
    def test_scope_enforcement_per_protocol(self):
        user = unique_user("intro")
        only_imap = self.control("token", {"user": user, "scope": IMAP})
        self.assertNotIn("refresh_token", self.control(
            "token", {"user": user, "scope": IMAP, "refresh_token": False}))
        tok = only_imap["access_token"]
        SEEN_SECRETS.add(tok)
        for proto, active in (("imap", True), ("pop3", False), ("pop", False),
                              ("smtp", False), ("submission", False),
                              ("IMAP", True), ("ldap", False), (None, True)):
            self.assertEqual(self.introspect(tok, proto)["active"], active,
                             proto)
        smtp = self.control("token", {
            "user": user,
            "scope": "https://outlook.office365.com/SMTP.Send"})["access_token"]
        self.assertTrue(self.introspect(smtp, "submission")["active"])
        self.assertFalse(self.introspect(smtp, "imap")["active"])
        graph = self.control("token", {
            "user": user, "scope": "https://graph.microsoft.com/Mail.Read"})
        self.assertFalse(self.introspect(graph["access_token"])["active"])
        info = self.introspect(tok, "imap")
        self.assertEqual(info["username"], user)
        self.assertEqual(info["email"], user)
        self.assertIn(IMAP, info["scope"].split())
        self.assertIsInstance(info["exp"], int)
        self.assertGreater(info["exp"], time.time())

    def test_unknown_token_and_request_styles(self):
        user = unique_user("styles")
        tok = self.control("token", {"user": user})["access_token"]
        SEEN_SECRETS.add(tok)
        self.assertEqual(self.introspect("bogus", "imap"), {"active": False})
        self.assertEqual(self.introspect("", "imap"), {"active": False})
        for how in ("post", "get", "bearer"):
            self.assertTrue(self.introspect(tok, "imap", how)["active"], how)
        # Dovecot 2.3 posts "token=..." without any Content-Type header.
        conn = http.client.HTTPConnection("127.0.0.1", self.idp.port, timeout=5)
        body = ("token=" + tok).encode()
        conn.putrequest("POST", "/introspect/imap", skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(json.loads(resp.read())["active"])
        # Keep-alive: a second request on the same connection.
        conn.request("POST", "/introspect/pop3", body=body)
        resp = conn.getresponse()
        self.assertEqual(json.loads(resp.read())["active"], True)
        conn.close()
        st = self.stats()
        self.assertGreaterEqual(st["introspections"], 7)
        self.assertEqual(st["users"][user]["introspections"], 5)

    def test_service_header(self):
        """/introspect/service: protocol from Dovecot's send_auth_headers."""
        tok = self.control("token", {"user": unique_user("svc"),
                                     "scope": POP})["access_token"]
        SEEN_SECRETS.add(tok)

        def ask(service):
            headers = {"X-Dovecot-Auth-Service": service} if service else {}
            status, _, body = self.http("POST", "/introspect/service",
                                        form={"token": tok}, headers=headers)
            self.assertEqual(status, 200)
            return body["active"]
        self.assertTrue(ask("pop3"))
        self.assertFalse(ask("imap"))
        self.assertFalse(ask("submission"))
        self.assertFalse(ask(None))     # misconfigured Dovecot: visible

    def test_long_tokens(self):
        self.control("settings", {"access_token_length": 16384})
        r = self.login(unique_user("long"))
        self.assertEqual(len(r["access_token"]), 16384)
        self.assertTrue(self.introspect(r["access_token"], "imap")["active"])
        _, r2 = self.refresh(r["refresh_token"])
        self.assertEqual(len(r2["access_token"]), 16384)

    def test_mint_with_its_own_length_leaves_the_setting_alone(self):
        user = unique_user("len")
        tok = self.control("token", {"user": user, "scope": IMAP,
                                     "access_token_length": 16384})
        SEEN_SECRETS.add(tok["access_token"])
        self.assertEqual(len(tok["access_token"]), 16384)
        self.assertTrue(self.introspect(tok["access_token"], "imap")["active"])
        other = self.control("token", {"user": user, "scope": IMAP})
        SEEN_SECRETS.add(other["access_token"])
        self.assertNotEqual(len(other["access_token"]), 16384)

    def test_mint_app_only(self):
        self.control("clients", {"client_id": "minted-app",
                                 "client_secret": "x",
                                 "app_permissions": ["POP.AccessAsApp"],
                                 "app_mailbox": "box@example.test"})
        tok = self.control("token", {"client_id": "minted-app",
                                     "app_only": True, "lifetime": 60})
        SEEN_SECRETS.add(tok["access_token"])
        self.assertEqual(tok["expires_in"], 60)
        self.assertEqual(self.introspect(tok["access_token"], "pop3")[
            "username"], "box@example.test")
        self.assertFalse(self.introspect(tok["access_token"], "imap")["active"])

    def mailbox_check(self, token, mailbox, protocol="imap"):
        """What Dovecot's password-grant passdb sends (testenv)."""
        status, _, body = self.http(
            "POST", "/introspect/%s/mailbox" % protocol,
            form={"grant_type": "password", "username": mailbox,
                  "password": token, "client_id": "dovecot",
                  "client_secret": "unused"})
        if status == 200:
            self.assertEqual(body["access_token"], token)
            self.assertTrue(body["active"])
            self.assertEqual(body["username"], mailbox.lower())
            return True
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))
        return False

    def test_app_only_token_opens_every_granted_mailbox(self):
        boxes = ["a@example.test", "B@example.test", "c@example.test"]
        self.control("clients", {"client_id": "many-app", "client_secret": "x",
                                 "app_permissions": ["IMAP.AccessAsApp"],
                                 "app_mailbox": boxes})
        tok = self.control("token", {"client_id": "many-app",
                                     "app_only": True})["access_token"]
        SEEN_SECRETS.add(tok)
        self.assertEqual(self.stats()["tokens_issued_by_client"], {"many-app": 1})
        # Plain introspection cannot tell which of three: inactive, as before.
        self.assertFalse(self.introspect(tok, "imap")["active"])
        for box in boxes:
            self.assertTrue(self.mailbox_check(tok, box), box)
        self.assertFalse(self.mailbox_check(tok, "d@example.test"))
        self.assertFalse(self.mailbox_check(tok, "a@example.test", "pop3"))
        self.assertFalse(self.mailbox_check(tok, ""))
        self.assertFalse(self.mailbox_check("bogus", "a@example.test"))
        self.control("revoke", {"client_id": "many-app"})
        self.assertFalse(self.mailbox_check(tok, "a@example.test"))
        st = self.stats()
        self.assertEqual((st["mailbox_checks"], st["mailbox_checks_granted"]),
                         (8, 3))
        self.assertEqual(st["introspections"], 1)   # counted apart

    def test_full_access_opens_a_shared_mailbox(self):
        user, other = unique_user("deleg"), unique_user("other")
        shared = unique_user("shared")
        tok = self.control("token", {"user": user, "scope": IMAP})["access_token"]
        SEEN_SECRETS.add(tok)
        self.assertTrue(self.mailbox_check(tok, user))
        self.assertFalse(self.mailbox_check(tok, shared))
        got = self.control("permissions", {"mailbox": shared, "user": user})
        self.assertEqual(got["full_access"], [user])
        self.assertTrue(self.mailbox_check(tok, shared))
        self.assertFalse(self.mailbox_check(tok, other))
        self.assertFalse(self.mailbox_check(tok, shared, "smtp"))   # scope
        self.assertEqual(self.control("permissions", method="GET"),
                         {shared: [user]})
        self.control("permissions", {"mailbox": shared, "user": user,
                                     "remove": True})
        self.assertFalse(self.mailbox_check(tok, shared))
        self.control("permissions", {"mailbox": shared, "user": user})
        self.control("reset", {"keep_clients": True})
        self.assertEqual(self.control("permissions", method="GET")[shared],
                         [user])
        self.control("reset")
        self.assertEqual(self.control("permissions", method="GET"), {})


class FailureInjectionTest(IdpTestCase):
    def test_503(self):
        user = unique_user("fail503")
        rt = self.login(user)["refresh_token"]
        self.control("fail", {"count": 2, "mode": "503", "endpoint": "token",
                              "retry_after": 2})
        # Device code endpoint is not affected by a token-only rule.
        self.control("settings", {"device_interval": 0})
        status, _, _ = self.http("POST", "/common/oauth2/v2.0/devicecode",
                                 form={"client_id": "mailgate-test",
                                       "scope": IMAP})
        self.assertEqual(status, 200)
        for _ in range(2):
            status, headers, body = self.http(
                "POST", "/common/oauth2/v2.0/token",
                form={"grant_type": "refresh_token",
                      "client_id": "mailgate-test", "refresh_token": rt})
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("Retry-After"), "2")
            self.assertEqual(body["error"], "temporarily_unavailable")
            self.assertIn("Trace ID:", body["error_description"])
        self.refresh(rt)
        st = self.stats()
        self.assertEqual(st["injected_failures"], 2)
        self.assertEqual(st["users"][user]["refreshes"], 1)

    def test_hang_then_close(self):
        self.control("fail", {"count": 2, "mode": "hang", "endpoint": "any",
                              "hang_seconds": 1.0})
        form = {"client_id": "mailgate-test", "scope": IMAP}
        # A client with a short timeout gives up.
        with self.assertRaises((socket.timeout, urllib.error.URLError)):
            self.http("POST", "/common/oauth2/v2.0/devicecode", form=form,
                      timeout=0.3)
        # A patient one sees the connection closed without an answer.
        conn = http.client.HTTPConnection("127.0.0.1", self.idp.port, timeout=5)
        conn.request("POST", "/common/oauth2/v2.0/token",
                     body=urlencode({"grant_type": "refresh_token"}),
                     headers={"Content-Type":
                              "application/x-www-form-urlencoded"})
        t0 = time.monotonic()
        with self.assertRaises((http.client.RemoteDisconnected,
                                ConnectionResetError)):
            conn.getresponse()
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        conn.close()
        # Introspection is never hung or failed (Dovecot would tempfail).
        self.control("fail", {"count": 5, "mode": "503", "endpoint": "any"})
        self.assertEqual(self.introspect("x", "imap"), {"active": False})
        status, _, _ = self.http("POST", "/common/oauth2/v2.0/token", form={})
        self.assertEqual(status, 503)
        self.control("fail", {"count": 0})
        status, _, _ = self.http("POST", "/common/oauth2/v2.0/token", form={})
        self.assertEqual(status, 400)


    def test_rules_scoped_to_a_client_meet_only_that_client(self):
        self.control("clients", {"client_id": "scoped-a"})
        self.control("clients", {"client_id": "scoped-b"})
        token = "/common/oauth2/v2.0/token"

        def status_for(client):
            status, _, _ = self.http("POST", token, form={
                "grant_type": "refresh_token", "client_id": client,
                "refresh_token": "nope"})
            return status

        self.control("fail", {"count": 5, "mode": "503", "endpoint": "token",
                              "client_id": "scoped-a"})
        self.control("fail", {"count": 1, "mode": "503", "endpoint": "token",
                              "client_id": "scoped-b"})
        # Each client meets its own rule only; the others answer as usual.
        self.assertEqual(status_for("scoped-b"), 503)
        self.assertEqual(status_for("scoped-b"), 400)
        self.assertEqual(status_for("mailgate-test"), 400)
        self.assertEqual(status_for("scoped-a"), 503)
        # Disarming one client's rule leaves the other's armed.
        self.control("fail", {"count": 0, "client_id": "scoped-b"})
        self.assertEqual(status_for("scoped-a"), 503)
        # An unscoped rule meets a client whose own rule is spent or absent.
        self.control("fail", {"count": 0, "client_id": "scoped-a"})
        self.control("fail", {"count": 1, "mode": "503", "endpoint": "token"})
        self.assertEqual(status_for("scoped-a"), 503)
        self.assertEqual(status_for("scoped-a"), 400)
        self.assertEqual(self.stats()["injected_failures"], 4)


class ControlTest(IdpTestCase):
    def test_settings_validation_and_reset(self):
        status, _, body = self.http("POST", "/_test/settings",
                                    json_body={"reuse_policy": "sometimes"})
        self.assertEqual(status, 400)
        status, _, body = self.http("POST", "/_test/settings",
                                    json_body={"no_such": 1})
        self.assertEqual(status, 400)
        self.control("settings", {"token_lifetime": 77})
        self.control("clients", {"client_id": "temp-app"})
        self.control("reset", {"keep_clients": True})
        self.assertEqual(self.control("settings", method="GET")[
            "token_lifetime"], 3600)
        ids = [c["client_id"] for c in self.control("clients", method="GET")]
        self.assertIn("temp-app", ids)
        self.control("reset")
        ids = [c["client_id"] for c in self.control("clients", method="GET")]
        self.assertEqual(sorted(ids), ["mailgate-confidential",
                                       "mailgate-test"])
        st = self.stats()
        self.assertEqual(st["token_requests"], {})
        status, _, _ = self.http("GET", "/devicelogin")
        self.assertEqual(status, 200)
        status, _, _ = self.http("GET", "/nowhere")
        self.assertEqual(status, 404)

    def test_stats_by_grant_type(self):
        user = unique_user("stats")
        rt = self.login(user)["refresh_token"]
        self.refresh(rt)
        self.token({"grant_type": "refresh_token",
                    "client_id": "mailgate-test", "refresh_token": "bad"},
                   ok=False)
        st = self.stats()
        self.assertEqual(st["token_requests"],
                         {"authorization_code": 1, "refresh_token": 2})
        self.assertEqual(st["tokens_issued"],
                         {"authorization_code": 1, "refresh_token": 1})
        self.assertEqual(st["refreshes"], 1)
        self.assertEqual(st["errors"], {"invalid_grant/70000": 1})
        self.assertEqual(st["users"][user]["tokens_issued"], 2)


class PersistenceTest(unittest.TestCase):
    def test_restart_keeps_tokens(self):
        state_dir = tempfile.mkdtemp(prefix="idp-state-")
        state = os.path.join(state_dir, "state.json")
        try:
            idp = IdpProcess(["--state-file", state, "--token-lifetime", "900"])
            req = urllib.request.Request(
                idp.base + "/_test/token", method="POST",
                data=json.dumps({"user": "persist@example.test"}).encode(),
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req) as r:
                tok = json.load(r)
            SEEN_SECRETS.add(tok["access_token"])
            self.assertEqual(tok["expires_in"], 900)
            idp.stop()
            idp = IdpProcess(["--state-file", state])
            req = urllib.request.Request(
                idp.base + "/introspect/imap", method="POST",
                data=urlencode({"token": tok["access_token"]}).encode())
            with urllib.request.urlopen(req) as r:
                self.assertTrue(json.load(r)["active"])
            idp.stop()
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


class ZzLogRedactionTest(IdpTestCase):
    """Runs last (alphabetical): the log of the shared IdP must hold no token,
    code or secret seen by any test, yet list the requests."""

    def test_log_has_no_secrets(self):
        # GET-style introspection puts the token in the URL.
        tok = self.control("token", {"user": unique_user("log")})[
            "access_token"]
        SEEN_SECRETS.add(tok)
        self.introspect(tok, "imap", how="get")
        self.token({"grant_type": "client_credentials",
                    "client_id": "mailgate-confidential",
                    "client_secret": "test-secret",
                    "scope": MAIL_DEFAULT})
        with open(self.idp.log_file) as f:
            log = f.read()
        self.assertIn("POST /introspect/imap 200", log)
        self.assertIn("GET /introspect/imap?token=REDACTED 200", log)
        self.assertIn("/oauth2/v2.0/token 400", log)
        self.assertNotIn("test-secret", log)
        self.assertGreater(len(SEEN_SECRETS), 20)
        leaked = [s[:12] + "..." for s in SEEN_SECRETS if s and s in log]
        self.assertEqual(leaked, [])


def tearDownModule():
    if IdpTestCase.idp is not None:
        IdpTestCase.idp.stop()
        IdpTestCase.idp = None


if __name__ == "__main__":
    unittest.main()
