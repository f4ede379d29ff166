"""The message catalogues: every message has both languages, and the pipeline that keeps it so.

English is the source text inside ``_()``; Chinese comes from ``plitool/locale/zh/LC_MESSAGES``.
These tests read the source itself, so a message added without its translation, a stale ``.mo``
or a translation that drops a ``{placeholder}`` fails here rather than in front of a user.
"""

from __future__ import annotations

import ast
import gettext
import importlib.util
import io
import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("babel", reason="Babel is in the test extra: pip install -e '.[test]'")

from babel.messages.mofile import write_mo  # noqa: E402

from plitool import i18n  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plitool"
PO = PACKAGE / "locale" / "zh" / "LC_MESSAGES" / "plitool.po"
MO = PO.with_suffix(".mo")


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plitool_i18n_tool", ROOT / "tools" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    i18n.reset()


def _msgid(message: object) -> str:
    mid = message.id  # type: ignore[attr-defined]
    return mid[0] if isinstance(mid, tuple) else mid


# -- (a) every message has both languages ---------------------------------------------------


def test_extraction_finds_the_marked_messages() -> None:
    """Extraction reads plitool/ itself: a message known to be marked is found, with its place."""
    template = tool.extract()
    found = {_msgid(m): m for m in template if m.id}
    message = found.get("the TSA certificate does not chain to any given root")
    assert message is not None
    assert any(path == "plitool/timestamps/timestamp.py" for path, _line in message.locations)
    assert "cannot write into {folder}: {reason}" in found


def test_every_message_has_a_chinese_translation() -> None:
    template = tool.extract()
    catalog = tool.read_catalog(PO)
    missing, fuzzy = [], []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id)
        if entry is None or not all(entry.string if isinstance(entry.string, tuple) else (entry.string,)):
            missing.append(_msgid(message))
        elif entry.fuzzy:
            fuzzy.append(_msgid(message))
    assert not missing, f"messages without a zh translation (run make i18n, then tools/i18n.py untranslated --json): {missing}"
    assert not fuzzy, f"zh translations marked fuzzy (check and confirm them): {fuzzy}"


def test_the_template_is_up_to_date() -> None:
    assert tool.check() == [], "run make i18n and commit plitool/locale"


# -- (b) the committed .mo is the .po compiled -----------------------------------------------


def _mo_catalog(data: bytes) -> dict[object, str]:
    return dict(gettext.GNUTranslations(io.BytesIO(data))._catalog)  # type: ignore[attr-defined]


def test_committed_mo_matches_the_po() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, tool.read_catalog(PO), use_fuzzy=False)
    expected = _mo_catalog(compiled.getvalue())
    committed = _mo_catalog(MO.read_bytes())
    assert committed == expected, "plitool.mo is stale: run make i18n (or tools/i18n.py compile) and commit it"
    assert len(committed) > 1  # more than the header


# -- (c) placeholders survive translation ----------------------------------------------------


def test_translations_keep_every_placeholder() -> None:
    bad = []
    for message in tool.read_catalog(PO):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text:
                why = tool.placeholder_problem(message.id, text)
                if why:
                    bad.append(f"{_msgid(message)!r}: {why}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("english", "translation", "ok"),
    [
        ("entry #{seq} was edited", "第 #{seq} 号条目被修改", True),
        ("entry #{seq} was edited", "条目被修改", False),  # dropped
        ("entry #{seq} was edited", "第 #{n} 号条目被修改", False),  # renamed
        ("no answer within {timeout:g} s", "{timeout} 秒内未获应答", False),  # format spec lost
        ("bad {x}", "坏 {x", False),  # not a template at all
        (("{n} file", "{n} files"), "{n} 个文件", True),
    ],
)
def test_placeholder_problem(english: str | tuple[str, str], translation: str, ok: bool) -> None:
    assert (tool.placeholder_problem(english, translation) is None) is ok


# -- (d) switching the language ---------------------------------------------------------------


def test_set_language_switches_and_reset_returns_to_english() -> None:
    message = "no trusted root was given"
    assert i18n._(message) == message
    i18n.set_language("zh")
    assert i18n.language() == "zh"
    assert i18n._(message) == "未提供受信任的根证书"
    i18n.reset()
    assert i18n.language() == "en"
    assert i18n._(message) == message


