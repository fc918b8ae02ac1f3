#!/usr/bin/env python3
"""XOAUTH2 end to end: a token from the test IdP sends mail through Postfix
(STARTTLS and implicit TLS submission), Postfix delivers it to Dovecot by LMTP, and
the same token reads it back by IMAP (both ports) and POP3 (both ports, two-step
AUTH as Exchange requires).  Also: Dovecot's own submission service relays through
Postfix, and plain LMTP delivery creates a new mailbox."""

import smtplib
import time
import unittest

import smokelib as S


class OAuthRoundTrip(unittest.TestCase):

    def test_send_by_submission_and_read_by_imap_and_pop3(self):
        user = S.unique_user("roundtrip")
        token = S.mint(user)
        stats_before = S.idp("/_test/stats").get("introspections_by_protocol", {})

        subjects = []
        for name, port, implicit in S.SMTP_PORTS:
            subject = "roundtrip via %s %s" % (name, S.secrets.token_hex(4))
            sent = time.monotonic()
            S.send_oauth(port, implicit, user, token, user, subject)
            subjects.append((subject, sent))

        for name, port, implicit in S.IMAP_PORTS:
            with self.subTest(imap=name):
                m = S.imaplib_login(port, implicit, S.XOAuth2(user, token))
                try:
                    for subject, sent in subjects:
                        S.wait_for(lambda: subject in S.imap_subjects(m),
                                   "%r in %s's INBOX" % (subject, user), timeout=5)
                        print("  %s: %r visible %.2fs after sending"
                              % (name, subject, time.monotonic() - sent))
                finally:
                    m.logout()

        for name, port, implicit in S.POP3_PORTS:
            with self.subTest(pop3=name):
                p = S.poplib_login(port, implicit, S.XOAuth2(user, token))
                try:
                    got = S.pop3_subjects(p)
                    for subject, _ in subjects:
                        self.assertIn(subject, got)
                finally:
                    p.quit()

        # Each protocol was checked at its own introspection endpoint.
        stats_after = S.idp("/_test/stats").get("introspections_by_protocol", {})
        for proto in ("imap", "pop3", "smtp"):
            self.assertGreater(stats_after.get(proto, 0), stats_before.get(proto, 0), proto)

    def test_imap_sasl_ir_and_continuation_forms(self):
        user = S.unique_user("imapforms")
        token = S.mint(user, [S.SCOPE_IMAP])
        for name, port, implicit in S.IMAP_PORTS:
            for sasl_ir in (True, False):
                with self.subTest(port=name, sasl_ir=sasl_ir):
                    r = S.imap_auth(port, implicit, S.XOAuth2(user, token), sasl_ir=sasl_ir)
                    self.assertTrue(r.ok, r)
                    r.client.close()

    def test_pop3_two_step_auth(self):
        """`AUTH XOAUTH2`, the server's bare `+`, then the response on its own
        line: the form Exchange requires (it refuses the response on the AUTH line)."""
        user = S.unique_user("pop3form")
        token = S.mint(user, [S.SCOPE_POP])
        for name, port, implicit in S.POP3_PORTS:
            with self.subTest(port=name):
                r = S.pop3_auth(port, implicit, S.XOAuth2(user, token))
                self.assertTrue(r.ok, r)
                t = r.client.transcript
                i = t.index(b"C: AUTH XOAUTH2")
                self.assertEqual(t[i + 1].strip(), b"S: +")
                self.assertEqual(t[i + 3], b"S: +OK Logged in.")
                r.client.close()

    def test_dovecot_submission_relays_through_postfix(self):
        user = S.unique_user("dsub")
        rcpt = S.unique_user("dsub-rcpt", domain="example.org")
        token = S.mint(user)
        subject = "via dovecot submission " + S.secrets.token_hex(4)
        s = S.smtplib_client(S.DOVECOT_SUBMISSION, False)
        try:
            code, _ = S.smtplib_auth(s, S.XOAuth2(user, token))
            self.assertEqual(code, 235)
            self.assertFalse(s.sendmail(user, [rcpt], S.message(user, rcpt, subject)))
        finally:
            s.quit()
        rtoken = S.mint(rcpt, [S.SCOPE_IMAP])
        m = S.imaplib_login(S.IMAPS, True, S.XOAuth2(rcpt, rtoken))
        try:
            S.wait_for(lambda: subject in S.imap_subjects(m), "relayed message", timeout=5)
        finally:
            m.logout()

    def test_lmtp_delivers_to_a_new_user(self):
        user = S.unique_user("lmtp")
        subject = "via lmtp " + S.secrets.token_hex(4)
        lmtp = smtplib.LMTP(S.HOST, S.LMTP, timeout=S.TIMEOUT)
        try:
            self.assertFalse(lmtp.sendmail("sender@example.org", [user],
                                           S.message("sender@example.org", user, subject)))
        finally:
            lmtp.quit()
        m = S.imaplib_login(S.IMAPS, True, S.XOAuth2(user, S.mint(user, [S.SCOPE_IMAP])))
        try:
            self.assertIn(subject, S.imap_subjects(m))
        finally:
            m.logout()

    def test_mail_to_other_domains_is_refused(self):
        """Nothing leaves the machine: Postfix's error transport for every other
        domain makes smtpd refuse such recipients at RCPT time."""
        user = S.unique_user("outside")
        token = S.mint(user, [S.SCOPE_SMTP])
        s = S.smtplib_client(S.SUBMISSION, False)
        try:
            S.smtplib_auth(s, S.XOAuth2(user, token))
            s.mail(user)
            code, text = s.rcpt("someone@outside.invalid")
            self.assertEqual(code, 550, text)
        finally:
            s.quit()


if __name__ == "__main__":
    S.main()
