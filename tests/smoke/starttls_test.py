#!/usr/bin/env python3
"""Postfix's submission port requires STARTTLS before AUTH (and before mail), its
submissions port speaks TLS from the first byte, and only authenticated clients
may send.  (Dovecot counts loopback as secure and offers AUTH before STARTTLS on
its IMAP, POP3 and submission ports: fine for tests, pinned here so nobody relies
on the opposite.)"""

import socket
import ssl
import unittest

import smokelib as S


class StartTlsRequired(unittest.TestCase):

    def test_no_auth_before_starttls_on_submission(self):
        c, ext = S.smtp_connect(S.SUBMISSION, False, starttls=False)
        try:
            self.assertIn("STARTTLS", ext)
            self.assertFalse([e for e in ext if e.startswith("AUTH")],
                             "AUTH offered before STARTTLS: %s" % ext)
            user = S.unique_user("early")
            token = S.mint(user, [S.SCOPE_SMTP])
            c.send("AUTH XOAUTH2 " + S.b64(S.XOAuth2(user, token).initial))
            code, text = S.smtp_read_reply(c)
            self.assertEqual(code, 530, text)  # 5.7.0 Must issue a STARTTLS command first
            c.send("AUTH PLAIN " + S.b64(b"\0u\0p"))
            code, text = S.smtp_read_reply(c)
            self.assertEqual(code, 530, text)
            c.send("MAIL FROM:<%s>" % user)
            code, text = S.smtp_read_reply(c)
            self.assertEqual(code, 530, text)
        finally:
            c.close()

    def test_auth_offered_after_starttls(self):
        c, ext = S.smtp_connect(S.SUBMISSION, False)
        try:
            auth = [e for e in ext if e.startswith("AUTH ")]
            self.assertTrue(auth, ext)
            for mech in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"):
                self.assertIn(mech, auth[0].split())
        finally:
            c.close()

    def test_no_relay_without_auth(self):
        for name, port, implicit in S.SMTP_PORTS:
            with self.subTest(port=name):
                c, _ = S.smtp_connect(port, implicit)
                try:
                    c.send("MAIL FROM:<stranger@example.org>")
                    code, text = S.smtp_read_reply(c)
                    self.assertEqual(code, 250, text)
                    c.send("RCPT TO:<%s>" % S.unique_user("victim"))
                    code, text = S.smtp_read_reply(c)
                    self.assertEqual(code, 554, text)  # 5.7.1 Relay access denied
                finally:
                    c.close()

    def test_submissions_is_tls_from_the_first_byte(self):
        with socket.create_connection((S.HOST, S.SUBMISSIONS), timeout=S.TIMEOUT) as raw:
            with S.tls_context().wrap_socket(raw, server_hostname=S.TLS_NAME) as tls:
                self.assertTrue(tls.recv(1024).startswith(b"220 "))
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
        # A plain-text client gets no greeting: the server waits for a handshake.
        with socket.create_connection((S.HOST, S.SUBMISSIONS), timeout=S.TIMEOUT) as raw:
            raw.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                raw.recv(1024)

    def test_dovecot_offers_auth_before_starttls_on_loopback(self):
        c = S.LineClient(S.IMAP, False)
        try:
            greeting = c.read()
            self.assertIn(b"STARTTLS", greeting)
            self.assertIn(b"AUTH=XOAUTH2", greeting)
        finally:
            c.close()


if __name__ == "__main__":
    S.main()
