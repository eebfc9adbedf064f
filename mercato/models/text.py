"""Which characters of a name are hidden: controls and the invisible characters a name may not
carry, and those a name needs although they draw nothing. Listings refuse hidden characters
(:mod:`mercato.models.markets`); the CLI prints any it is served escaped (a name stored before
listings refused them, or sent by a server of another version)."""

import unicodedata
from typing import Final

HIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
"""Controls; format characters (bidirectional marks and overrides, zero-width spaces, the byte-order
mark, the soft hyphen); private and surrogate code points; line and paragraph separators. Code
points unassigned in this Python's Unicode (``Cn``) pass: a newer emoji must not be refused by an
older interpreter only."""

JOINERS: Final = frozenset("\u200c\u200d") | frozenset(map(chr, range(0xE0020, 0xE0080)))
"""Format characters names need: the zero-width non-joiner and joiner (Persian and Indic names,
emoji sequences) and the tag characters of subdivision flags (England's, Wales's)."""

BLANKS: Final = frozenset("\u115f\u1160\u2800\u3164\uffa0\u17b4\u17b5")
"""Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern, Khmer's
inherent vowels)."""


def is_hidden(c: str) -> bool:
    """Whether the character ``c`` is one a name may not carry."""
    return c not in JOINERS and unicodedata.category(c) in HIDDEN_CATEGORIES
