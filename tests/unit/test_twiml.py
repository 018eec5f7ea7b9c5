"""TwiML for Messaging: how a webhook's answer becomes replies, a redirect or an error (§5.3)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from textrelay.domain.codes import CATALOGUE
from textrelay.domain.segments import GSM7_BASIC, GSM7_EXTENSION
from textrelay.domain.twiml import (
    MAX_DOCUMENTS,
    MAX_REPLIES,
    HttpMethod,
    Redirect,
    ReplyMessage,
    TwimlAnswer,
    interpret,
    resolve,
)

XML = "text/xml"


def twiml(response: MessagingResponse) -> bytes:
    """The document as twilio-python renders it, as the bytes a webhook would send."""
    return str(response).encode()


def doc(inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'.encode()


def answer_for(inner: str) -> TwimlAnswer:
    return interpret(200, XML, doc(inner))


def codes(answer: TwimlAnswer) -> list[int]:
    return [warning.code for warning in answer.warnings]


def error_code(answer: TwimlAnswer) -> int | None:
    return None if answer.error is None else answer.error.code


# --- status, size and Content-Type -----------------------------------------------------------


@pytest.mark.parametrize("status", [301, 400, 404, 500, 503, 199])
def test_a_non_2xx_answer_is_an_http_retrieval_failure(status: int) -> None:
    answer = interpret(status, XML, doc("<Message>hi</Message>"))
    assert error_code(answer) == 11200
    assert answer.replies == ()
    assert answer.failed


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (204, None, b""),
        (204, XML, doc("<Message>ignored: 204 has no content</Message>")),
        (200, XML, b""),
        (200, None, b""),
        (200, "application/json", b"  \n"),
    ],
)
def test_no_content_means_do_nothing(status: int, content_type: str | None, body: bytes) -> None:
    assert interpret(status, content_type, body) == TwimlAnswer()


def test_an_empty_response_element_means_do_nothing() -> None:
    assert interpret(200, XML, twiml(MessagingResponse())) == TwimlAnswer()
    assert interpret(200, XML, b"<Response/>") == TwimlAnswer()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "application/xml",
        "text/html",
        "text/xml; charset=utf-8",
        "TEXT/XML;charset=UTF-8",
        " Application/XML ",
    ],
)
def test_xml_content_types_are_parsed_as_twiml(content_type: str) -> None:
    answer = interpret(200, content_type, doc("<Message>hi</Message>"))
    assert answer == TwimlAnswer(replies=(ReplyMessage(body="hi"),))


@pytest.mark.parametrize("content_type", [None, "", "application/json", "image/png", "text/csv"])
def test_other_content_types_are_rejected(content_type: str | None) -> None:
    answer = interpret(200, content_type, doc("<Message>hi</Message>"))
    assert error_code(answer) == 12300
    assert answer.replies == ()


def test_text_plain_is_one_reply_to_the_sender() -> None:
    answer = interpret(200, "text/plain; charset=utf-8", b"  Thanks, got it!\n")
    assert answer == TwimlAnswer(replies=(ReplyMessage(body="Thanks, got it!"),))


def test_text_plain_honours_its_charset() -> None:
    answer = interpret(200, "text/plain; charset=iso-8859-1", "Grüße".encode("latin-1"))
    assert answer.replies[0].body == "Grüße"
    unknown = interpret(200, "text/plain; charset=no-such-charset", "Grüße".encode())
    assert unknown.replies[0].body == "Grüße"


def test_text_plain_that_is_not_twiml_is_sent_as_written() -> None:
    answer = interpret(200, "text/plain", doc("<Message>hi</Message>"))
    assert answer.replies[0].body.startswith("<?xml")


def test_text_plain_too_long_is_not_sent() -> None:
    answer = interpret(200, "text/plain", b"x" * 1601)
    assert answer.replies == ()
    assert codes(answer) == [14103]
    assert not answer.failed


def test_an_answer_over_64_kb_is_refused() -> None:
    filler = "<!-- padding -->" * 5000
    body = doc(f"<Message>hi</Message>{filler}")
    assert len(body) > 65536
    assert error_code(interpret(200, XML, body)) == 11750
    assert error_code(interpret(200, "text/plain", b"x" * 65537)) == 11750


def test_an_answer_of_exactly_64_kb_is_accepted() -> None:
    head = doc("<Message>hi</Message>")
    body = head + b" " * (65536 - len(head))
    assert len(body) == 65536
    assert interpret(200, XML, body).replies == (ReplyMessage(body="hi"),)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<Response><Message>hi</Response>",
        b"not xml at all",
        b'  <?xml version="1.0"?><Response/>',  # whitespace before the declaration (§5.3)
        b"<Response>&nope;</Response>",
        b"\xff\xfe<Response/>",
    ],
)
def test_invalid_xml_is_a_parse_failure(body: bytes) -> None:
    answer = interpret(200, XML, body)
    assert error_code(answer) == 12100
    assert answer.replies == ()


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><Response><Message>&a;</Message>'
        b"</Response>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<Response><Message>&lol2;</Message></Response>",
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.com/r.dtd"><Response/>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response>'
        b"<Message>&x;</Message></Response>",
    ],
)
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    assert error_code(interpret(200, XML, body)) == 12100


@pytest.mark.parametrize(
    "body",
    [b"<Responses/>", b"<response><Message>hi</Message></response>", b"<Message>hi</Message>"],
)
def test_the_root_must_be_response(body: bytes) -> None:
    assert error_code(interpret(200, XML, body)) == 12102


def test_comments_are_ignored() -> None:
    answer = answer_for("<!-- first --><Message>hi<!-- inside --> there</Message><!-- last -->")
    assert answer == TwimlAnswer(replies=(ReplyMessage(body="hi there"),))


def test_a_version_attribute_on_response_is_accepted() -> None:
    answer = interpret(200, XML, b'<Response version="2010-04-01"><Message>hi</Message></Response>')
    assert answer == TwimlAnswer(replies=(ReplyMessage(body="hi"),))


def test_stray_text_in_response_is_a_schema_warning() -> None:
    answer = answer_for("hello<Message>hi</Message>")
    assert answer.replies == (ReplyMessage(body="hi"),)
    assert codes(answer) == [12200]


# --- <Message> -------------------------------------------------------------------------------


def test_a_message_with_every_attribute_from_twilio_python() -> None:
    response = MessagingResponse()
    response.message(
        "Store Location: 123 Easy St.",
        to="+14155550100",
        from_="+14155550199",
        action="/status",
        method="GET",
        status_callback="https://example.com/cb",
    )
    answer = interpret(200, XML, twiml(response))
    assert answer == TwimlAnswer(
        replies=(
            ReplyMessage(
                to="+14155550100",
                from_="+14155550199",
                body="Store Location: 123 Easy St.",
                action="/status",
                method=HttpMethod.GET,
                status_callback="https://example.com/cb",
            ),
        )
    )
    assert answer.replies[0].method == "GET"


def test_defaults_reply_to_the_sender_from_the_receiving_number() -> None:
    reply = answer_for("<Message>hi</Message>").replies[0]
    assert (reply.to, reply.from_, reply.action, reply.status_callback) == (None, None, None, None)
    assert reply.method == "POST"
    assert reply.media_urls == ()


def test_text_and_body_nouns_are_concatenated_in_order() -> None:
    response = MessagingResponse()
    message = response.message("Hello ")
    message.body("brave ")
    message.media("https://example.com/cat.jpg")
    message.body("new world")
    answer = interpret(200, XML, twiml(response))
    assert answer.replies == (
        ReplyMessage(body="Hello brave new world", media_urls=("https://example.com/cat.jpg",)),
    )


def test_plain_text_between_nouns_counts_too() -> None:
    answer = answer_for("<Message>a<Body>b</Body>c<Media>https://x.test/1.png</Media>d</Message>")
    assert answer.replies[0].body == "abcd"


def test_the_whole_body_is_trimmed_but_inner_whitespace_kept() -> None:
    answer = answer_for(
        "<Message>\n    <Body>  Line one\nLine two  </Body>\n    <Body> and more</Body>\n</Message>"
    )
    assert answer.replies[0].body == "Line one\nLine two  \n     and more"


def test_xml_escapes_and_cdata_are_body_text() -> None:
    answer = answer_for("<Message>1 &lt; 2 &amp; <![CDATA[<b>bold</b>]]></Message>")
    assert answer.replies[0].body == "1 < 2 & <b>bold</b>"


def test_media_only_messages_are_sent() -> None:
    response = MessagingResponse()
    response.message().media("https://example.com/a.png")
    answer = interpret(200, XML, twiml(response))
    assert answer.replies == (ReplyMessage(body="", media_urls=("https://example.com/a.png",)),)
    assert answer.warnings == ()


@pytest.mark.parametrize(
    "inner", ["<Message/>", "<Message>   </Message>", "<Message><Body/></Message>"]
)
def test_an_empty_message_is_skipped_with_14103(inner: str) -> None:
    answer = answer_for(inner + "<Message>next</Message>")
    assert answer.replies == (ReplyMessage(body="next"),)
    assert codes(answer) == [14103]
    assert not answer.failed


def test_a_body_of_1600_characters_is_sent_and_1601_is_not() -> None:
    assert answer_for(f"<Message>{'x' * 1600}</Message>").replies[0].body == "x" * 1600
    too_long = answer_for(f"<Message>{'x' * 1601}</Message><Message>ok</Message>")
    assert too_long.replies == (ReplyMessage(body="ok"),)
    assert codes(too_long) == [14103]


def test_the_1600_limit_counts_utf16_units() -> None:
    # An emoji outside the BMP is two UTF-16 units, as Twilio counts (segments.body_length).
    answer = answer_for(f"<Message>{'😀' * 801}</Message>")
    assert answer.replies == ()
    assert codes(answer) == [14103]


def test_ten_media_are_kept_and_more_are_dropped_with_a_warning() -> None:
    response = MessagingResponse()
    message = response.message("pics")
    urls = [f"https://example.com/{n}.jpg" for n in range(12)]
    for url in urls:
        message.media(url)
    answer = interpret(200, XML, twiml(response))
    assert answer.replies[0].media_urls == tuple(urls[:10])
    assert codes(answer) == [12200]


def test_an_empty_media_is_skipped_with_a_warning() -> None:
    answer = answer_for("<Message>hi<Media> </Media><Media>https://x.test/a.png</Media></Message>")
    assert answer.replies[0].media_urls == ("https://x.test/a.png",)
    assert codes(answer) == [12200]


def test_ten_replies_are_allowed() -> None:
    response = MessagingResponse()
    for n in range(MAX_REPLIES):
        response.message(f"reply {n}")
    answer = interpret(200, XML, twiml(response))
    assert [reply.body for reply in answer.replies] == [f"reply {n}" for n in range(10)]
    assert answer.error is None


def test_eleven_replies_fail_the_document_with_14109() -> None:
    response = MessagingResponse()
    for n in range(MAX_REPLIES + 1):
        response.message(f"reply {n}")
    answer = interpret(200, XML, twiml(response))
    assert error_code(answer) == 14109
    assert answer.replies == ()
    assert answer.redirect is None


def test_skipped_messages_do_not_count_towards_the_limit() -> None:
    inner = "<Message/>" * 5 + "<Message>x</Message>" * MAX_REPLIES
    answer = answer_for(inner)
    assert len(answer.replies) == MAX_REPLIES
    assert codes(answer) == [14103] * 5


def test_session_limits_are_exposed_for_the_caller() -> None:
    assert (MAX_REPLIES, MAX_DOCUMENTS) == (10, 50)
    assert {14106, 14108, 14101, 14102} <= CATALOGUE.keys()


def test_action_ends_the_document() -> None:
    response = MessagingResponse()
    response.message("first")
    response.message("second", action="/next")
    response.message("never sent")
    response.redirect("/never")
    answer = interpret(200, XML, twiml(response))
    assert [reply.body for reply in answer.replies] == ["first", "second"]
    assert answer.replies[-1].action == "/next"
    assert answer.redirect is None
    assert answer.warnings == ()


def test_a_skipped_message_with_action_does_not_end_the_document() -> None:
    answer = answer_for('<Message action="/next"/><Message>sent</Message>')
    assert answer.replies == (ReplyMessage(body="sent"),)
    assert codes(answer) == [14103]


@pytest.mark.parametrize("method", ["PUT", "get", "", "DELETE"])
def test_a_bad_method_warns_14104_and_uses_post(method: str) -> None:
    answer = answer_for(f'<Message method="{method}" action="/a">hi</Message>')
    assert answer.replies == (ReplyMessage(body="hi", action="/a", method=HttpMethod.POST),)
    assert codes(answer) == [14104]


@pytest.mark.parametrize("callback", ["", "   ", "ftp://example.com/cb", "http://exa mple.com"])
def test_a_bad_status_callback_warns_14105_and_is_dropped(callback: str) -> None:
    answer = answer_for(f'<Message statusCallback="{callback}">hi</Message>')
    assert answer.replies == (ReplyMessage(body="hi"),)
    assert codes(answer) == [14105]


def test_a_bad_action_is_dropped_and_the_document_goes_on() -> None:
    answer = answer_for('<Message action="javascript:alert(1)">hi</Message><Message>two</Message>')
    assert answer.replies == (ReplyMessage(body="hi"), ReplyMessage(body="two"))
    assert codes(answer) == [12200]


def test_an_empty_to_warns_14101_and_skips_the_message() -> None:
    answer = answer_for('<Message to="">hi</Message><Message>two</Message>')
    assert answer.replies == (ReplyMessage(body="two"),)
    assert codes(answer) == [14101]


def test_an_empty_from_warns_14102_and_skips_the_message() -> None:
    answer = answer_for('<Message from=" ">hi</Message>')
    assert answer.replies == ()
    assert codes(answer) == [14102]


def test_to_and_from_are_kept_as_written_for_the_caller_to_check() -> None:
    answer = answer_for('<Message to="whatsapp:+14155550100" from="MyBrand">hi</Message>')
    assert answer.replies[0].to == "whatsapp:+14155550100"
    assert answer.replies[0].from_ == "MyBrand"


@pytest.mark.parametrize(
    "inner",
    [
        '<Message statuscallback="/cb">hi</Message>',  # names are case-sensitive
        '<Message To="+14155550100">hi</Message>',
        '<Message foo="bar">hi</Message>',
        '<Message><Body lang="en">hi</Body></Message>',
        '<Message>hi<Media type="image/png">https://x.test/a.png</Media></Message>',
    ],
)
def test_unknown_attributes_warn_12200_and_are_ignored(inner: str) -> None:
    answer = answer_for(inner)
    assert len(answer.replies) == 1
    assert answer.replies[0].to is None
    assert answer.replies[0].status_callback is None
    assert codes(answer) == [12200]


def test_unknown_nouns_in_a_message_warn_and_are_left_out() -> None:
    answer = answer_for("<Message>a<Redirect>/x</Redirect>b<Body>c<i>d</i>e</Body></Message>")
    assert answer.replies == (ReplyMessage(body="abce"),)
    assert answer.redirect is None
    assert codes(answer) == [12200, 12200]


# --- other verbs -----------------------------------------------------------------------------


def test_redirect_ends_the_document() -> None:
    response = MessagingResponse()
    response.message("before")
    response.redirect("https://example.com/next", method="GET")
    response.message("after")
    answer = interpret(200, XML, twiml(response))
    assert answer == TwimlAnswer(
        replies=(ReplyMessage(body="before"),),
        redirect=Redirect(url="https://example.com/next", method=HttpMethod.GET),
    )


def test_redirect_defaults_to_post_and_keeps_a_relative_url() -> None:
    answer = answer_for("<Redirect>\n  ../sms/welcome\n</Redirect>")
    assert answer.redirect == Redirect(url="../sms/welcome", method=HttpMethod.POST)


def test_redirect_with_a_bad_method_warns_14104() -> None:
    answer = answer_for('<Redirect method="PATCH">/next</Redirect>')
    assert answer.redirect == Redirect(url="/next")
    assert codes(answer) == [14104]


def test_an_empty_redirect_is_skipped() -> None:
    answer = answer_for("<Redirect/><Message>hi</Message>")
    assert answer.redirect is None
    assert answer.replies == (ReplyMessage(body="hi"),)
    assert codes(answer) == [12200]


@pytest.mark.parametrize(
    ("base", "target", "expected"),
    [
        ("https://example.com/sms/in", "/next", "https://example.com/next"),
        ("https://example.com/sms/in?x=1", "next", "https://example.com/sms/next"),
        ("https://example.com/sms/in", "https://other.test/a", "https://other.test/a"),
        ("https://example.com/a/b/c", "../d", "https://example.com/a/d"),
        ("https://example.com/sms", "/next#rc=2", "https://example.com/next#rc=2"),
    ],
)
def test_resolve_against_the_requested_url(base: str, target: str, expected: str) -> None:
    assert resolve(base, target) == expected


@pytest.mark.parametrize("verb", ["Say", "Dial", "Play", "Gather", "Hangup", "Pause"])
def test_voice_verbs_warn_14110_and_are_skipped(verb: str) -> None:
    answer = answer_for(f"<{verb}>hello</{verb}><Message>hi</Message>")
    assert answer.replies == (ReplyMessage(body="hi"),)
    assert codes(answer) == [14110]


@pytest.mark.parametrize("verb", ["message", "MESSAGE", "Foo", "Sms", "redirect"])
def test_unknown_verbs_warn_12200_and_are_skipped(verb: str) -> None:
    answer = answer_for(f"<{verb}>hello</{verb}><Message>hi</Message>")
    assert answer.replies == (ReplyMessage(body="hi"),)
    assert answer.redirect is None
    assert codes(answer) == [12200]


def test_warnings_and_errors_carry_the_catalogue_title() -> None:
    answer = answer_for("<Say>x</Say>")
    assert answer.warnings[0].message.startswith(CATALOGUE[14110].message)
    failed = interpret(500, XML, b"")
    assert failed.error is not None
    assert failed.error.message.startswith(CATALOGUE[11200].message)


# --- properties ------------------------------------------------------------------------------

CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(["text/xml", "application/xml", "text/html", "text/plain", "text/xml; x"]),
    st.text(max_size=40),
)
XML_ISH = st.lists(
    st.sampled_from(
        [
            "<Response>",
            "</Response>",
            "<Message",
            ">",
            "</Message>",
            "<Body>",
            "</Body>",
            "<Media>",
            "</Media>",
            "<Redirect",
            "</Redirect>",
            "/>",
            ' method="GET"',
            ' action="/a"',
            ' to=""',
            "hi",
            "&amp;",
            "<!DOCTYPE x>",
            "<!-- c -->",
        ]
    ),
    max_size=30,
).map(lambda parts: "".join(parts).encode())


@given(
    status=st.integers(min_value=100, max_value=599),
    content_type=CONTENT_TYPES,
    body=st.one_of(st.binary(max_size=2000), XML_ISH),
)
def test_interpret_never_raises(status: int, content_type: str | None, body: bytes) -> None:
    answer = interpret(status, content_type, body)
    assert isinstance(answer, TwimlAnswer)
    assert len(answer.replies) <= MAX_REPLIES
    if answer.error is not None:
        assert answer.replies == ()
        assert answer.redirect is None


@given(body=XML_ISH)
def test_xml_like_documents_never_raise(body: bytes) -> None:
    assert isinstance(interpret(200, XML, body), TwimlAnswer)


# GSM-7 characters that XML 1.0 can carry: form feed (an extension character) cannot.
GSM_XML_CHARACTERS = sorted((GSM7_BASIC | GSM7_EXTENSION) - {"\f"})


@given(st.text(alphabet=GSM_XML_CHARACTERS, min_size=1, max_size=1600))
def test_a_gsm_body_round_trips_through_twilio_python(text: str) -> None:
    # XML turns every CR and CRLF into LF, and the whole body is trimmed.
    expected = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    assume(expected)
    response = MessagingResponse()
    response.message(text)
    answer = interpret(200, XML, twiml(response))
    assert answer == TwimlAnswer(replies=(ReplyMessage(body=expected),))


@given(
    st.text(alphabet=sorted(set(GSM_XML_CHARACTERS) - {"\r"}), min_size=1, max_size=1600).filter(
        lambda text: text == text.strip()
    )
)
def test_a_trimmed_gsm_body_round_trips_exactly(text: str) -> None:
    response = MessagingResponse()
    response.message(text)
    assert interpret(200, XML, twiml(response)).replies == (ReplyMessage(body=text),)
