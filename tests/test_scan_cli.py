"""``plitool scan`` through the command line (CliRunner)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from plitool.vault.case import Case
from plitool.cli.main import cli

from .assets.pii import files, synth
from .conftest import Cli

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "evidence"


def _leak(tmp_path: Path, n: int = 5, seed: int = 1) -> tuple[Path, list[tuple[str, str, str]]]:
    rng = random.Random(seed)
    rows = [(synth.fake_name(rng), synth.fake_phone(rng), synth.fake_id(rng)) for _ in range(n)]
    path = tmp_path / "泄露名单.csv"
    path.write_bytes(("姓名,手机号,身份证号\r\n" + "".join(f"{a},{b},{c}\r\n" for a, b, c in rows)).encode("gbk"))
    return path, rows


def _json(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


def test_scan_a_new_file_adds_it_to_the_vault_first(run: Cli, case: Case, tmp_path: Path) -> None:
    path, rows = _leak(tmp_path)
    result = run("scan", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert data["added"] == ["E-0001"] and data["revealed"] is False
    (f,) = data["files"]
    assert f["item"] == "E-0001" and f["format"] == "csv" and f["encoding"] == "gb18030"
    assert f["counts"] == {"id_number": 5, "name": 5, "phone": 5}
    first = f["findings"][:3]
    assert [x["masked"] for x in first] == [rows[0][0][0] + "某", f"{rows[0][1][:3]}****{rows[0][1][-4:]}",
                                            f"{rows[0][2][:6]}********{rows[0][2][-4:]}"]
    assert all(len(x["fingerprint"]) == 64 for x in f["findings"])
    for _, phone, ident in rows:  # raw values never reach the output
        assert phone not in result.stdout and ident not in result.stdout and phone not in result.stderr
    assert case.paths.fingerprint_key.read_bytes().hex() not in result.stdout
    assert data["shared_compares"] == "all findings"  # 15 findings, all listed under the default limit
    # scanning the same file again maps to the same item: no new intake
    again = _json(run("scan", str(path), "--json"))
    assert again["added"] == [] and again["files"][0]["item"] == "E-0001"
    assert [e["event"] for e in _json(run("log", "--json"))] == ["created", "added"]


def test_same_value_same_fingerprint_across_files(run: Cli, tmp_path: Path) -> None:
    path, rows = _leak(tmp_path)
    other = tmp_path / "note.txt"
    other.write_text(f"他的电话是 {rows[2][1][:3]}-{rows[2][1][3:7]}-{rows[2][1][7:]}\n", encoding="utf-8")
    data = _json(run("scan", str(path), str(other), "--json", "--types", "phone"))
    by_item = {f["item"]: f for f in data["files"]}
    note_fp = by_item["E-0002"]["findings"][0]["fingerprint"]
    assert note_fp == by_item["E-0001"]["findings"][2]["fingerprint"]
    assert by_item["E-0001"]["counts"] == {"phone": 5}


def test_another_case_key_gives_unrelated_fingerprints(tmp_path: Path) -> None:
    from plitool.vault.case import init_case

    path, _ = _leak(tmp_path)
    fps = []
    for name in ("a", "b"):
        c = init_case(tmp_path / name, name)
        fps.append(_json(Cli(c.root)("scan", str(path), "--json"))["files"][0]["findings"][1]["fingerprint"])
    assert fps[0] != fps[1]


def test_table_output_is_masked(run: Cli, tmp_path: Path) -> None:
    path, rows = _leak(tmp_path)
    result = run("scan", str(path), "--limit", "4")
    assert result.exit_code == 0
    assert f"{rows[0][1][:3]}****{rows[0][1][-4:]}" in result.stdout and "row 2 col 2 (手机号)" in result.stdout
    assert rows[0][1] not in result.stdout and rows[0][0] not in result.stdout
    assert "more (counts are complete" in result.stdout
    assert "id_number 5 · name 5 · phone 5" in result.stdout


def test_reveal_needs_a_reason_and_is_logged(run: Cli, tmp_path: Path) -> None:
    path, rows = _leak(tmp_path)
    refused = run("scan", str(path), "--reveal")
    assert refused.exit_code == 2 and "--reason" in refused.stderr
    assert refused.stdout == ""
    assert run("scan", str(path), "--reason", "why").exit_code == 2
    shown = run("scan", str(path), "--reveal", "--reason", "核对被害人名单", "--json")
    assert shown.exit_code == 0
    f = _json(shown)["files"][0]
    assert f["findings"][1]["value"] == rows[0][1] and _json(shown)["revealed"] is True
    log = _json(run("log", "--json"))
    accessed = [e for e in log if e["event"] == "accessed"]
    assert len(accessed) == 1 and accessed[0]["item"] == "E-0001"
    assert accessed[0]["data"]["reason"] == "核对被害人名单" and accessed[0]["data"]["action"] == "scan --reveal"
    assert rows[0][1] not in json.dumps(log, ensure_ascii=False)
    table = run("scan", "E-0001", "--reveal", "--reason", "again", "--limit", "2")
    assert rows[0][1] in table.stdout


def test_a_corrupt_file_is_named_and_the_rest_still_scanned(run: Cli, tmp_path: Path) -> None:
    path, _ = _leak(tmp_path)
    bad_pdf = tmp_path / "broken.pdf"
    bad_pdf.write_bytes(b"%PDF-1.7\nthis is not a PDF body")
    bomb = files.make_zip_bomb(tmp_path / "bomb.docx", "docx", 16 << 20)
    result = run("scan", str(bad_pdf), str(bomb), str(path), "--json")
    assert result.exit_code == 1
    data = _json(result)
    status = {f["name"]: f["status"] for f in data["files"]}
    assert status == {"broken.pdf": "failed", "bomb.docx": "failed", "泄露名单.csv": "scanned"}
    assert "broken.pdf" in result.stderr and "refused" in result.stderr
    assert data["files"][2]["counts"]["phone"] == 5


def test_ids_and_missing_targets(run: Cli, tmp_path: Path) -> None:
    assert run("scan", "E-0009").exit_code == 2
    assert run("scan", str(tmp_path / "nope.csv")).exit_code == 2
    assert run("scan", str(tmp_path)).exit_code == 2  # a folder
    assert run("scan", "x.csv", "--types", "phone,blood").exit_code == 2


def test_the_sample_case(run: Cli, tmp_path: Path) -> None:
    """What the demo shows: every sample file, each in its format; the blank PNG is read by OCR
    (where Tesseract is installed) and holds nothing."""
    copies = []
    for p in sorted(SAMPLES.iterdir()):
        copies.append(tmp_path / p.name)
        shutil.copyfile(p, copies[-1])
    data = _json(run("scan", *map(str, copies), "--json"))
    by_name = {f["name"]: f for f in data["files"]}
    png = by_name["screenshot-consent-screen.png"]
    assert png["format"] == "image" and png["total"] == 0
    assert png["status"] == ("scanned" if shutil.which("tesseract") else "failed")
    assert by_name["泄露名单-群聊截获.csv"]["counts"] == {"address": 40, "id_number": 40, "name": 40, "order_id": 40, "phone": 40}
    har = by_name["traffic-capture-app-launch.har"]
    assert har["counts"] == {"device_id": 1, "phone": 1}
    assert har["findings"][0]["fingerprint"] == by_name["泄露名单-群聊截获.csv"]["findings"][1]["fingerprint"]
    assert by_name["statement-张某.txt"]["masked_counts"] == {"name": 1}
    (link,) = data["shared"]  # the victim's phone: in the leaked list and in the app's traffic
    assert link["type"] == "phone" and link["masked"] == "158****9404" and len(link["items"]) == 2
    table = run("scan", *map(str, copies), "--limit", "3")
    assert "Values found in more than one file" in table.stdout and "158****9404" in table.stdout


def test_known_values_and_password_options(run: Cli, tmp_path: Path) -> None:
    import hashlib

    values = tmp_path / "device.txt"
    values.write_text("phone: 13812341234\n", encoding="utf-8")
    har = tmp_path / "c.har"
    har.write_text(json.dumps({"log": {"entries": [{"request": {
        "url": "https://x.example.invalid/?p=" + hashlib.sha256(b"13812341234").hexdigest(), "headers": []}}]}}))
    data = _json(run("scan", str(har), "--known-values", str(values), "--json"))
    assert data["files"][0]["findings"][0]["via"] == "known:sha256"
    pdf = files.make_pdf(tmp_path / "locked.pdf", ["Phone 13812341234"], password="pw")
    locked = run("scan", str(pdf), "--json")
    assert locked.exit_code == 1
    opened = run.runner.invoke(cli, ["--case", str(run.case_root), "scan", str(pdf), "--password", "--json"], input="pw\n")
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout)["files"][0]["counts"] == {"phone": 1}


def test_limit_must_be_non_negative(run: Cli) -> None:
    assert run("scan", "E-0001", "--limit", "-1").exit_code == 2


def test_a_key_readable_by_others_is_refused(run: Cli, case: Case, tmp_path: Path) -> None:
    import os

    path, _ = _leak(tmp_path)
    os.chmod(case.paths.fingerprint_key, 0o644)
    result = run("scan", str(path))
    assert result.exit_code == 3 and "chmod 600" in result.stderr


def test_new_files_map_to_their_own_items_even_named_twice_or_via_a_link(run: Cli, case: Case, tmp_path: Path) -> None:
    """Regression: results were paired with paths by position, so a merged or skipped path shifted them."""
    a = tmp_path / "a.txt"
    a.write_text("联系电话 13800138000", "utf-8")
    b = tmp_path / "b.txt"
    b.write_text("e-mail: someone@example.invalid", "utf-8")
    result = run("scan", str(a), str(tmp_path / "." / "a.txt"), str(b), "--json")
    assert result.exit_code == 0, result.output
    data = _json(result)
    assert data["added"] == ["E-0001", "E-0002"]
    by_item = {f["item"]: f for f in data["files"]}
    assert set(by_item) == {"E-0001", "E-0002"}
    assert by_item["E-0001"]["name"] == "a.txt" and by_item["E-0001"]["counts"] == {"phone": 1}
    assert by_item["E-0002"]["name"] == "b.txt" and by_item["E-0002"]["counts"] == {"email": 1}
    link = tmp_path / "link.txt"
    link.symlink_to(b)
    before = case.paths.ledger.read_bytes()
    result = run("scan", str(link))
    assert result.exit_code == 2 and "not a regular file" in result.output
    assert case.paths.ledger.read_bytes() == before
