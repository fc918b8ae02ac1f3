#!/usr/bin/env python3
"""OAUTHBEARER (RFC 7628) through Debian's curl: `curl --oauth2-bearer` sends mail
through Postfix and reads it back over IMAP and POP3, on every TLS port, verifying
the servers against the test CA.  A second, independent SASL client besides ours."""

import os
import re
import subprocess
import tempfile
import unittest

import smokelib as S

URL_HOST = S.TLS_NAME  # curl checks the certificate against the URL's host name


def curl(*args, token, user, want_ok=True):
    cmd = ["curl", "--silent", "--show-error", "--verbose", "--max-time", "20",
           "--cacert", S.CA, "--oauth2-bearer", token, "--user", user,
           "--login-options", "AUTH=OAUTHBEARER"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if want_ok and r.returncode != 0:
        raise AssertionError("curl failed (%d): %s\n%s" % (r.returncode, " ".join(args),
                                                           r.stderr[-3000:]))
    return r


class CurlOAuthBearer(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.user = S.unique_user("curl")
        cls.token = S.mint(cls.user)
        cls.subjects = []
        for scheme, port, extra in (("smtp", S.SUBMISSION, ["--ssl-reqd"]),
                                    ("smtps", S.SUBMISSIONS, [])):
            subject = "curl via %s %s" % (scheme, S.secrets.token_hex(4))
            with tempfile.NamedTemporaryFile("w", suffix=".eml", delete=False) as f:
                f.write(S.message(cls.user, cls.user, subject))
            try:
                r = curl("%s://%s:%d" % (scheme, URL_HOST, port), *extra,
                         "--mail-from", cls.user, "--mail-rcpt", cls.user,
                         "--upload-file", f.name, token=cls.token, user=cls.user)
            finally:
                os.unlink(f.name)
            # curl chose OAUTHBEARER, sent after Postfix's 334? curl 7.88 puts the
            # initial response on the AUTH line when it fits; either is fine here.
            assert "AUTH OAUTHBEARER" in r.stderr, r.stderr[-2000:]
            cls.subjects.append(subject)

    def test_imap_reads_the_messages(self):
        for scheme, port, extra in (("imaps", S.IMAPS, []),
                                    ("imap", S.IMAP, ["--ssl-reqd"])):
            with self.subTest(scheme=scheme):
                def found(subject):
                    # An IMAP SEARCH in the URL (RFC 5092): prints "* SEARCH <n>".
                    r = curl("%s://%s:%d/INBOX?SUBJECT%%20%%22%s%%22"
                             % (scheme, URL_HOST, port, subject.replace(" ", "%20")),
                             *extra, token=self.token, user=self.user)
                    self.assertIn("AUTHENTICATE OAUTHBEARER", r.stderr)
                    return re.search(r"^\* SEARCH \d", r.stdout, re.M)
                for subject in self.subjects:
                    S.wait_for(lambda: found(subject), subject, timeout=5)

    def test_imap_fetches_one_message_by_uid(self):
        r = curl("imaps://%s:%d/INBOX;UID=1" % (URL_HOST, S.IMAPS),
                 token=self.token, user=self.user)
        self.assertIn("Subject: curl via", r.stdout)

    def test_pop3_lists_and_retrieves(self):
        for scheme, port, extra in (("pop3s", S.POP3S, []),
                                    ("pop3", S.POP3, ["--ssl-reqd"])):
            with self.subTest(scheme=scheme):
                r = curl("%s://%s:%d/" % (scheme, URL_HOST, port), *extra,
                         token=self.token, user=self.user)
                self.assertIn("AUTH OAUTHBEARER", r.stderr)
                self.assertGreaterEqual(len(r.stdout.strip().splitlines()), 2, r.stdout)
                r = curl("%s://%s:%d/1" % (scheme, URL_HOST, port), *extra,
                         token=self.token, user=self.user)
                self.assertTrue(re.search(r"Subject: curl via", r.stdout), r.stdout[:500])

    def test_bad_token_is_refused(self):
        bad = "not-a-token-" + S.secrets.token_hex(8)
        for url, extra in (("imaps://%s:%d/INBOX" % (URL_HOST, S.IMAPS), []),
                           ("pop3s://%s:%d/" % (URL_HOST, S.POP3S), []),
                           ("smtp://%s:%d" % (URL_HOST, S.SUBMISSION),
                            ["--ssl-reqd", "--mail-from", self.user, "--mail-rcpt", self.user,
                             "--upload-file", os.devnull])):
            with self.subTest(url=url):
                r = curl(url, *extra, token=bad, user=self.user, want_ok=False)
                self.assertEqual(r.returncode, 67, r.stderr[-2000:])  # login denied


if __name__ == "__main__":
    S.main()
