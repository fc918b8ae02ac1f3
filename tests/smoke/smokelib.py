"""Shared helpers for the smoke tests of the test mail servers.

The smoke tests prove that tests/servers/testenv starts real servers that behave as
Mailgate's integration tests need.  They read the servers' addresses from the
environment written by `tests/servers/testenv start` (DIR/env.sh) and fail loudly,
never skip, when it is missing.

Python 3 standard library only.  Every TLS connection verifies the server against
MAILGATE_TEST_CA with the host name MAILGATE_TEST_TLS_NAME (localhost).

The raw SASL clients below speak each protocol line by line so that a test can
check the exact exchange (initial response or not, the error continuation that
Dovecot sends for a bad token, ...).  imaplib/poplib/smtplib are used for ordinary
mail operations.
"""

import base64
import contextlib
import fcntl
import imaplib
import json
import os
import poplib
import secrets
import smtplib
import socket
import ssl
import sys
import time
import unittest
import urllib.error
import urllib.request

REQUIRED = [
    "MAILGATE_TEST_DIR", "MAILGATE_TEST_CA", "MAILGATE_TEST_HOST",
    "MAILGATE_TEST_TLS_NAME", "MAILGATE_TEST_DOMAIN",
    "MAILGATE_TEST_IMAP_PORT", "MAILGATE_TEST_IMAPS_PORT",
    "MAILGATE_TEST_POP3_PORT", "MAILGATE_TEST_POP3S_PORT",
    "MAILGATE_TEST_SUBMISSION_PORT", "MAILGATE_TEST_SUBMISSIONS_PORT",
    "MAILGATE_TEST_DOVECOT_SUBMISSION_PORT", "MAILGATE_TEST_LMTP_PORT",
    "MAILGATE_TEST_IDP_URL", "MAILGATE_TEST_PG_URL",
    "MAILGATE_TEST_WRONG_HOST_CERT", "MAILGATE_TEST_WRONG_HOST_KEY",
    "MAILGATE_TEST_ROGUE_CERT", "MAILGATE_TEST_ROGUE_KEY",
    "MAILGATE_TEST_ADD_USER",
]


def _load_env():
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        hint = ""
        if os.environ.get("MAILGATE_TEST_DIR") and \
                os.environ.get("MAILGATE_TEST_POSTFIX") == "0":
            hint = ("\nPostfix was not started (testenv was not run as root); "
                    "the smoke tests need it.")
        sys.stderr.write(
            "smoke test: missing %s.\n"
            "Start the servers with tests/servers/testenv start, then\n"
            "  . DIR/env.sh\nbefore running the smoke tests.%s\n"
            % (", ".join(missing), hint))
        sys.exit(2)
    return {k[len("MAILGATE_TEST_"):].lower(): v for k, v in os.environ.items()
            if k.startswith("MAILGATE_TEST_")}


E = _load_env()
HOST = E["host"]
TLS_NAME = E["tls_name"]
DOMAIN = E["domain"]
CA = E["ca"]
IMAP, IMAPS = int(E["imap_port"]), int(E["imaps_port"])
POP3, POP3S = int(E["pop3_port"]), int(E["pop3s_port"])
SUBMISSION, SUBMISSIONS = int(E["submission_port"]), int(E["submissions_port"])
DOVECOT_SUBMISSION = int(E["dovecot_submission_port"])
LMTP = int(E["lmtp_port"])
IDP = E["idp_url"].rstrip("/")
TIMEOUT = 20

MS = "https://outlook.office.com/"
SCOPE_IMAP = MS + "IMAP.AccessAsUser.All"
SCOPE_POP = MS + "POP.AccessAsUser.All"
SCOPE_SMTP = MS + "SMTP.Send"
ALL_SCOPES = [SCOPE_IMAP, SCOPE_POP, SCOPE_SMTP]

# (name, port, implicit TLS?) of each TLS endpoint, per protocol.
IMAP_PORTS = [("imap+starttls", IMAP, False), ("imaps", IMAPS, True)]
POP3_PORTS = [("pop3+stls", POP3, False), ("pop3s", POP3S, True)]
SMTP_PORTS = [("submission+starttls", SUBMISSION, False),
              ("submissions", SUBMISSIONS, True)]


def unique_user(tag, domain=None):
    """A fresh address: tests run in parallel against one set of servers."""
    return "smoke-%s-%s@%s" % (tag, secrets.token_hex(4), domain or DOMAIN)


