"""The contenders of the download benchmark.

A contender is a function `(target, work) -> Job`: given where the mailbox is
and who may read it (`Target`) and an empty directory of its own (`work`), it
writes whatever configuration it needs into `work` and returns the command line
to time and a check that every message arrived. The harness (bench/run) runs the
command as an unprivileged user, times it and calls the check afterwards, so a
broken run can never look fast.

`mailgate` (at the end of this file) configures a connected account and a
mailbox untimed, then times `mailgate check`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional


@dataclass
class Target:
    """One IMAPS mailbox as the contenders see it (direct, or through the proxy)."""
    host: str            # 127.0.0.1
    port: int            # IMAPS (implicit TLS)
    ca: Path             # the test CA; every contender verifies the server against it
    tls_name: str        # name on the server certificate ("localhost")
    user: str
    password: str        # for PLAIN/LOGIN
    token: str           # OAuth2 access token for XOAUTH2 (scope IMAP.AccessAsUser.All)
    message_ids: list[str]  # what the mailbox holds; the check compares against it
    build: Path          # the CMake build directory (for our own binaries)
    run_as: str          # user name the command runs as (fetchmail wants it)
    idp_url: str = ""    # the test identity provider (mailgate's connected account)


@dataclass
class Job:
    argv: list[str]
    verify: Callable[[], Optional[str]]  # None when all messages arrived, else what is wrong
    auth: str                            # SASL mechanism used: XOAUTH2, PLAIN or LOGIN
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""                       # e.g. "forks an MDA per message"


def secret_file(work: Path, name: str, value: str) -> Path:
    """A file only the owner can read: secrets never go on a command line."""
    p = work / name
    p.write_text(value)
    p.chmod(0o600)
    return p


def maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


_MID = re.compile(rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^>]+)>", re.I | re.M)


def check_maildir(path: Path, expected: list[str]) -> Optional[str]:
    """Every expected message exactly once in path/{cur,new}, found by Message-ID."""
    files = [f for sub in ("cur", "new") if (path / sub).is_dir() for f in (path / sub).iterdir()]
    seen: dict[str, int] = {}
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read(64 * 1024).split(b"\n\n", 1)[0]
        m = _MID.search(head)
        if m:
            mid = m.group(1).decode("ascii", "replace")
            seen[mid] = seen.get(mid, 0) + 1
    missing = [m for m in expected if m not in seen]
    dups = sum(n - 1 for n in seen.values())
    if missing or dups or len(files) != len(expected):
        return (f"{len(files)} files in {path}, expected {len(expected)}; "
                f"{len(missing)} missing, {dups} duplicates")
    return None


# ----------------------------------------------------------------------- floor

def floor(t: Target, work: Path) -> Job:
    """One `UID FETCH 1:* (BODY.PEEK[])`, bytes discarded (bench/floor_fetch.cc)."""
    out = work / "stdout.log"  # the harness sends the command's stdout here
    argv = [str(t.build / "bench" / "bench_floor_fetch"), "--host", t.host, "--port", str(t.port),
            "--ca", str(t.ca), "--tls-name", t.tls_name, "--user", t.user,
            "--token-file", str(secret_file(work, "token", t.token))]

    def verify() -> Optional[str]:
        text = out.read_text() if out.exists() else ""
        m = re.search(r"literals=(\d+)", text)
        if not m or int(m.group(1)) != len(t.message_ids):
            return f"floor read {m.group(1) if m else 'no'} literals, expected {len(t.message_ids)}"
        return None

    return Job(argv, verify, auth="XOAUTH2")


# ----------------------------------------------------------------------- mbsync

# Debian 12's libsasl2-modules-kdexoauth2 (KDE's Cyrus SASL XOAUTH2 client
# plugin) gives mbsync XOAUTH2, with the access token as the password.
KDE_XOAUTH2 = Path("/usr/lib/x86_64-linux-gnu/sasl2/libkdexoauth2.so")


def mbsync(t: Target, work: Path) -> Job:
    """isync 1.4: Sync Pull into a Maildir, FSync on (its default)."""
    out = maildir(work / "mail" / "INBOX")
    (work / "state").mkdir()
    xoauth2 = KDE_XOAUTH2.exists()
    secret = secret_file(work, "secret", t.token if xoauth2 else t.password)
    (work / "mbsyncrc").write_text(f"""\
