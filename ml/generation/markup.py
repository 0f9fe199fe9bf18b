"""Removing control markup (prompt delimiters, chat-template role markers) in one linear pass.

The markers are ``DELIMITER_RE`` (our prompt's tags: ``<passage ...>``, ``</question>``...) and
``ROLE_MARKER_RE`` (``<|im_start|>``, ``[INST]``, ``<<SYS>>``, ``<s>``). Each one removed becomes
a space, and both patterns allow spaces after ``<``/``[`` and before ``>``/``]``, so removing a
marker can complete another around it: ``<<s>s>`` becomes ``< s>``, itself a marker. Applying
the patterns until nothing changes costs O(n²) on nested input (``"<"*k + "s>"*k``), and one
``re.sub`` with ``<\\s*/?\\s*`` is already O(n²) on ``"<"`` followed by many spaces.

:func:`strip_control_markup` scans once, keeping a stack of the ``<`` and ``[`` still open. At a
``>`` or ``]`` only the innermost open bracket can start a marker that ends there (a marker holds
no other ``<``/``>`` and ``[``/``]`` holds only spaces, ``/`` and ``INST``), and what lies between
them is final by then (markers inside were already replaced by their space). So one check of
that text decides: a marker is replaced by a space and the bracket below it on the stack sees
the space, as the repeated patterns would; otherwise the closer stays and every open bracket it
makes impossible is dropped. Each character is checked at most once: the result holds no match
of either pattern, in O(n).
"""

from __future__ import annotations

import re

# What stands between each marker's brackets. ``\s*(?:/\s*)?`` is ``\s*/?\s*`` without its
# ambiguity: a failing match costs O(n), not O(n²), on a "<" followed by n spaces.
_DELIMITER_BODY = r"\s*(?:/\s*)?(?:passages?|question|system|instructions?)\b[^<>]*"
_PIPES_BODY = r"\s*\|[^<>|]{0,40}\|\s*"
_S_BODY = r"\s*(?:/\s*)?s\s*"
_SYS_INNER = r"\s*(?:/\s*)?SYS\s*"
_INST_INNER = r"\s*(?:/\s*)?INST\s*"

DELIMITER_RE = re.compile(f"<{_DELIMITER_BODY}>", re.IGNORECASE)
"""Tags our prompt uses as structure (see ml.generation.prompt), tolerant of case and spaces."""
ROLE_MARKER_RE = re.compile(
    f"<{_PIPES_BODY}>|\\[{_INST_INNER}\\]|<<{_SYS_INNER}>>|<{_S_BODY}>", re.IGNORECASE
)
"""Chat-template role/special markers: <|im_start|>, <|system|>, [INST], <<SYS>>, <s>, </s>."""

_ANGLE_BODY = re.compile(f"{_DELIMITER_BODY}|{_PIPES_BODY}|{_S_BODY}", re.IGNORECASE)
_SYS_BODY = re.compile(_SYS_INNER, re.IGNORECASE)  # <<SYS>>, <</SYS>>
_INST_BODY = re.compile(_INST_INNER, re.IGNORECASE)  # [INST], [/INST]
_BRACKETS = re.compile(r"[<>\[\]]")


class _Scan:
    """The output so far as pieces (text runs, and single bracket characters), with the
    indexes of the open brackets that may still start a marker."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.open: list[int] = []  # indexes in ``out`` of "<" and "[" pieces, innermost last
        self.kept_square: list[int] = []  # indexes in ``out`` of "]" pieces that stay

    def body(self, start: int) -> str:
        return "".join(self.out[start + 1 :])

    def replace_from(self, start: int) -> None:
        """Replace ``out[start:]`` (an opening bracket and what follows) by a space."""
        del self.out[start:]
        self.out.append(" ")
        while self.open and self.open[-1] >= start:
            self.open.pop()
        while self.kept_square and self.kept_square[-1] >= start:
            self.kept_square.pop()

    def close_angle(self, next_char: str) -> bool:
        """At a ``>``: True when it ended a marker (and ``<<SYS>>``'s second ``>`` is due)."""
        while self.open and self.out[self.open[-1]] == "[":
            self.open.pop()  # a marker ending here holds no "[" and "[...]" holds no ">"
        if not self.open:
            self.out.append(">")
            return False
        start = self.open[-1]
        body = self.body(start)
        if (
            next_char == ">"
            and len(self.open) > 1
            and self.open[-2] == start - 1
            and self.out[start - 1] == "<"
            and _SYS_BODY.fullmatch(body)
        ):
            self.replace_from(start - 1)
            return True
        if _ANGLE_BODY.fullmatch(body):
            self.replace_from(start)
        else:  # no marker ends here, and none can hold this ">" later
            self.out.append(">")
            self.open.clear()
            self.kept_square.clear()
        return False

    def close_square(self) -> None:
        """At a ``]``: an ``[INST]`` marker, or a ``]`` that closes every open ``[``."""
        barrier = self.kept_square[-1] if self.kept_square else -1
        while self.open and self.out[self.open[-1]] == "[" and self.open[-1] < barrier:
            self.open.pop()  # a "]" that stays lies between: it cannot be [INST] any more
        if self.open and self.out[self.open[-1]] == "[":
            start = self.open[-1]
            if _INST_BODY.fullmatch(self.body(start)):
                self.replace_from(start)
                return
            self.open.pop()
        self.kept_square.append(len(self.out))
        self.out.append("]")


def strip_control_markup(text: str) -> str:
    """Remove prompt-delimiter look-alikes and role markers, each replaced by a space, also
    when removing one completes another; other text (whitespace included) is kept as is.

    One pass, O(len(text)); the result holds no match of ``DELIMITER_RE`` or ``ROLE_MARKER_RE``,
    so stripping it again changes nothing."""
    scan = _Scan()
    out = scan.out
    pos, skip_next = 0, False
    for match in _BRACKETS.finditer(text):
        i = match.start()
        if skip_next:  # the second ">" of a <<SYS>> marker, already replaced
            skip_next = False
            pos = i + 1
            continue
        if i > pos:
            out.append(text[pos:i])
        pos = i + 1
        char = text[i]
        if char in "<[":
            scan.open.append(len(out))
            out.append(char)
        elif char == ">":
            skip_next = scan.close_angle(text[i + 1 : i + 2])
        else:
            scan.close_square()
    out.append(text[pos:])
    return "".join(out)