def test_core_errors_come_out_in_the_chosen_language() -> None:
    from plitool.errors import UsageError
    from plitool.timestamps.timestamp import post_query

    i18n.set_language("zh")
    with pytest.raises(UsageError, match="不是 http:// 或 https:// 网址"):
        post_query("ftp://tsa.example", b"")
    i18n.reset()
    with pytest.raises(UsageError, match="is not an http:// or https:// URL"):
        post_query("ftp://tsa.example", b"")


def test_case_language_yields_to_a_pinned_choice() -> None:
    i18n.set_language("en", pin=True)
    i18n.case_language("zh")
    assert i18n.language() == "en"
    i18n.reset()
    i18n.case_language("zh")
    assert i18n.language() == "zh"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("zh", "zh"), ("ZH", "zh"), ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("en_US", "en"), ("fr", None), ("", None)],
)
def test_language_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv(i18n.ENV_LANG, value)
    assert i18n.language_from_env() == expected


# -- (e) the source marks messages so that they can be extracted ------------------------------


def _python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_computed_text_inside_gettext_calls() -> None:
    """``_(f"...")``, ``_("a" + b)`` or ``_("...".format())`` would never match the catalogue.

    A string constant is what the catalogue holds; a name, attribute or lookup (``_(HEADERS[key])``)
    is allowed for constants marked with ``N_()`` where they are defined. ``ngettext`` takes two
    constants.
    """
    bad = []
    for path in _python_files():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name = node.func.id
            if name in ("_", "N_"):
                args = node.args[:1]
                allowed: tuple[type, ...] = (
                    (ast.Constant,) if name == "N_" else (ast.Constant, ast.Name, ast.Attribute, ast.Subscript)
                )
            elif name == "ngettext":
                args, allowed = node.args[:2], (ast.Constant,)
            else:
                continue
            for arg in args:
                if not isinstance(arg, allowed) or (isinstance(arg, ast.Constant) and not isinstance(arg.value, str)):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}({ast.unparse(arg)[:60]})")
    assert not bad, "messages must be string constants inside _():\n" + "\n".join(bad)


def test_modules_that_use_gettext_do_not_rebind_underscore() -> None:
    """``for _, x in ...`` in a module that imports ``_`` shadows gettext: ``_("...")`` then fails."""
    bad = []
    for path in _python_files():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        imports_gettext = any(
            isinstance(node, ast.ImportFrom) and any(alias.name == "_" and alias.asname is None for alias in node.names)
            for node in ast.walk(tree)
        )
        if not imports_gettext:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "name the throw-away variable (_line, _tag ...), not _ :\n" + "\n".join(bad)


def test_messages_are_not_f_strings_in_the_catalogue() -> None:
    """Nothing in the catalogue looks like an f-string leftover (a {expression} that is not a name)."""
    odd = [
        _msgid(m) for m in tool.extract() if m.id
        for field in tool.placeholders(m.id[-1] if isinstance(m.id, tuple) else m.id)
        if not field.strip("{}").split("!")[0].split(":")[0].isidentifier()
    ]
    assert not odd, f"placeholders must be plain names: {odd}"


# -- the catalogues ship with the package ----------------------------------------------------


def test_every_catalogue_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    packages, data = set(config["packages"]), config["package-data"]
    assert "plitool.locale" in packages and "*.pot" in data["plitool.locale"]
    for po in (PACKAGE / "locale").glob("*/LC_MESSAGES/plitool.po"):
        dotted = ".".join(po.parent.relative_to(ROOT).parts)
        assert dotted in packages, f"{dotted} is not listed in pyproject's packages: its .mo would not ship"
        assert {"*.po", "*.mo"} <= set(data.get(dotted, [])), f"{dotted}: .po/.mo missing from package-data"
    assert MO.exists()


