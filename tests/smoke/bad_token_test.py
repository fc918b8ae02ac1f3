#!/usr/bin/env python3
"""Expired, revoked, unknown and wrong-scope tokens are refused on IMAP, POP3 and
SMTP; the auth cache is off, so a revocation takes effect at the very next login.

Dovecot answers a bad token not with a failure but with a continuation carrying
base64 JSON (RFC 7628 section 3.2.2); the client must answer it (an empty response
for XOAUTH2, %x01 for OAUTHBEARER) and then read the failure.  Postfix relays that
continuation as a 334.  Dovecot 2.3.19's JSON differs by mechanism:
  XOAUTH2      {"status":"401","schemes":"bearer","scope":"mail"}
  OAUTHBEARER  {"status":"invalid_token"}

Each refused login takes up to 0.5 s (Dovecot 2.3.19 flushes failed logins every
0.5 s), so the attempts of a test run concurrently."""

import concurrent.futures
import unittest

import smokelib as S

# Every endpoint, with both mechanisms spread over the ports.
ENDPOINTS = [
    ("imap", "imaps", S.IMAPS, True, "xoauth2"),
    ("imap", "imap+starttls", S.IMAP, False, "oauthbearer"),
    ("pop3", "pop3s", S.POP3S, True, "oauthbearer"),
    ("pop3", "pop3+stls", S.POP3, False, "xoauth2"),
    ("smtp", "submission+starttls", S.SUBMISSION, False, "xoauth2"),
    ("smtp", "submissions", S.SUBMISSIONS, True, "oauthbearer"),
    ("smtp", "dovecot-submission", S.DOVECOT_SUBMISSION, False, "xoauth2"),
]
AUTH = {"imap": S.imap_auth, "pop3": S.pop3_auth, "smtp": S.smtp_auth}
EXPECTED_JSON = {"xoauth2": {"status": "401", "schemes": "bearer", "scope": "mail"},
                 "oauthbearer": {"status": "invalid_token"}}
REFUSAL = {"imap": b"A1 NO", "pop3": b"-ERR", "smtp": b"535"}


def attempt(endpoint, user, token):
    proto, name, port, implicit, mech_name = endpoint
    mech = (S.XOAuth2(user, token) if mech_name == "xoauth2"
            else S.OAuthBearer(user, token, port))
    r = AUTH[proto](port, implicit, mech)
    r.client.close()
    return r


class BadTokens(unittest.TestCase):

    def check_all(self, user, token, allowed=(), endpoints=ENDPOINTS):
        with concurrent.futures.ThreadPoolExecutor(len(endpoints)) as pool:
            results = list(pool.map(lambda e: attempt(e, user, token), endpoints))
        for (proto, name, _, _, mech_name), r in zip(endpoints, results):
            with self.subTest(endpoint=name, mech=mech_name):
                if proto in allowed:
                    self.assertTrue(r.ok, r)
                    continue
                self.assertFalse(r.ok, r)
                self.assertEqual(r.mech.error_json(), EXPECTED_JSON[mech_name], r)
                self.assertIsNotNone(r.final, r)
                self.assertTrue(r.final.startswith(REFUSAL[proto]), r)

    def test_valid_token_works_everywhere(self):
        user = S.unique_user("valid")
        self.check_all(user, S.mint(user), allowed=("imap", "pop3", "smtp"))

    def test_expired_token(self):
        user = S.unique_user("expired")
        token = S.mint(user)
        self.check_all(user, token, allowed=("imap", "pop3", "smtp"), endpoints=ENDPOINTS[:1])
        S.expire(user)
        self.check_all(user, token)

    def test_revoked_token_fails_at_the_next_login(self):
        user = S.unique_user("revoked")
        token = S.mint(user)
        self.check_all(user, token, allowed=("imap", "pop3", "smtp"), endpoints=ENDPOINTS[4:5])
        S.revoke(user)
        self.check_all(user, token)

    def test_imap_only_token(self):
        user = S.unique_user("imaponly")
        self.check_all(user, S.mint(user, [S.SCOPE_IMAP]), allowed=("imap",))

    def test_pop_only_token(self):
        user = S.unique_user("poponly")
        self.check_all(user, S.mint(user, [S.SCOPE_POP]), allowed=("pop3",))

    def test_smtp_only_token(self):
        user = S.unique_user("smtponly")
        self.check_all(user, S.mint(user, [S.SCOPE_SMTP]), allowed=("smtp",))

    def test_unknown_token(self):
        self.check_all(S.unique_user("unknown"), "EwB" + S.secrets.token_urlsafe(1200))

    def test_token_of_another_user(self):
        """Dovecot checks the token's username against the login name.  (Exchange
        lets a delegate's token open a shared mailbox; these servers do not.)"""
        owner = S.unique_user("owner")
        self.check_all(S.unique_user("other"), S.mint(owner))


if __name__ == "__main__":
    S.main()
