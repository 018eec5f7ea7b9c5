"""The console's login throttle (issue 12, defect 8): per key, in a window, bounded."""

from __future__ import annotations

from textrelay.console.access import LoginThrottle, host_name


def test_a_key_at_its_limit_waits_out_the_window_and_others_do_not() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=60.0)
    for second in (0.0, 1.0, 2.0):
        assert throttle.retry_after_s(["address:a"], second) == 0
        throttle.failed(["address:a", "account:x"], second)

    assert throttle.retry_after_s(["address:a"], 10.0) == 50
    assert throttle.retry_after_s(["account:x"], 10.5) == 50
    assert throttle.retry_after_s(["address:b", "account:y"], 10.0) == 0
    assert throttle.retry_after_s(["address:b", "account:x"], 10.0) == 50
    assert throttle.retry_after_s(["address:a"], 60.0) == 0  # the window is over


def test_a_success_forgets_only_the_keys_it_names() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60.0)
    throttle.failed(["address:a", "account:x"], 0.0)
    throttle.failed(["address:a", "account:x"], 1.0)

    throttle.succeeded(["account:x"])

    assert throttle.retry_after_s(["account:x"], 2.0) == 0
    assert throttle.retry_after_s(["address:a"], 2.0) == 58


def test_memory_is_bounded_by_forgetting_the_oldest_keys() -> None:
    throttle = LoginThrottle(max_failures=1, window_s=60.0, max_keys=100)
    for n in range(1000):
        throttle.failed([f"address:{n}"], 0.0)

    assert len(throttle) == 100
    assert throttle.retry_after_s(["address:999"], 1.0) == 59
    assert throttle.retry_after_s(["address:0"], 1.0) == 0


def test_the_host_name_of_a_host_header_drops_its_port() -> None:
    assert host_name("Example.COM:8080") == "example.com"
    assert host_name("localhost") == "localhost"
    assert host_name("[::1]:8080") == "[::1]"
    assert host_name("example.com.") == "example.com"
    assert host_name("") == ""
