"""The simulated carrier's decisions, as data: rules, built-in numbers, progression and prices.

Sans-IO: randomness comes in as a function, so a seeded run decides the same outcomes again.
docs/simulator.md documents every built-in number and the settings-file format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import phonenumbers

from textrelay.domain import codes, magic, patterns
from textrelay.domain.addresses import region_of
from textrelay.domain.lifecycle import PlannedEvent, Submission, segment_price
from textrelay.domain.messages import Message
from textrelay.domain.statuses import MessageStatus

OUTCOMES = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED})
DEFAULT_PRICE_PER_SEGMENT = "0.00790"

# Built-in numbers that are accepted and then fail: +1 555 01 3XXXX ends `undelivered` with
# error 3XXXX, +1 555 02 3XXXX ends `failed` with it (555-01xx is a fictional US range).
_UNDELIVERED_PREFIX = "+155501"
_FAILED_PREFIX = "+155502"


class ProgressionMode(StrEnum):
    IMMEDIATE = "immediate"
    """Every status change as soon as a worker runs the message."""
    TIMED = "timed"
    """Changes after realistic delays (send_delay_ms, delivery_delay_ms, with jitter)."""
    MANUAL = "manual"
    """Each change waits for a step command."""


class ConfigError(ValueError):
    """A simulator setting or rule textrelay cannot use; the message says which."""


@dataclass(frozen=True, slots=True)
class Rule:
    """When a message matches every given condition, it ends with `outcome`.

    Conditions: `*_prefix` (starts with) and `*_regex` (an RE2 regular expression, searched:
    domain/patterns.py) on To, From and Body. `probability` in [0, 1] is drawn per message
    from the seeded source.
    `delay_ms`, when set, replaces the delivery delay for matching messages (timed mode).
    """

    outcome: MessageStatus
    error_code: int | None = None
    to_prefix: str | None = None
    to_regex: str | None = None
    from_prefix: str | None = None
    from_regex: str | None = None
    body_prefix: str | None = None
    body_regex: str | None = None
    delay_ms: int | None = None
    probability: float = 1.0
    name: str | None = None

    def matches(self, message: Message) -> bool:
        checks = (
            (message.to, self.to_prefix, self.to_regex),
            (message.from_ or "", self.from_prefix, self.from_regex),
            (message.body, self.body_prefix, self.body_regex),
        )
        for text, prefix, pattern in checks:
            if prefix is not None and not text.startswith(prefix):
                return False
            if pattern is not None and not _searches(pattern, text):
                return False
        return True


def _searches(pattern: str, text: str) -> bool:
    # rule_from_data refuses what RE2 cannot run; a rule built otherwise matches nothing.
    try:
        return patterns.search(pattern, text)
    except patterns.PatternError:
        return False


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    mode: ProgressionMode = ProgressionMode.IMMEDIATE
    send_delay_ms: int = 1000
    """Timed mode: from `queued` to `sent`."""
    delivery_delay_ms: int = 3000
    """Timed mode: from `sent` to the delivery report."""
    jitter: float = 0.2
    """Timed mode: each delay varies by up to this fraction, drawn from the seeded source."""
    rules: tuple[Rule, ...] = ()
    prices: Mapping[str, str] = field(
        default_factory=lambda: {"default": DEFAULT_PRICE_PER_SEGMENT}
    )
    """Price per segment by the recipient's ISO country code; "default" for the rest."""
    price_unit: str = "USD"

    def price_per_segment(self, region: str | None) -> str:
        return self.prices.get(region or "", self.prices.get("default", DEFAULT_PRICE_PER_SEGMENT))