IMAPAccount bench
# mbsync 1.4 checks the certificate against Host, and only DNS names.
Host {t.tls_name}
Port {t.port}
User {t.user}
PassCmd "cat {secret}"
SSLType IMAPS
CertificateFile {t.ca}
AuthMechs {"XOAUTH2" if xoauth2 else "PLAIN"}

IMAPStore remote
Account bench

MaildirStore local
Path {work / "mail"}/
Inbox {out}

Channel bench
Far :remote:
Near :local:
Patterns INBOX
# Download only: nothing flows back, nothing is expunged on the server.
Sync Pull
Create Near
Expunge None
SyncState {work / "state"}/
""")
    return Job(["mbsync", "-q", "-c", str(work / "mbsyncrc"), "bench"],
               lambda: check_maildir(out, t.message_ids),
               auth="XOAUTH2" if xoauth2 else "PLAIN")


# ----------------------------------------------------------------------- fetchmail

def fetchmail(t: Target, work: Path) -> Job:
    """fetchmail 6.4 handing each message to procmail, which writes a Maildir.

    Debian 12's fetchmail 6.4.37 has no OAUTHBEARER/XOAUTH2 (they came in 6.5),
    so it logs in with LOGIN over TLS. fetchmail never stores mail itself: it
    hands each message to an MTA or an MDA; procmail is the classic MDA.
    """
    out = maildir(work / "mail")
    (work / "procmailrc").write_text(f"DEFAULT={out}/\nLOGFILE=/dev/null\n")
    quoted = t.password.replace("\\", "\\\\").replace('"', '\\"')
    rc = work / "fetchmailrc"
    rc.write_text(f"""\
set no syslog
set no bouncemail
poll {t.host} service {t.port} protocol IMAP auth password
  user "{t.user}" there with password "{quoted}" is "{t.run_as}" here
  ssl sslcertck sslcertfile "{t.ca}" sslcommonname "{t.tls_name}" sslproto "TLS1.2+"
  folder INBOX
  keep fetchall no rewrite
  mda "/usr/bin/procmail -m {work / 'procmailrc'}"
""")
    rc.chmod(0o600)  # fetchmail refuses a readable rc file with a password
    return Job(["fetchmail", "-s", "-f", str(rc), "--idfile", str(work / "fetchids"),
                "--pidfile", str(work / "fetchmail.pid")],
               lambda: check_maildir(out, t.message_ids), auth="LOGIN",
               env={"FETCHMAILHOME": str(work)},
               note="execs procmail per message (CPU and RSS include the MDA)")


# ----------------------------------------------------------------------- getmail6

def getmail(t: Target, work: Path) -> Job:
    """getmail6 into a Maildir (read_all, delete = false).

    getmail6 supports XOAUTH2 (use_xoauth2), but against Dovecot 2.3.19 its
    login stalls in about 7 of 10 tries (see docs/benchmarks.md), so it uses
    LOGIN over TLS here. Its Maildir delivery forks a child per message.
    """
    out = maildir(work / "mail")
    (work / "state").mkdir()
    secret = secret_file(work, "secret", t.password)
    (work / "getmailrc").write_text(f"""\
[retriever]
type = SimpleIMAPSSLRetriever
server = {t.host}
port = {t.port}
username = {t.user}
password_command = ("/bin/cat", "{secret}")
mailboxes = ("INBOX",)
ca_certs = {t.ca}

[destination]
type = Maildir
path = {out}/

