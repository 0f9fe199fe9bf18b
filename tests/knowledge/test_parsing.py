"""Parsers and sniffing on fixtures built here: FAQ files, documents, lying and hostile input."""

from __future__ import annotations

import csv
import io
import json
import random
import time
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from backend.knowledge.parsing.documents import check_pdf
from backend.knowledge.parsing.parse import parse_file
from backend.knowledge.parsing.sniff import SNIFF_BYTES, sniff_type
from backend.knowledge.parsing.text import decode_text
from backend.knowledge.parsing.types import (
    FileTooLarge,
    IngestError,
    IngestLimits,
    ParsedDocument,
)
from tests.knowledge.files import make_pdf

pytestmark = pytest.mark.unit

LIMITS = IngestLimits()


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def parse(
    tmp_path: Path,
    name: str,
    data: bytes | str,
    limits: IngestLimits = LIMITS,
    encoding: str = "utf-8",
) -> ParsedDocument:
    return parse_file(write(tmp_path, name, data, encoding), name, limits)


def refused(
    tmp_path: Path, name: str, data: bytes | str, limits: IngestLimits = LIMITS
) -> IngestError:
    with pytest.raises(IngestError) as caught:
        parse(tmp_path, name, data, limits)
    return caught.value


def rewrite_pdf(
    pdf: bytes, password: str | None = None, owner: str | None = None, algorithm: str | None = None
) -> bytes:
    """The PDF with a bookmark on page 1, encrypted when a (possibly empty) password is given."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_outline_item(title="Welcome", page_number=0)
    if password is not None:
        writer.encrypt(password, owner, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- FAQ files --------------------------------------------------------------------------------

CHINESE = (
    "question,answer\n"
    "如何重置密码？,点击登录页面的“忘记密码”链接。\n"  # noqa: RUF001
    "怎么申请退款？,请在订单页面提交退款申请。\n"  # noqa: RUF001
)


@pytest.mark.parametrize(
    ("data", "encoding", "question"),
    [
        ("question,answer\nHow do I pay?,By card.\n", "utf-8", "How do I pay?"),
        ("\ufeffQuestion,Answer\nHow do I pay?,By card.\n", "utf-8", "How do I pay?"),
        (CHINESE, "gbk", "如何重置密码？"),  # noqa: RUF001
        ("Question;Réponse\nÇa coûte combien ?;Très peu, à peine 5 €.\n", "cp1252", None),
        ("question,answer\nCafé ouvert ?,Oui à 8h.\nNoël ?,Fermé.\n", "latin-1", "Café ouvert ?"),
        ("\ufeffquestion\tanswer\nTabbed?\tYes.\n", "utf-16-le", "Tabbed?"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "cp1252-missing-answer", "latin1", "utf16-bom-tabs"],
)
def test_csv_encodings(tmp_path: Path, data: str, encoding: str, question: str | None) -> None:
    if question is None:  # "Réponse" is not an answer alias: the columns found are listed
        error = refused(tmp_path, "faq.csv", data.encode(encoding))
        assert error.code == "missing_columns" and "'réponse'" in error.message.lower()
        return
    doc = parse(tmp_path, "faq.csv", data, encoding=encoding)
    assert doc.source_type == "csv" and doc.is_faq and doc.title == "faq"
    assert doc.faq[0].question == question


def test_csv_semicolons_multiline_aliases_and_optional_columns(tmp_path: Path) -> None:
    data = (
        "Q;Response;Category;Tags;URL;ID;Alternatives;alt1\n"
        '"How do I return, exchange or swap an item?";"Step one.\n\nStep two; done.";'
        'Returns;"returns|refunds";https://x.test/r;R-1;"Give it back? | Swap it?";Exchange?\n'
        ";No question here;;;;;;\n"
        "Plain?;Plain.;;a, b ,a;;;;\n"
    )
    doc = parse(tmp_path, "export.csv", data)
    first, second = doc.faq
    assert first.question == "How do I return, exchange or swap an item?"
    assert first.answer == "Step one.\n\nStep two; done."
    assert (first.category, first.url, first.external_id) == ("Returns", "https://x.test/r", "R-1")
    assert first.tags == ["returns", "refunds"]
    assert first.alternatives == ["Give it back?", "Swap it?", "Exchange?"]
    assert second.tags == ["a", "b"] and second.alternatives == [] and second.category is None
    assert doc.warnings[0].startswith("Skipped 1 of 3 rows")
    assert "Row 3" in doc.warnings[1] and "question is empty" in doc.warnings[1]


def test_csv_encoding_is_found_past_the_first_64kb_and_excel_sep_line(tmp_path: Path) -> None:
    # An export that is plain ASCII for 130 KB and only then has cp1252 accents.
    filler = "".join(f"Question {i}?,Answer {i}.\n" for i in range(5000))
    data = ("sep=,\nquestion,answer\n" + filler + "Café ?,Très bien.\n").encode("cp1252")
    doc = parse(tmp_path, "export.csv", data)
    assert len(doc.faq) == 5001 and doc.faq[-1].question == "Café ?"


def test_csv_more_than_three_alternatives_are_cut_with_a_warning(tmp_path: Path) -> None:
    data = "question,answer,alternative_1,alternative_2,alt3,alt_4\nQ?,A.,one,two,three,four\n"
    doc = parse(tmp_path, "faq.csv", data)
    assert doc.faq[0].alternatives == ["one", "two", "three"]
    assert any("first 3 of 4" in w for w in doc.warnings)


def test_csv_missing_answer_column_lists_columns(tmp_path: Path) -> None:
    error = refused(tmp_path, "faq.csv", "question,reply,notes\nQ?,A.,n\n")
    assert error.code == "missing_columns"
    assert "'question', 'reply', 'notes'" in error.message and "answer" in error.message


def test_csv_warnings_are_capped_and_all_invalid_is_empty(tmp_path: Path) -> None:
    rows = "".join(f"Q{i}?,\n" for i in range(100))
    doc = parse(tmp_path, "faq.csv", "question,answer\n" + rows + "Good?,Yes.\n")
    assert len(doc.faq) == 1 and len(doc.warnings) == 22
    assert doc.warnings[-1] == "...and 80 more warnings not shown."
    assert refused(tmp_path, "faq.csv", "question,answer\n" + rows).code == "empty_file"
    assert refused(tmp_path, "faq.csv", "question,answer\n").code == "empty_file"


def test_csv_100k_rows_are_accepted_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["question", "answer", "category", "tags"])
        out.writerows(
            [f"How do I do thing {i}?", f"Like this, step {i}.", "general", "a|b"]
            for i in range(100_000)
        )
    started = time.perf_counter()
    doc = parse_file(path, "big.csv", LIMITS)
    elapsed = time.perf_counter() - started
    assert len(doc.faq) == 100_000 and doc.faq[-1].question == "How do I do thing 99999?"
    assert elapsed < 10, f"100k rows took {elapsed:.1f}s"


def test_csv_row_limit_stops_reading_early(tmp_path: Path) -> None:
    # Undecodable bytes after the limit prove the rest of the file is never read.
    data = b"question,answer\n" + b"Q?,A.\n" * 11 + b"\xff\xfe\xfa broken,\xc3\n"
    error = refused(tmp_path, "faq.csv", data, IngestLimits(max_rows=10))
    assert error.code == "too_many_rows" and "10" in error.message
    entry = {"question": "Q?", "answer": "A."}
    for name, text in (
        ("faq.json", json.dumps([entry] * 3)),
        ("faq.jsonl", "\n".join(json.dumps(entry) for _ in range(3))),
    ):
        assert refused(tmp_path, name, text, IngestLimits(max_rows=2)).code == "too_many_rows"


def test_json_shapes_and_aliases(tmp_path: Path) -> None:
    items = [
        {"Title": "How to pay?", "Body": "Card.", "tags": ["billing"], "id": 7},
        {"question": "Skip me", "answer": ""},
        "not an object",
    ]
    doc = parse(tmp_path, "faq.txt", json.dumps(items))  # content decides, not ".txt"
    assert doc.source_type == "json" and len(doc.faq) == 1
    assert doc.faq[0].external_id == "7" and doc.faq[0].tags == ["billing"]
    assert doc.warnings[0] == "Skipped 2 of 3 rows (see below)."
    wrapped = {"Entries": [{"query": "Q?", "content": "A.", "alternatives": "x | y"}]}
    doc = parse(tmp_path, "faq.json", json.dumps(wrapped))
    assert doc.faq[0].alternatives == ["x", "y"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ('[{"frage": "Q?", "antwort": "A."}]', "missing_columns"),
        ('{"settings": {"x": 1}}', "missing_columns"),
        ('[{"question": "Q?", "answer": "A."},', "corrupt_file"),
    ],
)
def test_json_errors(tmp_path: Path, data: str, code: str) -> None:
    error = refused(tmp_path, "faq.json", data)
    assert error.code == code
    if code == "missing_columns" and "frage" in data:
        assert "'frage', 'antwort'" in error.message


def test_jsonl_streams_and_skips_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"question": "Q1?", "answer": "A1.", "category": "c"}),
        "",
        "{broken",
        json.dumps({"q": "Q2?", "a": "A2.", "tags": "x,y"}),
    ]
    doc = parse(tmp_path, "faq.jsonl", "\n".join(lines) + "\n")
    assert doc.source_type == "jsonl" and [e.question for e in doc.faq] == ["Q1?", "Q2?"]
    assert doc.faq[1].tags == ["x", "y"] and "Line 3" in doc.warnings[1]
    error = refused(tmp_path, "faq.jsonl", '{"x": 1}\n{"y": 2}\n')
    assert error.code == "missing_columns" and "'x', 'y'" in error.message


# --- documents --------------------------------------------------------------------------------

MARKDOWN = """---
title: Help centre
---
Intro before any heading.

