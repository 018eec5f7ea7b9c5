"""A long handset message put back together from its parts.

Facts: shared/carriers/smpp-facts.md "Encoding and long messages". A handset's long message
reaches textrelay as several `deliver_sm`, each with its Concatenation (from a UDH or SAR TLVs:
encoding.py), in any order, possibly twice (an SMSC resends a part whose deliver_sm_resp it
missed). The parts are kept by the caller, keyed by sender, recipient and reference; these
functions say whether they make a whole. What to do about parts that never come is the caller's
policy: Twilio gives up with 30009 "Missing inbound segment" (messaging-and-webhooks.md §11).

A limitation: each part is decoded alone, so a UCS-2 surrogate pair that a handset split
between two parts arrives as two U+FFFD (textrelay's own split never does that: encoding.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def missing_parts(sequences: Iterable[int], total: int) -> tuple[int, ...]:
    """The sequence numbers in 1..`total` not among `sequences`, in order."""
    received = set(sequences)
    return tuple(seq for seq in range(1, total + 1) if seq not in received)


def assemble(parts: Sequence[tuple[int, str]], total: int) -> str | None:
    """The whole text when `parts` ((sequence, text) pairs, any order) cover 1..`total`; None
    while any is missing (or `total` is below 1).

    A repeated sequence number is a resent part: the first received is kept. Sequence numbers
    outside 1..`total` are ignored (a handset's or SMSC's error, not part of this message).
    """
    if total < 1:
        return None
    texts: dict[int, str] = {}
    for seq, text in parts:
        if 1 <= seq <= total:
            texts.setdefault(seq, text)
    if len(texts) < total:
        return None
    return "".join(texts[seq] for seq in range(1, total + 1))
