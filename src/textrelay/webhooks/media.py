"""Fetching MMS media from the app's MediaUrl, bounded in time and size.

Facts: shared/twilio/messaging-and-webhooks.md §7.4: Twilio GETs each URL and checks its
Content-Type (12300 when it is not an MMS type) and size (11751 past 5 MB in all); a URL it
cannot fetch is 11200.
"""

from __future__ import annotations

import asyncio

import aiohttp

from textrelay.domain.codes import HTTP_RETRIEVAL_FAILURE, INVALID_CONTENT_TYPE, MEDIA_TOO_LARGE
from textrelay.domain.media import (
    MAX_MMS_BYTES,
    FetchedMedia,
    MediaFailure,
    is_accepted,
    media_type,
)
from textrelay.domain.webhooks import USER_AGENT

CONNECT_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 15.0
_CHUNK_BYTES = 64 * 1024


class HttpMediaFetcher:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=20),
                headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
                auto_decompress=False,
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, budget_bytes: int = MAX_MMS_BYTES, *, auth: tuple[str, str] | None = None
    ) -> FetchedMedia | MediaFailure:
        """The media at `url`, or why it cannot be sent. Never raises for the server's doing.
        With `auth`, HTTP Basic credentials; aiohttp drops them on a redirect to another
        origin (Twilio's media redirects to a storage URL signed by itself)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
        basic = aiohttp.BasicAuth(*auth) if auth is not None else None
        try:
            async with asyncio.timeout(TOTAL_TIMEOUT_S):
                async with self._client().get(
                    url, timeout=timeout, allow_redirects=True, auth=basic
                ) as answer:
                    if not 200 <= answer.status < 300:
                        return MediaFailure(
                            HTTP_RETRIEVAL_FAILURE.code, f"fetching {url} answered {answer.status}"
                        )
                    content_type = answer.headers.get("Content-Type")
                    if not is_accepted(content_type):
                        return MediaFailure(
                            INVALID_CONTENT_TYPE.code,
                            f"{url} is {media_type(content_type) or 'of no type'}, "
                            "not a type MMS can carry",
                        )
                    declared = answer.content_length
                    if declared is not None and declared > budget_bytes:
                        return MediaFailure(MEDIA_TOO_LARGE.code, f"{url} is {declared} bytes")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in answer.content.iter_chunked(_CHUNK_BYTES):
                        size += len(chunk)
                        if size > budget_bytes:
                            return MediaFailure(
                                MEDIA_TOO_LARGE.code, f"{url} is over {budget_bytes} bytes"
                            )
                        chunks.append(chunk)
        except TimeoutError:
            return MediaFailure(
                HTTP_RETRIEVAL_FAILURE.code, f"fetching {url} took over {TOTAL_TIMEOUT_S:g} s"
            )
        except (aiohttp.ClientError, ValueError) as exc:
            return MediaFailure(HTTP_RETRIEVAL_FAILURE.code, f"fetching {url} failed: {exc}")
        return FetchedMedia(media_type(content_type), b"".join(chunks))
