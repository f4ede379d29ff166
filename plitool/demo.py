"""The QuickRide sample case, end to end, on a fresh copy (``plitool demo``).

The same pipeline as ``samples/quickride/run.sh``, for an installed plitool: every stage runs the
real CLI (``python -m plitool.cli ...``, the very Python and plitool this module belongs to) in a
scratch folder, so the demo is what a user typing the commands would get. Nothing here prints:
each stage is reported through the ``progress`` callback, and what was produced comes back as a
:class:`DemoResult`. The sample files themselves are copied first and never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import EnvironmentProblem, OutputExists, PlitoolError
from .i18n import _

#: The file that marks a folder as written by ``plitool demo`` (so that ``--force`` may replace it).
MARKER = ".plitool-demo"
#: The five filings drafted in Chinese (plus the civil-PIL complaint in English).
DRAFT_KINDS = ("civil-pil", "recommendation", "announcement", "tort", "production-order")
#: One stage never waits longer than this for its command (a guard against a hang, not a speed test).
COMMAND_TIMEOUT = 600
TITLE = "快行出行等侵害个人信息民事公益诉讼案（虚构示例）"
INVESTIGATOR = "江海市人民检察院 检察官 林某"
TECHNICIAN = "江海市人民检察院 技术组 陈某"
POLICE = "江海市公安局 移送"
PHONE = "test phone Pixel-TEST, QuickRide 5.2.0, first launch"
MITM = "test phone Pixel-TEST via mitmproxy 10.1.1"

#: The evidence in the order flows.yaml cites it (E-0001 … E-0015): file, tags, source,
#: collected by, collected at, method.
EVIDENCE: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("evidence/quickride-privacy-policy-v5.2.pdf", "processing,unlawful",
     "https://www.quickride.example/privacy (快行出行 App 内置隐私政策 V5.2)", INVESTIGATOR,
     "2026-10-12T09:40:00+08:00", "web download"),
    ("evidence/screenshot-permission-prompt.png", "unlawful", PHONE, TECHNICIAN, "2026-10-12T10:03:00+08:00",
     "screen capture"),
    ("evidence/screenshot-consent-screen.png", "unlawful", PHONE, TECHNICIAN, "2026-10-12T10:03:30+08:00",
     "screen capture"),
    ("evidence/capture-app-launch.har", "processing,unlawful", MITM, TECHNICIAN, "2026-10-12T10:04:00+08:00",
     "traffic capture"),
    ("evidence/capture-login.har", "processing,unlawful", MITM, TECHNICIAN, "2026-10-12T10:06:00+08:00",
     "traffic capture"),
    ("holdings/quickride-riders-2026-09.xlsx", "processing", "快行出行科技有限公司（调取，截至 2026-09-30）", INVESTIGATOR,
     "2026-11-02T15:00:00+08:00", "data request"),
    ("holdings/fastroute-waybills-2026-09.csv", "processing,fault", "速途快递有限公司（调取，截至 2026-09-30）",
     INVESTIGATOR, "2026-11-03T10:30:00+08:00", "data request"),
    ("holdings/huilian-cs-export-2026-08.csv", "causation,fault", "汇联客服外包服务有限公司 员工周某电脑（扣押）", POLICE,
     "2026-11-05T16:20:00+08:00", "forensic extraction"),
    ("evidence/seized-list-gbk.csv", "harm,causation", "诈骗团伙成员手机（扣押）", POLICE, "2026-10-20T11:00:00+08:00",
     "forensic extraction"),
    ("evidence/statement-01.docx", "harm,causation,amount", "被害人（询问）", INVESTIGATOR, "2026-10-21T14:00:00+08:00",
     "interview record"),
    ("evidence/statement-02.docx", "harm,causation,amount", "被害人（询问）", INVESTIGATOR, "2026-10-22T14:00:00+08:00",
     "interview record"),
    ("evidence/statement-03.docx", "harm,causation,amount", "被害人（询问）", INVESTIGATOR, "2026-10-23T14:00:00+08:00",
     "interview record"),
    ("evidence/spam-calls-2026-09-10.csv", "harm,causation", "通信运营商反诈平台（调取）", INVESTIGATOR,
     "2026-10-28T09:00:00+08:00", "data request"),
    ("evidence/transfer-records.csv", "amount,fault,causation", "员工周某及数据贩子手机（扣押）", POLICE,
     "2026-11-05T16:40:00+08:00", "forensic extraction"),
    ("canary-pool.txt", "causation", "技术组 标记号码登记表", TECHNICIAN, "2026-05-20T09:00:00+08:00", "own record"),
)

#: Sample files copied into the scratch folder (relative to the sample's folder).
SAMPLE_FILES = ("evidence", "holdings", "flows.yaml", "case.toml", "canary-pool.txt", "test-phone.txt", "truth.json")


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: a stable key (``--json``) and its title for people."""

    key: str
    title: str


