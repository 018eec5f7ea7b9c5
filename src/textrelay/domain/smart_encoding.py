"""Twilio's Smart Encoding: Unicode look-alikes replaced by their GSM-7 equivalents.

Facts: shared/twilio/messaging-and-webhooks.md §7.3. Smart quotes, dashes, Unicode spaces,
fullwidth and ornamental forms become GSM-7 characters; invisible characters (zero-width
spaces, some controls) are removed. Anything not in the table, emoji and CJK included, is kept
as it is, so a body with such a character still counts as UCS-2 afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Code point -> replacement. Sources: Twilio's "List of characters replaced by Smart Encoding"
# (twilio.com/docs/messaging/services/smart-encoding-char-list) and Twilio's own calculator,
# TwilioDevEd/message-segment-calculator src/libs/SmartEncodingMap.ts (as of 2024-06, 270
# entries, all kept; only the whitespace widths differ, see below). Every replacement is made
# of GSM-7 characters and no replaced character is GSM-7, so encoding twice changes nothing.
SMART_ENCODING_REPLACEMENTS: Final[Mapping[int, str]] = MappingProxyType(
    {
        # Double quotation marks
        0x00AB: '"',  # LEFT-POINTING DOUBLE ANGLE QUOTATION MARK
        0x00BB: '"',  # RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK
        0x02BA: '"',  # MODIFIER LETTER DOUBLE PRIME
        0x02EE: '"',  # MODIFIER LETTER DOUBLE APOSTROPHE
        0x201C: '"',  # LEFT DOUBLE QUOTATION MARK
        0x201D: '"',  # RIGHT DOUBLE QUOTATION MARK
        0x201E: '"',  # DOUBLE LOW-9 QUOTATION MARK
        0x201F: '"',  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
        0x275D: '"',  # HEAVY DOUBLE TURNED COMMA QUOTATION MARK ORNAMENT
        0x275E: '"',  # HEAVY DOUBLE COMMA QUOTATION MARK ORNAMENT
        0x301D: '"',  # REVERSED DOUBLE PRIME QUOTATION MARK
        0x301E: '"',  # DOUBLE PRIME QUOTATION MARK
        0xFF02: '"',  # FULLWIDTH QUOTATION MARK
        # Single quotation marks, apostrophes, primes and accents
        0x0060: "'",  # GRAVE ACCENT
        0x00B4: "'",  # ACUTE ACCENT
        0x02B9: "'",  # MODIFIER LETTER PRIME
        0x02BB: "'",  # MODIFIER LETTER TURNED COMMA
        0x02BC: "'",  # MODIFIER LETTER APOSTROPHE
        0x02BD: "'",  # MODIFIER LETTER REVERSED COMMA
        0x02C8: "'",  # MODIFIER LETTER VERTICAL LINE
        0x02CA: "'",  # MODIFIER LETTER ACUTE ACCENT
        0x02CB: "'",  # MODIFIER LETTER GRAVE ACCENT
        0x0313: "'",  # COMBINING COMMA ABOVE
        0x0314: "'",  # COMBINING REVERSED COMMA ABOVE
        0x2018: "'",  # LEFT SINGLE QUOTATION MARK
        0x2019: "'",  # RIGHT SINGLE QUOTATION MARK
        0x201B: "'",  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
        0x275B: "'",  # HEAVY SINGLE TURNED COMMA QUOTATION MARK ORNAMENT
        0x275C: "'",  # HEAVY SINGLE COMMA QUOTATION MARK ORNAMENT
        0xFE10: "'",  # PRESENTATION FORM FOR VERTICAL COMMA
        0xFE11: "'",  # PRESENTATION FORM FOR VERTICAL IDEOGRAPHIC COMMA
        0xFF07: "'",  # FULLWIDTH APOSTROPHE
        # Hyphens, dashes, horizontal lines and bullets
        0x2010: "-",  # HYPHEN
        0x2013: "-",  # EN DASH
        0x2014: "-",  # EM DASH
        0x2015: "-",  # HORIZONTAL BAR
        0x2022: "-",  # BULLET
        0x2043: "-",  # HYPHEN BULLET
        0x23BC: "-",  # HORIZONTAL SCAN LINE-7
        0x23BD: "-",  # HORIZONTAL SCAN LINE-9
        0xFE63: "-",  # SMALL HYPHEN-MINUS
        0xFF0D: "-",  # FULLWIDTH HYPHEN-MINUS
        # Spaces, separators and space-like controls, each one space. The calculator writes two
        # spaces for most of these and seven for TAB, which reads as a slip rather than Twilio's
        # behaviour (UNCONFIRMED which Twilio sends: shared/twilio/messaging-and-webhooks.md §7.3).
        0x0009: " ",  # CHARACTER TABULATION
        0x0080: " ",  # PADDING CHARACTER (C1)
        0x008D: " ",  # REVERSE LINE FEED
        0x0090: " ",  # DEVICE CONTROL STRING
        0x009B: " ",  # CONTROL SEQUENCE INTRODUCER
        0x009F: " ",  # APPLICATION PROGRAM COMMAND
        0x00A0: " ",  # NO-BREAK SPACE
        0x2000: " ",  # EN QUAD
        0x2001: " ",  # EM QUAD
        0x2002: " ",  # EN SPACE
        0x2003: " ",  # EM SPACE
        0x2004: " ",  # THREE-PER-EM SPACE
        0x2005: " ",  # FOUR-PER-EM SPACE
        0x2006: " ",  # SIX-PER-EM SPACE
        0x2007: " ",  # FIGURE SPACE
        0x2008: " ",  # PUNCTUATION SPACE
        0x2009: " ",  # THIN SPACE
        0x200A: " ",  # HAIR SPACE
        0x2028: " ",  # LINE SEPARATOR
        0x2029: " ",  # PARAGRAPH SEPARATOR
        0x202F: " ",  # NARROW NO-BREAK SPACE
        0x205F: " ",  # MEDIUM MATHEMATICAL SPACE
        0x3000: " ",  # IDEOGRAPHIC SPACE
        # Invisible characters, removed
        0x0000: "",  # NULL
        0x0003: "",  # END OF TEXT
        0x0004: "",  # END OF TRANSMISSION
        0x0010: "",  # DATA LINK ESCAPE
        0x0011: "",  # DEVICE CONTROL ONE
        0x0012: "",  # DEVICE CONTROL TWO
        0x0013: "",  # DEVICE CONTROL THREE
        0x0014: "",  # DEVICE CONTROL FOUR
        0x0017: "",  # END OF TRANSMISSION BLOCK
        0x0019: "",  # END OF MEDIUM
        0x200B: "",  # ZERO WIDTH SPACE
        0x2060: "",  # WORD JOINER
        0xFEFF: "",  # ZERO WIDTH NO-BREAK SPACE
        # Expanded to more than one character
        0x00BC: "1/4",  # VULGAR FRACTION ONE QUARTER
        0x00BD: "1/2",  # VULGAR FRACTION ONE HALF
        0x00BE: "3/4",  # VULGAR FRACTION THREE QUARTERS
        0x2026: "...",  # HORIZONTAL ELLIPSIS
        0x203C: "!!",  # DOUBLE EXCLAMATION MARK
        # Fullwidth, small and ornamental forms of ASCII punctuation, digits and capitals
        0xFF10: "0",  # FULLWIDTH DIGIT ZERO
        0xFF11: "1",  # FULLWIDTH DIGIT ONE
        0xFF12: "2",  # FULLWIDTH DIGIT TWO
        0xFF13: "3",  # FULLWIDTH DIGIT THREE
        0xFF14: "4",  # FULLWIDTH DIGIT FOUR
        0xFF15: "5",  # FULLWIDTH DIGIT FIVE
        0xFF16: "6",  # FULLWIDTH DIGIT SIX
        0xFF17: "7",  # FULLWIDTH DIGIT SEVEN
        0xFF18: "8",  # FULLWIDTH DIGIT EIGHT
        0xFF19: "9",  # FULLWIDTH DIGIT NINE
        0x1D00: "A",  # LATIN LETTER SMALL CAPITAL A
        0xFF21: "A",  # FULLWIDTH LATIN CAPITAL LETTER A
        0x0299: "B",  # LATIN LETTER SMALL CAPITAL B
        0xFF22: "B",  # FULLWIDTH LATIN CAPITAL LETTER B
        0x1D04: "C",  # LATIN LETTER SMALL CAPITAL C
        0xFF23: "C",  # FULLWIDTH LATIN CAPITAL LETTER C
        0x1D05: "D",  # LATIN LETTER SMALL CAPITAL D
        0xFF24: "D",  # FULLWIDTH LATIN CAPITAL LETTER D
        0x1D07: "E",  # LATIN LETTER SMALL CAPITAL E
        0xFF25: "E",  # FULLWIDTH LATIN CAPITAL LETTER E
        0xA730: "F",  # LATIN LETTER SMALL CAPITAL F
        0xFF26: "F",  # FULLWIDTH LATIN CAPITAL LETTER F
        0x0262: "G",  # LATIN LETTER SMALL CAPITAL G
        0xFF27: "G",  # FULLWIDTH LATIN CAPITAL LETTER G
        0x029C: "H",  # LATIN LETTER SMALL CAPITAL H
        0xFF28: "H",  # FULLWIDTH LATIN CAPITAL LETTER H
        0x026A: "I",  # LATIN LETTER SMALL CAPITAL I
        0xFF29: "I",  # FULLWIDTH LATIN CAPITAL LETTER I
        0x1D0A: "J",  # LATIN LETTER SMALL CAPITAL J
        0xFF2A: "J",  # FULLWIDTH LATIN CAPITAL LETTER J
        0x1D0B: "K",  # LATIN LETTER SMALL CAPITAL K
        0xFF2B: "K",  # FULLWIDTH LATIN CAPITAL LETTER K
        0x029F: "L",  # LATIN LETTER SMALL CAPITAL L
        0xFF2C: "L",  # FULLWIDTH LATIN CAPITAL LETTER L
        0x1D0D: "M",  # LATIN LETTER SMALL CAPITAL M
        0xFF2D: "M",  # FULLWIDTH LATIN CAPITAL LETTER M
        0x0274: "N",  # LATIN LETTER SMALL CAPITAL N
        0xFF2E: "N",  # FULLWIDTH LATIN CAPITAL LETTER N
        0x1D0F: "O",  # LATIN LETTER SMALL CAPITAL O
        0xFF2F: "O",  # FULLWIDTH LATIN CAPITAL LETTER O
        0x1D18: "P",  # LATIN LETTER SMALL CAPITAL P
        0xFF30: "P",  # FULLWIDTH LATIN CAPITAL LETTER P
        0xFF31: "Q",  # FULLWIDTH LATIN CAPITAL LETTER Q
        0x0280: "R",  # LATIN LETTER SMALL CAPITAL R
        0xFF32: "R",  # FULLWIDTH LATIN CAPITAL LETTER R
        0xA731: "S",  # LATIN LETTER SMALL CAPITAL S
        0xFF33: "S",  # FULLWIDTH LATIN CAPITAL LETTER S
        0x1D1B: "T",  # LATIN LETTER SMALL CAPITAL T
        0xFF34: "T",  # FULLWIDTH LATIN CAPITAL LETTER T
        0x1D1C: "U",  # LATIN LETTER SMALL CAPITAL U
        0xFF35: "U",  # FULLWIDTH LATIN CAPITAL LETTER U
        0x1D20: "V",  # LATIN LETTER SMALL CAPITAL V
        0xFF36: "V",  # FULLWIDTH LATIN CAPITAL LETTER V
        0x1D21: "W",  # LATIN LETTER SMALL CAPITAL W
        0xFF37: "W",  # FULLWIDTH LATIN CAPITAL LETTER W
        0xFF38: "X",  # FULLWIDTH LATIN CAPITAL LETTER X
        0x028F: "Y",  # LATIN LETTER SMALL CAPITAL Y
        0xFF39: "Y",  # FULLWIDTH LATIN CAPITAL LETTER Y
        0x1D22: "Z",  # LATIN LETTER SMALL CAPITAL Z
        0xFF3A: "Z",  # FULLWIDTH LATIN CAPITAL LETTER Z
        0x01C3: "!",  # LATIN LETTER RETROFLEX CLICK
        0xFE15: "!",  # PRESENTATION FORM FOR VERTICAL EXCLAMATION MARK
        0xFE57: "!",  # SMALL EXCLAMATION MARK
        0xFF01: "!",  # FULLWIDTH EXCLAMATION MARK
        0xFE5F: "#",  # SMALL NUMBER SIGN
        0xFF03: "#",  # FULLWIDTH NUMBER SIGN
        0xFE69: "$",  # SMALL DOLLAR SIGN
        0xFF04: "$",  # FULLWIDTH DOLLAR SIGN
        0xFE6A: "%",  # SMALL PERCENT SIGN
        0xFF05: "%",  # FULLWIDTH PERCENT SIGN
        0xFE60: "&",  # SMALL AMPERSAND
        0xFF06: "&",  # FULLWIDTH AMPERSAND
        0x2768: "(",  # MEDIUM LEFT PARENTHESIS ORNAMENT
        0x276A: "(",  # MEDIUM FLATTENED LEFT PARENTHESIS ORNAMENT
        0x27EE: "(",  # MATHEMATICAL LEFT FLATTENED PARENTHESIS
        0x2985: "(",  # LEFT WHITE PARENTHESIS
        0xFE59: "(",  # SMALL LEFT PARENTHESIS
        0xFF08: "(",  # FULLWIDTH LEFT PARENTHESIS
        0x2769: ")",  # MEDIUM RIGHT PARENTHESIS ORNAMENT
        0x276B: ")",  # MEDIUM FLATTENED RIGHT PARENTHESIS ORNAMENT
        0x27EF: ")",  # MATHEMATICAL RIGHT FLATTENED PARENTHESIS
        0x2986: ")",  # RIGHT WHITE PARENTHESIS
        0xFE5A: ")",  # SMALL RIGHT PARENTHESIS
        0xFF09: ")",  # FULLWIDTH RIGHT PARENTHESIS
        0x204E: "*",  # LOW ASTERISK
        0x2217: "*",  # ASTERISK OPERATOR
        0x229B: "*",  # CIRCLED ASTERISK OPERATOR
        0x2722: "*",  # FOUR TEARDROP-SPOKED ASTERISK
        0x2723: "*",  # FOUR BALLOON-SPOKED ASTERISK
        0x2724: "*",  # HEAVY FOUR BALLOON-SPOKED ASTERISK
        0x2725: "*",  # FOUR CLUB-SPOKED ASTERISK
        0x2731: "*",  # HEAVY ASTERISK
        0x2732: "*",  # OPEN CENTRE ASTERISK
        0x2733: "*",  # EIGHT SPOKED ASTERISK
        0x273A: "*",  # SIXTEEN POINTED ASTERISK
        0x273B: "*",  # TEARDROP-SPOKED ASTERISK
        0x273C: "*",  # OPEN CENTRE TEARDROP-SPOKED ASTERISK
        0x273D: "*",  # HEAVY TEARDROP-SPOKED ASTERISK
        0x2743: "*",  # HEAVY TEARDROP-SPOKED PINWHEEL ASTERISK
        0x2749: "*",  # BALLOON-SPOKED ASTERISK
        0x274A: "*",  # EIGHT TEARDROP-SPOKED PROPELLER ASTERISK
        0x274B: "*",  # HEAVY EIGHT TEARDROP-SPOKED PROPELLER ASTERISK
        0x29C6: "*",  # SQUARED ASTERISK
        0xFE61: "*",  # SMALL ASTERISK
        0xFF0A: "*",  # FULLWIDTH ASTERISK
        0x02D6: "+",  # MODIFIER LETTER PLUS SIGN
        0xFE62: "+",  # SMALL PLUS SIGN
        0xFF0B: "+",  # FULLWIDTH PLUS SIGN
        0x0326: ",",  # COMBINING COMMA BELOW
        0x201A: ",",  # SINGLE LOW-9 QUOTATION MARK
        0x3001: ",",  # IDEOGRAPHIC COMMA
        0xFE50: ",",  # SMALL COMMA
        0xFE51: ",",  # SMALL IDEOGRAPHIC COMMA
        0xFF0C: ",",  # FULLWIDTH COMMA
        0xFF64: ",",  # HALFWIDTH IDEOGRAPHIC COMMA
        0x3002: ".",  # IDEOGRAPHIC FULL STOP
        0xFE52: ".",  # SMALL FULL STOP
        0xFF0E: ".",  # FULLWIDTH FULL STOP
        0xFF61: ".",  # HALFWIDTH IDEOGRAPHIC FULL STOP
        0x00F7: "/",  # DIVISION SIGN
        0x0337: "/",  # COMBINING SHORT SOLIDUS OVERLAY
        0x0338: "/",  # COMBINING LONG SOLIDUS OVERLAY
        0x2044: "/",  # FRACTION SLASH
        0x2215: "/",  # DIVISION SLASH
        0x29F8: "/",  # BIG SOLIDUS
        0xFF0F: "/",  # FULLWIDTH SOLIDUS
        0x02D0: ":",  # MODIFIER LETTER TRIANGULAR COLON
        0x02F8: ":",  # MODIFIER LETTER RAISED COLON
        0x2982: ":",  # Z NOTATION TYPE COLON
        0xA789: ":",  # MODIFIER LETTER COLON
        0xFE13: ":",  # PRESENTATION FORM FOR VERTICAL COLON
        0xFF1A: ":",  # FULLWIDTH COLON
        0x204F: ";",  # REVERSED SEMICOLON
        0xFE14: ";",  # PRESENTATION FORM FOR VERTICAL SEMICOLON
        0xFE54: ";",  # SMALL SEMICOLON
        0xFF1B: ";",  # FULLWIDTH SEMICOLON
        # U+2039 and U+203A map the wrong way round in Twilio's calculator (‹ to >, › to <);
        # kept for parity with it, UNCONFIRMED for Twilio itself.
        0x203A: "<",  # SINGLE RIGHT-POINTING ANGLE QUOTATION MARK
        0xFE64: "<",  # SMALL LESS-THAN SIGN
        0xFF1C: "<",  # FULLWIDTH LESS-THAN SIGN
        0x0347: "=",  # COMBINING EQUALS SIGN BELOW
        0xA78A: "=",  # MODIFIER LETTER SHORT EQUALS SIGN
        0xFE66: "=",  # SMALL EQUALS SIGN
        0xFF1D: "=",  # FULLWIDTH EQUALS SIGN
        0x2039: ">",  # SINGLE LEFT-POINTING ANGLE QUOTATION MARK (reversed, see U+203A)
        0xFE65: ">",  # SMALL GREATER-THAN SIGN
        0xFF1E: ">",  # FULLWIDTH GREATER-THAN SIGN
        0xFE16: "?",  # PRESENTATION FORM FOR VERTICAL QUESTION MARK
        0xFE56: "?",  # SMALL QUESTION MARK
        0xFF1F: "?",  # FULLWIDTH QUESTION MARK
        0xFE6B: "@",  # SMALL COMMERCIAL AT
        0xFF20: "@",  # FULLWIDTH COMMERCIAL AT
        0xFF3B: "[",  # FULLWIDTH LEFT SQUARE BRACKET
        0x20E5: "\\",  # COMBINING REVERSE SOLIDUS OVERLAY
        0x29F5: "\\",  # REVERSE SOLIDUS OPERATOR
        0x29F9: "\\",  # BIG REVERSE SOLIDUS
        0xFE68: "\\",  # SMALL REVERSE SOLIDUS
        0xFF3C: "\\",  # FULLWIDTH REVERSE SOLIDUS
        0xFF3D: "]",  # FULLWIDTH RIGHT SQUARE BRACKET
        0x02C6: "^",  # MODIFIER LETTER CIRCUMFLEX ACCENT
        0x0302: "^",  # COMBINING CIRCUMFLEX ACCENT
        0x1DCD: "^",  # COMBINING DOUBLE CIRCUMFLEX ABOVE
        0xFF3E: "^",  # FULLWIDTH CIRCUMFLEX ACCENT
        0x0332: "_",  # COMBINING LOW LINE
        0x2017: "_",  # DOUBLE LOW LINE
        0xFF3F: "_",  # FULLWIDTH LOW LINE
        0x2774: "{",  # MEDIUM LEFT CURLY BRACKET ORNAMENT
        0xFE5B: "{",  # SMALL LEFT CURLY BRACKET
        0xFF5B: "{",  # FULLWIDTH LEFT CURLY BRACKET
        0x20D2: "|",  # COMBINING LONG VERTICAL LINE OVERLAY
        0x20D3: "|",  # COMBINING SHORT VERTICAL LINE OVERLAY
        0x2223: "|",  # DIVIDES
        0x239C: "|",  # LEFT PARENTHESIS EXTENSION
        0x239F: "|",  # RIGHT PARENTHESIS EXTENSION
        0x23B8: "|",  # LEFT VERTICAL BOX LINE
        0x23B9: "|",  # RIGHT VERTICAL BOX LINE
        0x23D0: "|",  # VERTICAL LINE EXTENSION
        0xFF5C: "|",  # FULLWIDTH VERTICAL LINE
        0x2775: "}",  # MEDIUM RIGHT CURLY BRACKET ORNAMENT
        0xFE5C: "}",  # SMALL RIGHT CURLY BRACKET
        0xFF5D: "}",  # FULLWIDTH RIGHT CURLY BRACKET
        0x02DC: "~",  # SMALL TILDE
        0x02F7: "~",  # MODIFIER LETTER LOW TILDE
        0x0303: "~",  # COMBINING TILDE
        0x0330: "~",  # COMBINING TILDE BELOW
        0x0334: "~",  # COMBINING TILDE OVERLAY
        0x223C: "~",  # TILDE OPERATOR
        0xFF5E: "~",  # FULLWIDTH TILDE
    }
)

# Built once: the create path pays a single str.translate per body.
_TRANSLATION: Final = str.maketrans(dict(SMART_ENCODING_REPLACEMENTS))


def smart_encode(body: str) -> str:
    """`body` with every character in the Smart Encoding table replaced (or removed)."""
    return body.translate(_TRANSLATION)


def smart_encoding_changes(body: str) -> list[tuple[str, str]]:
    """The distinct (character, replacement) pairs `smart_encode` applies, in order of first
    appearance; an empty replacement means the character is removed."""
    table = SMART_ENCODING_REPLACEMENTS
    return [(char, table[ord(char)]) for char in dict.fromkeys(body) if ord(char) in table]
