#!/usr/bin/env python3
"""Every TLS endpoint presents a certificate that verifies against the test CA
(MAILGATE_TEST_CA) for the name `localhost` (and for the address 127.0.0.1), and
fails without that CA or for another name.  The extra certificates for client tests
are right: the wrong-host one chains to the test CA but names only wrong.example;
the rogue one names localhost but comes from an unknown CA."""

import socket
import ssl
import threading
import unittest
import warnings

import smokelib as S

IMPLICIT = [("imaps", S.IMAPS), ("pop3s", S.POP3S), ("submissions", S.SUBMISSIONS)]
STARTTLS = [("imap", S.IMAP), ("pop3", S.POP3), ("submission", S.SUBMISSION),
            ("dovecot-submission", S.DOVECOT_SUBMISSION)]


def handshake(name, port, implicit, context, server_hostname):
    """TLS handshake with the server on `port` (after STARTTLS where needed);
    returns the negotiated protocol version."""
    if implicit:
        c = S.LineClient(port, True, context=context, server_hostname=server_hostname)
    elif name.startswith("imap"):
        c = S.imap_connect(port, False, context=context, server_hostname=server_hostname)
    elif name.startswith("pop3"):
        c = S.pop3_connect(port, False, context=context, server_hostname=server_hostname)
    else:
        c, _ = S.smtp_connect(port, False, context=context, server_hostname=server_hostname)
    try:
        return c.sock.version()
    finally:
        c.close()


def all_endpoints():
    return [(n, p, True) for n, p in IMPLICIT] + [(n, p, False) for n, p in STARTTLS]


class TlsServer:
    """A one-shot TLS server on 127.0.0.1 with the given certificate."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(S.TIMEOUT)
        try:
            conn, _ = self.sock.accept()
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello\r\n")
        except (OSError, ssl.SSLError):
            pass  # the client refused our certificate: expected in most tests
        finally:
            self.sock.close()

    def connect(self, context, server_hostname):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=S.TIMEOUT) as raw:
                with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    return tls.recv(100)
        finally:
            self.thread.join(S.TIMEOUT)


class Certificates(unittest.TestCase):

    def test_verifies_against_test_ca_for_localhost(self):
        for name, port, implicit in all_endpoints():
            with self.subTest(endpoint=name):
                version = handshake(name, port, implicit, S.tls_context(), "localhost")
                self.assertIn(version, ("TLSv1.2", "TLSv1.3"))

    def test_verifies_for_the_ip_address(self):
        ctx = S.tls_context()
        with socket.create_connection((S.HOST, S.IMAPS), timeout=S.TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertTrue(tls.getpeercert())

    def test_fails_without_the_test_ca(self):
        for name, port, implicit in all_endpoints():
            with self.subTest(endpoint=name):
                with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                    handshake(name, port, implicit, S.tls_context(verify=False), "localhost")
                self.assertIn("unable to get local issuer certificate", str(cm.exception))

    def test_fails_for_another_host_name(self):
        for name, port, implicit in all_endpoints():
            with self.subTest(endpoint=name):
                with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                    handshake(name, port, implicit, S.tls_context(), "wrong.example")
                self.assertIn("Hostname mismatch", str(cm.exception))

    def test_tls_1_2_is_the_minimum(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1
            old = S.tls_context()
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")  # so that our side does offer TLS 1.1
        tls12 = S.tls_context()
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        for name, port in IMPLICIT:
            with self.subTest(endpoint=name):
                # Dovecot closes the connection, Postfix sends a protocol_version alert.
                with self.assertRaises(ssl.SSLError):
                    handshake(name, port, True, old, "localhost")
                self.assertEqual(handshake(name, port, True, tls12, "localhost"), "TLSv1.2")

    def test_wrong_host_certificate(self):
        cert, key = S.E["wrong_host_cert"], S.E["wrong_host_key"]
        # Chains to the test CA: accepted for its own name ...
        self.assertEqual(TlsServer(cert, key).connect(S.tls_context(), "wrong.example"),
                         b"hello\r\n")
        # ... refused for localhost.
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            TlsServer(cert, key).connect(S.tls_context(), "localhost")
        self.assertIn("Hostname mismatch", str(cm.exception))

    def test_rogue_certificate(self):
        cert, key = S.E["rogue_cert"], S.E["rogue_key"]
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            TlsServer(cert, key).connect(S.tls_context(), "localhost")
        self.assertIn("self-signed certificate", str(cm.exception))
        # It does name localhost: trusting it directly makes it pass.
        self.assertEqual(TlsServer(cert, key).connect(S.tls_context(cafile=cert), "localhost"),
                         b"hello\r\n")

    def test_keys_are_ec_p256(self):
        for name in ("ca", "wrong_host_cert", "rogue_cert"):
            with open(S.E[name]) as f:
                pem = f.read()
            der = ssl.PEM_cert_to_DER_cert(pem)
            # OID 1.2.840.10045.3.1.7 (prime256v1) in DER
            self.assertIn(bytes.fromhex("06082a8648ce3d030107"), der, name)


if __name__ == "__main__":
    S.main()
