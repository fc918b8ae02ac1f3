#!/usr/bin/env python3
"""Tests of mailgate-faultproxy against a local server that sends a known stream."""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

PROXY = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("FAULTPROXY", "")
PAYLOAD = bytes(range(256)) * 2048  # 512 KiB


class Server:
    """Accepts connections; echoes one line back, then sends PAYLOAD and closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = conn.recv(1)
                if not chunk:
                    return
                line += chunk
            conn.sendall(line + PAYLOAD)
        except OSError:
            pass
        finally:
            conn.close()


class ProxyTest(unittest.TestCase):
    def start_proxy(self, *args):
        tmp = tempfile.mkdtemp()
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen([PROXY, "--target", f"127.0.0.1:{self.server.port}",
                                 "--port-file", port_file, "--log-file", os.path.join(tmp, "log"),
                                 *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)
        for _ in range(200):
            if os.path.exists(port_file):
                return int(open(port_file).read())
            time.sleep(0.01)
        self.fail("the proxy did not start")

    def setUp(self):
        self.assertTrue(PROXY, "pass the proxy binary as the first argument")
        self.server = Server()
        self.addCleanup(self.server.sock.close)

    def exchange(self, port, timeout=10):
        """Sends a line, returns (bytes received, how the stream ended)."""
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        got = bytearray()
        try:
            s.sendall(b"hello\n")
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return bytes(got), "eof"
                got += chunk
        except ConnectionResetError:
            return bytes(got), "reset"
        except socket.timeout:
            return bytes(got), "timeout"
        finally:
            s.close()

    def test_clean_proxy_is_byte_exact(self):
        port = self.start_proxy()
        got, end = self.exchange(port)
        self.assertEqual(end, "eof")
        self.assertEqual(got, b"hello\n" + PAYLOAD)

    def test_delay_applies_each_way(self):
        port = self.start_proxy("--delay-ms", "100")
        start = time.monotonic()
        got, end = self.exchange(port)
        elapsed = time.monotonic() - start
        self.assertEqual(got, b"hello\n" + PAYLOAD)
        # A round trip through the proxy cannot take less than twice the delay.
        self.assertGreaterEqual(elapsed, 0.2)

    def test_truncate_delivers_a_prefix_then_closes(self):
        port = self.start_proxy("--fault-rate", "1", "--faults", "truncate", "--seed", "7")
        got, end = self.exchange(port)
        self.assertEqual(end, "eof")
        self.assertLess(len(got), len(PAYLOAD) + 6)
        self.assertEqual(got, (b"hello\n" + PAYLOAD)[: len(got)])

    def test_reset_aborts_the_connection(self):
        port = self.start_proxy("--fault-rate", "1", "--faults", "reset", "--seed", "3")
        got, end = self.exchange(port)
        self.assertIn(end, ("reset", "eof"))
        self.assertLess(len(got), len(PAYLOAD) + 6)
        self.assertEqual(got, (b"hello\n" + PAYLOAD)[: len(got)])

    def test_stall_holds_the_connection_open(self):
        port = self.start_proxy("--fault-rate", "1", "--faults", "stall", "--seed", "5")
        got, end = self.exchange(port, timeout=1)
        self.assertEqual(end, "timeout")
        self.assertEqual(got, (b"hello\n" + PAYLOAD)[: len(got)])

    def test_many_connections_with_random_faults(self):
        port = self.start_proxy("--fault-rate", "0.5", "--seed", "11", "--faults", "reset,truncate")
        outcomes = set()
        for _ in range(20):
            got, end = self.exchange(port)
            self.assertEqual(got, (b"hello\n" + PAYLOAD)[: len(got)])
            outcomes.add(len(got) == len(PAYLOAD) + 6)
        self.assertEqual(outcomes, {True, False})


if __name__ == "__main__":
    unittest.main()
