"""Knowledge through the admin API, on SQLite and PostgreSQL, with the real parsers, the real
MiniLM embedder, FAISS + BM25, and jobs run by the real runner."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from pypdf import PdfWriter

from tests.knowledge.conftest import KB
from tests.procs import wait_for

pytestmark = pytest.mark.integration

FAQ_CSV = b"""question,answer,category,alternatives,url
When will my card arrive?,Cards arrive within 5-7 working days.,card_arrival,where is my card | card not delivered,https://help.example/card
How do I change my PIN?,Change your PIN at any ATM or in the app under Card settings.,change_pin,new pin | reset pin,
What exchange rate do you use?,We use the interbank rate plus a small weekend markup.,exchange_rate,fx rate | conversion rate,
"""
TERMS_MD = b"""# Terms and fees

## Cash withdrawals
ATM withdrawals are free up to 200 EUR a month; after that we charge 2 percent.

## Transfers
SEPA transfers arrive within one working day. SWIFT transfers cost 5 EUR.
"""


def _top(kb: KB, query: str) -> dict:  # type: ignore[type-arg]
    hits = kb.search(query)["hits"]
    assert hits, f"no hits for {query!r}"
    return hits[0]  # type: ignore[no-any-return]


def test_faq_and_markdown_ingest_search_replace_delete(kb: KB) -> None:
    job = kb.upload("faq.csv", FAQ_CSV)
    assert job["status"] == "succeeded", job
    assert job["result"]["chunks"] == 3 and job["progress"] == 100
    top = _top(kb, "how can i reset my pin number")
    assert top["category"] == "change_pin" and top["kind"] == "faq" and top["document"] == "faq.csv"
    assert top["dense_score"] > 0 and top["rank"] == 1

    assert kb.upload("terms.md", TERMS_MD)["status"] == "succeeded"
    cash = _top(kb, "is there a fee for taking cash out at an ATM")
    assert cash["kind"] == "passage" and cash["title"] == "Terms and fees > Cash withdrawals"
    docs = kb.client.get(kb.url("/documents"), headers=kb.headers).json()
    assert {d["name"]: d["chunk_count"] for d in docs} == {"faq.csv": 3, "terms.md": 2}
    detail = kb.client.get(kb.url(f"/documents/{docs[1]['id']}"), headers=kb.headers).json()
    assert detail["chunks"][0]["url"] == "https://help.example/card"
    assert detail["chunks"][0]["alternatives"] == ["where is my card", "card not delivered"]

    # Category filter.
    filtered = kb.search("card", category=["exchange_rate"])["hits"]
    assert filtered and {h["category"] for h in filtered} == {"exchange_rate"}

    # Same content again: nothing to do. New content: version 2, old chunks gone.
    assert kb.upload("faq.csv", FAQ_CSV)["result"]["unchanged"] is True
    v2 = FAQ_CSV.replace(b"How do I change my PIN?", b"How do I unblock my PIN?")
    assert kb.upload("faq.csv", v2)["result"]["version"] == 2
    titles = [h["title"] for h in kb.search("pin", k=10)["hits"]]
    assert "How do I unblock my PIN?" in titles and "How do I change my PIN?" not in titles

    # Delete: hidden from answers at once, removed from the index by the job.
    terms_id = next(d["id"] for d in docs if d["name"] == "terms.md")
    resp = kb.client.delete(kb.url(f"/documents/{terms_id}"), headers=kb.headers)
    assert resp.status_code == 202
    # every API process sees it within DESKPILOT_INDEX_POLL_S (0.05 s here)
    wait_for(
        lambda: all(
            h["document"] != "terms.md" for h in kb.search("ATM withdrawal fee", k=10)["hits"]
        ),
        10,
        "the deleted document to leave the answers",
    )
    again = kb.client.delete(kb.url(f"/documents/{terms_id}"), headers=kb.headers)
    assert again.status_code == 409
    assert kb.run(resp.json())["status"] == "succeeded"
    assert kb.client.get(kb.url(f"/documents/{terms_id}"), headers=kb.headers).status_code == 404
    assert all(h["document"] != "terms.md" for h in kb.search("ATM withdrawal fee", k=10)["hits"])

    # Re-index keeps the same content under a new version.
    before = kb.search("pin")["index_version"]
    reindex = kb.client.post(kb.url("/knowledge/reindex"), headers=kb.headers)
    assert kb.run(reindex.json())["status"] == "succeeded"
    wait_for(lambda: kb.search("pin")["index_version"] != before, 10, "the new index to serve")
    versions = kb.client.get(kb.url("/knowledge/indexes"), headers=kb.headers).json()
    assert sum(v["is_active"] for v in versions) == 1
    metrics = kb.client.get("/metrics").text
    assert 'deskpilot_retrieval_seconds_count{mode="hybrid"}' in metrics
    assert "deskpilot_index_swaps_total" in metrics


def test_failed_ingestion_keeps_the_previous_index_serving(kb: KB) -> None:
    assert kb.upload("faq.csv", FAQ_CSV)["status"] == "succeeded"
    before = kb.search("exchange rate")
    # A PDF with pages but no text layer passes the quick check, then fails in the job.
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    import io

    buf = io.BytesIO()
    writer.write(buf)
    job = kb.upload("scan.pdf", buf.getvalue())
    assert job["status"] == "failed" and not job["retryable"]
    assert "text" in job["error"].lower()
    after = kb.search("exchange rate")
    assert after["index_version"] == before["index_version"]
    assert after["hits"][0]["chunk_id"] == before["hits"][0]["chunk_id"]
    names = [d["name"] for d in kb.client.get(kb.url("/documents"), headers=kb.headers).json()]
    assert names == ["faq.csv"]


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.csv", b"", 422, "empty_file"),
        ("blank.txt", b"   \n\n  ", 422, "empty_file"),
        ("nocols.csv", b"foo,bar\nx,y\n", 422, "missing_columns"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 422, "unsupported_type"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj garbage", 422, "corrupt_file"),
    ],
)
def test_bad_uploads_are_refused_with_nothing_stored(
    kb: KB, name: str, data: bytes, status: int, code: str
) -> None:
    resp = kb.client.post(kb.url("/documents"), files={"file": (name, data)}, headers=kb.headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    assert kb.client.get(kb.url("/documents"), headers=kb.headers).json() == []
    assert not list((kb.settings.data_dir / "uploads").glob("*/*"))  # staging cleaned up


def test_encrypted_pdf_is_refused(kb: KB) -> None:
    import io

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    buf = io.BytesIO()
    writer.write(buf)
    resp = kb.client.post(
        kb.url("/documents"), files={"file": ("locked.pdf", buf.getvalue())}, headers=kb.headers
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "encrypted_pdf"


def test_file_or_url_required(kb: KB) -> None:
    resp = kb.client.post(kb.url("/documents"), headers=kb.headers, data={})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "file_or_url"


@pytest.fixture
def site() -> Iterator[str]:
    page = (
        b"<html><head><title>Help</title></head><body><nav>menu</nav><main><h1>Card help</h1>"
        + (
            b"<p>Contactless payments work up to 50 EUR per payment. Hold the card near the reader.</p>"
            * 3
        )
        + b"</main></body></html>"
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/help/contactless"
    server.shutdown()


def test_url_ingestion(kb: KB, site: str) -> None:
    resp = kb.client.post(kb.url("/documents"), data={"url": site}, headers=kb.headers)
    assert resp.status_code == 202, resp.text
    assert kb.run(resp.json())["status"] == "succeeded"
    top = _top(kb, "what is the contactless limit")
    assert "50 EUR" in top["text"]
    doc = kb.client.get(kb.url("/documents"), headers=kb.headers).json()[0]
    assert doc["source_uri"] == site and doc["source_type"] == "html"


def test_size_limit_and_private_urls_with_stricter_settings(kb: KB, site: str) -> None:
    from fastapi.testclient import TestClient

    from backend.core.settings import load_settings
    from backend.main import create_app

    strict = load_settings(kb_max_upload_mb=0.01, kb_allow_private_urls=False)
    with TestClient(create_app(strict)) as client:
        big = b"question,answer\n" + b"q,a\n" * 5000
        resp = client.post(
            kb.url("/documents"), files={"file": ("big.csv", big)}, headers=kb.headers
        )
        assert resp.status_code == 413 and resp.json()["error"]["code"] == "file_too_large"
        resp = client.post(kb.url("/documents"), data={"url": site}, headers=kb.headers)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "url_forbidden"
        resp = client.post(
            kb.url("/documents"), data={"url": "ftp://example.com/x"}, headers=kb.headers
        )
        assert resp.status_code == 422
    assert kb.client.get(kb.url("/documents"), headers=kb.headers).json() == []
    assert not list((strict.data_dir / "uploads").glob("*/*"))


def test_pdf_and_docx_are_ingested_and_found(kb: KB) -> None:
    import io

    import docx

    from tests.knowledge.files import make_pdf

    pdf = make_pdf(
        [
            ["Lumen Bank card guide", "Freeze your card in the app under Card settings."],
            ["Replacement cards are free when your card expires."],
        ]
    )
    assert kb.upload("guide.pdf", pdf)["status"] == "succeeded"
    top = _top(kb, "how do I freeze my card")
    assert top["document"] == "guide.pdf" and "Freeze your card" in top["text"]

    document = docx.Document()
    document.add_heading("Travel", level=1)
    document.add_paragraph("Tell us before you travel so card payments abroad are not blocked.")
    buf = io.BytesIO()
    document.save(buf)
    assert kb.upload("travel.docx", buf.getvalue())["status"] == "succeeded"
    top = _top(kb, "going abroad, will my card payments be blocked")
    assert top["document"] == "travel.docx" and top["title"].endswith("Travel")