def tls_context(verify=True, cafile=None):
    """A client context that checks the chain and the host name."""
    if not verify:
        ctx = ssl.create_default_context()  # system trust store only
    else:
        ctx = ssl.create_default_context(cafile=cafile or CA)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# ------------------------------------------------------------------- IdP

def idp(path, body=None):
    """Call the IdP's test control API; returns the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(IDP + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise AssertionError("IdP %s answered %s: %s" % (path, e.code, e.read()[:500]))


@contextlib.contextmanager
def _settings_lock(exclusive):
    """The IdP's access_token_length is global: a test that changes it holds this
    lock exclusively while it mints, and every other mint holds it shared, so two
    smoke tests running at once never get each other's token length."""
    path = os.path.join(E["dir"], "idp", "settings.lock")
    try:
        f = open(path, "a")
    except OSError:
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def mint(user, scopes=None, lifetime=3600, length=None):
    """An access token from the IdP's /_test/token for `user`, with the given
    scopes (default: IMAP, POP and SMTP), optionally of exactly `length` chars."""
    body = {"user": user, "scope": " ".join(scopes or ALL_SCOPES), "lifetime": lifetime}
    if length is None:
        with _settings_lock(False):
            return idp("/_test/token", body)["access_token"]
    with _settings_lock(True):
        before = idp("/_test/settings")["access_token_length"]
        idp("/_test/settings", {"access_token_length": length})
        try:
            token = idp("/_test/token", body)["access_token"]
        finally:
            idp("/_test/settings", {"access_token_length": before})
    assert len(token) == length, "IdP gave a %d-char token, not %d" % (len(token), length)
    return token


def revoke(user):
    return idp("/_test/revoke", {"user": user})


def expire(user):
    return idp("/_test/expire", {"user": user})


def add_user(user, password):
    """A password user in Dovecot's passwd-file, effective at once."""
    import shlex
    import subprocess
    cmd = shlex.split(E["add_user"]) + [user, password]
    subprocess.run(cmd, check=True, timeout=TIMEOUT)


# ------------------------------------------------------------------- SASL

def b64(data):
    return base64.b64encode(data).decode("ascii")


class Mech:
    """A client SASL mechanism: `initial` is the first client response; `step`
    answers a server challenge.  Challenges are recorded for the test to read."""

    name = None

    def __init__(self):
        self.challenges = []

    initial = b""

    def step(self, challenge):
        self.challenges.append(challenge)
        return b""

    def error_json(self):
        """The JSON error a server sent as a challenge (Dovecot: RFC 7628 3.2.2)."""
        for c in self.challenges:
            if c.startswith(b"{"):
                return json.loads(c)
        return None


class XOAuth2(Mech):
    name = "XOAUTH2"

    def __init__(self, user, token):
        super().__init__()
        self.initial = b"user=%s\x01auth=Bearer %s\x01\x01" % (user.encode(), token.encode())
    # A challenge after the initial response is an error report; the client
    # answers with an empty response and then reads the failure.


class OAuthBearer(Mech):
    name = "OAUTHBEARER"

    def __init__(self, user, token, port):
        super().__init__()
        self.initial = (b"n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01"
                        % (user.encode(), TLS_NAME.encode(), port, token.encode()))

    def step(self, challenge):
        # RFC 7628 3.2.3: the client answers the error challenge with %x01.
        self.challenges.append(challenge)
        return b"\x01"


class Plain(Mech):
    name = "PLAIN"

    def __init__(self, user, password):
        super().__init__()
        self.initial = b"\0%s\0%s" % (user.encode(), password.encode())


class Login(Mech):
    name = "LOGIN"
    initial = None  # LOGIN has no initial response

    def __init__(self, user, password):
        super().__init__()
        self.user, self.password = user.encode(), password.encode()

    def step(self, challenge):
        self.challenges.append(challenge)
        return self.user if b"user" in challenge.lower() else self.password


# ------------------------------------------------------------------- line client

