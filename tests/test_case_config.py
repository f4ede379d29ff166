"""case.toml: the template in this tree renders, parses and documents every key the loader reads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from plitool.errors import CaseConfigError
from plitool.vault.config import load_config, render_case_toml
from plitool.vault.times import ZH_DEFAULT_ZONE

# Read from this tree, not through the installed package (an editable install made elsewhere may
# point plitool.templates at another checkout).
TEMPLATE = (Path(__file__).resolve().parents[1] / "templates" / "case.toml").read_text("utf-8")
CREATED = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(text, "utf-8")
    return path


def test_template_documents_timezone_and_renders_every_placeholder(tmp_path: Path) -> None:
    assert "timezone = {timezone}" in TEMPLATE
    assert "Asia/Shanghai" in TEMPLATE.split("timezone = {timezone}")[0]  # documented just above
    text = render_case_toml("某案 \"引号\"", "zh", CREATED, timezone="Asia/Hong_Kong", digests=("sha256", "sm3"),
                            tsa=("https://tsa.example/tsr",), template=TEMPLATE)
    assert "{" + "timezone}" not in text and "{digests}" not in text and "{tsa}" not in text
    config = load_config(_write(tmp_path, text))
    assert config.title == '某案 "引号"' and config.timezone == "Asia/Hong_Kong"
    assert config.tsa == ("https://tsa.example/tsr",)
    assert config.zone.name == "Asia/Hong_Kong"


@pytest.mark.parametrize(("lang", "expected"), [("zh", ZH_DEFAULT_ZONE)])
def test_default_zone_of_a_zh_case(tmp_path: Path, lang: str, expected: str) -> None:
    text = render_case_toml("t", lang, CREATED, template=TEMPLATE)
    config = load_config(_write(tmp_path, text))
    assert config.timezone == expected and config.zone.name == expected
    blank = load_config(_write(tmp_path, text.replace(f'timezone = "{expected}"', 'timezone = ""')))
    assert blank.zone.name == expected  # "" is the default, not UTC


def test_en_case_without_a_zone_uses_this_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    text = render_case_toml("t", "en", CREATED, timezone="", template=TEMPLATE)
    assert load_config(_write(tmp_path, text)).zone.name == "America/New_York"


@pytest.mark.parametrize("zone", ["Asia/Shangai", "../../etc/passwd", "UTC+8"])
def test_bad_timezone_names_its_line(tmp_path: Path, zone: str) -> None:
    text = render_case_toml("t", "zh", CREATED, timezone=zone, template=TEMPLATE)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("timezone ="))
    with pytest.raises(CaseConfigError, match=f"line {line}: \\[case\\] timezone"):
        load_config(_write(tmp_path, text))


def test_restore_facts_of_a_case_made_before_init_recorded_them(tmp_path: Path) -> None:
    """An older created entry (title, lang, case_id only): digests from the latest intake, TSAs from seals."""
    from plitool.vault.case import _facts_from_ledger
    from plitool.vault.ledger import Entry

    def entry(seq: int, event: str, data: dict[str, object]) -> Entry:
        return Entry(seq, "0" * 64, "2026-10-01T06:30:00.000000Z", event, None, data, b"{}")

    entries = [
        entry(1, "created", {"title": "旧案", "lang": "zh", "case_id": "x"}),
        entry(2, "added", {"digests": {"sha256": "a", "blake3": "b"}}),
        entry(3, "added", {"digests": {"sha256": "a", "blake3": "b", "sm3": "c"}}),
        entry(4, "sealed", {"tokens": [{"tsa": "https://tsa.example/tsr"}, {"tsa": "offline"}]}),
    ]
    facts, sources = _facts_from_ledger(entries, tmp_path)
    assert facts["title"] == "旧案" and facts["lang"] == "zh" and facts["created"] == entries[0].at
    assert facts["digests"] == ["sha256", "blake3", "sm3"] and sources["digests"] == "latest intake"
    assert facts["tsa"] == ["https://tsa.example/tsr"] and sources["tsa"] == "seals"
    assert facts["timezone"] == "" and sources["timezone"] == "default"
