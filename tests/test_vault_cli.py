"""The evidence vault through the command line (CliRunner), including every bad input of issue 2."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from plitool.vault import hashing
from plitool.vault.case import Case
from plitool.cli.main import COMMANDS, cli

from .conftest import Cli, ledger_bytes


def _items(run: Cli) -> list[dict]:
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- init ------------------------------------------------------------------------------


def test_init_creates_a_documented_case(tmp_path: Path) -> None:
    target = tmp_path / "新案件"
    result = Cli(target)("init", str(target), "--title", "某App案", "--lang", "en", "--json", case=False)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    toml = (target / "case.toml").read_text("utf-8")
    assert 'title = "某App案"' in toml and 'lang = "en"' in toml and "# " in toml
    key = target / ".plitool" / "keys" / "fingerprint.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert info["case_id"] and (target / ".plitool" / "ledger.jsonl").read_bytes().count(b"\n") == 1


def test_init_refuses_an_existing_case(case: Case) -> None:
    before = (case.root / "case.toml").read_bytes(), ledger_bytes(case)
    result = Cli(case.root)("init", str(case.root), "--title", "again", case=False)
    assert result.exit_code == 2
    assert "already holds a case" in result.output
    assert ((case.root / "case.toml").read_bytes(), ledger_bytes(case)) == before


def test_no_case_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLITOOL_CASE", raising=False)
    result = Cli(tmp_path)("list", case=False)
    assert result.exit_code == 2
    assert "no plitool case" in result.output


def test_case_found_from_a_subfolder_and_from_env(case: Case, evidence_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = case.root / "notes" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("PLITOOL_CASE", raising=False)
    assert Cli(case.root)("add", str(evidence_dir / "screenshot.png"), case=False).exit_code == 0
    monkeypatch.chdir(evidence_dir)
    monkeypatch.setenv("PLITOOL_CASE", str(case.root))
    assert len(json.loads(Cli(case.root)("list", "--json", case=False).stdout)) == 1


def test_corrupted_case_toml_names_the_line(case: Case, run: Cli) -> None:
    toml = case.root / "case.toml"
    lines = toml.read_text("utf-8").splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith("title"))
    lines[idx] = 'title = "unterminated'
    toml.write_text("\n".join(lines) + "\n", "utf-8")
    result = run("add", str(toml))
    assert result.exit_code == 2
    assert f"line {idx + 1}" in result.output


def test_sm3_on_request(case: Case, run: Cli, evidence_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = case.root / "case.toml"
    toml.write_text(toml.read_text("utf-8").replace('digests = ["sha256", "blake3"]', 'digests = ["sha256", "blake3", "sm3"]'), "utf-8")
    if "sm3" in hashing.hashlib.algorithms_available:
        result = run("add", str(evidence_dir / "screenshot.png"), "--json")
        assert result.exit_code == 0, result.output
        import hashlib

        assert json.loads(result.stdout)["results"][0]["digests"]["sm3"] == hashlib.new(
            "sm3", (evidence_dir / "screenshot.png").read_bytes()
        ).hexdigest()
    before = ledger_bytes(case)
    monkeypatch.setattr(hashing.hashlib, "algorithms_available", {"sha256", "md5"})
    result = run("add", str(evidence_dir / "隐私政策.txt"))
    assert result.exit_code == 3 and "sm3" in result.output
    assert ledger_bytes(case) == before


# -- add -------------------------------------------------------------------------------


def test_add_records_custody_and_copies_exact_bytes(case: Case, run: Cli, evidence_dir: Path) -> None:
    src = evidence_dir / "screenshot.png"
    result = run("add", str(src), "--source", "test phone", "--collected-by", "张检察官", "--method", "screen capture",
                 "--tag", "unlawful", "--tag", "processing", "--note", "first look", "--collected-at", "2026-10-01T14:30:00+08:00",
                 "--json")
    assert result.exit_code == 0, result.output
    (res,) = json.loads(result.stdout)["results"]
    assert res["item"] == "E-0001" and res["event"] == "added"
    stored = case.paths.objects / "sha256" / res["digests"]["sha256"][:2] / res["digests"]["sha256"]
    assert stored.read_bytes() == src.read_bytes()
    assert not stored.stat().st_mode & 0o222  # read-only
    show = json.loads(run("show", "E-0001", "--json").stdout)
    rec = show["record"]
    assert rec["collected_at"] == "2026-10-01T06:30:00.000000Z" and rec["collected_at_offset"] == "+08:00"
    assert rec["collected_at_stated"] is True and rec["intake_at"] != rec["collected_at"]
    assert rec["collected_by"] == "张检察官" and rec["source"] == "test phone" and rec["method"] == "screen capture"
    assert rec["tags"] == ["unlawful", "processing"] and rec["note"] == "first look"
    assert rec["tool"]["name"] == "plitool" and rec["host"] and rec["mtime"].endswith("Z")
    assert rec["original_name"] == "screenshot.png" and rec["original_path"] == str(src)
    assert set(rec["digests"]) == {"sha256", "blake3"}


def test_same_content_twice_is_one_item_two_events(case: Case, run: Cli, evidence_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "victim-copy.png"
    copy.write_bytes((evidence_dir / "screenshot.png").read_bytes())
    assert run("add", str(evidence_dir / "screenshot.png")).exit_code == 0
    result = run("add", str(copy), "--source", "victim", "--json")
    assert json.loads(result.stdout)["results"][0] == {**json.loads(result.stdout)["results"][0], "item": "E-0001", "event": "re-collected"}
    objects = [p for p in (case.paths.objects / "sha256").rglob("*") if p.is_file()]
    assert len(objects) == 1
    show = json.loads(run("show", "E-0001", "--json").stdout)
    assert [h["event"] for h in show["history"]] == ["added", "re-collected"]


def test_recursive_walk_is_sorted_skips_hidden_and_symlinks(run: Cli, evidence_dir: Path) -> None:
    os.symlink(evidence_dir / "screenshot.png", evidence_dir / "link.png")
    result = run("add", "-r", str(evidence_dir), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    names = [Path(r["path"]).name for r in out["results"]]
    assert names == ["screenshot.png", "capture.har", "隐私政策.txt"]  # sorted by bytes, folders in place
    reasons = {Path(s["path"]).name: s["reason"] for s in out["skipped"]}
    assert "symbolic link" in reasons["link.png"] and "hidden" in reasons[".hidden-note"]
    result = run("add", "-r", "--hidden", str(evidence_dir), "--json")
    assert ".hidden-note" in [Path(r["path"]).name for r in json.loads(result.stdout)["results"]]


def test_directory_without_r(case: Case, run: Cli, evidence_dir: Path) -> None:
    before = ledger_bytes(case)
    result = run("add", str(evidence_dir))
    assert result.exit_code == 2 and "use -r" in result.output
    assert ledger_bytes(case) == before


def test_nonexistent_path_fails_before_any_work(case: Case, run: Cli, evidence_dir: Path) -> None:
    before = ledger_bytes(case)
    result = run("add", str(evidence_dir / "screenshot.png"), str(evidence_dir / "missing.png"))
    assert result.exit_code == 2 and "missing.png" in result.output
    assert ledger_bytes(case) == before
    assert not any(p.is_file() for p in case.paths.objects.rglob("*"))


def test_unreadable_file(case: Case, run: Cli, evidence_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = evidence_dir / "隐私政策.txt"
    real_open = os.open

    def deny(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fsdecode(path) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    # Tests may run as root, where chmod 000 does not stop reading: deny at the os.open() call
    # that hashing's open_for_reading makes.
    monkeypatch.setattr(hashing.os, "open", deny)
    before = ledger_bytes(case)
    result = run("add", str(evidence_dir / "screenshot.png"), str(target))
    assert result.exit_code == 3 and "permission denied" in result.output
    assert ledger_bytes(case) == before
    assert not any(p.is_file() for p in case.paths.objects.rglob("*"))
    assert not any(case.paths.staging.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_by_mode(run: Cli, evidence_dir: Path) -> None:
    target = evidence_dir / "隐私政策.txt"
    target.chmod(0)
    assert run("add", str(target)).exit_code == 3


def test_file_changing_while_read_is_not_recorded(case: Case, run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "recording.mp4"
    path.write_bytes(b"\0" * (hashing.CHUNK_SIZE + 1))
    real = hashing.hash_stream

    def grow_then_hash(src, *args, **kwargs):  # type: ignore[no-untyped-def]
        with open(path, "ab") as fh:
            fh.write(b"still recording")
        return real(src, *args, **kwargs)

    monkeypatch.setattr(hashing, "hash_stream", grow_then_hash)
    before = ledger_bytes(case)
    result = run("add", str(path))
    assert result.exit_code == 4 and "changed while it was read" in result.output
    assert ledger_bytes(case) == before
    assert not any(p.is_file() for p in case.paths.objects.rglob("*"))


def test_chinese_and_non_utf8_file_names(case: Case, run: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "受害人陈述（张某）.txt").write_text("陈述", "utf-8")
    raw_name = os.fsencode(folder) + b"/gbk-\xd6\xa4\xbe\xdd.txt"  # 证据 in GBK bytes: not UTF-8
    with open(raw_name, "wb") as fh:
        fh.write(b"gbk named evidence")
    result = run("add", "-r", str(folder), "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(run("list", "--json").stdout)
    names = {i["name"] for i in shown}
    assert "受害人陈述（张某）.txt" in names
    assert any(n.startswith("gbk-") and "\ufffd" in n for n in names)
    log = json.loads(run("log", "--json").stdout)
    b64 = [e["data"]["original_path_b64"] for e in log if "original_path_b64" in e["data"]]
    import base64

    assert [base64.b64decode(b) for b in b64] == [raw_name]
    assert run("verify").exit_code == 0
    # The exported working copy gets a safe name, and sha256sum can check it.
    assert run("manifest", "--export-dir", str(tmp_path / "out")).exit_code == 0
    exported = sorted(p.name for p in (tmp_path / "out" / "evidence").iterdir())
    assert exported[0].startswith("E-0001_") and all("\n" not in n for n in exported)


def test_empty_file_is_recorded_with_a_warning(run: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "blank-screenshot.png"
    empty.write_bytes(b"")
    result = run("add", str(empty))
    assert result.exit_code == 0
    assert "empty (0 bytes)" in result.stderr
    assert _items(run)[0]["size"] == 0


def test_no_copy_records_a_reference_and_verify_rehashes_the_original(case: Case, run: Cli, tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(os.urandom(10_000))
    result = run("add", "--no-copy", str(image))
    assert result.exit_code == 0
    assert not any(p.is_file() for p in case.paths.objects.rglob("*"))
    assert _items(run)[0]["stored"] == "reference"
    assert run("verify").exit_code == 0
    image.write_bytes(b"altered" + image.read_bytes()[7:])
    result = run("verify", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"][0]["item"] == "E-0001"
    image.unlink()
    assert "missing" in run("verify").output


# -- reading ---------------------------------------------------------------------------


def test_list_show_log_json(run: Cli, evidence_dir: Path) -> None:
    run("add", "-r", str(evidence_dir), "--tag", "harm")
    items = _items(run)
    assert [i["id"] for i in items] == ["E-0001", "E-0002", "E-0003"]
    assert all(i["tags"] == ["harm"] and len(i["digests"]["blake3"]) == 64 for i in items)
    log = json.loads(run("log", "--json").stdout)
    assert [e["event"] for e in log] == ["created", "added", "added", "added"]
    assert json.loads(run("log", "--item", "E-0002", "--json").stdout)[0]["item"] == "E-0002"
    assert "custody history" in run("show", "2").output
    result = run("show", "E-0099")
    assert result.exit_code == 2 and "E-0099" in result.output


def test_export_writes_checked_copies_and_logs(case: Case, run: Cli, evidence_dir: Path, tmp_path: Path) -> None:
    run("add", str(evidence_dir / "screenshot.png"))
    dest = tmp_path / "working"
    result = run("export", "E-0001", "--to", str(dest), "--reason", "for the expert", "--json")
    assert result.exit_code == 0, result.output
    (copy,) = dest.iterdir()
    assert copy.name == "E-0001_screenshot.png" and copy.read_bytes() == (evidence_dir / "screenshot.png").read_bytes()
    history = json.loads(run("show", "E-0001", "--json").stdout)["history"]
    assert history[-1]["event"] == "exported" and history[-1]["data"]["reason"] == "for the expert"
    before = ledger_bytes(case)
    result = run("export", "E-0001", "--to", str(dest), "--reason", "again")
    assert result.exit_code == 2 and "--force" in result.output
    assert ledger_bytes(case) == before


# -- help ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3
    cmd = cli.get_command(None, name)  # type: ignore[arg-type]
    assert cmd is not None and cmd.help


def test_help_does_not_import_heavy_libraries() -> None:
    """Start-up speed is measured in bench/; here we check its cause: nothing heavy is imported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from plitool.cli.main import cli, COMMANDS\n"
        "CliRunner().invoke(cli, ['--help'])\n"
        "for name in COMMANDS: CliRunner().invoke(cli, [name, '--help'])\n"
        "heavy = {'rich', 'blake3', 'rfc3161_client', 'cryptography', 'pypdf', 'docx', 'openpyxl', 'phonenumbers',"
        " 'duckdb', 'networkx', 'reportlab', 'jinja2', 'stdnum'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
