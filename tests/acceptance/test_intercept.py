"""The intercepting proxy (issue 14): `textrelay serve --intercept-port`, `textrelay ca` and
`textrelay env`. A client that knows nothing of textrelay reaches it through its proxy
settings alone; nothing else goes through; the certificates it is shown are for the host it
asked for only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.npm_packages import ensure_packages
from tests.pip_packages import ensure_target
from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port
from tests.receiver import Receiver
from textrelay.client import client as textrelay_client
from textrelay.testing import TextrelayServer

COMMAND_TIMEOUT_S = 60
CLIENTS_DIR = Path(__file__).resolve().parents[1] / "clients"
"""Third-party Twilio clients from npm (tests/clients/package.json), installed at test time."""
PYTHON_CLIENTS_DIR = Path(__file__).resolve().parents[2] / ".venv" / "test-clients"
"""Beside textrelay's environment, not in it (nor in the source tree the checks read)."""
PYTHON_CLIENTS = (
    "apprise==2.3.0",
    "django-two-factor-auth[phonenumberslite]==1.18.1",
    "twilio==9.13.0",  # the Django gateway's, beside (not from) textrelay's environment
)
"""Third-party Python clients, from PyPI into tests/clients/python at test time."""


@dataclass
class Proxied:
    server: ServerProcess
    port: int
    database_url: str
    state: Path
    """XDG_STATE_HOME of the test: where `textrelay env` writes the CA files."""

    def textrelay(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "textrelay", *args],
            capture_output=True,
            text=True,
            env=_clean_env(
                TEXTRELAY_DATABASE_URL=self.database_url, XDG_STATE_HOME=str(self.state)
            ),
            timeout=COMMAND_TIMEOUT_S,
            check=True,
        )

    def run_client(self, command: list[str], **extra_env: str) -> str:
        """A third-party client run as an app runs it, with only the variables `textrelay env`
        prints (and `extra_env`); what it printed, once it has succeeded."""
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=_clean_env(**self.exports(), **extra_env),
            timeout=COMMAND_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def sent(self, sid: str | None = None, *, to: str | None = None) -> Any:
        """The message as textrelay stored it: by SID, or the only one sent to `to`."""
        direct = textrelay_client(self.server.base_url, ACCOUNT_SID, AUTH_TOKEN)
        if sid is not None:
            return direct.messages(sid).fetch()
        [message] = direct.messages.list(to=to)
        return message

    def exports(self) -> dict[str, str]:
        """What `eval "$(textrelay env …)"` would set, read back by bash itself."""
        printed = self.textrelay("env", "--intercept-port", str(self.port)).stdout
        shown = subprocess.run(
            ["bash", "-c", f"{printed}\nenv -0"],
            capture_output=True,
            env={"PATH": "/usr/bin:/bin"},
            timeout=COMMAND_TIMEOUT_S,
            check=True,
        ).stdout.decode()
        names = {line.split("=", 1)[0].removeprefix("export ") for line in printed.splitlines()}
        pairs = (entry.split("=", 1) for entry in shown.split("\0") if "=" in entry)
        return {name: value for name, value in pairs if name in names}


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without textrelay's settings or any proxy or CA of the host."""
    dropped = ("TEXTRELAY_", "TWILIO_")
    proxies = {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k.lower() not in proxies
    }
    env.update(extra)
    return env


@contextmanager
def _proxy(url: str, tmp_path: Path, **settings: str) -> Iterator[Proxied]:
    port = free_port()
    server = ServerProcess(
        url, log_path=tmp_path / "server.log", intercept_port=str(port), **settings
    ).start()
    try:
        yield Proxied(server, port, url, tmp_path / "state")
    finally:
        server.stop()


@pytest.fixture
def proxied(fresh_database: Callable[[], str], tmp_path: Path) -> Iterator[Proxied]:
    with _proxy(fresh_database(), tmp_path) as running:
        yield running


def test_the_stock_twilio_python_client_reaches_textrelay_with_environment_variables_only(
    proxied: Proxied, receiver: Receiver
) -> None:
    """twilio-python as an app builds it: no base_url, no http client of textrelay's; only
    the variables `textrelay env` prints. The message lands in textrelay, and textrelay's
    signed callbacks reach the app's receiver (on loopback, which NO_PROXY keeps direct)."""
    script = (
        "import sys\n"
        "from twilio.rest import Client\n"
        "client = Client(sys.argv[1], sys.argv[2])\n"
        "sender = client.incoming_phone_numbers.create(area_code='415').phone_number\n"
        "message = client.messages.create(to='+14155550100', from_=sender,\n"
        "    body='through the proxy', status_callback=sys.argv[3])\n"
        "print(message.sid, message.status)\n"
    )
    printed = proxied.run_client(
        [sys.executable, "-c", script, ACCOUNT_SID, AUTH_TOKEN, receiver.url("/status")]
    )
    sid, status = printed.split()
    assert status == "queued"
    assert proxied.sent(sid).body == "through the proxy"
    callbacks = receiver.wait_for(
        lambda rs: any(r.params.get("MessageStatus") == "delivered" for r in rs)
    )
    assert all(r.valid_for(AUTH_TOKEN) for r in callbacks)
    assert {r.params["MessageSid"] for r in callbacks} == {sid}