# -- tools/i18n.py: extract, untranslated, merge, compile ------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> object:
    """A tiny project with the same layout: two messages, a plural, and an empty zh catalogue."""
    (tmp_path / "plitool").mkdir()
    (tmp_path / "plitool" / "mod.py").write_text(
        "from .i18n import _, ngettext\n"
        "def f(n, seq):\n"
        "    # TRANSLATORS: seq is the ledger entry number\n"
        "    a = _('entry #{seq} was edited').format(seq=seq)\n"
        "    b = ngettext('{n} file', '{n} files', n).format(n=n)\n"
        "    return a, b, _('nothing to do')\n",
        "utf-8",
    )
    (tmp_path / "babel.cfg").write_text("[python: plitool/**.py]\n", "utf-8")
    locale = tmp_path / "plitool" / "locale"
    po = locale / "zh" / "LC_MESSAGES" / "plitool.po"
    po.parent.mkdir(parents=True)
    po.write_text('# glossary: 条目 = entry\nmsgid ""\nmsgstr ""\n"Language: zh\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n', "utf-8")
    return tool.Layout(root=tmp_path, mapping=tmp_path / "babel.cfg", locale_dir=locale)


def test_tool_round_trip(project: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = project
    po = tmp_path / "plitool" / "locale" / "zh" / "LC_MESSAGES" / "plitool.po"
    assert tool.main(["extract"], layout) == 0
    assert (tmp_path / "plitool" / "locale" / "plitool.pot").exists()
    assert "glossary: 条目 = entry" in po.read_text("utf-8")  # the translators' notes survive

    dump = tmp_path / "todo.json"
    assert tool.main(["untranslated", "--json", str(dump)], layout) == 0
    assert "zh: 3 message(s) without a translation" in capsys.readouterr().out
    entries = json.loads(dump.read_text("utf-8"))
    by_id = {e["msgid"]: e for e in entries}
    assert by_id["{n} file"]["msgid_plural"] == "{n} files"
    assert by_id["entry #{seq} was edited"]["comments"] == ["seq is the ledger entry number"]

    # A translation that renames a placeholder is refused, and nothing is merged.
    by_id["entry #{seq} was edited"]["msgstr"] = "第 #{n} 号条目被修改"
    by_id["{n} file"]["msgstr"] = "{n} 个文件"
    dump.write_text(json.dumps(entries, ensure_ascii=False), "utf-8")
    assert tool.main(["merge", str(dump)], layout) == 1
    assert "missing {seq}" in capsys.readouterr().err
    assert len(tool.untranslated(po)) == 3

    by_id["entry #{seq} was edited"]["msgstr"] = "第 #{seq} 号条目被修改"
    dump.write_text(json.dumps(entries, ensure_ascii=False), "utf-8")
    assert tool.main(["merge", str(dump)], layout) == 0
    assert "merged 2 translation(s); 1 still untranslated" in capsys.readouterr().out
    assert tool.main(["check"], layout) == 1  # "nothing to do" is still untranslated

    # The plain {msgid: msgstr} form, and a msgid the source does not have is refused.
    (tmp_path / "more.json").write_text(json.dumps({"no such message": "无"}), "utf-8")
    assert tool.main(["merge", str(tmp_path / "more.json")], layout) == 1
    (tmp_path / "more.json").write_text(json.dumps({"nothing to do": "无需处理"}, ensure_ascii=False), "utf-8")
    assert tool.main(["merge", str(tmp_path / "more.json")], layout) == 0
    assert tool.main(["check"], layout) == 0

    translations = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    assert translations.gettext("entry #{seq} was edited").format(seq=2) == "第 #2 号条目被修改"
    assert translations.ngettext("{n} file", "{n} files", 1).format(n=1) == "1 个文件"
    assert translations.gettext("nothing to do") == "无需处理"


def test_tool_marks_a_changed_message_for_review(project: object, tmp_path: Path) -> None:
    """An English text edited in the source keeps its old translation only as a suggestion."""
    layout = project
    po = tmp_path / "plitool" / "locale" / "zh" / "LC_MESSAGES" / "plitool.po"
    tool.update(layout)
    tool.merge(po, {"entry #{seq} was edited": "第 #{seq} 号条目被修改", "{n} file": "{n} 个文件", "nothing to do": "无需处理"})
    source = tmp_path / "plitool" / "mod.py"
    source.write_text(source.read_text("utf-8").replace("entry #{seq} was edited", "entry #{seq} was edited by hand"), "utf-8")
    tool.update(layout)
    todo = tool.untranslated(po)
    assert [e["msgid"] for e in todo] == ["entry #{seq} was edited by hand"]
    assert todo[0].get("suggestion") == "第 #{seq} 号条目被修改"
    tool.compile_all(layout)
    translations = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    # the fuzzy guess is not compiled: English is shown until a person confirms the translation
    assert translations.gettext("entry #{seq} was edited by hand") == "entry #{seq} was edited by hand"


# -- through the command line ------------------------------------------------------------------


def _zh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chinese for the next command: the environment (as a user sets it) and the pinned choice."""
    monkeypatch.setenv(i18n.ENV_LANG, "zh")
    i18n.set_language("zh", pin=True)


def test_cli_timestamp_verdicts_in_chinese(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from plitool.cli.main import cli

    from .tsa_support import INTEROP

    sig = INTEROP / "sigstage"
    if not sig.is_dir():
        pytest.skip("the shared interop vectors are not beside the repository")
    hello = tmp_path / "hello"
    hello.write_bytes(b"hello")
    chain = str(sig / "ts_chain.pem")
    _zh(monkeypatch)
    runner = CliRunner()
    good = runner.invoke(cli, ["timestamp", "verify", str(sig / "response-sha256.tsr"), "--data", str(hello), "--ca", chain])
    assert good.exit_code == 0, good.output
    assert "有效：签名、时间戳服务机构（TSA）证书及至受信任根证书的证书链均校验通过" in good.output
    other = tmp_path / "other"
    other.write_bytes(b"not hello")
    wrong = runner.invoke(cli, ["timestamp", "verify", str(sig / "response-sha256.tsr"), "--data", str(other), "--ca", chain])
    assert wrong.exit_code == 1
    assert "时间戳令牌对应的是其他数据" in wrong.output
    # --json stays data: the verdict keyword does not change with the language
    doc = json.loads(runner.invoke(cli, ["timestamp", "verify", str(sig / "response-sha256.tsr"), "--data", str(hello),
                                         "--ca", chain, "--json"]).stdout)
    assert doc["verdict"] == "valid"


def test_cli_unreadable_reply_in_chinese(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from plitool.cli.main import cli

    garbage, data = tmp_path / "g.tsr", tmp_path / "data"
    garbage.write_bytes(b"nope")
    data.write_bytes(b"hello")
    _zh(monkeypatch)
    result = CliRunner().invoke(cli, ["timestamp", "verify", str(garbage), "--data", str(data)])
    assert result.exit_code == 1
    assert "不是 RFC 3161 时间戳应答或时间戳令牌（不是 DER 编码：" in result.output


def test_a_zh_case_reads_in_chinese_and_an_en_case_in_english(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Issue 8 item 9 through the command line: the case's own ``lang`` changes what people read
    (table headers, show, the verify verdict, an error), ``--lang`` overrides it, JSON stays data."""
    import subprocess
    import sys

    monkeypatch.delenv(i18n.ENV_LANG, raising=False)
    env = {k: v for k, v in __import__("os").environ.items() if k != i18n.ENV_LANG}

    def plitool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "plitool.cli", *args], capture_output=True, text=True, env=env,
                              timeout=60)

    evidence = tmp_path / "名单.csv"
    evidence.write_text("姓名,手机号\n王某,13912345678\n", encoding="utf-8")
    for lang in ("zh", "en"):
        case = str(tmp_path / lang)
        assert plitool("init", case, "--title", "案件", "--lang", lang).returncode == 0
        assert plitool("--case", case, "add", str(evidence)).returncode == 0
        listing = plitool("--case", case, "list").stdout
        shown = plitool("--case", case, "show", "E-0001").stdout
        verdict = plitool("--case", case, "verify").stdout
        missing = plitool("--case", case, "show", "E-0042")
        assert missing.returncode == 2
        if lang == "zh":
            assert "文件名" in listing and "大小" in listing
            assert "保管历史" in shown and "custody history" not in shown
            assert "校验通过" in verdict
            assert "E-0042" in missing.stderr and not any(w in missing.stderr for w in ("no evidence", "in this case"))
            assert missing.stderr.startswith("plitool：错误：") and missing.stderr.count("\n") == 1  # one line
            english = plitool("--case", case, "--lang", "en", "verify").stdout
            assert "OK" in english and "校验通过" not in english
            doc = json.loads(plitool("--case", case, "verify", "--json").stdout)
            assert doc["ok"] is True and "problems" in doc  # keys stay English
        else:
            assert "name" in listing and "custody history" in shown and "OK" in verdict
            assert "文件名" not in listing and "校验通过" not in verdict
