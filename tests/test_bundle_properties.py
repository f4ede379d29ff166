"""Round-trips of the bundle's own formats (hypothesis)."""

from __future__ import annotations

import io
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from plitool.bundle import layout
from plitool.bundle.build import bundle_digest
from plitool.bundle.pdfstream import StreamingPdfWriter
from plitool.bundle.verify import _parse_sums
from plitool.vault.manifest import ManifestFormat, render_manifest

STAMP_ALPHABET = "证据第页总核验报告封面目录" + string.ascii_letters + string.digits + "-/·"
words = st.text(alphabet=STAMP_ALPHABET, min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(st.lists(words, min_size=1, max_size=6), st.sampled_from([0, 90, 180, 270]))
def test_any_stamp_extracts_as_written(parts: list[str], rotate: int) -> None:
    text = " ".join(parts)
    w = PdfWriter()
    w.add_blank_page(595, 842).rotate(rotate)
    src = io.BytesIO()
    w.write(src)
    out = io.BytesIO()
    sw = StreamingPdfWriter(out)
    sw.copy_document(PdfReader(io.BytesIO(src.getvalue())), lambda i: layout.stamp_operators(text))
    sw.finish([], {})
    assert PdfReader(io.BytesIO(out.getvalue())).pages[0].extract_text().strip() == text


file_names = st.text(alphabet=string.ascii_letters + "证据_.-", min_size=1, max_size=12).filter(lambda n: n not in (".", ".."))
names = st.lists(file_names, min_size=1, max_size=8, unique=True)


@given(names, st.data())
def test_sums_round_trip_and_digest_ignores_the_three_stating_files(files: list[str], data: st.DataObject) -> None:
    rows = [(f"evidence/{n}", 1, {"sha256": data.draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))})
            for n in sorted(files)]
    text = render_manifest(ManifestFormat.SHA256SUM, rows)
    parsed, bad = _parse_sums(text)
    assert not bad and parsed == {r[0]: r[2]["sha256"] for r in rows}
    extra = render_manifest(ManifestFormat.SHA256SUM, sorted(rows + [("bundle.json", 1, {"sha256": "0" * 64}),
                                                                    ("exhibits.pdf", 1, {"sha256": "1" * 64})]))
    assert bundle_digest(extra) == bundle_digest(text)
