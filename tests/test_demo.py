"""``plitool demo``: the QuickRide sample end to end on a fresh copy, through the real CLI.

One run (module scope, ~30 s on 2 cores) is checked for what issue 13 promises: exit 0, the
files in the output folder, the attribution equal to the generator's ground truth, and no raw
personal value of the sample in attribution.json, the drafts' text or the bundle's index. The
refusals (an existing folder, a foreign folder under --force) are checked before any work.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import PROJECT_ROOT

QR = PROJECT_ROOT / "samples" / "quickride"
TIMEOUT = 600  # guards a hang only


def _plitool(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PLITOOL_LANG": "en", "COLUMNS": "200", "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    full_env.pop("PLITOOL_CASE", None)
    return subprocess.run([sys.executable, "-m", "plitool.cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    work = tmp_path_factory.mktemp("demo")
    return _plitool("demo", "--out", str(work / "qr"), "--json", cwd=work), work / "qr"


def _raw_values() -> set[str]:
    """Every personal value of the sample that must never leave the evidence: phone numbers,
    ID numbers, waybill numbers, device ids, addresses and three-character names from the leaked
    list, the companies' holdings, the victims' statements and the test phone. Values that
    case.toml names on purpose (the parties) are not personal data of the sample."""
    values: set[str] = set()

    def rows(name: str, encoding: str = "utf-8") -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO((QR / name).read_bytes().decode(encoding))))

    for row in rows("evidence/seized-list-gbk.csv", "gbk"):
        values.update(row[k] for k in ("姓名", "手机号", "收件地址", "运单号", "设备号"))
    for row in rows("holdings/fastroute-waybills-2026-09.csv")[:500]:
        values.update(row[k] for k in ("运单号", "收件人", "收件人电话", "收件地址"))
    for row in rows("holdings/huilian-cs-export-2026-08.csv")[:500]:
        values.update(row[k] for k in ("运单号", "收件人", "联系电话", "收件地址"))
    from docx import Document

    for n in ("01", "02", "03"):
        doc = Document(str(QR / "evidence" / f"statement-{n}.docx"))
        for table in doc.tables:
            for r in table.rows:
                values.add(r.cells[-1].text.strip())
    for line in (QR / "test-phone.txt").read_text("utf-8").splitlines():
        if ":" in line and not line.startswith("#"):
            values.add(line.split(":", 1)[1].strip())
    case_toml = (QR / "case.toml").read_text("utf-8")
    kept = set()
    for v in values:
        if "*" in v or v.endswith("某") or not v or v in case_toml:
            continue
        if re.fullmatch(r"[\u4e00-\u9fff]{1,2}", v):  # a two-character name can be an ordinary word
            continue
        kept.add(v)
    assert len(kept) > 1000  # the check below means something
    return kept


def _docx_text(path: Path) -> str:
    from docx import Document

    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    for section in doc.sections:
        parts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(parts)


def _index_text(bundle: Path) -> str:
    """bundle.json and the text of exhibits.pdf's cover and index pages (before the first exhibit)."""
    from pypdf import PdfReader

    index = json.loads((bundle / "bundle.json").read_text("utf-8"))
    first = min(ex["pages"][0] for ex in index["exhibits"])
    reader = PdfReader(str(bundle / "exhibits.pdf"))
    pages = [reader.pages[i].extract_text() or "" for i in range(first - 1)]
    return json.dumps(index, ensure_ascii=False) + "\n".join(pages)


