"""Shared fixtures: a fresh case, a CLI runner bound to it, paths to the shared interop vectors."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

# Tests never depend on wall-clock speed: no per-example deadline (a loaded CI machine is slow).
settings.register_profile("plitool", deadline=None)
settings.load_profile("plitool")

# The Ctrl-C tests send SIGINT to plitool processes. A suite started in the background by a shell
# without job control (`nohup make test &`, some CI runners) inherits SIGINT *ignored*, and an
# ignored signal stays ignored across exec: every child would then shrug Ctrl-C off. A handler
# set here is reset to the default in each child at exec, where Python installs its own.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from plitool.vault.case import Case, init_case
from plitool.cli.main import cli

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
INTEROP = SHARED / "interop"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network: any connection outside loopback fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) and self.family != socket.AF_UNIX:
            raise OSError(f"network access in a test: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests read English messages (the shared test case is a zh case): PLITOOL_LANG=en, as a
    user would set it; a test of the Chinese output removes or changes it. The language is also
    process-wide, so it is reset: a case opened by one test must not carry into the next."""
    from plitool import i18n

    monkeypatch.setenv(i18n.ENV_LANG, "en")
    i18n.reset()


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return init_case(tmp_path / "case", "测试案件 Test case", "zh")


class Cli:
    """Invoke plitool against one case, returning click's Result."""

    def __init__(self, case_root: Path) -> None:
        self.case_root = case_root
        self.runner = CliRunner()

    def __call__(self, *args: str, case: bool = True, lang: str | None = "en") -> Result:
        """``lang``: the tests read English messages although the shared case is a zh case;
        ``lang=None`` leaves the choice to the case (and PLITOOL_LANG)."""
        argv = (["--lang", lang] if lang else []) + (["--case", str(self.case_root)] if case else []) \
            + [os.fspath(a) for a in args]
        return self.runner.invoke(cli, argv, catch_exceptions=False)


@pytest.fixture
def run(case: Case) -> Cli:
    return Cli(case.root)


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    d = tmp_path / "evidence"
    (d / "sub").mkdir(parents=True)
    (d / "screenshot.png").write_bytes(b"\x89PNG fake screenshot bytes")
    (d / "隐私政策.txt").write_text("隐私政策：我们收集您的手机号。", encoding="utf-8")
    (d / "sub" / "capture.har").write_text('{"log": {"entries": []}}', encoding="utf-8")
    (d / ".hidden-note").write_text("hidden", encoding="utf-8")
    return d


def ledger_bytes(case: Case) -> bytes:
    return case.paths.ledger.read_bytes()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for every Spark test (starting one takes seconds), also serving
    Spark Connect on a free loopback port (``spark_session.plitool_connect``: its ``sc://`` URL).
    Skipped, with the reason, where pyspark or Java is missing."""
    import shutil
    import socket as _socket

    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'plitool[spark]'")
    pytest.importorskip("sqlglot", reason="sqlglot is not installed: pip install 'plitool[spark]'")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("no Java runtime for a local Spark session: apt-get install openjdk-17-jre-headless")
    from plitool.provenance import spark as plspark

    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = dict(plspark.LOCAL_CONF)
    conf.update({"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1",
                 "spark.sql.adaptive.enabled": "false",
                 "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
                 "spark.connect.grpc.binding.address": "127.0.0.1",
                 "spark.connect.grpc.binding.port": str(port)})
    saved = dict(plspark.LOCAL_CONF)
    plspark.LOCAL_CONF.clear()
    plspark.LOCAL_CONF.update(conf)
    try:
        spark = plspark.session(master="local[2]")
    finally:
        plspark.LOCAL_CONF.clear()
        plspark.LOCAL_CONF.update(saved)
    spark.plitool_connect = f"sc://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield spark
    spark.stop()