def plan(message: Message, config: SimulatorConfig, draw: Callable[[], float]) -> Submission:
    """The status changes the simulator will report for `message`, after `sending`.

    Precedence: Twilio's magic sender (never advances), then the rules in order, then the
    built-in failing numbers, then landlines (30006, by libphonenumber's number type), then
    delivery.
    """
    if message.from_ == magic.MAGIC_SENDER_OK:
        return Submission(events=())
    outcome, error_code, delay_ms = _outcome(message, config, draw)
    manual = config.mode is ProgressionMode.MANUAL
    timed = config.mode is ProgressionMode.TIMED

    def delay(base: int) -> int:
        if not timed:
            return 0
        spread = base * config.jitter
        return max(0, round(base - spread + 2 * spread * draw()))

    events: tuple[PlannedEvent, ...]
    if outcome is MessageStatus.FAILED:
        events = (PlannedEvent(outcome, error_code, delay(config.send_delay_ms)),)
    else:
        final_delay = delay(config.delivery_delay_ms if delay_ms is None else delay_ms)
        events = (
            PlannedEvent(MessageStatus.SENT, None, delay(config.send_delay_ms)),
            PlannedEvent(outcome, error_code, final_delay),
        )
    # A country is looked up only when some price depends on it: for a number of +1,
    # finding it classifies the number against the United States' patterns, as much work
    # again as `_is_landline`. A channel address (whatsapp:…) has none.
    priced_by_country = len(config.prices) > 1 and message.to.startswith("+")
    region = region_of(message.to) if priced_by_country else None
    price = segment_price(config.price_per_segment(region), message.num_segments)
    return Submission(events=events, manual=manual, price=price, price_unit=config.price_unit)


def _outcome(
    message: Message, config: SimulatorConfig, draw: Callable[[], float]
) -> tuple[MessageStatus, int | None, int | None]:
    for rule in config.rules:
        if rule.matches(message) and (rule.probability >= 1.0 or draw() < rule.probability):
            code = rule.error_code
            if code is None and rule.outcome is not MessageStatus.DELIVERED:
                code = codes.UNKNOWN_ERROR.code
            return rule.outcome, code, rule.delay_ms
    builtin = builtin_failure(message.to)
    if builtin is not None:
        return builtin[0], builtin[1], None
    if _is_landline(message.to):
        return MessageStatus.UNDELIVERED, codes.LANDLINE.code, None
    return MessageStatus.DELIVERED, None, None


def builtin_failure(to: str) -> tuple[MessageStatus, int] | None:
    """The outcome of a built-in failing number (+1555013XXXX, +1555023XXXX), if `to` is one."""
    for prefix, outcome in (
        (_UNDELIVERED_PREFIX, MessageStatus.UNDELIVERED),
        (_FAILED_PREFIX, MessageStatus.FAILED),
    ):
        rest = to.removeprefix(prefix)
        if rest != to and len(rest) == 5 and rest.isdigit() and int(rest) in codes.DELIVERY_ERRORS:
            return outcome, int(rest)
    return None


@lru_cache(maxsize=65_536)
def _is_landline(to: str) -> bool:
    """Whether libphonenumber classes the recipient as a fixed line. Cached: parsing and
    classifying a number costs more than the rest of a plan, and tests and load runs send
    to the same recipients again and again."""
    if not to.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(to)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


# --- settings-file and API form ------------------------------------------------------------

_RULE_TEXT_FIELDS = (
    "to_prefix",
    "to_regex",
    "from_prefix",
    "from_regex",
    "body_prefix",
    "body_regex",
    "name",
)


