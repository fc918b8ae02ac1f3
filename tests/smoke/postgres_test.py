#!/usr/bin/env python3
"""PostgreSQL for the store tests: MAILGATE_TEST_PG_URL reaches database `mailgate`
over TCP on 127.0.0.1 with a password, as a role that may create databases (so
parallel tests can each make their own); a wrong password is refused.  Uses psql
(Debian's postgresql-client, installed with the server)."""

import os
import shutil
import subprocess
import unittest
import urllib.parse

import smokelib as S

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def psql(url, sql, check=True):
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    env.pop("PGPASSWORD", None)
    r = subprocess.run([PSQL, "--no-psqlrc", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", sql], capture_output=True, text=True,
                       timeout=60, env=env)
    if check and r.returncode != 0:
        raise AssertionError("psql failed: %s\n%s" % (sql, r.stderr))
    return r


class Postgres(unittest.TestCase):
    url = S.E["pg_url"]

    def test_url_shape(self):
        u = urllib.parse.urlsplit(self.url)
        self.assertEqual(u.scheme, "postgresql")
        self.assertEqual(u.hostname, "127.0.0.1")
        self.assertEqual(u.path, "/mailgate")
        self.assertTrue(u.username and u.password and u.port)

    def test_connect_and_use(self):
        r = psql(self.url, "select current_user, current_database(), "
                           "current_setting('server_version_num')::int / 10000")
        self.assertEqual(r.stdout.strip(), "mailgate|mailgate|15")
        table = "smoke_%s" % S.secrets.token_hex(4)
        psql(self.url, "create table %s (id serial primary key, v text); "
                       "insert into %s (v) values ('x'); drop table %s" % (table, table, table))

    def test_can_create_a_database(self):
        name = "smoke_%s" % S.secrets.token_hex(4)
        psql(self.url, "create database %s" % name)
        u = urllib.parse.urlsplit(self.url)
        other = urllib.parse.urlunsplit(u._replace(path="/" + name))
        self.assertEqual(psql(other, "select current_database()").stdout.strip(), name)
        psql(self.url, "drop database %s" % name)

    def test_wrong_password_is_refused(self):
        u = urllib.parse.urlsplit(self.url)
        bad = urllib.parse.urlunsplit(u._replace(
            netloc="%s:wrong@%s:%d" % (u.username, u.hostname, u.port)))
        r = psql(bad, "select 1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr)


if __name__ == "__main__":
    S.main()
