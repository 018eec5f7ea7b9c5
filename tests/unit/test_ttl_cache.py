"""services/cache.TtlCache: entries live `ttl_s`; an update keeps the entry's expiry."""

from __future__ import annotations

from textrelay.services.cache import TtlCache


def test_an_entry_lives_its_ttl_and_a_put_starts_it_again() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(ttl_s=1.0, monotonic=lambda: now[0])
    cache.put("a", 1)
    now[0] = 0.9
    assert cache.get("a") == 1
    cache.put("a", 2)
    now[0] = 1.5
    assert cache.get("a") == 2
    now[0] = 2.0
    assert cache.get("a") is None


def test_an_update_keeps_the_expiry_so_a_count_kept_between_reads_is_read_again() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(ttl_s=1.0, monotonic=lambda: now[0])
    cache.put("waiting", 0)
    for step in range(1, 10):  # counted every 0.1 s: the entry still ends at 1.0
        now[0] = step / 10
        cache.update("waiting", step)
    assert cache.get("waiting") == 9
    now[0] = 1.0
    assert cache.get("waiting") is None
    cache.update("waiting", 10)  # no live entry: nothing to update
    assert cache.get("waiting") is None