class LineClient:
    """One connection, read and written line by line, with a transcript."""

    def __init__(self, port, implicit_tls, context=None, host=None, server_hostname=None):
        self.transcript = []
        self.context = context or tls_context()
        self.server_hostname = server_hostname or TLS_NAME
        raw = socket.create_connection((host or HOST, port), timeout=TIMEOUT)
        self.sock = raw
        if implicit_tls:
            self.sock = self.context.wrap_socket(raw, server_hostname=self.server_hostname)
        self.file = self.sock.makefile("rb")

    def starttls(self):
        self.file.close()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.server_hostname)
        self.file = self.sock.makefile("rb")

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.transcript.append(b"C: " + line[:200] + (b"..." if len(line) > 200 else b""))
        self.sock.sendall(line + b"\r\n")

    def read(self):
        line = self.file.readline(1 << 20)
        if not line:
            self.transcript.append(b"S: <EOF>")
            raise EOFError("server closed the connection")
        line = line.rstrip(b"\r\n")
        self.transcript.append(b"S: " + line[:200])
        return line

    def close(self):
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()

    def dump(self):
        return "\n".join(t.decode("utf-8", "replace") for t in self.transcript)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AuthResult:
    def __init__(self, ok, final, client, mech):
        self.ok, self.final, self.client, self.mech = ok, final, client, mech

    def __repr__(self):
        return "AuthResult(ok=%r, final=%r)\n%s" % (self.ok, self.final, self.client.dump())


def _run_sasl(c, mech, cont_prefix, is_final, initial_sent):
    """Drive the exchange after the AUTH command was sent: answer continuations
    until a final answer.  Returns the final line."""
    while True:
        line = c.read()
        if is_final(line):
            return line
        if line.startswith(cont_prefix):
            challenge = base64.b64decode(line[len(cont_prefix):].strip() or b"")
            if not initial_sent:  # the server asks for the initial response
                initial_sent = True
                c.send(b64(mech.initial))
            else:
                c.send(b64(mech.step(challenge)))


def imap_connect(port, implicit_tls, **kw):
    c = LineClient(port, implicit_tls, **kw)
    greeting = c.read()
    assert greeting.startswith(b"* OK"), greeting
    if not implicit_tls:
        c.send("S0 STARTTLS")
        while not (line := c.read()).startswith(b"S0 "):
            pass
        assert line.startswith(b"S0 OK"), line
        c.starttls()
    return c


def imap_auth(port, implicit_tls, mech, sasl_ir=True):
    """IMAP AUTHENTICATE; with sasl_ir the initial response is on the command line
    (RFC 4959), as Exchange Online and Mailgate do."""
    c = imap_connect(port, implicit_tls)
    cmd = "A1 AUTHENTICATE " + mech.name
    initial_sent = mech.initial is None
    if sasl_ir and not initial_sent:
        cmd += " " + (b64(mech.initial) or "=")
        initial_sent = True
    c.send(cmd)
    try:
        final = _run_sasl(c, mech, b"+", lambda l: l.startswith(b"A1 "), initial_sent)
    except EOFError:
        return AuthResult(False, None, c, mech)
    return AuthResult(final.startswith(b"A1 OK"), final, c, mech)


def pop3_connect(port, implicit_tls, **kw):
    c = LineClient(port, implicit_tls, **kw)
    assert c.read().startswith(b"+OK")
    if not implicit_tls:
        c.send("STLS")
        line = c.read()
        assert line.startswith(b"+OK"), line
        c.starttls()
    return c


def pop3_auth(port, implicit_tls, mech):
    """POP3 AUTH in two steps: `AUTH XOAUTH2`, the server's `+`, then the response
    (RFC 5034; Exchange refuses the response on the AUTH line)."""
    c = pop3_connect(port, implicit_tls)
    c.send("AUTH " + mech.name)
    try:
        final = _run_sasl(c, mech, b"+", lambda l: l.startswith((b"+OK", b"-ERR")),
                          mech.initial is None)
    except EOFError:
        return AuthResult(False, None, c, mech)
    return AuthResult(final.startswith(b"+OK"), final, c, mech)


def smtp_read_reply(c):
    """A whole (multi-line) SMTP reply: (code, [texts])."""
    texts = []
    while True:
        line = c.read()
        texts.append(line[4:])
        if line[3:4] != b"-":
            return int(line[:3]), texts


def smtp_connect(port, implicit_tls, starttls=True, **kw):
    """Connected, EHLO'd (and STARTTLS'd unless implicit or starttls=False).
    Returns (client, EHLO keywords)."""
    c = LineClient(port, implicit_tls, **kw)
    code, _ = smtp_read_reply(c)
    assert code == 220, code
    c.send("EHLO client.example.test")
    code, ext = smtp_read_reply(c)
    assert code == 250, (code, ext)
    if not implicit_tls and starttls:
        c.send("STARTTLS")
        code, _ = smtp_read_reply(c)
        assert code == 220, code
        c.starttls()
        c.send("EHLO client.example.test")
        code, ext = smtp_read_reply(c)
        assert code == 250, code
    return c, [e.decode() for e in ext]


