"""The listening sockets of `serve --processes N` (textrelay/app.py `listening_group`): one a
serving process, in one SO_REUSEPORT group, on real sockets of 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from textrelay.app import listening_group

CONNECTIONS = 40


def _accepted(sock: socket.socket) -> int:
    sock.setblocking(False)
    count = 0
    while True:
        try:
            accepted, _ = sock.accept()
        except BlockingIOError:
            return count
        accepted.close()
        count += 1


def test_connections_opened_at_once_are_spread_over_every_socket_of_the_group() -> None:
    group = listening_group("127.0.0.1", 0, 2)
    clients: list[socket.socket] = []
    try:
        port = group[0].getsockname()[1]
        assert [s.getsockname()[1] for s in group] == [port, port]
        # Opened before anyone accepts, as a client's pool opens them: on one shared socket
        # the first process to wake took them all.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        counts = [_accepted(s) for s in group]
        assert sum(counts) == CONNECTIONS
        assert min(counts) > 0, counts  # all 40 on one socket: a chance of 2^-39 when spread
    finally:
        for sock in (*clients, *group):
            sock.close()


@pytest.mark.parametrize("held_by", ["a plain listener", "another reuse-port group"])
def test_a_port_another_server_listens_on_is_refused_not_joined(held_by: str) -> None:
    if held_by == "a plain listener":
        holder = socket.create_server(("127.0.0.1", 0))
    else:
        holder = socket.create_server(("127.0.0.1", 0), reuse_port=True)
    try:
        port = holder.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            listening_group("127.0.0.1", port, 2)
    finally:
        holder.close()


def test_one_process_gets_one_plain_socket() -> None:
    (sock,) = listening_group("127.0.0.1", 0, 1)
    try:
        assert not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize("count", [1, 2])
def test_an_ipv6_address_is_listened_on_and_the_any_address_takes_ipv4_too(count: int) -> None:
    for host, reaches in (("::1", "::1"), ("::", "::1"), ("::", "127.0.0.1")):
        group = listening_group(host, 0, count)
        try:
            port = group[0].getsockname()[1]
            with socket.create_connection((reaches, port), timeout=5):
                pass
            assert sum(_accepted(s) for s in group) == 1, (host, reaches)
        finally:
            for sock in group:
                sock.close()