def stages() -> tuple[Stage, ...]:
    """The stages in order (titles translated when called, not at import)."""
    return (
        Stage("copy", _("a fresh copy of the sample")),
        Stage("init", _("create the case (case.toml: parties, court, facts, claims)")),
        Stage("add", _("add the 15 pieces of evidence with their custody record")),
        Stage("seal", _("seal the ledger (a throw-away local TSA: DEMO TSA — not trusted)")),
        Stage("scan", _("personal data in the evidence, OCR of the screenshots")),
        Stage("graph", _("the provenance graph (flows.yaml and the traffic captures)")),
        Stage("tables", _("holdings of three companies and the seized list as fingerprint tables")),
        Stage("canaries", _("canaries issued on 2026-05-20")),
        Stage("attribute", _("attribution: the probable source of the seized list")),
        Stage("picture", _("the graph picture and exports")),
        Stage("drafts", _("the five drafts (Chinese) and the complaint in English")),
        Stage("verify", _("seal what was added, verify the case")),
        Stage("bundle", _("the exhibit bundle, checked without the case")),
    )


@dataclass
class StageResult:
    key: str
    title: str
    seconds: float
    produced: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    out: Path
    stages: list[StageResult]
    top: str | None
    truth_source: str
    truth_path: Path
    seconds: float

    @property
    def matches_truth(self) -> bool:
        return self.top == self.truth_source

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": "plitool.demo/1",
            "out": str(self.out),
            "seconds": round(self.seconds, 2),
            "top": self.top,
            "truth_source": self.truth_source,
            "matches_truth": self.matches_truth,
            "truth": str(self.truth_path),
            "stages": [
                {"key": s.key, "seconds": round(s.seconds, 2), "produced": [str(p) for p in s.produced], "notes": s.notes}
                for s in self.stages
            ],
        }


class DemoStepFailed(PlitoolError):
    """A command of the demo failed: its exit code is passed on (3 when it was killed or unknown)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code if 1 <= exit_code <= 5 else EnvironmentProblem.exit_code


#: progress(event, stage, payload): event "start" (payload: stage number of total) or "done"
#: (payload: the StageResult).
Progress = Callable[[str, Stage, Any], None]


def sample_root() -> Path:
    """The QuickRide sample's folder: ``samples/quickride`` beside the package in a source
    checkout, else the copy an installed plitool ships as ``plitool.samples``."""
    beside = Path(__file__).resolve().parents[1] / "samples"
    if (beside / "quickride" / "case.toml").is_file():
        return beside / "quickride"
    try:
        shipped = Path(str(resources.files("plitool.samples"))) / "quickride"
    except (ModuleNotFoundError, TypeError):
        shipped = None
    if shipped is not None and (shipped / "case.toml").is_file():
        return shipped
    raise EnvironmentProblem(
        _("the QuickRide sample is not installed with this plitool (looked for {beside} and the package "
          "plitool.samples); run 'plitool demo' from a source checkout or reinstall plitool").format(
            beside=beside / "quickride")
    )


def demo_tsa_script(sample: Path) -> Path:
    return sample.parent / "demo_tsa.py"


def check_output(out: Path, force: bool) -> None:
    """Refuse an existing output folder before any work, unless ``force`` and it is an earlier
    demo's folder (holding :data:`MARKER`) or empty: ``--force`` never deletes anything else."""
    if os.path.lexists(out) and not out.is_dir():
        raise OutputExists(_("{path} exists and is not a folder: choose another --out").format(path=out))
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise OutputExists(_("{path} already exists: use --force to replace an earlier demo there").format(path=out))
    if out.is_symlink() or not (out / MARKER).is_file():
        raise OutputExists(
            _("{path} is not empty and was not written by 'plitool demo': --force replaces only an earlier demo's "
              "folder; choose another --out").format(path=out))


def _environment(sample: Path) -> None:
    if shutil.which("openssl") is None:
        raise EnvironmentProblem(_("the demo's local timestamp authority needs 'openssl': install it (apt install openssl)"))
    if not demo_tsa_script(sample).is_file():
        raise EnvironmentProblem(_("{path} is missing: the demo cannot start its local timestamp authority").format(
            path=demo_tsa_script(sample)))