def test_the_stock_twilio_node_client_reaches_textrelay_through_http_proxy(
    proxied: Proxied, receiver: Receiver
) -> None:
    """twilio-node from npm, unmodified (tests/clients/send.js builds it from credentials
    only): it tunnels through HTTP_PROXY and trusts NODE_EXTRA_CA_CERTS."""
    node = ensure_packages(CLIENTS_DIR, "twilio")
    script = str(CLIENTS_DIR / "send.js")
    printed = proxied.run_client(
        [node, script, ACCOUNT_SID, AUTH_TOKEN, "+14155550101", "from node", receiver.url("/n")]
    )
    sid, status = printed.split()
    assert status == "queued"
    assert proxied.sent(sid).body == "from node"
    callbacks = receiver.wait_for(
        lambda rs: any(r.params.get("MessageStatus") == "delivered" for r in rs)
    )
    assert all(r.valid_for(AUTH_TOKEN) for r in callbacks)


def test_the_twilio_cli_creates_a_message_in_textrelay_through_the_proxy(
    proxied: Proxied, tmp_path: Path
) -> None:
    """The twilio CLI from npm, unmodified: its host comes from the OpenAPI description
    bundled with it, so only a proxy reaches it."""
    node = ensure_packages(CLIENTS_DIR, "twilio-cli")
    cli = str(CLIENTS_DIR / "node_modules" / "twilio-cli" / "bin" / "run")
    create = ["api:core:messages:create", "--from", "+15005550006", "--to", "+14155550103"]
    printed = proxied.run_client(
        [node, cli, *create, "--body", "from the twilio cli", "-o", "json"],
        HOME=str(tmp_path / "home"),  # the CLI keeps its profiles and cache there
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
    )
    [created] = json.loads(printed)
    assert proxied.sent(created["sid"]).body == "from the twilio cli"


def test_apprise_sends_its_twilio_url_to_textrelay_through_the_proxy(proxied: Proxied) -> None:
    """apprise from PyPI, unmodified: its Twilio plugin posts to a hard-coded
    https://api.twilio.com URL with requests, which honours HTTPS_PROXY and
    REQUESTS_CA_BUNDLE."""
    target = ensure_target(PYTHON_CLIENTS_DIR, PYTHON_CLIENTS)
    url = f"twilio://{ACCOUNT_SID}:{AUTH_TOKEN}@15005550006/14155550102"
    proxied.run_client(
        [sys.executable, str(target / "bin" / "apprise"), "-b", "from apprise", url],
        PYTHONPATH=str(target),
    )
    message = proxied.sent(to="+14155550102")
    assert (message.body, message.from_) == ("from apprise", "+15005550006")


def test_a_django_two_factor_login_code_reaches_textrelay_through_the_proxy(
    proxied: Proxied,
) -> None:
    """django-two-factor-auth's Twilio gateway, from PyPI and unmodified, configured by Django
    settings alone (tests/clients/django_two_factor_send.py)."""
    target = ensure_target(PYTHON_CLIENTS_DIR, PYTHON_CLIENTS)
    script = str(CLIENTS_DIR / "django_two_factor_send.py")
    proxied.run_client(
        [sys.executable, script, ACCOUNT_SID, AUTH_TOKEN, "+14155550104", "482913"],
        PYTHONPATH=str(target),
    )
    assert "482913" in proxied.sent(to="+14155550104").body


