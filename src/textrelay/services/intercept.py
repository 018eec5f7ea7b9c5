"""The intercepting proxy's certificate authority, one per deployment: made on first use and
kept in the database, so every node of a deployment presents certificates of the same CA and
clients trust it once (docs/intercept.md)."""

from __future__ import annotations

import datetime as dt

import orjson

from textrelay.intercept.authority import Authority
from textrelay.services.context import ServiceContext

CA_KEY = "intercept_ca"
"""The meta key of the CA: its certificate and private key, in PEM, as one JSON value (so a
second process that makes one at the same moment keeps the first's, whole)."""


class InterceptService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._authority: Authority | None = None

    async def authority(self) -> Authority:
        """The deployment's CA, made (and stored) if there is none yet."""
        if self._authority is None:
            async with self._ctx.store.read() as repo:
                stored = await repo.meta.get(CA_KEY)
            if stored is None:
                # Certificates run on the real clock, not the service's adjustable one.
                made = Authority.create(dt.datetime.now(dt.UTC))
                value = orjson.dumps({"certificate": made.certificate_pem, "key": made.key_pem})
                async with self._ctx.store.transaction() as repo:
                    stored = await repo.meta.add(CA_KEY, value.decode("ascii"))
            fields = orjson.loads(stored)
            self._authority = Authority(str(fields["certificate"]), str(fields["key"]))
        return self._authority