def smtp_auth(port, implicit_tls, mech, initial_on_auth_line=False):
    """SMTP AUTH.  By default the response goes after the server's `334` on its
    own line (RFC 4954 section 4: an AUTH line with an initial response must fit
    in 512 octets; access tokens do not)."""
    c, _ = smtp_connect(port, implicit_tls)
    initial_sent = mech.initial is None
    if initial_on_auth_line and not initial_sent:
        c.send("AUTH %s %s" % (mech.name, b64(mech.initial) or "="))
        initial_sent = True
    else:
        c.send("AUTH " + mech.name)
    try:
        final = _run_sasl(c, mech, b"334",
                          lambda l: l[3:4] != b"-" and not l.startswith(b"334"), initial_sent)
    except EOFError:
        return AuthResult(False, None, c, mech)
    return AuthResult(final.startswith(b"235"), final, c, mech)


# ------------------------------------------------------------------- mail

def message(sender, rcpt, subject):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@smoke>\r\n"
            "\r\nsmoke test body\r\n" % (sender, rcpt, subject, secrets.token_hex(8)))


def smtplib_client(port, implicit_tls):
    if implicit_tls:
        s = smtplib.SMTP_SSL(TLS_NAME, port, context=tls_context(), timeout=TIMEOUT)
    else:
        s = smtplib.SMTP(TLS_NAME, port, timeout=TIMEOUT)
        s.starttls(context=tls_context())
    s.ehlo()
    return s


def smtplib_auth(s, mech):
    """smtplib's auth() with the response after the 334 (initial_response_ok=False)."""
    first = [True]

    def respond(challenge=None):
        if first[0]:
            first[0] = False
            return mech.initial.decode("latin-1")
        return mech.step(challenge or b"").decode("latin-1")
    return s.auth(mech.name, respond, initial_response_ok=False)


def send_oauth(port, implicit_tls, user, token, rcpt, subject):
    s = smtplib_client(port, implicit_tls)
    try:
        code, _ = smtplib_auth(s, XOAuth2(user, token))
        assert code == 235, code
        refused = s.sendmail(user, [rcpt], message(user, rcpt, subject))
        assert not refused, refused
    finally:
        s.quit()


def imaplib_login(port, implicit_tls, mech):
    """An imaplib client, authenticated by AUTHENTICATE with `mech`."""
    if implicit_tls:
        m = imaplib.IMAP4_SSL(TLS_NAME, port, ssl_context=tls_context(), timeout=TIMEOUT)
    else:
        m = imaplib.IMAP4(TLS_NAME, port, timeout=TIMEOUT)
        m.starttls(ssl_context=tls_context())
    state = {"sent": False}

    def respond(challenge):
        if not state["sent"]:
            state["sent"] = True
            return mech.initial
        return mech.step(challenge)
    typ, _ = m.authenticate(mech.name, respond)
    assert typ == "OK", typ
    return m


def imap_subjects(m, mailbox="INBOX"):
    typ, _ = m.select(mailbox, readonly=True)
    assert typ == "OK"
    typ, data = m.search(None, "ALL")
    subjects = []
    for num in data[0].split():
        typ, parts = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for p in parts:
            if isinstance(p, tuple):
                for line in p[1].decode().splitlines():
                    if line.lower().startswith("subject:"):
                        subjects.append(line.split(":", 1)[1].strip())
    return subjects


def poplib_login(port, implicit_tls, mech):
    """A poplib client, authenticated by the two-step AUTH with `mech`."""
    if implicit_tls:
        p = poplib.POP3_SSL(TLS_NAME, port, context=tls_context(), timeout=TIMEOUT)
    else:
        p = poplib.POP3(TLS_NAME, port, timeout=TIMEOUT)
        p.stls(context=tls_context())
    resp = p._shortcmd("AUTH " + mech.name)
    assert resp.startswith(b"+"), resp
    resp = p._shortcmd(b64(mech.initial))
    assert resp.startswith(b"+OK"), resp
    return p


def pop3_subjects(p):
    subjects = []
    count, _ = p.stat()
    for i in range(1, count + 1):
        _, lines, _ = p.top(i, 0)
        for line in lines:
            if line.lower().startswith(b"subject:"):
                subjects.append(line.split(b":", 1)[1].strip().decode())
    return subjects


def wait_for(fn, what, timeout=10.0, interval=0.1):
    """Poll fn() until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def main():
    """Run the calling module's tests; exit non-zero on any failure."""
    unittest.main(module="__main__", verbosity=2)