def rule_from_data(data: Mapping[str, Any]) -> Rule:
    unknown = set(data) - {*_RULE_TEXT_FIELDS, "outcome", "error_code", "delay_ms", "probability"}
    if unknown:
        raise ConfigError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
    try:
        outcome = MessageStatus(str(data.get("outcome", "delivered")))
    except ValueError:
        outcome = MessageStatus.QUEUED
    if outcome not in OUTCOMES:
        raise ConfigError("a rule's outcome is delivered, undelivered or failed")
    texts: dict[str, str | None] = {}
    for name in _RULE_TEXT_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"rule field {name} must be a string")
        texts[name] = value
    for name in ("to_regex", "from_regex", "body_regex"):
        pattern = texts[name]
        if pattern is not None:
            try:
                patterns.compile_pattern(pattern)
            except patterns.PatternError as exc:
                raise ConfigError(f"rule field {name}: {exc}") from None
    error_code = _optional_int(data, "error_code", 10000, 99999)
    if outcome is MessageStatus.DELIVERED and error_code is not None:
        raise ConfigError("a delivered rule takes no error_code")
    probability = data.get("probability", 1.0)
    if not isinstance(probability, int | float) or not 0.0 <= float(probability) <= 1.0:
        raise ConfigError("rule probability is a number from 0 to 1")
    return Rule(
        outcome=outcome,
        error_code=error_code,
        delay_ms=_optional_int(data, "delay_ms", 0, 86_400_000),
        probability=float(probability),
        **texts,
    )


def rule_to_data(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {"outcome": rule.outcome.value, "probability": rule.probability}
    for name in (*_RULE_TEXT_FIELDS, "error_code", "delay_ms"):
        value = getattr(rule, name)
        if value is not None:
            data[name] = value
    return data


def config_from_data(
    data: Mapping[str, Any], base: SimulatorConfig | None = None
) -> SimulatorConfig:
    """A config from its JSON/TOML form; keys left out keep `base`'s values."""
    base = base or SimulatorConfig()
    known = {
        "mode",
        "send_delay_ms",
        "delivery_delay_ms",
        "jitter",
        "rules",
        "prices",
        "price_unit",
    }
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown simulator setting(s): {', '.join(sorted(unknown))}")
    try:
        mode = ProgressionMode(str(data.get("mode", base.mode.value)))
    except ValueError:
        raise ConfigError("mode is immediate, timed or manual") from None
    jitter = data.get("jitter", base.jitter)
    if not isinstance(jitter, int | float) or not 0.0 <= float(jitter) <= 1.0:
        raise ConfigError("jitter is a number from 0 to 1")
    rules = base.rules
    if "rules" in data:
        if not isinstance(data["rules"], list) or not all(
            isinstance(r, dict) for r in data["rules"]
        ):
            raise ConfigError("rules is a list of objects")
        rules = tuple(rule_from_data(r) for r in data["rules"])
    prices = dict(base.prices)
    if "prices" in data:
        if not isinstance(data["prices"], dict):
            raise ConfigError("prices maps country codes (or default) to a price per segment")
        prices = {}
        for region, price in data["prices"].items():
            try:
                if float(str(price)) < 0:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"price for {region} is not a positive number") from None
            prices[str(region)] = str(price)
    price_unit = data.get("price_unit", base.price_unit)
    if not isinstance(price_unit, str) or not re.fullmatch(r"[A-Za-z]{3}", price_unit):
        raise ConfigError("price_unit is an ISO 4217 currency code such as USD")
    return SimulatorConfig(
        mode=mode,
        send_delay_ms=_int(data, "send_delay_ms", base.send_delay_ms),
        delivery_delay_ms=_int(data, "delivery_delay_ms", base.delivery_delay_ms),
        jitter=float(jitter),
        rules=rules,
        prices=prices,
        price_unit=price_unit.upper(),
    )


def config_to_data(config: SimulatorConfig) -> dict[str, Any]:
    return {
        "mode": config.mode.value,
        "send_delay_ms": config.send_delay_ms,
        "delivery_delay_ms": config.delivery_delay_ms,
        "jitter": config.jitter,
        "rules": [rule_to_data(rule) for rule in config.rules],
        "prices": dict(config.prices),
        "price_unit": config.price_unit,
    }


def _int(data: Mapping[str, Any], name: str, default: int) -> int:
    value = _optional_int(data, name, 0, 86_400_000)
    return default if value is None else value


def _optional_int(data: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} is a whole number from {low} to {high}")
    return value