class _Runner:
    """Runs ``python -m plitool.cli`` commands in the scratch folder, logging their output."""

    def __init__(self, out: Path, case: Path, log: Any) -> None:
        self.out = out
        self.log = log
        package_parent = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PLITOOL_CASE"] = str(case)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        self.env = env

    def run(self, args: Sequence[str], *, stdout_to: Path | None = None, script: Path | None = None) -> str:
        argv = [sys.executable, str(script)] if script else [sys.executable, "-m", "plitool.cli"]
        argv += list(args)
        shown = " ".join(["plitool" if not script else script.name, *args])
        self.log.write(f"$ {shown}\n")
        self.log.flush()
        try:
            proc = subprocess.run(argv, cwd=self.out, env=self.env, capture_output=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise DemoStepFailed(_("'{command}' did not finish within {seconds} s").format(
                command=shown, seconds=COMMAND_TIMEOUT), EnvironmentProblem.exit_code) from exc
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
        self.log.write(stdout if stdout_to is None else f"(stdout → {stdout_to.name})\n")
        self.log.write(stderr)
        self.log.flush()
        if proc.returncode != 0:
            last = [line for line in stderr.splitlines() if line.strip()][-3:]
            raise DemoStepFailed(_("'{command}' failed with exit code {code}: {detail} (the whole output is in {log})").format(
                command=shown, code=proc.returncode, detail=" / ".join(last) or "-", log=self.log.name), proc.returncode)
        if stdout_to is not None:
            stdout_to.write_bytes(proc.stdout)
        return stdout


class _DemoTsa:
    """The throw-away local TSA (``samples/demo_tsa.py``), stopped when the demo ends."""

    def __init__(self, script: Path, folder: Path, env: dict[str, str]) -> None:
        self.info = folder.parent / "demo-tsa.env"
        self.proc = subprocess.Popen([sys.executable, str(script), "--dir", str(folder), "--info-file", str(self.info)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.info.is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EnvironmentProblem(_("the demo's local timestamp authority did not start (is openssl working?)"))
            time.sleep(0.1)
        values = dict(line.split("=", 1) for line in self.info.read_text("utf-8").splitlines() if "=" in line)
        self.url = values["TSA_URL"]
        self.ca = values["TSA_CA"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _tesseract_ready() -> bool:
    if shutil.which("tesseract") is None:
        return False
    try:
        langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, timeout=60).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return False
    return "chi_sim" in langs.split()


def run_demo(out: Path, *, force: bool = False, progress: Progress | None = None) -> DemoResult:
    """Run the whole QuickRide pipeline in ``out`` (created; refused when it exists, see
    :func:`check_output`). Raises :class:`DemoStepFailed` naming the command that failed; whether
    the attribution found the sample's true source is :attr:`DemoResult.matches_truth`."""
    sample = sample_root()
    out = Path(os.path.abspath(out))
    check_output(out, force)
    _environment(sample)
    if out.is_dir() and (out / MARKER).is_file():
        shutil.rmtree(out)  # an earlier demo's folder, checked above
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by 'plitool demo'; 'plitool demo --force' may replace this folder\n", "utf-8")
    case = out / "case"
    report = progress or (lambda event, stage, payload: None)
    results: list[StageResult] = []
    all_stages = stages()
    started = time.monotonic()
    top: str | None = None
    with open(out / "demo.log", "w", encoding="utf-8") as log:
        runner = _Runner(out, case, log)
        tsa: _DemoTsa | None = None
        s = out / "sample"
        try:
            for number, stage in enumerate(all_stages, start=1):
                report("start", stage, (number, len(all_stages)))
                t0 = time.monotonic()
                result = StageResult(stage.key, stage.title, 0.0)
                if stage.key == "copy":
                    s.mkdir()
                    for name in SAMPLE_FILES:
                        src = sample / name
                        if src.is_dir():
                            shutil.copytree(src, s / name)
                        else:
                            shutil.copy2(src, s / name)
                    result.produced.append(s)
                elif stage.key == "init":
                    runner.run(["init", "case", "--title", TITLE, "--lang", "zh"])
                    shutil.copyfile(s / "case.toml", case / "case.toml")
                    result.produced.append(case)
                elif stage.key == "add":
                    for rel, tags, source, by, at, method in EVIDENCE:
                        runner.run(["add", str(s / rel), "--tag", tags, "--source", source, "--collected-by", by,
                                    "--collected-at", at, "--method", method])
                    result.produced.append(case / ".plitool" / "ledger.jsonl")
                elif stage.key == "seal":
                    tsa = _DemoTsa(demo_tsa_script(sample), out / "demo-tsa", runner.env)
                    runner.run(["trust", "add", tsa.ca, "--name", "DEMO TSA — not trusted"])
                    runner.run(["seal", "--tsa", tsa.url])
                elif stage.key == "scan":
                    runner.run(["scan", "E-0001", "E-0004", "E-0005", "E-0009", "E-0010", "E-0013", "--limit", "3"])
                    runner.run(["scan", "E-0004", "E-0005", "--known-values", str(s / "test-phone.txt"), "--limit", "5"])
                    if _tesseract_ready():
                        marked = out / "screenshot-permission-prompt.marked.png"
                        runner.run(["scan", "E-0002", "E-0003", "--limit", "5"])
                        runner.run(["scan", "E-0002", "--show-boxes", "-o", str(marked)])
                        result.produced.append(marked)
                    else:
                        result.notes.append(_("Tesseract with its Chinese model is not installed: the screenshots were "
                                              "not read (apt install tesseract-ocr tesseract-ocr-chi-sim)"))
                elif stage.key == "graph":
                    shutil.copyfile(s / "flows.yaml", case / "flows.yaml")
                    for item in ("E-0004", "E-0005"):
                        runner.run(["graph", "from-har", item, "--app", "quickride", "--known-values",
                                    str(s / "test-phone.txt")])
                    runner.run(["graph", "check"])
                    result.produced.append(case / "flows.yaml")
                elif stage.key == "tables":
                    runner.run(["holdings", "add", "quickride", "E-0006", "--as-of", "2026-09-30"])
                    runner.run(["holdings", "add", "fastroute", "E-0007", "--as-of", "2026-09-30"])
                    runner.run(["holdings", "add", "cs-contractor", "E-0008", "--as-of", "2026-08-05"])
                    runner.run(["leak", "add", "seized-list", "E-0009", "--first-seen", "2026-10-20"])
                elif stage.key == "canaries":
                    for agent in ("quickride", "fastroute", "cs-contractor"):
                        runner.run([agent, "--count", "3", "--pool", str(s / "canary-pool.txt"), "--issued", "2026-05-20"],
                                   script=sample / "issue_canaries.py")
                elif stage.key == "attribute":
                    attribution = out / "attribution.json"
                    runner.run(["attribute", "--json"], stdout_to=attribution)
                    top = json.loads(attribution.read_text("utf-8")).get("top") or None
                    result.produced.append(attribution)
                elif stage.key == "picture":
                    path_args: list[str] = ["--source", top, "--target", "seized-list"] if top else []
                    if shutil.which("dot"):
                        for fmt in ("svg", "png"):
                            runner.run(["graph", "export", "--format", fmt, "-o", str(out / f"graph.{fmt}"), *path_args])
                            result.produced.append(out / f"graph.{fmt}")
                    else:
                        result.notes.append(_("Graphviz 'dot' is not installed: no picture (apt install graphviz)"))
                    runner.run(["graph", "export", "--format", "dot", "-o", str(out / "graph.dot"), *path_args])
                    runner.run(["graph", "export", "--format", "prov", "-o", str(out / "graph.prov.json")])
                    result.produced += [out / "graph.dot", out / "graph.prov.json"]
                elif stage.key == "drafts":
                    for kind in DRAFT_KINDS:
                        target = out / "drafts" / f"{kind}.zh.docx"
                        runner.run(["draft", kind, "-o", str(target)])
                        result.produced.append(target)
                    target = out / "drafts" / "civil-pil.en.docx"
                    runner.run(["draft", "civil-pil", "--lang", "en", "-o", str(target)])
                    result.produced.append(target)
                elif stage.key == "verify":
                    assert tsa is not None
                    runner.run(["seal", "--tsa", tsa.url])
                    runner.run(["verify"])
                elif stage.key == "bundle":
                    assert tsa is not None
                    runner.run(["bundle", "-o", str(out / "bundle")])
                    runner.run(["verify-bundle", str(out / "bundle"), "--ca", tsa.ca])
                    result.produced += [out / "bundle" / "exhibits.pdf", out / "bundle" / "verification-report.pdf"]
                result.seconds = time.monotonic() - t0
                results.append(result)
                report("done", stage, result)
        finally:
            if tsa is not None:
                tsa.stop()
    truth = json.loads((sample / "truth.json").read_text("utf-8"))
    return DemoResult(out, results, top, str(truth["source"]), sample / "truth.json", time.monotonic() - started)


__all__ = ["DemoResult", "DemoStepFailed", "Stage", "StageResult", "check_output", "run_demo", "sample_root", "stages"]
