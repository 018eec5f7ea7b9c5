"""End to end through SMPP against the simulator, in one run: create → submit_sm → receipt from
the scripted SMSC → verified `delivered` callback, and create → simulated carrier → the same.

    .venv/bin/python bench/e2e_smpp.py [--seconds 10] [--rounds 2] [--window 10] [--binds 1]

Starts the scripted SMSC of the tests (tests/smsc/smsc.js on npm's `smpp`, through
tests/smsc_driver.py) once; it accepts the carrier's bind, answers every submit_sm at once and
sends a DELIVRD receipt for each right after its submit_sm_resp. Then runs `--rounds` pairs of
rounds, alternating: a simulator round (`textrelay serve` without a carriers file) and an SMPP round
(`textrelay serve --carriers FILE`, one SMPP carrier to that SMSC with `--window`, `--binds`,
`--rate-per-s`, and one route taking every message). Each round is one run of
bench/e2e_delivery.py's measurement on a fresh database (SQLite, or a fresh schema of
`--database-url`): warm-up, `--seconds` of creates with a StatusCallback at an in-process
receiver that checks every signature, then a bounded drain until every `delivered` callback
is in. Prints each round's figures, the SMSC's counts for the round (submits and receipts must
equal the messages created, warm-up included), and per pair the ratio SMPP / simulator of
end-to-end throughput and of textrelay's CPU per message.

Pinning (with taskset): textrelay on core 0; this process (load generator, receiver, the SMSC
driver's reader thread) and the SMSC (node) on core 1. Every loop is bounded in count and
time; the script stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.smsc_driver import ScriptedSmsc

from bench.e2e_delivery import (
    Run,
    Summary,
    add_arguments,
    check_arguments,
    cpu_seconds,
    database_name,
    fresh_database,
    percentile_ms,
    pin_this_process,
    run_measure,
    server_cpu_ms_per_message,
    summarize,
    textrelay_server,
)
from bench.harness import can_pin

CARRIER = "smsc1"
SYSTEM_ID = "textrelay"
PASSWORD = secrets.token_hex(4)
"""Made up for the run (SMPP 3.4 allows 8 characters); the SMSC accepts no other."""
BIND_TIMEOUT_S = 30.0
BIND_POLL_S = 0.05
MAX_ROUNDS = 10
SIMULATOR = "simulator"
SMPP = "smpp"
SMSC_COUNTS = ("submits", "receipts_sent", "binds", "errors", "refused_receipts")
TARGET_RATIO = 0.8
"""The issue's floor: SMPP end-to-end throughput at least this share of the simulator's."""


@dataclass(frozen=True)
class Round:
    number: int
    path: str
    run: Run
    summary: Summary
    smsc: dict[str, int]
    """What the SMSC counted during the round (warm-up included): submits, receipts_sent…"""
    smsc_cpu_s: float

    @property
    def messages(self) -> int:
        """Every message the round created, warm-up included: each one submit_sm on SMPP."""
        return self.run.warmup_messages + len(self.summary.sids)

    @property
    def complete(self) -> bool:
        return self.run.complete and not self.run.receiver.bad_signatures


def carriers_toml(smsc_port: int, args: argparse.Namespace) -> str:
    routing = "" if args.pdu_log else "[routing]\npdu_log = false\n\n"
    return (
        f"{routing}[[carrier]]\n"
        f'name = "{CARRIER}"\n'
        'type = "smpp"\n'
        'host = "127.0.0.1"\n'
        f"port = {smsc_port}\n"
        f'system_id = "{SYSTEM_ID}"\n'
        f'password = "{PASSWORD}"\n'
        f"window = {args.window}\n"
        f"rate_per_s = {args.rate_per_s:g}\n"
        f"binds = {args.binds}\n"
        "\n[[route]]\n"
        f'carrier = "{CARRIER}"\n'
    )


def child_pids(command_name: str) -> list[int]:
    """This process's children whose command is `command_name` (Linux /proc)."""
    pids: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in children:
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm == command_name:
                pids.append(int(pid))
    return pids


def smsc_counts(smsc: ScriptedSmsc) -> dict[str, int]:
    """The SMSC's counters, and what went wrong so far: PDUs it could not read (`errors`) and
    receipts textrelay answered with an error status (`refused_receipts`)."""
    stats = smsc.stats()
    counts = {k: int(v) for k, v in stats.items() if isinstance(v, int)}
    counts["errors"] = len(smsc.events("error"))
    counts["refused_receipts"] = sum(
        1 for e in smsc.events("deliver_sm_resp") if e.get("command_status")
    )
    return counts


