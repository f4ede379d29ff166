"""One bad file never stops a scan (issue 7, item 11).

Whatever a reader raises on one file (a parser's own exception class, a RecursionError, a
MemoryError, pypdf's DependencyError that is not a PyPdfError …) makes that file "failed" with its
reason; the other files of the batch are scanned and reported, and the exit code is 1.
Interrupting (Ctrl-C) still stops the whole scan.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from plitool.pii import extract

from .assets.pii import files, synth
from .conftest import Cli


class ParserBug(Exception):
    """An exception class no reader knows about."""


READERS = {"pdf": "_pdf", "docx": "_docx", "xlsx": "_xlsx", "csv": "_csv", "json": "_json", "jsonl": "_jsonl",
           "eml": "_eml", "text": "_text"}


def _batch(tmp_path: Path, bad_fmt: str) -> tuple[list[Path], str, str]:
    rng = random.Random(7)
    good_phone, eml_phone = synth.fake_phone(rng), synth.fake_phone(rng)
    good = tmp_path / "good.txt"
    if bad_fmt == "text":  # the good files must not go through the broken reader
        good = tmp_path / "good.json"
        good.write_text(json.dumps({"mobile": good_phone}), encoding="utf-8")
    else:
        good.write_text(f"电话 {good_phone}\n", encoding="utf-8")
    bad = {
        "pdf": lambda p: files.make_pdf(p, ["hello"]), "docx": lambda p: files.make_docx(p, ["hello"]),
        "xlsx": lambda p: files.make_xlsx(p, {"s": [["a"]]}), "csv": lambda p: p.write_text("a,b\n1,2\n"),
        "json": lambda p: p.write_text('{"a": 1}'), "jsonl": lambda p: p.write_text('{"a": 1}\n'),
        "eml": lambda p: files.make_eml(p, "x@example.invalid", "none", "none"), "text": lambda p: p.write_text("hi\n"),
    }
    suffix = {"text": ".txt"}.get(bad_fmt, "." + bad_fmt)
    bad_path = tmp_path / f"bad{suffix}"
    bad[bad_fmt](bad_path)
    mail = files.make_eml(tmp_path / "mail.eml", "someone@example.invalid", eml_phone, eml_phone) \
        if bad_fmt != "eml" else tmp_path / "mail.csv"
    if bad_fmt == "eml":
        mail.write_text(f"手机号\r\n{eml_phone}\r\n", encoding="utf-8")
    return [good, bad_path, mail], good_phone, eml_phone


def _raiser(exc: BaseException):  # type: ignore[no-untyped-def]
    def reader(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise exc
        yield  # a generator, like the real readers

    return reader


def _check(run: Cli, paths: list[Path], good_phone: str, eml_phone: str, reason: str) -> None:
    result = run("scan", *map(str, paths), "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [f["item"] for f in data["files"]] == ["E-0001", "E-0002", "E-0003"]
    good, bad, mail = data["files"]
    assert good["status"] == "scanned" and good["counts"] == {"phone": 1}
    assert mail["status"] == "scanned" and mail["counts"].get("phone", 0) >= 1
    assert bad["status"] == "failed" and reason in bad["error"]
    assert "bad" in result.stderr and reason in result.stderr
    assert good_phone not in result.output and eml_phone not in result.output
    text = run("scan", *map(str, paths))  # the text report too: every file is shown
    assert text.exit_code == 1
    assert "E-0001" in text.stdout and "E-0003" in text.stdout and "failed" in text.stdout


@pytest.mark.parametrize("exc", [ValueError("bad value"), RuntimeError("reader crashed"), RecursionError("too deep"),
                                 MemoryError("no memory"), ParserBug("parser bug"), OSError(5, "I/O error"),
                                 AssertionError("assertion")])
def test_any_exception_fails_one_file_only(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          exc: BaseException) -> None:
    paths, good_phone, eml_phone = _batch(tmp_path, "pdf")
    monkeypatch.setattr(extract, "_pdf", _raiser(exc))
    _check(run, paths, good_phone, eml_phone, type(exc).__name__)


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_reader_failing_fails_one_file_only(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 fmt: str) -> None:
    paths, good_phone, eml_phone = _batch(tmp_path, fmt)
    monkeypatch.setattr(extract, READERS[fmt], _raiser(ParserBug("parser bug")))
    _check(run, paths, good_phone, eml_phone, "ParserBug")


def test_pypdf_errors_outside_its_hierarchy(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf.errors import DependencyError

    paths, good_phone, eml_phone = _batch(tmp_path, "pdf")
    import pypdf

    def broken(*args: object, **kwargs: object) -> None:
        raise DependencyError("jbig2dec binary is not available")

    monkeypatch.setattr(pypdf.PdfReader, "__init__", broken)
    _check(run, paths, good_phone, eml_phone, "jbig2dec")


def test_sniffing_failing_fails_one_file_only(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, good_phone, eml_phone = _batch(tmp_path, "pdf")
    from plitool.pii import scan

    real = scan.sniff_format

    def sniff(path: Path, name: str) -> str:
        if name.startswith("bad"):
            raise ParserBug("sniff bug")
        return real(path, name)

    monkeypatch.setattr(scan, "sniff_format", sniff)
    _check(run, paths, good_phone, eml_phone, "ParserBug")


def test_ctrl_c_still_stops_the_scan(run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, _, _ = _batch(tmp_path, "pdf")
    monkeypatch.setattr(extract, "_pdf", _raiser(KeyboardInterrupt()))
    result = run("scan", *map(str, paths), "--json")
    assert result.exit_code == 130 and "interrupted" in result.output
