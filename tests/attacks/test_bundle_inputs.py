"""Attacks on ``plitool bundle`` through the real command line: hostile exhibits and outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from .conftest import Plitool


def _pdf(path: Path, pages: int = 1) -> Path:
    w = PdfWriter()
    for _i in range(pages):
        w.add_blank_page(200, 200)
    with open(path, "wb") as fh:
        w.write(fh)
    return path


def _encrypted(path: Path) -> Path:
    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret", algorithm="RC4-128")
    with open(path, "wb") as fh:
        w.write(fh)
    return path


def _add(plitool: Plitool, *paths: Path) -> None:
    res = plitool("add", *paths)
    assert res.code == 0, res.err


@pytest.mark.parametrize("kind", ["encrypted", "corrupt", "zero-pages", "truncated"])
def test_unmergeable_pdf_is_refused_then_explained_with_skip_bad(plitool: Plitool, tmp_path: Path, kind: str) -> None:
    good = _pdf(tmp_path / "good.pdf", 2)
    bad = tmp_path / "bad.pdf"
    if kind == "encrypted":
        _encrypted(bad)
    elif kind == "corrupt":
        bad.write_bytes(b"%PDF-1.7\n this is not a PDF at all \n%%EOF\n")
    elif kind == "zero-pages":
        _pdf(bad, 0)
    else:
        bad.write_bytes(_pdf(tmp_path / "whole.pdf", 3).read_bytes()[:300])
    _add(plitool, good, bad)
    out = tmp_path / "bundle"
    res = plitool("bundle", "-o", out)
    assert res.code == 1, res.err
    assert "E-0002" in res.err and "--skip-bad" in res.err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]

    res = plitool("bundle", "-o", out, "--skip-bad", "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert [s["id"] for s in doc["skipped"]] == ["E-0002"]
    assert (out / "evidence" / "E-0002_bad.pdf").read_bytes() == bad.read_bytes()
    second = doc["exhibits"][1]
    page = PdfReader(out / "exhibits.pdf").pages[second["pages"][0] - 1].extract_text()
    assert "could not be merged" in page and "Exhibit E-0002 · page 1/1" in page
    assert plitool("verify-bundle", out, case=False).code == 0


def test_existing_output_without_force_is_untouched(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "mine.txt").write_text("do not lose me")
    res = plitool("bundle", "-o", out)
    assert res.code == 2 and "--force" in res.err
    assert (out / "mine.txt").read_text() == "do not lose me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "bundle", "case"]
    res = plitool("bundle", "-o", out, "--force")  # not a bundle: --force does not delete someone's folder
    assert res.code == 2 and "neither empty nor a plitool bundle" in res.err
    assert (out / "mine.txt").read_text() == "do not lose me"
    (out / "mine.txt").unlink()
    assert plitool("bundle", "-o", out, "--force").code == 0  # empty: used
    (out / "exhibits.pdf").write_text("an old bundle's file")
    res = plitool("bundle", "-o", out, "--force")  # a bundle: replaced whole
    assert res.code == 0, res.err
    assert (out / "exhibits.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "bundle", "case"]


@pytest.mark.parametrize("where", [".", ".."])
def test_the_case_folder_or_one_holding_it_is_never_replaced(plitool: Plitool, case_root: Path, tmp_path: Path,
                                                             where: str) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    (case_root / "bundle.json").write_text('{"format": "plitool-bundle/1"}')  # even dressed up as a bundle
    res = plitool("bundle", "-o", where, "--force")
    assert res.code == 2 and "case folder" in res.err
    assert (case_root / ".plitool" / "ledger.jsonl").is_file() and (tmp_path / "a.pdf").is_file()


def test_a_link_at_the_output_is_replaced_not_followed(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("victim")
    out = tmp_path / "bundle"
    out.symlink_to(elsewhere)
    assert plitool("bundle", "-o", out).code == 2
    res = plitool("bundle", "-o", out, "--force")
    assert res.code == 0, res.err
    assert not out.is_symlink() and (out / "exhibits.pdf").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_links_planted_inside_an_old_bundle_are_never_written_through(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "exhibits.pdf").write_text("victim file")
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "bundle.json").write_text('{"format": "plitool-bundle/1"}')
    (out / "exhibits.pdf").symlink_to(victim / "exhibits.pdf")
    (out / "evidence").symlink_to(victim)
    res = plitool("bundle", "-o", out, "--force")
    assert res.code == 0, res.err
    assert (victim / "exhibits.pdf").read_text() == "victim file"
    assert sorted(p.name for p in victim.iterdir()) == ["exhibits.pdf"]
    assert not (out / "evidence").is_symlink()


def test_a_link_planted_in_a_bundle_fails_verify(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    out = tmp_path / "bundle"
    assert plitool("bundle", "-o", out).code == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the bundle")
    os.symlink(secret, out / "evidence" / "E-0002_link.txt")
    res = plitool("verify-bundle", out, "--json", case=False)
    assert res.code == 1
    problems = json.loads(res.out)["problems"]
    assert any(p["file"] == "evidence/E-0002_link.txt" and "symbolic link" in p["message"] for p in problems)


def test_a_bundle_json_pointing_outside_is_refused(plitool: Plitool, tmp_path: Path) -> None:
    _add(plitool, _pdf(tmp_path / "a.pdf"))
    out = tmp_path / "bundle"
    assert plitool("bundle", "-o", out).code == 0
    index = json.loads((out / "bundle.json").read_text("utf-8"))
    index["exhibits"][0]["proof"] = "../../etc/passwd"
    (out / "bundle.json").write_text(json.dumps(index))
    res = plitool("verify-bundle", out, "--json", case=False)
    assert res.code == 1
    files = {p["file"] for p in json.loads(res.out)["problems"]}
    assert "bundle.json" in files


def test_hostile_names_are_sanitised(plitool: Plitool, tmp_path: Path) -> None:
    name = "报告\x1b[31m\u202e\nevil.pdf"
    path = tmp_path / name
    _pdf(path)
    _add(plitool, path)
    out = tmp_path / "bundle"
    res = plitool("bundle", "-o", out)
    assert res.code == 0, res.err
    (stored,) = list((out / "evidence").iterdir())
    assert stored.name.startswith("E-0001_报告") and not any(c in stored.name for c in "\x1b\n/\u202e")
    assert plitool("verify-bundle", out, case=False).code == 0


def test_a_corrupt_image_is_refused(plitool: Plitool, tmp_path: Path) -> None:
    img = tmp_path / "shot.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    _add(plitool, img)
    res = plitool("bundle", "-o", tmp_path / "bundle")
    assert res.code == 1 and "E-0001" in res.err
