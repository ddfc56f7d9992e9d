"""The HTTP sender against real servers on 127.0.0.1: over TLS (the host name checked against
the certificate while the request goes to the checked address), a connection the server closed
while it sat idle, a certificate for another name, and a server that does not answer."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from subgroups.outbound.http_sender import HttpSender


@dataclass
class Seen:
    hosts: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    # The client's port of each request's connection.
    connections: set[int] = field(default_factory=set)


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and 127.0.0.1): its file and its key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def serving(
    *, tls: tuple[Path, Path] | None = None, keep_alive: bool = True, answer_after: float = 0
) -> Iterator[tuple[int, Seen]]:
    seen = Seen()
    answered = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            seen.hosts.append(self.headers["host"])
            seen.bodies.append(self.rfile.read(int(self.headers["content-length"])))
            seen.connections.add(self.client_address[1])
            if answer_after:
                answered.wait(answer_after)
            self.send_response(204)
            self.end_headers()
            # Answered as if the connection stayed open, then closed: as a server whose idle
            # connections time out does, between two requests.
            self.close_connection = not keep_alive

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that refused our certificate hangs up: expected here

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        answered.set()
        server.shutdown()
        server.server_close()


def trusting(cert_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_file))


HEADERS = {"content-type": "application/json", "webhook-id": "msg_1_e"}


async def test_over_tls_the_host_name_is_checked_and_sent(tmp_path: Path) -> None:
    cert = certificate(tmp_path, "localhost")
    with serving(tls=cert) as (port, seen):
        sender = HttpSender(allow_private=True, ssl_context=trusting(cert[0]))
        try:
            url = f"https://localhost:{port}/hooks"
            first = await sender.send(url, headers=HEADERS, body=b'{"n": 1}')
            second = await sender.send(url, headers=HEADERS, body=b'{"n": 2}')
        finally:
            await sender.aclose()
    assert (first.status, second.status) == (204, 204), (first, second)
    assert seen.hosts == [f"localhost:{port}"] * 2
    assert seen.bodies == [b'{"n": 1}', b'{"n": 2}']
    assert len(seen.connections) == 1  # kept alive, and used again


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    cert = certificate(tmp_path, "elsewhere.example")
    with serving(tls=cert) as (port, seen):
        sender = HttpSender(allow_private=True, ssl_context=trusting(cert[0]))
        try:
            attempt = await sender.send(
                f"https://localhost:{port}/hooks", headers=HEADERS, body=b"{}"
            )
        finally:
            await sender.aclose()
    assert attempt.status is None
    assert "ConnectError" in (attempt.detail or ""), attempt
    assert seen.bodies == []


async def test_a_connection_the_server_closed_is_not_used_again(tmp_path: Path) -> None:
    with serving(keep_alive=False) as (port, seen):
        sender = HttpSender(allow_private=True)
        try:
            url = f"http://127.0.0.1:{port}/hooks"
            attempts = []
            for _ in range(3):
                attempts.append(await sender.send(url, headers=HEADERS, body=b"{}"))
                await asyncio.sleep(0.1)  # the server's close has arrived
        finally:
            await sender.aclose()
    assert [a.status for a in attempts] == [204, 204, 204], attempts
    assert len(seen.connections) == 3


async def test_no_answer_in_time_is_an_attempt_without_status() -> None:
    with serving(answer_after=5) as (port, _seen):
        sender = HttpSender(allow_private=True, timeout_seconds=0.3)
        try:
            attempt = await sender.send(
                f"http://127.0.0.1:{port}/hooks", headers=HEADERS, body=b"{}"
            )
        finally:
            await sender.aclose()
    assert attempt.status is None
    assert "within 0.3 s" in (attempt.detail or ""), attempt
    assert 300 <= attempt.latency_ms < 2000


@contextmanager
def flooding(seconds: float) -> Iterator[tuple[int, list[int]]]:
    """A receiver that answers 204, then keeps writing bytes nobody asked for into the
    connection for `seconds`: what it managed to send is added up in the list."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)  # the request: one small write
            connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            time.sleep(0.3)  # the connection is back in the client's pool, idle
            connection.settimeout(0.2)
            junk = b"x" * 65536
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                try:
                    sent[0] += connection.send(junk)
                except TimeoutError:
                    continue  # the client stopped reading: its buffers are full
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], sent
    finally:
        thread.join(seconds + 5)
        listener.close()


async def test_bytes_a_receiver_pushes_unasked_are_not_held_beyond_a_bound() -> None:
    flood_seconds = 1.5
    with flooding(flood_seconds) as (port, sent):
        sender = HttpSender(allow_private=True)
        try:
            attempt = await sender.send(
                f"http://127.0.0.1:{port}/hooks", headers=HEADERS, body=b"{}"
            )
            # The connection sits idle in the pool while the receiver pushes at it.
            await asyncio.sleep(flood_seconds + 0.5)
        finally:
            await sender.aclose()
    assert attempt.status == 204, attempt
    # Loopback moves gigabytes a second: unbounded, the idle connection would have taken them
    # all. Bounded, the receiver is held to our buffer and the two kernels' socket buffers.
    assert sent[0] < 64 * 1024 * 1024, sent