@pytest.mark.slow
def test_demo_runs_the_whole_case_and_produces_what_issue_13_lists(demo_run: tuple[Any, Path]) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["schema"] == "plitool.demo/1" and result["matches_truth"] is True
    assert [s["key"] for s in result["stages"]] == ["copy", "init", "add", "seal", "scan", "graph", "tables", "canaries",
                                                    "attribute", "picture", "drafts", "verify", "bundle"]
    for name in ("attribution.json", "bundle/exhibits.pdf", "bundle/verification-report.pdf", "bundle/SHA256SUMS",
                 "graph.dot", "demo.log", "case/case.toml"):
        assert (out / name).is_file(), name
    drafts = sorted(p.name for p in (out / "drafts").glob("*.docx"))
    assert drafts == sorted([f"{k}.zh.docx" for k in ("civil-pil", "recommendation", "announcement", "tort",
                                                     "production-order")] + ["civil-pil.en.docx"])
    if shutil.which("dot"):
        assert (out / "graph.svg").read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
        assert (out / "graph.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "bundle" / "exhibits.pdf").read_bytes().startswith(b"%PDF")
    # the summary table and the stages went to stderr, the JSON alone to stdout
    assert "attribute" in proc.stderr and "cs-contractor" in proc.stderr
    # the sample itself was copied, not used in place
    assert (out / "sample" / "evidence" / "seized-list-gbk.csv").read_bytes() == (QR / "evidence" / "seized-list-gbk.csv").read_bytes()


@pytest.mark.slow
def test_demo_attribution_names_the_ground_truth_source(demo_run: tuple[Any, Path]) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    truth = json.loads((QR / "truth.json").read_text("utf-8"))
    attribution = json.loads((out / "attribution.json").read_text("utf-8"))
    assert attribution["top"] == truth["source"] == "cs-contractor"


@pytest.mark.slow
def test_demo_outputs_hold_no_raw_personal_value(demo_run: tuple[Any, Path]) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    raw = _raw_values()
    texts = {"attribution.json": (out / "attribution.json").read_text("utf-8"),
             "bundle index": _index_text(out / "bundle")}
    for docx in sorted((out / "drafts").glob("*.docx")):
        texts[docx.name] = _docx_text(docx)
    assert "快行出行科技有限公司" in texts["civil-pil.zh.docx"]  # the text was really read
    for name, text in texts.items():
        leaked = sorted(v for v in raw if v in text)
        assert leaked == [], f"{name} holds raw personal values: {leaked[:5]}"


@pytest.mark.slow
def test_demo_refuses_an_existing_folder_and_force_replaces_only_a_demo(demo_run: tuple[Any, Path], tmp_path: Path) -> None:
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    # an earlier demo's folder: refused without --force, before any work (nothing changes)
    before = sorted(p.name for p in out.iterdir())
    again = _plitool("demo", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert sorted(p.name for p in out.iterdir()) == before


def test_demo_force_never_replaces_a_folder_it_did_not_write(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("not a demo", "utf-8")
    proc = _plitool("demo", "--out", str(foreign), "--force", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "not written by 'plitool demo'" in proc.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.txt"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x", "utf-8")
    proc = _plitool("demo", "--out", str(a_file), "--force", cwd=tmp_path)
    assert proc.returncode == 2 and a_file.read_text("utf-8") == "x"


def test_demo_finds_the_sample_shipped_inside_an_installed_package(tmp_path: Path) -> None:
    """An installed plitool has no samples/ beside it: the copy shipped as plitool.samples
    (pyproject's package-dir) is used; without it, an environment error (3) says so."""
    site = tmp_path / "site"
    shutil.copytree(PROJECT_ROOT / "plitool", site / "plitool", ignore=shutil.ignore_patterns("__pycache__"))
    # The development install (pip install -e) maps plitool.samples onto this checkout's samples/
    # through an import finder of its own: drop it, so the copy in "site" is all there is.
    isolate = ("import sys\nsys.meta_path[:] = [f for f in sys.meta_path "
               "if 'editable' not in str(getattr(f, '__module__', '') or '')]\n")
    code = isolate + "import plitool.demo as d; print(d.sample_root())"
    env = {**os.environ, "PYTHONPATH": str(site)}
    missing = subprocess.run([sys.executable, "-c", isolate + "import plitool.demo as d\ntry:\n d.sample_root()\n"
                              "except d.EnvironmentProblem as e:\n print(e.exit_code, e)"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert missing.stdout.startswith("3 ") and "plitool.samples" in missing.stdout
    shipped = site / "plitool" / "samples"
    shipped.mkdir()
    shutil.copy2(PROJECT_ROOT / "samples" / "__init__.py", shipped)
    shutil.copy2(PROJECT_ROOT / "samples" / "demo_tsa.py", shipped)
    shutil.copytree(QR, shipped / "quickride")
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert Path(found.stdout.strip()) == shipped / "quickride", found.stderr


def test_pyproject_ships_the_sample_as_package_data() -> None:
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert "plitool.samples" in config["packages"]
    assert config["package-dir"]["plitool.samples"] == "samples"
    assert "quickride/**/*" in config["package-data"]["plitool.samples"]


def test_a_failing_stage_names_its_command_and_passes_on_its_exit_code(tmp_path: Path) -> None:
    from plitool.demo import DemoStepFailed, _Runner

    with open(tmp_path / "demo.log", "w", encoding="utf-8") as log:
        runner = _Runner(tmp_path, tmp_path / "no-case-here", log)
        with pytest.raises(DemoStepFailed) as caught:
            runner.run(["verify"])
    assert caught.value.exit_code == 2  # no case: usage, as 'plitool verify' itself exits
    assert "'plitool verify' failed with exit code 2" in str(caught.value)
    assert "$ plitool verify" in (tmp_path / "demo.log").read_text("utf-8")


def test_demo_adds_the_evidence_in_the_order_run_sh_and_flows_yaml_use() -> None:
    """plitool demo and samples/quickride/run.sh are two spellings of one pipeline: the same files
    become the same E-ids (flows.yaml cites them), with the same tags and collection times."""
    from plitool.demo import EVIDENCE

    script = (QR / "run.sh").read_text("utf-8")
    in_script = re.findall(r'plitool add "\$s/([^"]+)" --tag (\S+)', script)
    in_script = [(rel, tags) for rel, tags in in_script if "$n" not in rel]
    loop = re.search(r'for n in 01 02 03; do\s+plitool add "\$s/evidence/statement-\$n.docx" --tag (\S+)', script)
    assert loop is not None
    statements = [(f"evidence/statement-{n}.docx", loop.group(1)) for n in ("01", "02", "03")]
    at = in_script.index(("evidence/seized-list-gbk.csv", "harm,causation")) + 1
    expected = in_script[:at] + statements + in_script[at:]
    assert [(rel, tags) for rel, tags, *_ in EVIDENCE] == expected
    assert len(EVIDENCE) == 15