[options]
read_all = true
delete = false
verbose = 0
""")
    return Job(["getmail", "--getmaildir", str(work / "state"), "--rcfile",
                str(work / "getmailrc")],
               lambda: check_maildir(out, t.message_ids), auth="LOGIN",
               note="forks a delivery child per message")


# ----------------------------------------------------------------------- offlineimap3

def offlineimap(t: Target, work: Path) -> Job:
    """offlineimap3, one folder, read-only remote, Maildir with fsync (its default)."""
    out = work / "mail"
    out.mkdir()
    rc = work / "offlineimaprc"
    rc.write_text(f"""\
[general]
accounts = bench
metadata = {work / "meta"}
ui = quiet

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {out}

[Repository remote]
type = IMAP
remotehost = {t.tls_name}
remoteport = {t.port}
remoteuser = {t.user}
ssl = yes
sslcacertfile = {t.ca}
auth_mechanisms = XOAUTH2
oauth2_access_token = {t.token}
folderfilter = lambda f: f == 'INBOX'
readonly = True
maxconnections = 1
""")
    rc.chmod(0o600)
    return Job(["offlineimap", "-c", str(rc), "-o", "-u", "quiet"],
               lambda: check_maildir(out / "INBOX", t.message_ids), auth="XOAUTH2")


# ----------------------------------------------------------------------- mailgate

def check_spool(data: Path, expected: list[str]) -> Optional[str]:
    """Every expected message exactly once in mailgate's spool (spool/new)."""
    return check_maildir(data / "spool", expected)


def mailgate(t: Target, work: Path) -> Optional[Job]:
    """`mailgate check` (issue 5): download + durable spool + record in SQLite.

    Untimed set-up: a connected account with app-only access to the mailbox
    (client credentials at the test identity provider, XOAUTH2 like the
    peers), and the mailbox with `--after-download keep` so every contender
    finds the same mail. Timed: one `mailgate check` with an access token
    already cached, as on every check but the first after a refresh.
    """
    exe = t.build / "src" / "cli" / "mailgate"
    if not exe.exists() or not t.idp_url:
        return None
    import json
    import secrets
    import subprocess
    import urllib.request
    data = work / "data"
    client = "bench-" + secrets.token_hex(6)
    secret = secrets.token_hex(16)
    body = json.dumps({"client_id": client, "client_secret": secret,
                       "app_permissions": ["IMAP.AccessAsApp"],
                       "app_mailbox": t.user}).encode()
    req = urllib.request.Request(t.idp_url + "/_test/clients", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()
    base = [str(exe), "--data-dir", str(data), "--ca-file", str(t.ca)]
    secret_path = secret_file(work, "client-secret", secret)
    for args in (["account", "add", "bench", "--provider", "microsoft", "--client-id", client,
                  "--tenant", "bench.test", "--authority", t.idp_url,
                  "--client-secret-file", str(secret_path)],
                 ["account", "authorize", "bench", "--flow", "client-credentials"],
                 ["mailbox", "add", "bench", "--protocol", "imap", "--host", t.tls_name,
                  "--port", str(t.port), "--encryption", "tls", "--user", t.user,
                  "--account", "bench", "--after-download", "keep",
                  "--max-messages", "1000000", "--max-size-kb", "1000000"]):
        subprocess.run(base + args, check=True, capture_output=True, timeout=60)
    secret_path.unlink()
    argv = base + ["check", "bench"]
    return Job(argv, lambda: check_spool(data, t.message_ids), auth="XOAUTH2",
               note="spool fsynced and recorded in SQLite before success")


# Run order within a round; the harness rotates it every round. The first one
# present is the reference of the ratio column.
CONTENDERS: dict[str, Callable[[Target, Path], Optional[Job]]] = {
    "mailgate": mailgate,
    "floor": floor,
    "mbsync": mbsync,
    "fetchmail": fetchmail,
    "getmail6": getmail,
    "offlineimap3": offlineimap,
}


def env_for(job: Job, home: Path) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    env.update(job.env)
    return env

