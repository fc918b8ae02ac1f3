#!/usr/bin/env python3
"""Password users added with `testenv add-user` log in with PLAIN and LOGIN on IMAP,
POP3 and SMTP at once (Dovecot re-reads its passwd-file when it changes), also when
many are added in parallel; a wrong password is refused; a new password replaces
the old one at once."""

import concurrent.futures
import unittest

import smokelib as S

ENDPOINTS = [
    ("imap", "imaps", S.IMAPS, True),
    ("imap", "imap+starttls", S.IMAP, False),
    ("pop3", "pop3s", S.POP3S, True),
    ("pop3", "pop3+stls", S.POP3, False),
    ("smtp", "submission+starttls", S.SUBMISSION, False),
    ("smtp", "submissions", S.SUBMISSIONS, True),
    ("smtp", "dovecot-submission", S.DOVECOT_SUBMISSION, False),
]
AUTH = {"imap": S.imap_auth, "pop3": S.pop3_auth, "smtp": S.smtp_auth}


def login(endpoint, mech):
    proto, _, port, implicit = endpoint
    r = AUTH[proto](port, implicit, mech)
    r.client.close()
    return r


class PasswordUsers(unittest.TestCase):

    def run_all(self, user, password, want_ok):
        jobs = [(e, m) for e in ENDPOINTS for m in (S.Plain, S.Login)]
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(lambda j: login(j[0], j[1](user, password)), jobs))
        for (endpoint, mech), r in zip(jobs, results):
            with self.subTest(endpoint=endpoint[1], mech=mech.name):
                self.assertEqual(r.ok, want_ok, r)

    def test_plain_and_login_everywhere(self):
        user = S.unique_user("pw")
        # Characters a passwd-file would choke on if stored as is.  (Dovecot
        # refuses passwords with a tab or a line break.)
        password = "s3cret: with spaces, ümlauts, $quotes\"' and \\"
        S.add_user(user, password)
        self.run_all(user, password, True)

    def test_wrong_password_is_refused(self):
        user = S.unique_user("pwbad")
        S.add_user(user, "right")
        self.run_all(user, "wrong", False)

    def test_unknown_user_is_refused(self):
        r = S.imap_auth(S.IMAPS, True, S.Plain(S.unique_user("nobody"), "x"))
        self.assertFalse(r.ok, r)
        self.assertTrue(r.final.startswith(b"A1 NO"), r)
        r.client.close()

    def test_new_password_takes_effect_at_once(self):
        user = S.unique_user("repw")
        S.add_user(user, "first")
        self.assertTrue(login(ENDPOINTS[0], S.Plain(user, "first")).ok)
        S.add_user(user, "second")
        self.assertFalse(login(ENDPOINTS[0], S.Plain(user, "first")).ok)
        self.assertTrue(login(ENDPOINTS[0], S.Plain(user, "second")).ok)

    def test_parallel_add_user(self):
        users = [(S.unique_user("par%d" % i), "pw-%d" % i) for i in range(16)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda u: S.add_user(*u), users))
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda u: login(ENDPOINTS[0], S.Plain(*u)), users))
        for (user, _), r in zip(users, results):
            self.assertTrue(r.ok, "%s: %r" % (user, r))

    def test_password_user_sends_and_reads_mail(self):
        user = S.unique_user("pwmail")
        S.add_user(user, "pw")
        subject = "password user " + S.secrets.token_hex(4)
        s = S.smtplib_client(S.SUBMISSIONS, True)
        try:
            s.login(user, "pw")
            self.assertFalse(s.sendmail(user, [user], S.message(user, user, subject)))
        finally:
            s.quit()
        m = S.imaplib_login(S.IMAPS, True, S.Plain(user, "pw"))
        try:
            S.wait_for(lambda: subject in S.imap_subjects(m), subject, timeout=5)
        finally:
            m.logout()


if __name__ == "__main__":
    S.main()
