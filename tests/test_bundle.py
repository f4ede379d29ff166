"""``bundle`` and ``verify-bundle``: the exhibit bundle, checked by plitool and by standard tools."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from plitool.bundle.build import build_bundle, bundle_digest, detect_kind
from plitool.vault.case import Case
from .conftest import Cli

PHONE = "13812345678"


def make_pdf(path: Path, pages: int, label: str = "page") -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for i in range(pages):
        c.drawString(72, 720, f"{label} {i + 1} of {pages}")
        c.showPage()
    c.save()
    return path


@pytest.fixture
def evidence(tmp_path: Path) -> dict[str, Path]:
    from PIL import Image

    d = tmp_path / "files"
    d.mkdir()
    files = {
        "pdf": make_pdf(d / "隐私政策.pdf", 3, "policy"),
        "png": d / f"截图{PHONE}.png",
        "jpg": d / "photo.jpg",
        "csv": d / "订单.csv",
    }
    Image.new("RGB", (900, 500), (200, 30, 30)).save(files["png"])
    Image.new("RGB", (300, 200), (20, 30, 200)).save(files["jpg"])
    files["csv"].write_text(f"name,phone\n张三,{PHONE}\n", encoding="utf-8")
    return files


@pytest.fixture
def filled(run: Cli, evidence: dict[str, Path]) -> Cli:
    for key in ("pdf", "png", "jpg", "csv"):
        res = run("add", str(evidence[key]), "--source", f"受害人手机 {PHONE}", "--note", "证明被告收集个人信息")
        assert res.exit_code == 0, res.output
    return run


def _bundle(run: Cli, out: Path, *extra: str) -> dict:
    res = run("bundle", "-o", str(out), "--json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_detect_kind_by_content_then_name() -> None:
    assert detect_kind(b"%PDF-1.7\n", "") == "pdf"
    assert detect_kind(b"\x89PNG\r\n\x1a\nxxxx", "") == "image"
    assert detect_kind(b"\xff\xd8\xff\xe0", "") == "image"
    assert detect_kind(b"garbage", "x.PDF") == "pdf"
    assert detect_kind(b"a,b\n", "x.csv") == "file"


def test_pages_ranges_stamps_bookmarks_and_attachments(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    doc = _bundle(filled, out, "--lang", "zh")
    index = json.loads((out / "bundle.json").read_text("utf-8"))
    reader = PdfReader(out / "exhibits.pdf")
    assert len(reader.pages) == doc["pages"] == index["exhibits_pdf"]["pages"]
    exhibits = index["exhibits"]
    assert [e["id"] for e in exhibits] == ["E-0001", "E-0002", "E-0003", "E-0004"]
    assert [e["page_count"] for e in exhibits] == [3, 1, 1, 1]
    front = index["exhibits_pdf"]["front_pages"]
    assert exhibits[0]["pages"][0] == front + 1
    for a, b in zip(exhibits, exhibits[1:]):
        assert b["pages"][0] == a["pages"][1] + 1
    assert exhibits[-1]["pages"][1] == len(reader.pages)
    # the stamp of every page, as text a reader extracts
    for e in exhibits:
        first, last = e["pages"]
        for n in range(first, last + 1):
            want = f"证据 {e['id']} · 第 {n - first + 1}/{e['page_count']} 页 · 总第 {n} 页"
            assert want in reader.pages[n - 1].extract_text()
    for n in range(1, front + 1):
        assert f"总第 {n} 页" in reader.pages[n - 1].extract_text()
    # the PDF's own text is still there, under the stamp
    assert "policy 2 of 3" in reader.pages[exhibits[0]["pages"][0]].extract_text()
    marks = {o.title.split(" ")[0]: reader.get_destination_page_number(o) + 1 for o in reader.outline}
    for e in exhibits:
        assert marks[e["id"]] == e["pages"][0]
    assert list(reader.attachments) == ["E-0004_订单.csv"]
    assert reader.attachments["E-0004_订单.csv"][0] == (out / "evidence" / "E-0004_订单.csv").read_bytes()
    cover = reader.pages[0].extract_text().replace("\n", "")
    assert doc["bundle_digest"] in cover


def test_english_stamps(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out, "--lang", "en", "--items", "E-0003,E-0001")
    index = json.loads((out / "bundle.json").read_text("utf-8"))
    assert [e["id"] for e in index["exhibits"]] == ["E-0003", "E-0001"]
    reader = PdfReader(out / "exhibits.pdf")
    first = index["exhibits"][1]["pages"][0]
    assert f"Exhibit E-0001 · page 1/3 · bundle page {first}" in reader.pages[first - 1].extract_text()
    assert "Verification report" in PdfReader(out / "verification-report.pdf").pages[0].extract_text()


def test_evidence_is_exact_and_personal_data_masked(filled: Cli, evidence: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out)
    names = sorted(p.name for p in (out / "evidence").iterdir())
    assert names == ["E-0001_隐私政策.pdf", "E-0002_截图138****5678.png", "E-0003_photo.jpg", "E-0004_订单.csv"]
    assert (out / "evidence" / "E-0002_截图138****5678.png").read_bytes() == evidence["png"].read_bytes()
    assert (out / "evidence" / "E-0001_隐私政策.pdf").read_bytes() == evidence["pdf"].read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(out / "exhibits.pdf").pages[:2])
    report = "".join(p.extract_text() for p in PdfReader(out / "verification-report.pdf").pages)
    for shown in (text, report, (out / "bundle.json").read_text("utf-8"), (out / "SHA256SUMS").read_text("utf-8")):
        assert PHONE not in shown.replace("\n", "")
    assert "138****5678" in text


def test_standard_tools_check_the_folder(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    doc = _bundle(filled, out)
    sums = (out / "SHA256SUMS").read_text("utf-8")
    listed = {line.split("  ", 1)[1] for line in sums.splitlines()}
    assert {"exhibits.pdf", "verification-report.pdf", "bundle.json", "ledger/ledger.jsonl"} <= listed
    assert bundle_digest(sums) == doc["bundle_digest"]
    for tool, name in (("sha256sum", "SHA256SUMS"), ("b3sum", "B3SUMS")):
        if shutil.which(tool) is None:
            continue
        proc = subprocess.run([tool, "-c", name], cwd=out, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # the digest's definition, by hand
    kept = "".join(line for line in sums.splitlines(keepends=True)
                   if line.rstrip("\n").split("  ", 1)[1] not in ("exhibits.pdf", "verification-report.pdf", "bundle.json"))
    assert hashlib.sha256(kept.encode()).hexdigest() == doc["bundle_digest"]


def test_bundle_is_logged_with_its_digest(filled: Cli, case: Case, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    doc = _bundle(filled, out)
    exported = [e for e in case.ledger.scan().entries if e.event == "exported"]
    assert [e.item for e in exported] == ["E-0001", "E-0002", "E-0003", "E-0004"]
    assert all(e.data["bundle"]["digest"] == doc["bundle_digest"] for e in exported)
    assert exported[0].data["bundle"]["exhibits_pdf_sha256"] == hashlib.sha256((out / "exhibits.pdf").read_bytes()).hexdigest()
    assert filled("verify").exit_code == 0


def test_verify_bundle_passes_then_names_a_tampered_file(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out)
    ok = filled("verify-bundle", str(out), "--json", case=False)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    target = out / "evidence" / "E-0003_photo.jpg"
    target.write_bytes(target.read_bytes() + b"x")
    bad = filled("verify-bundle", str(out), case=False)
    assert bad.exit_code == 1
    assert "evidence/E-0003_photo.jpg" in bad.stdout and "does not match" in bad.stdout


@pytest.mark.parametrize("victim", ["exhibits.pdf", "bundle.json", "ledger/ledger.jsonl", "verification-report.pdf"])
def test_any_tampered_file_is_named(filled: Cli, tmp_path: Path, victim: str) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out)
    path = out / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    res = filled("verify-bundle", str(out), "--json", case=False)
    assert res.exit_code == 1
    assert victim in {p["file"] for p in json.loads(res.stdout)["problems"]}


def test_checkpoint_log_is_bundled_and_each_line_checked(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out)
    log = out / "ledger" / "checkpoints" / "checkpoints.log"
    rows = log.read_bytes().split(b"\n")
    assert rows[0].startswith(b"plitool checkpoint log v1 ") and len(rows) == 7  # init, 4 adds, the newline
    ok = filled("verify-bundle", str(out), "--json", case=False)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["checked"]["checkpoints"] == 5, ok.output
    rows[3] = rows[3][:11] + (b"B" if rows[3][11:12] != b"B" else b"C") + rows[3][12:]  # checkpoint 3's root
    log.write_bytes(b"\n".join(rows))
    res = filled("verify-bundle", str(out), "--json", case=False)
    assert res.exit_code == 1
    problems = [p for p in json.loads(res.stdout)["problems"] if p["check"] == "checkpoint"]
    assert [p["file"] for p in problems] == ["ledger/checkpoints/checkpoints.log"], problems
    assert "line 4" in problems[0]["message"] and "first 3 entries" in problems[0]["message"]


def test_checkpoint_files_of_an_old_case_are_bundled_with_the_log(run: Cli, case: Case, evidence: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    from .attacks.forge import as_old_case

    as_old_case(case.root)  # a case made before the checkpoint log: its one checkpoint is a file
    for key in ("pdf", "csv"):
        assert run("add", str(evidence[key])).exit_code == 0
    out = tmp_path / "bundle"
    _bundle(run, out)
    assert sorted(p.name for p in (out / "ledger" / "checkpoints").iterdir()) == ["0000000001.txt", "checkpoints.log"]
    ok = run("verify-bundle", str(out), "--json", case=False)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["checked"]["checkpoints"] == 3, ok.output


def test_an_added_file_is_named(filled: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _bundle(filled, out)
    (out / "evidence" / "E-0009_extra.txt").write_text("planted")
    res = filled("verify-bundle", str(out), case=False)
    assert res.exit_code == 1 and "evidence/E-0009_extra.txt" in res.stdout


def test_exhibits_pdf_swapped_for_another_bundles_is_caught_even_with_new_sums(filled: Cli, tmp_path: Path) -> None:
    """Rewriting SHA256SUMS after a change moves the bundle digest away from the one bundle.json and the
    cover state."""
    out = tmp_path / "bundle"
    _bundle(filled, out)
    (out / "evidence" / "E-0003_photo.jpg").write_bytes(b"\xff\xd8\xff forged")
    lines = []
    for line in (out / "SHA256SUMS").read_text("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        lines.append(f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}\n")
    (out / "SHA256SUMS").write_text("".join(lines))
    (out / "B3SUMS").unlink()
    res = filled("verify-bundle", str(out), "--json", case=False)
    assert res.exit_code == 1
    checks = {p["check"] for p in json.loads(res.stdout)["problems"]}
    assert {"digest", "evidence"} <= checks


def test_nothing_is_left_when_the_build_fails(filled: Cli, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plitool.bundle import report

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", boom)
    before = case.paths.ledger.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        build_bundle(case, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]
    assert case.paths.ledger.read_bytes() == before


def test_unknown_item_and_empty_case(run: Cli, tmp_path: Path) -> None:
    res = run("bundle", "-o", str(tmp_path / "b"))
    assert res.exit_code == 2 and "no evidence" in res.output
    assert not (tmp_path / "b").exists()


def test_unknown_item_is_refused(filled: Cli, tmp_path: Path) -> None:
    res = filled("bundle", "-o", str(tmp_path / "b"), "--items", "E-0001,E-0042")
    assert res.exit_code == 2 and "E-0042" in res.output
    assert not (tmp_path / "b").exists()


def test_output_inside_the_case_state_is_refused(filled: Cli, case: Case) -> None:
    res = filled("bundle", "-o", str(case.paths.state / "b"))
    assert res.exit_code == 2 and ".plitool" in res.output


def test_verify_bundle_of_a_missing_folder(run: Cli, tmp_path: Path) -> None:
    res = run("verify-bundle", str(tmp_path / "nope"), case=False)
    assert res.exit_code == 2


def test_stream_writer_output_is_read_by_pypdf_with_rotated_pages(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    from plitool.bundle import layout
    from plitool.bundle.pdfstream import Outline, StreamingPdfWriter

    w = PdfWriter()
    for rot in (0, 90, 180, 270):
        page = w.add_blank_page(300, 500)
        page.rotate(rot)
    buf = io.BytesIO()
    w.write(buf)
    src = PdfReader(io.BytesIO(buf.getvalue()))
    target = tmp_path / "out.pdf"
    with open(target, "wb") as fh:
        sw = StreamingPdfWriter(fh)
        sw.copy_document(src, lambda i: layout.stamp_operators(f"stamp {i}"))
        sw.finish([Outline("all", 0)], {"Title": "t"})
    out = PdfReader(target)
    assert len(out.pages) == 4
    assert [p.rotation for p in out.pages] == [0, 90, 180, 270]
    for i, p in enumerate(out.pages):
        assert f"stamp {i}" in p.extract_text()


def test_sm3_sums_where_the_case_computes_sm3(case: Case, run: Cli, tmp_path: Path) -> None:
    import hashlib as _hashlib

    if "sm3" not in _hashlib.algorithms_available:
        pytest.skip("SM3 is not available in this Python's OpenSSL")
    toml = case.paths.case_file.read_text("utf-8").replace('digests = ["sha256", "blake3"]',
                                                            'digests = ["sha256", "blake3", "sm3"]')
    case.paths.case_file.write_text(toml, "utf-8")
    (tmp_path / "a.txt").write_text("with sm3")
    assert run("add", str(tmp_path / "a.txt")).exit_code == 0
    out = tmp_path / "bundle"
    _bundle(run, out)
    line = (out / "SM3SUMS").read_text("utf-8").splitlines()[0]
    digest, name = line.split("  ", 1)
    assert _hashlib.new("sm3", (out / name).read_bytes()).hexdigest() == digest
    assert json.loads((out / "bundle.json").read_text("utf-8"))["sums"] == ["SHA256SUMS", "B3SUMS", "SM3SUMS"]
    res = run("verify-bundle", str(out), case=False)
    assert res.exit_code == 0, res.output
    (out / name).write_bytes(b"changed")
    assert run("verify-bundle", str(out), case=False).exit_code == 1


def test_a_large_or_turned_photo_is_placed_reduced_and_upright(run: Cli, tmp_path: Path) -> None:
    from PIL import Image

    from plitool.bundle import layout

    big = tmp_path / "big.png"
    Image.new("RGB", (4000, 2000), (10, 120, 10)).save(big)
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shot rotated: shown turned 90° clockwise
    Image.new("RGB", (400, 200), (200, 10, 10)).save(turned, exif=exif)
    for path in (big, turned):
        assert run("add", str(path)).exit_code == 0
    out = tmp_path / "bundle"
    _bundle(run, out)
    assert (out / "evidence" / "E-0001_big.png").read_bytes() == big.read_bytes()
    reader = PdfReader(out / "exhibits.pdf")
    index = json.loads((out / "bundle.json").read_text("utf-8"))
    sizes = []
    for e in index["exhibits"]:
        page = reader.pages[e["pages"][0] - 1]
        (image,) = page.images
        sizes.append(image.image.size)
    assert max(sizes[0]) <= layout.MAX_PLACED_SIDE
    assert sizes[1] == (200, 400)  # upright


def test_a_pdf_failing_half_way_is_taken_back(filled: Cli, case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page the pre-check let through but that cannot be copied: without --skip-bad, nothing is
    written; with it, the exhibit keeps the page range the index gave it, each page saying why."""
    from pypdf.errors import PdfReadError

    from plitool.bundle.pdfstream import StreamingPdfWriter
    from plitool.errors import CorruptDocument

    real = StreamingPdfWriter.copy_page
    calls = {"n": 0}

    def flaky(self: StreamingPdfWriter, page, memo, stamp=None):  # type: ignore[no-untyped-def]
        if "/Parent" in page and any("policy" in str(v) for v in [page.extract_text()]):
            calls["n"] += 1
            if calls["n"] == 2:
                raise PdfReadError("damaged object")
        return real(self, page, memo, stamp)

    monkeypatch.setattr(StreamingPdfWriter, "copy_page", flaky)
    with pytest.raises(CorruptDocument, match="E-0001"):
        build_bundle(case, tmp_path / "b1", lang="en")
    assert not (tmp_path / "b1").exists()
    calls["n"] = 0
    result = build_bundle(case, tmp_path / "b2", skip_bad=True, lang="en")
    (ex,) = [e for e in result.exhibits if e.id == "E-0001"]
    assert ex.problem and "damaged object" in ex.problem and ex.page_count == 3
    reader = PdfReader(tmp_path / "b2" / "exhibits.pdf")
    assert len(reader.pages) == result.total_pages
    texts = [reader.pages[n - 1].extract_text() for n in range(ex.pages[0], ex.pages[1] + 1)]
    assert "could not be merged" in texts[0] and "stands for page 3 of E-0001" in texts[2]
    assert f"Exhibit E-0001 · page 3/3 · bundle page {ex.pages[1]}" in texts[2]
    assert filled("verify-bundle", str(tmp_path / "b2"), case=False).exit_code == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_exhibit_states_the_same_purpose_as_the_drafts_evidence_list(run: Cli, case: Case, evidence: dict[str, Path],
                                                                           tmp_path: Path, lang: str) -> None:
    """证明目的 is worded once (filings.evidence.purpose_text): the bundle filed with a complaint
    names the same elements for the same exhibit, with a number in the note deleted by the court rule."""
    from plitool.filings.evidence import evidence_rows
    from plitool.filings.templates import load_law

    assert run("add", str(evidence["pdf"]), "--tag", "processing", "--tag", "harm").exit_code == 0
    assert run("add", str(evidence["csv"]), "--note", f"订单导出，含 {PHONE}").exit_code == 0
    assert run("add", str(evidence["jpg"])).exit_code == 0
    out = tmp_path / "bundle"
    _bundle(run, out, "--lang", lang)
    shown = {e["id"]: e["purpose"] for e in json.loads((out / "bundle.json").read_text("utf-8"))["exhibits"]}
    drafted = {r.id: r.purpose for r in evidence_rows(case, load_law(case.root, lang)[0])}
    assert shown == drafted
    law = load_law(case.root, lang)[0]
    elements = {e["key"]: e["element"] for e in law["elements"]}
    assert elements["processing"] in shown["E-0001"] and elements["harm"] in shown["E-0001"]
    assert PHONE not in shown["E-0002"] and PHONE[-4:] not in shown["E-0002"]
    assert shown["E-0003"] == law["labels"]["purpose_default"]