def _connect(port: int, target: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return sock, answer


def test_other_hosts_are_refused_and_never_tunnelled(proxied: Proxied) -> None:
    sock, answer = _connect(proxied.port, "example.com:443")
    body = answer + sock.recv(4096)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b'"code":20403' in body
    assert b"not an open proxy" in body

    plain = socket.create_connection(("127.0.0.1", proxied.port), timeout=10)
    plain.sendall(b"GET http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n")
    assert plain.recv(4096).startswith(b"HTTP/1.1 403 ")
    plain.close()


def test_a_plain_http_request_in_absolute_form_is_served_as_on_the_base_url(
    proxied: Proxied,
) -> None:
    """What a client behind HTTP_PROXY sends for an http:// Twilio URL; kept alive."""
    auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    path = f"http://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}.json"
    sock = socket.create_connection(("127.0.0.1", proxied.port), timeout=10)
    with sock, sock.makefile("rb") as answers:
        for _ in range(2):
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: api.twilio.com\r\n"
                f"Authorization: Basic {auth}\r\n\r\n".encode()
            )
            assert answers.readline().startswith(b"HTTP/1.1 200 ")
            length = 0
            while (line := answers.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            assert json.loads(answers.read(length))["sid"] == ACCOUNT_SID


def test_the_operator_may_let_other_hosts_through_as_a_blind_tunnel(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    """Off by default (the refusal names the setting); on, CONNECT to another host relays
    bytes both ways untouched (here to an echo server on loopback)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    loop = asyncio.new_event_loop()
    echo_server = loop.run_until_complete(asyncio.start_server(echo, "127.0.0.1", 0))
    echo_port = echo_server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with _proxy(fresh_database(), tmp_path) as closed:
            sock, answer = _connect(closed.port, f"127.0.0.1:{echo_port}")
            body = answer + sock.recv(4096)
            sock.close()
            assert answer.startswith(b"HTTP/1.1 403 ")
            assert b"--intercept-tunnel" in body
        (tmp_path / "open").mkdir()
        with _proxy(fresh_database(), tmp_path / "open", intercept_tunnel="true") as opened:
            sock, answer = _connect(opened.port, f"127.0.0.1:{echo_port}")
            assert answer.startswith(b"HTTP/1.1 200 ")
            payload = bytes(range(256)) * 1024  # 256 KiB, over a transport's buffer
            sock.sendall(payload)
            received = b""
            while len(received) < len(payload):
                chunk = sock.recv(65536)
                assert chunk, "the tunnel closed early"
                received += chunk
            sock.close()
            assert received == payload
    finally:
        loop.call_soon_threadsafe(echo_server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_certificate_is_for_the_host_asked_for_and_from_textrelays_ca(
    proxied: Proxied,
) -> None:
    ca_pem = proxied.textrelay("ca").stdout
    assert ca_pem == proxied.textrelay("ca").stdout  # one CA, kept in the database
    context = ssl.create_default_context(cadata=ca_pem)

    for asked, checked, verifies in [
        ("api.sydney.au1.twilio.com", "api.sydney.au1.twilio.com", True),
        ("messaging.twilio.com", "messaging.twilio.com", True),
        ("api.twilio.com", "messaging.twilio.com", False),  # another host's name: refused
    ]:
        sock, answer = _connect(proxied.port, f"{asked}:443")
        assert answer.startswith(b"HTTP/1.1 200 ")
        try:
            with context.wrap_socket(sock, server_hostname=checked) as secured:
                assert verifies
                der = secured.getpeercert(binary_form=True)
                assert der is not None
                presented = x509.load_der_x509_certificate(der)
                names = presented.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName
                ).value.get_values_for_type(x509.DNSName)
                assert names == [asked]
        except ssl.SSLCertVerificationError:
            assert not verifies
        finally:
            sock.close()


def test_the_ca_is_constrained_to_twilio_and_its_key_stays_in_the_private_database(
    proxied: Proxied,
) -> None:
    ca_pem = proxied.textrelay("ca").stdout
    authority = x509.load_pem_x509_certificate(ca_pem.encode())
    constraints = authority.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.permitted_subtrees == [x509.DNSName("twilio.com")]
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    exports = proxied.exports()
    for name in ("REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"):
        written = Path(exports[name]).read_text()
        assert ca_pem in written
        assert "PRIVATE KEY" not in written
    if proxied.database_url.startswith("sqlite:///"):
        database = Path(proxied.database_url.removeprefix("sqlite:///"))
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert exports["NO_PROXY"] == "localhost,127.0.0.1,::1"
    assert exports["HTTPS_PROXY"] == f"http://127.0.0.1:{proxied.port}"


def test_without_the_proxy_a_connect_is_told_which_setting_would_serve_it(
    server: TextrelayServer,
) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    sock, answer = _connect(port, "api.twilio.com:443")
    body = answer.split(b"\r\n\r\n", 1)[1] or sock.recv(4096)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 501 ")
    error = json.loads(body)
    assert (error["code"], error["status"]) == (20501, 501)
    assert "--intercept-port" in error["message"]
    assert "docs/intercept.md" in error["message"]
