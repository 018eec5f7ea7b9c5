"""Opt-out keywords, auto-replies, scopes and the opted-out state (messaging-and-webhooks.md §6)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain.opt_out import (
    DEFAULT_KEYWORDS,
    DEFAULT_REPLIES,
    Keyword,
    OptOutDecision,
    OptOutScope,
    apply,
    classify,
    reply_for,
    scope_for,
    sender_scopes,
)

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN = ["START", "YES", "UNSTOP"]
HELP = ["HELP", "INFO"]
ALL_WORDS = [(w, Keyword.STOP) for w in OPT_OUT] + [(w, Keyword.START) for w in OPT_IN]
ALL_WORDS += [(w, Keyword.HELP) for w in HELP]

STOP_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from this "
    "number. Reply START to resubscribe."
)
START_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
    "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)
HELP_REPLY = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."


def test_keyword_values_are_twilios_opt_out_types() -> None:
    assert [k.value for k in Keyword] == ["STOP", "START", "HELP"]


def test_default_keyword_lists_are_section_6s() -> None:
    assert dict(DEFAULT_KEYWORDS) == {
        Keyword.STOP: tuple(OPT_OUT),
        Keyword.START: tuple(OPT_IN),
        Keyword.HELP: tuple(HELP),
    }


@pytest.mark.parametrize(("word", "keyword"), ALL_WORDS)
def test_every_default_keyword_is_classified(word: str, keyword: Keyword) -> None:
    assert classify(word) is keyword


@pytest.mark.parametrize(("word", "keyword"), ALL_WORDS)
@pytest.mark.parametrize(
    "shape",
    [str.lower, str.title, str.swapcase, lambda w: f"  {w.lower()}\n", lambda w: f"\t{w} \r\n"],
)
def test_keywords_ignore_case_and_surrounding_whitespace(
    word: str, keyword: Keyword, shape: Callable[[str], str]
) -> None:
    assert classify(shape(word)) is keyword


def test_unicode_whitespace_is_trimmed_too() -> None:
    assert classify("\u00a0Stop\u2003") is Keyword.STOP


def test_casefolding_is_unicode_aware() -> None:
    # U+017F LATIN SMALL LETTER LONG S casefolds to "s".
    assert classify("\u017ftop") is Keyword.STOP


@pytest.mark.parametrize(
    "body",
    ["STOP PLEASE", "please stop", "PLEASE CANCEL", "stop stop", "HELP me", "yes\tplease", "S TOP"],
)
def test_multi_word_messages_are_not_keywords(body: str) -> None:
    assert classify(body) is None


@pytest.mark.parametrize(
    "body",
    ["", "   ", "hello", "STOPP", "STO", "UNSUBSCRIBED", "NO", "ARRET", "OPT-OUT", "OPT OUT"],
)
def test_other_text_is_not_a_keyword(body: str) -> None:
    assert classify(body) is None


@pytest.mark.parametrize("body", ["stop.", "Stop!", "STOP?", "'stop'", "help?", "yes!"])
def test_punctuation_is_not_stripped(body: str) -> None:
    # §6 is silent on punctuation; the module documents the choice not to match it.
    assert classify(body) is None


@given(st.text())
def test_classify_never_raises(body: str) -> None:
    assert classify(body) in {None, *Keyword}


@given(
    st.text(min_size=1).filter(str.strip),
    st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000"]),
    st.text(min_size=1).filter(str.strip),
)
def test_text_with_inner_space_is_never_a_keyword(left: str, gap: str, right: str) -> None:
    assert classify(f"{left}{gap}{right}") is None


def test_default_replies_are_twilios_exact_texts() -> None:
    assert DEFAULT_REPLIES == {
        Keyword.STOP: STOP_REPLY,
        Keyword.START: START_REPLY,
        Keyword.HELP: HELP_REPLY,
    }


@pytest.mark.parametrize("opted_out_before", [False, True])
def test_stop_and_start_always_reply(opted_out_before: bool) -> None:
    assert reply_for(Keyword.STOP, opted_out_before=opted_out_before) == STOP_REPLY
    assert reply_for(Keyword.START, opted_out_before=opted_out_before) == START_REPLY


def test_help_replies_only_while_opted_in() -> None:
    assert reply_for(Keyword.HELP, opted_out_before=False) == HELP_REPLY
    assert reply_for(Keyword.HELP, opted_out_before=True) is None


def test_scope_without_a_service_is_the_sender() -> None:
    assert scope_for("+14155550100", "+14155550199", None) == OptOutScope(
        recipient="+14155550100", sender_scope="+14155550199"
    )


def test_scope_with_a_service_covers_the_whole_service() -> None:
    sid = "MG" + "0" * 32
    a = scope_for("+14155550100", "+14155550199", sid)
    b = scope_for("+14155550100", "+14155550188", sid)
    assert a == b == OptOutScope(recipient="+14155550100", sender_scope=f"service:{sid}")


def test_an_empty_service_sid_means_no_service() -> None:
    assert scope_for("+14155550100", "+14155550199", "").sender_scope == "+14155550199"


def test_scopes_are_frozen_value_objects() -> None:
    scope = scope_for("+14155550100", "+14155550199", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scope.recipient = "+1"  # type: ignore[misc]
    assert hash(scope) == hash(OptOutScope("+14155550100", "+14155550199"))


# (keyword, opted out before) -> (opted out after, reply)
DECISIONS = [
    (Keyword.STOP, False, True, STOP_REPLY),
    (Keyword.STOP, True, True, STOP_REPLY),
    (Keyword.START, True, False, START_REPLY),
    (Keyword.START, False, False, START_REPLY),
    (Keyword.HELP, False, False, HELP_REPLY),
    (Keyword.HELP, True, True, None),
    (None, False, False, None),
    (None, True, True, None),
]


@pytest.mark.parametrize(("keyword", "before", "after", "reply"), DECISIONS)
def test_decision_table(
    keyword: Keyword | None, before: bool, after: bool, reply: str | None
) -> None:
    assert apply(keyword, before) == OptOutDecision(opted_out=after, reply=reply)


def test_classify_then_apply_on_an_ordinary_message_changes_nothing() -> None:
    assert apply(classify("see you at 5"), False) == OptOutDecision(opted_out=False, reply=None)


def test_a_sender_falls_within_its_own_scope_and_its_services() -> None:
    assert sender_scopes("+14155550100", "MG1", None) == {"+14155550100", "service:MG1"}
    assert sender_scopes(None, "MG1", "MG2") == {"service:MG1", "service:MG2"}
    assert sender_scopes("+14155550100") == {"+14155550100"}
    assert scope_for("+1", "+14155550100", "MG1").sender_scope in sender_scopes(None, "MG1")