# Account

Text about accounts.

## Passwords

Reset it from the login page.

Second paragraph.

```bash
# not a heading
echo hi
```

### Two-factor

Use an app.

Billing
=======

Invoices are monthly.

Refunds
-------

Within 30 days.
"""


def test_markdown_heading_paths_fences_and_setext(tmp_path: Path) -> None:
    doc = parse(tmp_path, "help.md", MARKDOWN)
    assert doc.source_type == "markdown" and doc.title == "Help centre"
    paths = [s.heading_path for s in doc.sections]
    assert paths == [
        [],
        ["Account"],
        ["Account", "Passwords"],
        ["Account", "Passwords", "Two-factor"],
        ["Billing"],
        ["Billing", "Refunds"],
    ]
    passwords = doc.sections[2].text
    assert "Reset it from the login page.\n\nSecond paragraph." in passwords
    assert "# not a heading" in passwords and passwords.endswith("```")


def test_markdown_title_is_first_h1_and_text_files_use_paragraphs(tmp_path: Path) -> None:
    assert parse(tmp_path, "notes.txt", "# Shipping\n\nWe ship daily.\n").title == "Shipping"
    doc = parse(tmp_path, "Opening hours.txt", "Mon-Fri 9-17.\nSat 10-14.\n\n\n\nClosed Sundays.\n")
    assert doc.source_type == "text" and doc.title == "Opening hours"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        ([], "Mon-Fri 9-17.\nSat 10-14."),
        ([], "Closed Sundays."),
    ]


def test_markdown_heading_forms_and_front_matter_title(tmp_path: Path) -> None:
    text = (
        "---\ntitle:  \"Help: the 'basics'\"  \nauthor: x\n---\n"
        "# Account {#account}\nintro\n"
        "## Passwords ##\nreset\n"
        "### C# and F#\nlangs\n"
        "#### #\nempty\n"
        "####### seven\n#nospace\n    # indented\n"
        "## [Reset](https://x/r) your `PIN` **now** ##   \nend\n"
        "##\t Tabs\t#\t\nlast\n"
    )
    doc = parse(tmp_path, "forms.md", text)
    assert doc.title == "Help: the 'basics'"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (["Account"], "intro"),
        (["Account", "Passwords"], "reset"),
        (
            ["Account", "Passwords", "C# and F#"],
            "langs\nempty\n####### seven\n#nospace\n    # indented",
        ),
        (["Account", "Reset your PIN now"], "end"),
        (["Account", "Tabs"], "last"),
    ]


HOSTILE_LINE = 200_000


@pytest.mark.timeout(30)  # linear: well under a second here; 16,000 spaces used to take 9 s
@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("# a" + " " * HOSTILE_LINE + "b\n\nbody\n", "a" + " " * HOSTILE_LINE + "b"),
        ("# " + "[" * HOSTILE_LINE + "\n\nbody\n", "[" * HOSTILE_LINE),
        ("# " + "{#" * HOSTILE_LINE + "\n\nbody\n", "{#" * HOSTILE_LINE),
        ("# " + "[a](" * (HOSTILE_LINE // 4) + "\n\nbody\n", "[a](" * (HOSTILE_LINE // 4)),
        ("---\ntitle: a" + " " * HOSTILE_LINE + "b\n---\nbody\n", "a" + " " * HOSTILE_LINE + "b"),
    ],
)
def test_hostile_heading_and_title_lines_parse_in_linear_time(
    tmp_path: Path, text: str, title: str
) -> None:
    assert parse(tmp_path, "hostile.md", text).title == title


@pytest.mark.timeout(30)  # linear: ~0.1 s each here; these heads took 5 s to days before
@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"<!---->" * 40 + b"x", "text"),  # backtracking was exponential in the comments
        (b"<!-- a -->\n" * 40 + b"<!doctype html><p>hi</p>", "html"),
        (b"[a" * (SNIFF_BYTES // 2), "text"),
        (b"[a](b" * (SNIFF_BYTES // 5), "text"),
        (b"**a " * (SNIFF_BYTES // 4), "text"),
    ],
)
def test_hostile_heads_are_sniffed_in_linear_time(head: bytes, kind: str) -> None:
    assert sniff_type(head, "notes.txt") == kind


HTML = """<!DOCTYPE html><html><head><meta charset="windows-1252"><title>Returns | Shop</title>
<style>.menu { color: red }</style><script>var tracking = "SECRET_SCRIPT";</script></head>
<body><nav><a href="/">Home</a> <a href="/about">NAVIGATION_LINK</a></nav>
<main><article><h1>Returns policy</h1>
<p>You can return any item within 30 days of purchase. Items must be unused and in their
original packaging, with the receipt or order number at hand.</p>
<h2>Refunds</h2><p>Refunds are issued to the original payment method within five business
days after we receive the item. Shipping costs are refunded for faulty items € only.</p>
<h3>Exceptions</h3><p>Gift cards, personalised products and opened software cannot be
returned or refunded under any circumstances.</p></article></main>
<footer>Copyright 2024 Shop Ltd</footer></body></html>"""


def test_html_main_text_keeps_headings_and_drops_noise(tmp_path: Path) -> None:
    doc = parse(tmp_path, "page.html", HTML.encode("cp1252"))
    assert doc.source_type == "html" and doc.title == "Returns | Shop"
    everything = "\n".join(s.text for s in doc.sections)
    assert "SECRET_SCRIPT" not in everything and "NAVIGATION_LINK" not in everything
    assert "color: red" not in everything and "€ only" in everything
    paths = [s.heading_path for s in doc.sections]
    assert ["Returns policy", "Refunds", "Exceptions"] in paths
    assert "30 days" in doc.sections[paths.index(["Returns policy"])].text


def test_short_html_falls_back_to_visible_text_with_headings(tmp_path: Path) -> None:
    page = (
        "<html><body><nav>Home About</nav><h1>Hours</h1><p>Open 9-5.</p>"
        "<script>x()</script><h2>Holidays</h2><ul><li>Closed Dec 25</li></ul></body></html>"
    )
    doc = parse(tmp_path, "hours.htm", page)
    assert doc.title == "Hours"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (["Hours"], "Open 9-5."),
        (["Hours", "Holidays"], "- Closed Dec 25"),
    ]


def test_pdf_pages_outline_and_pdf_named_csv(tmp_path: Path) -> None:
    pdf = make_pdf([["Hello world", "second line"], ["Page two text"]])
    doc = parse(tmp_path, "guide.csv", pdf)  # content wins over the extension
    assert doc.source_type == "pdf" and doc.title == "guide"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (["Page 1"], "Hello world\nsecond line"),
        (["Page 2"], "Page two text"),
    ]
    outlined = parse(tmp_path, "guide.pdf", rewrite_pdf(pdf))
    assert [s.heading_path for s in outlined.sections] == [
        ["Welcome", "Page 1"],
        ["Welcome", "Page 2"],
    ]


def test_pdf_encryption(tmp_path: Path) -> None:
    pdf = make_pdf([["Secret text"]])
    error = refused(tmp_path, "locked.pdf", rewrite_pdf(pdf, "pw"))
    assert error.code == "encrypted_pdf" and "password" in error.message
    with pytest.raises(IngestError, match="password"):  # the quick check used before queuing
        check_pdf(tmp_path / "locked.pdf")
    # Encrypted only against editing (empty user password): readable, also with AES.
    opened = rewrite_pdf(pdf, "", owner="o", algorithm="AES-256")
    assert parse(tmp_path, "restricted.pdf", opened).sections[0].text == "Secret text"


@pytest.mark.parametrize("cut", ["truncated", "garbage"])
def test_pdf_corrupt(tmp_path: Path, cut: str) -> None:
    pdf = make_pdf([["Hello"]])
    data = (
        pdf[: len(pdf) // 2]
        if cut == "truncated"
        else b"%PDF-1.7\n" + random.Random(2).randbytes(3000)
    )
    assert refused(tmp_path, "broken.pdf", data).code == "corrupt_file"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    error = refused(tmp_path, "scan.pdf", make_pdf([[], []]))
    assert error.code == "empty_file" and "no text layer" in error.message


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Employee handbook", 0)
    document.add_paragraph("Welcome aboard.")
    document.add_heading("Leave", 1)
    document.add_paragraph("You get 25 days.")
    document.add_heading("Sick leave", 2)
    document.add_paragraph("Call in before 9.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Days", "Rule"), ("1-3", "No note needed")], strict=True):
        row.cells[0].text, row.cells[1].text = cells
    document.add_heading("Expenses", 1)
    document.add_paragraph("Submit receipts monthly.")
    path = tmp_path / "handbook.docx"
    document.save(str(path))
    doc = parse_file(path, "handbook.docx", LIMITS)
    assert doc.source_type == "docx" and doc.title == "Employee handbook"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (["Employee handbook"], "Welcome aboard."),
        (["Employee handbook", "Leave"], "You get 25 days."),
        (
            ["Employee handbook", "Leave", "Sick leave"],
            "- Call in before 9.\n\nDays | Rule\n1-3 | No note needed",
        ),
        (["Employee handbook", "Expenses"], "Submit receipts monthly."),
    ]


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~300 KB .docx whose document.xml inflates to 300 MB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        chunk = bytes(1024 * 1024)
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(chunk)
    return path


def test_docx_zip_bomb_and_corrupt_zip(tmp_path: Path, zip_bomb: Path) -> None:
    assert zip_bomb.stat().st_size < 1024 * 1024
    error = refused(tmp_path, "report.docx", zip_bomb.read_bytes())
    assert error.code == "zip_bomb"
    # Under the total limit, the compression ratio alone gives it away.
    small = IngestLimits(max_uncompressed_bytes=10**12)
    assert refused(tmp_path, "report.docx", zip_bomb.read_bytes(), small).code == "zip_bomb"
    truncated = zip_bomb.read_bytes()[:5000]
    assert refused(tmp_path, "report.docx", truncated).code == "corrupt_file"


# --- sniffing and limits ----------------------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)


def _xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "detected"),
    [
        ("photo.pdf", PNG, "a PNG image"),
        ("notes.txt", ELF, "Linux program"),
        ("readme.txt", EXE, "Windows program"),
        ("faq.csv", _xlsx(), "Excel workbook"),
        ("data.json", bytes(range(256)) * 8, "binary data"),
    ],
)
def test_lying_extensions_are_refused(
    tmp_path: Path, name: str, data: bytes, detected: str
) -> None:
    error = refused(tmp_path, name, data)
    assert error.code == "unsupported_type"
    assert detected in error.message and f"'.{name.rsplit('.', 1)[1]}'" in error.message
    assert "PDF, Word (.docx)" in error.message


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("faq.txt", "question,answer\nQ?,A.\n", "csv"),
        (
            "faq.md",
            '{"question": "Q?", "answer": "A."}\n{"question": "R?", "answer": "B."}\n',
            "jsonl",
        ),
        ("page.txt", "<!doctype html><title>T</title><p>Hello there</p>", "html"),
        ("notes", "Plain words, nothing else.", "text"),
        ("howto.txt", "Every PDF starts with %PDF-1.7 as its header.", "text"),
        ("list.txt", "Shopping:\n\n- [milk](http://x.test)\n- **eggs** now\n", "markdown"),
    ],
)
def test_content_decides_between_text_formats(
    tmp_path: Path, name: str, data: str, kind: str
) -> None:
    assert parse(tmp_path, name, data).source_type == kind


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n  ", b"\xef\xbb\xbf \n", b" " * 70_000])
def test_empty_and_whitespace_files(tmp_path: Path, data: bytes) -> None:
    error = refused(tmp_path, "empty.csv", data)
    assert error.code == "empty_file" and "empty" in error.message


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    limits = IngestLimits(max_bytes=1024 * 1024)
    with pytest.raises(FileTooLarge) as caught:
        parse(tmp_path, "big.txt", b"x" * (3 * 1024 * 1024 // 2), limits)
    assert caught.value.code == "file_too_large" and caught.value.status_code == 413
    assert "1.5 MB" in caught.value.message and "1.0 MB" in caught.value.message


def test_decode_text_encodings_and_garbage(tmp_path: Path) -> None:
    assert decode_text("\ufeffhéllo wörld".encode("utf-16-le")) == "héllo wörld"
    assert decode_text("\ufeffplain".encode()) == "plain"
    assert decode_text("Grüße aus Köln, schöne Straße.".encode("cp1252")).startswith("Grüße")
    rng = random.Random(1)
    noise = bytes(rng.randrange(0x80, 0x100) for _ in range(2000))
    assert refused(tmp_path, "weird.txt", noise).code == "bad_encoding"
