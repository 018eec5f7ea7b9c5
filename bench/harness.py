"""What the benchmarks share: their processes (free ports, pinning to a core, start and stop)
and a minimal keep-alive HTTP/1.1 client, so the load generator is never the bottleneck."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "5e" * 16
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def can_pin(args: argparse.Namespace) -> bool:
    return bool(args.pin and shutil.which("taskset"))


def pinned(args: argparse.Namespace, core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if can_pin(args) else command


def on_every_core(args: argparse.Namespace, command: list[str]) -> list[str]:
    """`command` free to run on every core: it would otherwise inherit the affinity of the
    bench process, which pins itself to core 1."""
    every = f"0-{(os.cpu_count() or 1) - 1}"
    return ["taskset", "-c", every, *command] if can_pin(args) else command


@contextmanager
def running(command: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    """Run `command` until the block ends; yields its pid once it listens on `port`. Its
    stderr goes to a temporary file, not a pipe: a pipe nobody reads blocks a chatty server
    once it fills (64 KiB), and a run then looks like a hang."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(f"{command[0]} exited: {errors.read().decode()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{command} did not listen on {port}") from None
                    time.sleep(0.05)
            yield process.pid
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def request_bytes(
    method: str,
    path: str,
    port: int,
    body: bytes = b"",
    *,
    account: tuple[str, str] = (ACCOUNT_SID, AUTH_TOKEN),
) -> bytes:
    """One whole HTTP/1.1 request, authenticated as `account` (SID, auth token): by default
    the benchmark's own."""
    auth = b64encode(f"{account[0]}:{account[1]}".encode()).decode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {auth}\r\nAccept: application/json\r\n"
    )
    if body:
        head += (
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        )
    return head.encode() + b"\r\n" + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request on a kept-alive connection; its status and body."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""
