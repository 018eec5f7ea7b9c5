"""MMS media: fetched from the app's MediaUrl when a message is sent, attached by a handset
to an inbound message, listed, served and deleted through the Media subresource."""

from __future__ import annotations

import contextlib

from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.media import MAX_MMS_BYTES, FetchedMedia, Media, MediaFailure
from textrelay.domain.messages import Message
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.sids import MESSAGE_SID_TYPES, SidType, is_sid, normalize
from textrelay.services.context import ServiceContext
from textrelay.services.errors import service_failure
from textrelay.services.owned import get_owned
from textrelay.services.ports import MediaFetcher, MediaStore
from textrelay.storage import StorageError


class MediaService:
    def __init__(self, ctx: ServiceContext, store: MediaStore, fetcher: MediaFetcher) -> None:
        self._ctx = ctx
        self._store = store
        self._fetcher = fetcher

    async def take_outbound(self, message: Message) -> list[Media] | MediaFailure:
        """Fetch every MediaUrl of `message` (5 MB in all) and keep the bytes; or the error
        the message fails with. Already taken (a job run again): what was taken then."""
        async with self._ctx.store.read() as repo:
            taken = await repo.media.of_message(message.sid)
        if taken:
            return taken
        fetched: list[tuple[str, FetchedMedia]] = []
        budget = MAX_MMS_BYTES
        for url in message.options.media_urls:
            result = await self._fetcher.fetch(url, budget)
            if isinstance(result, MediaFailure):
                return result
            budget -= len(result.content)
            fetched.append((url, result))
        return await self._keep(message, [(f.content_type, f.content, url) for url, f in fetched])

    async def stage_inbound(self, message: Message, items: list[tuple[str, bytes]]) -> list[Media]:
        """Keep the files of a handset's attachments. Their rows go in the transaction that
        stores the message (InboundService), so both are stored or neither; a message not
        stored after all leaves files for `forget_files`."""
        return await self._put_files(message, [(ct, content, None) for ct, content in items])

    async def _keep(
        self, message: Message, items: list[tuple[str, bytes, str | None]]
    ) -> list[Media]:
        kept = await self._put_files(message, items)
        async with self._ctx.store.transaction() as repo:
            for media in kept:
                await repo.media.insert(media)
        return kept

    async def _put_files(
        self, message: Message, items: list[tuple[str, bytes, str | None]]
    ) -> list[Media]:
        now = self._ctx.now()
        kept = []
        for content_type, content, source in items:
            media = Media(
                sid=self._ctx.sids.new(SidType.MEDIA),
                account_sid=message.account_sid,
                message_sid=message.sid,
                content_type=content_type,
                size_bytes=len(content),
                date_created=now,
                date_updated=now,
                source_url=source,
            )
            try:
                await self._store.put(media.sid, content)
            except StorageError as exc:
                raise service_failure(exc) from exc
            kept.append(media)
        return kept

    # --- the Media subresource ---------------------------------------------------------------

    async def list_media(
        self, account: Account, message_sid: str, query: PageQuery
    ) -> PageResult[Media]:
        sid = await self._message_sid(account, message_sid)
        async with self._ctx.store.read() as repo:
            return await repo.media.page(sid, query)

    async def of_message(self, message: Message) -> list[Media]:
        """Every media item of a message the caller already holds, oldest first."""
        async with self._ctx.store.read() as repo:
            return await repo.media.of_message(message.sid)

    async def get(self, account: Account, message_sid: str, sid: str) -> Media:
        parent = await self._message_sid(account, message_sid)
        async with self._ctx.store.read() as repo:
            media = await repo.media.get(normalize(sid)) if is_sid(sid, SidType.MEDIA) else None
        if media is None or media.message_sid != parent:
            raise errors.NotFound()
        return media

    async def content(self, account: Account, message_sid: str, sid: str) -> tuple[Media, bytes]:
        media = await self.get(account, message_sid, sid)
        try:
            content = await self._store.get(media.sid)
        except StorageError as exc:
            raise service_failure(exc) from exc
        if content is None:
            raise errors.NotFound()
        return media, content

    async def delete(self, account: Account, message_sid: str, sid: str) -> None:
        media = await self.get(account, message_sid, sid)
        async with self._ctx.store.transaction() as repo:
            await repo.media.delete(media.sid)
        await self.forget_files([media.sid])

    async def forget_files(self, sids: list[str]) -> None:
        """Delete the bytes of media whose rows are gone (a file left behind is harmless)."""
        for sid in sids:
            with contextlib.suppress(StorageError):
                await self._store.delete(sid)

    async def _message_sid(self, account: Account, message_sid: str) -> str:
        message = await get_owned(
            self._ctx, account, message_sid, lambda repo: repo.messages, *MESSAGE_SID_TYPES
        )
        return message.sid