def wait_until_bound(smsc: ScriptedSmsc, binds: int, timeout_s: float) -> bool:
    """Until `binds` sessions are bound at the SMSC, or `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / BIND_POLL_S) + 1):
        if int(smsc.stats().get("sessions_bound", 0)) >= binds:
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(BIND_POLL_S)
    return False


def one_round(
    args: argparse.Namespace,
    number: int,
    path: str,
    smsc: ScriptedSmsc,
    smsc_pid: int | None,
    carriers_file: Path,
) -> Round:
    extra = ("--carriers", str(carriers_file)) if path == SMPP else ()
    with (
        fresh_database(args) as database_url,
        textrelay_server(args, database_url, extra) as served,
    ):
        port, pid = served
        if path == SMPP and not wait_until_bound(smsc, args.binds, BIND_TIMEOUT_S):
            raise RuntimeError(f"textrelay did not bind {args.binds} time(s) in {BIND_TIMEOUT_S} s")
        before = smsc_counts(smsc)
        smsc_cpu_before = cpu_seconds(smsc_pid) if smsc_pid else float("nan")
        run = run_measure(args, port, pid)
        smsc_cpu = (cpu_seconds(smsc_pid) if smsc_pid else float("nan")) - smsc_cpu_before
        after = smsc_counts(smsc)
    counts = {k: after[k] - before.get(k, 0) for k in SMSC_COUNTS}
    return Round(number, path, run, summarize(run), counts, smsc_cpu)


def print_round(r: Round) -> None:
    s, run = r.summary, r.run
    missing = len(s.sids) - len(s.delivered)
    print(
        f"round {r.number} {r.path:<9} creates {run.creates.rate:6.0f}/s  end to end "
        f"{s.end_to_end_per_s:6.0f} msg/s  create → delivered p50/p90/p99 "
        f"{percentile_ms(s.to_delivered, 0.5):.1f}/{percentile_ms(s.to_delivered, 0.9):.1f}/"
        f"{percentile_ms(s.to_delivered, 0.99):.1f} ms  textrelay "
        f"{server_cpu_ms_per_message(run):.2f} ms CPU a message "
        f"({run.server_cpu_s / run.wall_s:.0%} of core 0)  generator+receiver "
        f"{run.bench_cpu_s / run.wall_s:.0%}",
        flush=True,
    )
    smsc_line = (
        f"SMSC: {r.smsc['submits']} submit_sm, {r.smsc['receipts_sent']} receipts for "
        f"{r.messages} messages (warm-up {run.warmup_messages} included); re-binds "
        f"{r.smsc['binds']}, unreadable PDUs {r.smsc['errors']}, receipts answered with an "
        f"error {r.smsc['refused_receipts']}; node "
        f"{r.smsc_cpu_s * 1000 / r.messages if r.messages else float('nan'):.2f} ms CPU a "
        "message"
        if r.path == SMPP
        else f"SMSC: {r.smsc['submits']} submit_sm (idle, as it should be)"
    )
    print(
        f"  {len(s.sids)} messages, {len(s.delivered)} delivered, missing {missing}, "
        f"callbacks {s.callbacks_per_message:.3f} a message, signature failures "
        f"{run.receiver.bad_signatures}, drain {run.waited_s:.2f} s"
        f"{'' if run.complete else ' (TIMED OUT)'}; {smsc_line}",
        flush=True,
    )


def smsc_checks_out(r: Round) -> bool:
    if r.path == SMPP:
        return r.smsc["submits"] == r.messages and r.smsc["receipts_sent"] == r.messages
    return r.smsc["submits"] == 0


def report(args: argparse.Namespace, rounds: list[Round], smsc_affinity: str) -> None:
    print()
    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    load = f"paced at {args.rate:g}/s" if args.rate else "back to back"
    print(
        f"settings: {args.seconds:g} s of creates a round, {args.concurrency} connections, "
        f"{load}, database {database_name(args)} (fresh each round); SMPP carrier: "
        f"window {args.window}, binds {args.binds}, rate_per_s {args.rate_per_s:g}, "
        f"transceiver, pdu_log {'on' if args.pdu_log else 'off'}; SMSC: DELIVRD receipt for "
        "every submit, receipt_delay_ms 0, answer_delay_ms 0"
    )
    print(
        "pinning: "
        + (
            f"textrelay core 0; generator + receiver + SMSC driver core 1; SMSC (node) "
            f"{smsc_affinity}"
            if can_pin(args)
            else "none"
        )
    )
    print(
        f"{'round':<7}{'path':<11}{'creates/s':>10}{'e2e msg/s':>11}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'CPU ms/msg':>12}{'core 0':>8}{'missing':>9}{'SMSC ok':>9}"
    )
    for r in rounds:
        s = r.summary
        print(
            f"{r.number:<7}{r.path:<11}{r.run.creates.rate:>10.0f}{s.end_to_end_per_s:>11.0f}"
            f"{percentile_ms(s.to_delivered, 0.5):>9.1f}{percentile_ms(s.to_delivered, 0.9):>9.1f}"
            f"{percentile_ms(s.to_delivered, 0.99):>9.1f}{server_cpu_ms_per_message(r.run):>12.2f}"
            f"{r.run.server_cpu_s / r.run.wall_s:>8.0%}{len(s.sids) - len(s.delivered):>9}"
            f"{'yes' if smsc_checks_out(r) else 'NO':>9}"
        )
    throughput: list[float] = []
    cpu: list[float] = []
    for n, (sim, smpp) in enumerate(zip(rounds[::2], rounds[1::2], strict=True), start=1):
        t = smpp.summary.end_to_end_per_s / sim.summary.end_to_end_per_s
        c = server_cpu_ms_per_message(smpp.run) / server_cpu_ms_per_message(sim.run)
        throughput.append(t)
        cpu.append(c)
        print(
            f"pair {n} (rounds {sim.number}, {smpp.number}): SMPP / simulator end-to-end "
            f"throughput {t:.2f}, textrelay CPU a message {c:.2f}"
        )
    t_median, c_median = statistics.median(throughput), statistics.median(cpu)
    print(
        f"median of the pairs: throughput ratio {t_median:.2f} "
        f"({'meets' if t_median >= TARGET_RATIO else 'BELOW'} the {TARGET_RATIO:g}× floor), "
        f"CPU-per-message ratio {c_median:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument(
        "--rounds", type=int, default=2, help="pairs of rounds (simulator, then SMPP)"
    )
    parser.add_argument("--window", type=int, default=10, help="SMPP: submits in flight a bind")
    parser.add_argument("--binds", type=int, default=1, help="SMPP: transceiver binds")
    parser.add_argument(
        "--rate-per-s", type=float, default=0.0, help="SMPP: submits a second a bind (0: no limit)"
    )
    parser.add_argument(
        "--pdu-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="SMPP: record each message's PDUs (the carriers file's default)",
    )
    args = parser.parse_args()
    check_arguments(parser, args)
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"keep --rounds in [1, {MAX_ROUNDS}]")
    if not 1 <= args.window <= 1000 or not 1 <= args.binds <= 16:
        parser.error("keep --window in [1, 1000] and --binds in [1, 16]")
    if not 0 <= args.rate_per_s <= 100_000:
        parser.error("keep --rate-per-s in [0, 100000]")

    # Pinned first, so that node, started below, inherits core 1.
    pin_this_process(args)
    rounds: list[Round] = []
    with (
        tempfile.TemporaryDirectory(prefix="textrelay-e2e-smpp-") as tmp,
        ScriptedSmsc() as smsc,
    ):
        smsc.configure(
            accounts={SYSTEM_ID: PASSWORD},
            submit="ok",
            answer_delay_ms=0,
            auto_receipt="DELIVRD",
            receipt_delay_ms=0,
            receipt_first=False,
            duplicate_receipts=False,
        )
        smsc_pids = child_pids("node")
        smsc_pid = smsc_pids[0] if len(smsc_pids) == 1 else None
        smsc_affinity = (
            "core " + ",".join(map(str, sorted(os.sched_getaffinity(smsc_pid))))
            if smsc_pid
            else "(not found)"
        )
        carriers_file = Path(tmp) / "carriers.toml"
        carriers_file.write_text(carriers_toml(smsc.port, args))
        for n in range(2 * args.rounds):
            path = SIMULATOR if n % 2 == 0 else SMPP
            rounds.append(one_round(args, n + 1, path, smsc, smsc_pid, carriers_file))
            print_round(rounds[-1])
    report(args, rounds, smsc_affinity)
    return 0 if all(r.complete and smsc_checks_out(r) for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
