"""The test SMSC: tests/smsc/smsc.js, an SMPP 3.4 server on the npm `smpp` package, as a child.

textrelay's SMPP carrier is tested against an SMSC that neither textrelay nor its SMPP client
(`smpp34`) wrote. `ScriptedSmsc` installs the npm package into tests/smsc/node_modules (once per
change of its package.json), starts `node smsc.js --port 0`, and scripts it over its stdin/stdout:

    with ScriptedSmsc() as smsc:
        smsc.configure(submit=[0x58, 0x58, 0x58], auto_receipt="DELIVRD")
        ...  # bind the carrier to 127.0.0.1:smsc.port and send
        [submit] = smsc.wait_for("submit_sm", lambda e: e["command_status"] == 0)
        smsc.receipt(submit["message_id"], stat="UNDELIV", err=1)

Commands (a JSON object a line on stdin, {"cmd": ..., "id": ...}), each answered by
{"event": "done", "id", "cmd", "ok": true, ...} or {... "ok": false, "error": "..."}:
  configure  any of these settings (the others keep their values); answers {"config": {all}}
      accounts            null: any bind accepted | {system_id: password}; an unknown system_id
                          is refused with ESME_RBINDFAIL 0x0D, a wrong password ESME_RINVPASWD 0x0E
      submit              "ok" | "no_answer" | a command_status for every submit_sm | a list of
                          those, one per submit_sm, then "ok" again
      answer_delay_ms     before each submit_sm_resp
      auto_receipt        null | a stat (DELIVRD UNDELIV EXPIRED REJECTD UNKNOWN DELETED ACCEPTD
                          ENROUTE): a receipt for each accepted submit_sm whose registered_delivery
                          asks for one (0x01; 0x02 only for a stat other than DELIVRD)
      receipt_err         the receipt's err: field (a number is written with 3 digits)
      receipt_delay_ms    after the submit_sm_resp (with receipt_first: after the submit_sm)
      receipt_first       the receipt goes out before the submit_sm_resp
      duplicate_receipts  every automatic receipt is sent twice
  receipt    message_id, stat, err; text (Latin-1 short_message instead of the standard text) or
             hex (raw short_message); tlvs: false (no receipted_message_id / message_state);
             source, destination, system_id, esm_class. Answers {sent, queued}.
  mo         source, destination, text (GSM-7 unpacked for data_coding 0, UCS-2 for 8; default 0
             when the text fits GSM-7) or hex; total, seq, ref, concat ("udh": `05 00 03 ref total
             seq` with esm_class 0x40, or "sar": TLVs); or split: N parts of the text, with omit
             (part numbers) and reverse; system_id; source_ton/_npi, dest_ton/_npi (default 1/1).
             Answers {sent: [{session, sequence_number}], queued, ref, total}.
  raw        hex, session (default: every connection): octets written as they are
  drop       every connection closed without an unbind (reset: true sends a TCP RST)
  unbind     an unbind to every bound session, each closed on its unbind_resp
  stats      binds, binds_refused, submits, receipts_sent, mos_sent, sessions_open,
             sessions_bound, pending, sessions: [{session, system_id, kind}]
  stop       ends every connection and exits 0 (so does the end of stdin)
Events (a JSON object a line on stdout; "session" is a connection's number):
  listening        port
  bind             session, kind (transceiver|transmitter|receiver), system_id, password,
                   system_type, interface_version, accepted, command_status
  submit_sm        session, system_id, sequence_number, every mandatory field (short_message as
                   hex), tlvs {name: hex}; command_status and message_id ("a0000001", "a0000002"...
                   for each accepted submit_sm of this SMSC), or answer: "no_answer"
  deliver_sm       one sent: session, sequence_number, kind (receipt: message_id, stat; mo: part,
                   total), and the fields as in submit_sm
  deliver_sm_resp  session, sequence_number, command_status, command (generic_nack if nacked)
  generic_nack     session, sequence_number, command_status: the ESME could not take a PDU
  enquire_link, unbind, unbind_resp (command_status), close (system_id)
  error            message: a malformed PDU, an unsupported command, a line that is no command
A deliver_sm for which no bound receiver (transceiver or receiver, of the message's system_id)
exists waits for the next one, as SMSCs store and forward.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from tests.npm_packages import NpmError, ensure_packages

SMSC_DIR = Path(__file__).resolve().parent / "smsc"
START_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0

Event = dict[str, Any]
T = TypeVar("T")


class SmscError(RuntimeError):
    """The test SMSC could not be installed or started, exited, or refused a command."""


def ensure_installed() -> str:
    """Installs tests/smsc's npm packages unless done for this package.json; returns `node`.

    Parallel pytest workers (and scripts/smsc) take turns under a file lock; the one that waited
    finds the stamp and does nothing. Raises `SmscError` saying why, so SMPP tests fail, not skip.
    """
    try:
        return ensure_packages(SMSC_DIR, "smpp")
    except NpmError as exc:
        raise SmscError(f"the test SMSC: {exc}") from exc


class ScriptedSmsc:
    """`node tests/smsc/smsc.js --port 0`, scripted; every wait is bounded by a timeout."""

    def __init__(
        self,
        *,
        log: bool = False,
        start_timeout_s: float = START_TIMEOUT_S,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """Starts the SMSC on a free port of 127.0.0.1; `log` echoes each PDU to stderr; `tls`
        (key file, certificate file) serves SMPP over TLS."""
        node = ensure_installed()
        command = [node, str(SMSC_DIR / "smsc.js"), "--port", "0", *(["--log"] if log else [])]
        if tls is not None:
            command += ["--tls-key", str(tls[0]), "--tls-cert", str(tls[1])]
        self._condition = threading.Condition()
        self._events: list[Event] = []
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        self._ended = False
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._log = log
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_events, args=(self._process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            [listening] = self.wait_for("listening", timeout_s=start_timeout_s)
        except (AssertionError, SmscError) as exc:
            self.stop()
            raise SmscError(f"smsc.js did not start: {exc}") from exc
        self._port = int(listening["port"])

    @property
    def port(self) -> int:
        """The SMPP port on 127.0.0.1."""
        return self._port

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- commands -----------------------------------------------------------------------------

    def send(self, command: dict[str, Any], *, timeout_s: float = ANSWER_TIMEOUT_S) -> Event:
        """Sends `command` (given an "id" if it has none) and returns its "done" answer.

        Raises `SmscError` if the SMSC refuses it ("ok": false), has exited, or does not answer.
        """
        command = {"id": next(self._ids), **command}
        line = json.dumps(command) + "\n"
        with self._write_lock:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(line)
                self._process.stdin.flush()
            except (OSError, ValueError) as exc:  # ValueError: stdin already closed
                raise SmscError(f"smsc.js is not running: {self._exited()}") from exc

        def answered(event: Event) -> bool:
            return bool(event.get("id") == command["id"])

        try:
            [done] = self.wait_for("done", answered, timeout_s=timeout_s)
        except AssertionError as exc:
            raise SmscError(f"no answer to {command['cmd']!r}: {exc}") from exc
        if not done.get("ok"):
            raise SmscError(f"smsc.js refused {command}: {done.get('error')}")
        return done

    def configure(self, **settings: object) -> dict[str, Any]:
        """Changes the settings named (see the module docstring); returns all of them."""
        config: dict[str, Any] = self.send({"cmd": "configure", **settings})["config"]
        return config

    def receipt(
        self,
        message_id: str | None = None,
        *,
        stat: str = "DELIVRD",
        err: int | str = 0,
        short_message: str | bytes | None = None,
        tlvs: bool = True,
        source: str | None = None,
        destination: str | None = None,
        system_id: str | None = None,
        esm_class: int | None = None,
    ) -> Event:
        """Sends a delivery receipt now: for `message_id` (issued or not), or with a
        `short_message` of the test's own (str: Latin-1 text; bytes: raw octets)."""
        command: dict[str, Any] = {"cmd": "receipt", "stat": stat, "err": err, "tlvs": tlvs}
        if isinstance(short_message, bytes):
            command["hex"] = short_message.hex()
        elif short_message is not None:
            command["text"] = short_message
        optional = {
            "message_id": message_id,
            "source": source,
            "destination": destination,
            "system_id": system_id,
            "esm_class": esm_class,
        }
        return self.send(command | {k: v for k, v in optional.items() if v is not None})

    def mo(
        self,
        source: str,
        destination: str,
        text: str | bytes,
        *,
        data_coding: int | None = None,
        total: int | None = None,
        seq: int | None = None,
        ref: int | None = None,
        concat: str = "udh",
        split: int | None = None,
        omit: Iterable[int] = (),
        reverse: bool = False,
        system_id: str | None = None,
    ) -> Event:
        """Sends a mobile-originated message now (bytes: the short_message octets as they are);
        `total`/`seq`/`ref` mark one part of a concatenated message, `split` cuts `text` into
        that many parts itself (`omit`: part numbers not to send)."""
        command: dict[str, Any] = {
            "cmd": "mo",
            "source": source,
            "destination": destination,
            "concat": concat,
            "omit": list(omit),
            "reverse": reverse,
        }
        if isinstance(text, bytes):
            command["hex"] = text.hex()
        else:
            command["text"] = text
        optional = {
            "data_coding": data_coding,
            "total": total,
            "seq": seq,
            "ref": ref,
            "split": split,
            "system_id": system_id,
        }
        return self.send(command | {k: v for k, v in optional.items() if v is not None})

    def raw(self, octets: bytes, *, session: int | None = None) -> list[int]:
        """Writes `octets` to one session's connection, or every one; returns the sessions."""
        command: dict[str, Any] = {"cmd": "raw", "hex": octets.hex()}
        if session is not None:
            command["session"] = session
        sessions: list[int] = self.send(command)["sessions"]
        return sessions

    def drop(self, *, reset: bool = False) -> list[int]:
        """Closes every connection with no unbind (`reset`: a TCP RST); returns the sessions."""
        dropped: list[int] = self.send({"cmd": "drop", "reset": reset})["dropped"]
        return dropped

    def unbind(self) -> list[int]:
        """Sends an unbind to every bound session; returns the sessions."""
        sessions: list[int] = self.send({"cmd": "unbind"})["sessions"]
        return sessions

    def stats(self) -> dict[str, Any]:
        """Counts: binds, binds_refused, submits, receipts_sent, mos_sent, sessions_open..."""
        done = self.send({"cmd": "stats"})
        return {k: v for k, v in done.items() if k not in {"event", "id", "cmd", "ok"}}

    def stop(self) -> None:
        """Stops the SMSC (asking first, then killing) and releases its pipes. Idempotent."""
        if self._process.poll() is None:
            # If it exited meanwhile, or is stuck, there is no answer: it is killed below.
            with contextlib.suppress(SmscError):
                self.send({"cmd": "stop"}, timeout_s=STOP_TIMEOUT_S)
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(STOP_TIMEOUT_S)
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)
        for pipe in (self._process.stdin, self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()

    # -- events -------------------------------------------------------------------------------

    def events(self, kind: str | None = None) -> list[Event]:
        """Every event so far (of `kind`, if given), oldest first."""
        with self._condition:
            return [e for e in self._events if kind is None or e["event"] == kind]

    def wait_for(
        self,
        kind: str,
        predicate: Callable[[Event], bool] | None = None,
        *,
        count: int = 1,
        timeout_s: float = 10.0,
    ) -> list[Event]:
        """The first `count` events of `kind` (matching `predicate`) since the start, once there
        are that many; past `timeout_s` an AssertionError says what came instead."""

        def matching() -> list[Event]:
            return [
                e
                for e in self._events
                if e["event"] == kind and (predicate is None or predicate(e))
            ]

        def enough() -> list[Event] | None:
            found = matching()
            return found[:count] if len(found) >= count else None

        return self._wait(enough, timeout_s, f"{count} {kind!r} event(s)", matching)

    def _wait(
        self,
        found: Callable[[], T | None],
        timeout_s: float,
        what: str,
        so_far: Callable[[], object],
    ) -> T:
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while True:
                result = found()
                if result is not None:
                    return result
                if self._ended:
                    raise SmscError(f"smsc.js ended while waiting for {what}: {self._exited()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"not within {timeout_s:g} s: {what}; matching so far: {so_far()!r}; "
                        f"last events: {self._events[-5:]!r}"
                    )
                self._condition.wait(remaining)

    def _read_events(self, stdout: IO[str]) -> None:
        for line in stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "error", "message": f"smsc.js printed no JSON: {line!r}"}
            with self._condition:
                self._events.append(event)
                self._condition.notify_all()
        with self._condition:
            self._ended = True
            self._condition.notify_all()

    def _read_stderr(self, stderr: IO[str]) -> None:
        for line in stderr:
            self._stderr.append(line.rstrip("\n"))
            if self._log:
                sys.stderr.write(line)

    def _exited(self) -> str:
        # Only on the way to an error: give an exiting process a moment to say why.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(1)
        self._threads[1].join(1)
        code = self._process.poll()
        status = "still running" if code is None else f"exit status {code}"
        return f"{status}; stderr: {' | '.join(list(self._stderr)[-20:]) or '(none)'}"
