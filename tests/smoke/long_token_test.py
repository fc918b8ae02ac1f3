#!/usr/bin/env python3
"""Realistic long access tokens (Microsoft's are 1.5-4 KB, sometimes more).

SMTP: the XOAUTH2 response goes after the server's 334, on its own line (RFC 4954
section 4: an AUTH command line with an initial response must fit in 512 octets).
Both SMTP servers here punish a long initial response on the AUTH line: Dovecot's
submission server answers "500 5.5.2 Line too long", Postfix cuts the line at 2048
bytes and answers "535 5.7.8 ... Invalid base64 data in initial response".

The limits of the servers themselves (Dovecot 2.3.19, compile-time constants) are
pinned here too, because a test that wants a longer token must know it cannot pass:
  * IMAP and POP3 logins: a SASL response over 8 KB of base64 closes the connection
    without a reply (log: "Authentication response too large"): tokens up to
    ~6,100 characters work.
  * SMTP through Postfix: Postfix hands the response to Dovecot's auth service,
    whose protocol lines are capped at 16 KB: tokens up to ~12,200 characters work;
    a longer one gets "454 4.7.0 Temporary authentication failure".
So a 16,384-character token cannot be verified by these servers; the last test
shows how each of them fails, which is itself a behaviour a client must survive.
"""

import unittest

import smokelib as S

# Largest token lengths these servers accept, with a margin (see above).
MAX_LOGIN_TOKEN = 6000
MAX_SMTP_TOKEN = 12000


class LongTokens(unittest.TestCase):

    def check_smtp_after_334(self, port, implicit, user, token):
        r = S.smtp_auth(port, implicit, S.XOAuth2(user, token))
        self.assertTrue(r.ok, r)
        t = r.client.transcript
        i = t.index(b"C: AUTH XOAUTH2")
        self.assertEqual(t[i + 1].rstrip(), b"S: 334")  # empty challenge
        self.assertFalse(t[i + 2].startswith(b"C: AUTH"))  # the response alone
        r.client.close()

    def test_4000_chars_everywhere(self):
        user = S.unique_user("long4k")
        token = S.mint(user, length=4000)
        for name, port, implicit in S.SMTP_PORTS:
            with self.subTest(smtp=name):
                self.check_smtp_after_334(port, implicit, user, token)
        with self.subTest(smtp="smtplib initial_response_ok=False"):
            s = S.smtplib_client(S.SUBMISSION, False)
            try:
                self.assertEqual(S.smtplib_auth(s, S.XOAuth2(user, token))[0], 235)
                self.assertFalse(s.sendmail(user, [user], S.message(user, user, "long")))
            finally:
                s.quit()
        for name, port, implicit in S.IMAP_PORTS:
            for sasl_ir in (True, False):
                with self.subTest(imap=name, sasl_ir=sasl_ir):
                    r = S.imap_auth(port, implicit, S.XOAuth2(user, token), sasl_ir)
                    self.assertTrue(r.ok, r)
                    r.client.close()
        for name, port, implicit in S.POP3_PORTS:
            with self.subTest(pop3=name):
                r = S.pop3_auth(port, implicit, S.XOAuth2(user, token))
                self.assertTrue(r.ok, r)
                r.client.close()

    def test_long_initial_response_on_the_auth_line_is_refused(self):
        """Real servers' limits: a 4,000-character token on the AUTH line fails,
        the same response after the 334 passes.  Dovecot's submission server
        refuses the line; Postfix cuts it at line_length_limit (2048) and then
        fails to decode the base64."""
        user = S.unique_user("authline")
        token = S.mint(user, [S.SCOPE_SMTP], length=4000)
        for name, port, implicit, refusal in (
                ("dovecot-submission", S.DOVECOT_SUBMISSION, False, b"500 5.5.2"),
                ("postfix submission", S.SUBMISSION, False, b"535 5.7.8")):
            with self.subTest(server=name):
                r = S.smtp_auth(port, implicit, S.XOAuth2(user, token),
                                initial_on_auth_line=True)
                self.assertFalse(r.ok)
                self.assertTrue(r.final.startswith(refusal), r)
                r.client.close()
                r = S.smtp_auth(port, implicit, S.XOAuth2(user, token))
                self.assertTrue(r.ok, r)
                r.client.close()

    def test_short_initial_response_on_the_auth_line_is_fine(self):
        """RFC 4954 allows it when the line fits in 512 octets."""
        user = S.unique_user("shortline")
        token = S.mint(user, [S.SCOPE_SMTP], length=300)
        for name, port, implicit in S.SMTP_PORTS + [("dovecot-submission",
                                                     S.DOVECOT_SUBMISSION, False)]:
            with self.subTest(server=name):
                r = S.smtp_auth(port, implicit, S.XOAuth2(user, token),
                                initial_on_auth_line=True)
                self.assertTrue(r.ok, r)
                r.client.close()

    def test_longest_tokens_the_servers_accept(self):
        user = S.unique_user("longmax")
        token = S.mint(user, length=MAX_LOGIN_TOKEN)
        r = S.imap_auth(S.IMAPS, True, S.XOAuth2(user, token))
        self.assertTrue(r.ok, r)
        r.client.close()
        r = S.pop3_auth(S.POP3S, True, S.XOAuth2(user, token))
        self.assertTrue(r.ok, r)
        r.client.close()
        token = S.mint(user, [S.SCOPE_SMTP], length=MAX_SMTP_TOKEN)
        self.check_smtp_after_334(S.SUBMISSION, False, user, token)

    def test_16384_chars_exceed_dovecot_limits(self):
        user = S.unique_user("long16k")
        token = S.mint(user, length=16384)
        # SMTP: Postfix takes the ~22 KB line after the 334 and passes it on; the
        # auth service drops the oversized request and Postfix answers 454.
        r = S.smtp_auth(S.SUBMISSION, False, S.XOAuth2(user, token))
        self.assertFalse(r.ok)
        self.assertTrue(r.final and r.final.startswith(b"454 4.7.0"), r)
        r.client.close()
        # IMAP and POP3: the login process closes the connection, no reply.
        r = S.imap_auth(S.IMAPS, True, S.XOAuth2(user, token))
        self.assertFalse(r.ok)
        self.assertIsNone(r.final, r)
        r.client.close()
        r = S.pop3_auth(S.POP3S, True, S.XOAuth2(user, token))
        self.assertFalse(r.ok)
        self.assertIsNone(r.final, r)
        r.client.close()


if __name__ == "__main__":
    S.main()
