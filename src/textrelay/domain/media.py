"""MMS media: the Media resource, what Twilio accepts, and how big it may be.

Facts: shared/twilio/messaging-and-webhooks.md §7.4; api-core.md §2.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_MMS_BYTES = 5 * 1024 * 1024
"""MMS total size (§7.4); a fetch stops one byte past it."""

# MMS-capable types (§7.4), matched on the media type without parameters.
ACCEPTED_CONTENT_TYPES = frozenset(
    {
        *(f"image/{t}" for t in ("jpeg", "jpg", "gif", "png", "heic", "heif", "tiff", "bmp")),
        *(
            f"video/{t}"
            for t in (
                "mpeg4",
                "mp4",
                "mpeg",
                "webm",
                "quicktime",
                "3gpp",
                "3gpp2",
                "3gpp-tt",
                "h261",
                "h263",
                "h263-1998",
                "h263-2000",
                "h264",
                "h265",
            )
        ),
        *(
            f"audio/{t}"
            for t in (
                "ogg",
                "mpeg",
                "mp4",
                "mp3",
                "3gpp",
                "3gpp2",
                "basic",
                "l24",
                "vnd.rn-realaudio",
                "vnd.wave",
                "ac3",
                "webm",
                "amr-nb",
                "amr",
            )
        ),
        *(
            f"text/{t}"
            for t in ("vcard", "x-vcard", "directory", "csv", "richtext", "rtf", "calendar")
        ),
        "application/pdf",
    }
)


def media_type(content_type: str | None) -> str:
    """`image/png` from `image/png; charset=…`, lower-cased; "" when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_accepted(content_type: str | None) -> bool:
    return media_type(content_type) in ACCEPTED_CONTENT_TYPES


@dataclass(frozen=True, slots=True)
class Media:
    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    size_bytes: int
    date_created: datetime
    date_updated: datetime
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class MediaFailure:
    """Why media could not be taken: the message fails with this code (codes.MEDIA_TOO_LARGE,
    codes.INVALID_CONTENT_TYPE or codes.HTTP_RETRIEVAL_FAILURE)."""

    code: int
    message: str
