"""Turning uploaded bytes into text: BOMs, UTF-8, then statistical detection (GBK, cp1252...)."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

from backend.knowledge.parsing.types import IngestError

# How much of a file decides its encoding; streamed files are then opened with that codec.
DETECT_BYTES = 64 * 1024

# Longest first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_KOREAN = {"cp949", "euc_kr", "johab", "iso2022_kr"}
_JAPANESE = {
    "cp932",
    "shift_jis",
    "shift_jis_2004",
    "shift_jisx0213",
    "euc_jp",
    "euc_jis_2004",
    "euc_jisx0213",
    "iso2022_jp",
}

_MULTIBYTE = ("utf", "gb", "big5", "cp93", "cp94", "cp95", "shift_jis", "euc", "johab", "iso2022")
_WINDOWS = ("cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1256", "cp1257")
# Non-ASCII characters of everyday Western European text in cp1252 (accented letters, curly
# quotes, dashes, euro...). Letters that mostly come from misreading Central European or
# Turkish text as cp1252 (ý ð þ ¹ ³ ...) are left out on purpose.
_COMMON_WESTERN = frozenset(
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜßœŒ€«»¿¡ºª©®™£§°·\xa0"
    "\u201c\u201d\u2018\u2019\u201e\u2013\u2014\u2026\u2022"
)

_BAD_ENCODING = (
    "The file's text encoding could not be recognised, so its characters can't be read. "
    "Save it as UTF-8 (in Excel: 'CSV UTF-8'; in most editors: 'Save with encoding: UTF-8') "
    "and upload it again."
)


def bom_encoding(data: bytes) -> str | None:
    """The codec named by a byte-order mark at the start of ``data`` (the codec strips it)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def _is_utf8(sample: bytes, *, complete: bool) -> bool:
    # An incremental decoder tolerates a multi-byte character cut at the end of a sample.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _count(text: str, low: int, high: int) -> int:
    return sum(1 for ch in text if low <= ord(ch) <= high)


def _plausible(text: str, encoding: str) -> bool:
    """Reject decodings that are technically valid but read as nonsense.

    charset-normalizer is unreliable on short CJK samples: GBK Chinese often comes back as
    cp949 (Korean) and Big5 as Shift-JIS. Real Korean is almost all Hangul and real Japanese
    nearly always has kana, so a decoding that mixes scripts otherwise is a misdetection.
    """
    if "\x00" in text:
        return False
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    if controls > max(2, len(text) // 100):
        return False
    han = _count(text, 0x4E00, 0x9FFF)
    codec = codecs.lookup(encoding).name.replace("-", "_")
    if codec in _KOREAN:
        hangul = _count(text, 0xAC00, 0xD7A3)
        return han <= 0.2 * (han + hangul)
    if codec in _JAPANESE:
        kana = _count(text, 0x3040, 0x30FF)
        halfwidth_kana = _count(text, 0xFF61, 0xFF9F)
        return halfwidth_kana == 0 and (kana > 0 or han < 4)
    return True


def _trim_to_line(sample: bytes) -> bytes:
    # A truncated sample can end inside a multi-byte character, which makes the right codec
    # look invalid; cutting at the last newline (keeping a UTF-16 NUL after it) avoids that.
    cut = sample.rfind(b"\n")
    if cut < len(sample) // 2:
        return sample
    end = cut + 1
    if sample[end : end + 1] == b"\x00":
        end += 1
    return sample[:end]


def _western(sample: bytes) -> bool:
    """True when cp1252 reads ``sample`` using only common Western European characters."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return all(ch in _COMMON_WESTERN for ch in text if ord(ch) > 127)


def _guess(sample: bytes) -> str | None:
    """The encoding of ``sample`` per charset-normalizer, corrected for its short-text habits.

    On short samples it ranks many single-byte code pages as equally good and often picks a
    DOS/Mac one (cp775, mac_cyrillic) over the Windows code page that Excel and Windows apps
    actually write. None when no candidate decodes plausibly.
    """
    matches = [m for m in from_bytes(sample) if _plausible(str(m)[:DETECT_BYTES], m.encoding)]
    if not matches:
        return None
    best = matches[0]
    if best.encoding.startswith(_MULTIBYTE):
        return best.encoding
    if _western(sample):
        return "cp1252"
    if best.encoding not in _WINDOWS:
        ties = (m for m in matches if m.chaos <= best.chaos + 0.01)
        for match in ties:
            windows = [c for c in match.could_be_from_charset if c in _WINDOWS]
            if windows:
                return windows[0]
    return best.encoding


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """The Python codec that reads ``sample`` (the start of a file, or all of it).

    ``complete`` says the sample is the whole file (a cut multi-byte character is then an
    error, not a truncation). Raises ``IngestError(code="bad_encoding")`` when nothing fits.
    """
    bom = bom_encoding(sample)
    if bom:
        return bom
    if _is_utf8(sample, complete=complete):
        return "utf-8"
    found = _guess(sample if complete else _trim_to_line(sample))
    if found is None:
        raise IngestError(_BAD_ENCODING, code="bad_encoding")
    return found


def decode_text(data: bytes) -> str:
    """Decode a whole file: UTF-8 (BOM stripped), other BOMs, else the detected charset.

    Detection looks at the first 64 KB; if that codec then fails on the rest, the whole file
    is examined. Raises ``IngestError(code="bad_encoding")`` when nothing decodes plausibly.
    """
    complete = len(data) <= DETECT_BYTES
    encoding = detect_encoding(data[:DETECT_BYTES], complete=complete)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if complete:
            raise IngestError(_BAD_ENCODING, code="bad_encoding") from None
        found = _guess(data)
        if found is None:
            raise IngestError(_BAD_ENCODING, code="bad_encoding") from None
        text = data.decode(found, errors="replace")
    if not _plausible(text[:DETECT_BYTES], encoding="utf-8"):
        raise IngestError(_BAD_ENCODING, code="bad_encoding")
    return text


def detect_file_encoding(path: Path) -> str:
    """The codec of a file that will be streamed, judged from its first non-ASCII bytes.

    A long export can be pure ASCII for its first 64 KB and only later contain "é" (in UTF-8
    or in cp1252): the start alone can't tell, so the file is scanned (block by block, not
    loaded) for the first non-ASCII byte and the text around it decides.
    """
    with path.open("rb") as handle:
        head = handle.read(DETECT_BYTES)
        if len(head) < DETECT_BYTES or not head.isascii() or bom_encoding(head):
            return detect_encoding(head, complete=len(head) < DETECT_BYTES)
        offset = len(head)
        while block := handle.read(1024 * 1024):
            if not block.isascii():
                first = next(i for i, byte in enumerate(block) if byte > 127)
                start = max(block.rfind(b"\n", 0, first) + 1, first - DETECT_BYTES // 2)
                handle.seek(offset + start)
                return detect_encoding(handle.read(DETECT_BYTES))
            offset += len(block)
    return "utf-8"  # all ASCII


def decode_head(head: bytes) -> str | None:
    """Best-effort text of a file's first bytes for sniffing; None when it isn't text."""
    try:
        encoding = detect_encoding(head)
    except IngestError:
        return None
    return head.decode(encoding, errors="replace")


def bad_encoding_error(detail: str = "") -> IngestError:
    """The standard bad-encoding error, with an optional hint where it went wrong."""
    message = _BAD_ENCODING if not detail else f"{detail} {_BAD_ENCODING}"
    return IngestError(message, code="bad_encoding")
