"""SMPP times: a message's validity period in the relative format.

Facts: shared/carriers/smpp-facts.md "Sessions": `YYMMDDhhmmss000R`, 16 characters, added by the
SMSC to its own clock. A relative time needs no agreement on the SMSC's time zone, which the
absolute format (`YYMMDDhhmmsstnnp`) does, so textrelay sends only relative validity periods.
"""

from __future__ import annotations

MAX_RELATIVE_DAYS = 99
"""Days are written with two digits. Longer periods would need the months and years fields,
whose length in days the SMSC alone decides (calendar or fixed), so textrelay caps here: no
SMSC keeps a message that long anyway, and Twilio's ValidityPeriod stops at 10 hours
(shared/twilio/messaging-and-webhooks.md §11, 21624)."""
MAX_RELATIVE_SECONDS = MAX_RELATIVE_DAYS * 86400 + 23 * 3600 + 59 * 60 + 59


def relative_validity(seconds: int) -> str:
    """`seconds` from now as an SMPP relative time: 36000 → `000000100000000R`.

    Written in days, hours, minutes and seconds (years and months stay 00); capped at
    MAX_RELATIVE_SECONDS. ValueError for a negative period.
    """
    if seconds < 0:
        raise ValueError(f"a validity period cannot be negative: {seconds}")
    seconds = min(seconds, MAX_RELATIVE_SECONDS)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    # YY MM DD hh mm ss, then t (tenths) = 0, nn (quarter hours to UTC) = 00, R for relative.
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"
