"""Where templates and the law tables come from: the case's own copy wins over plitool's.

Templates are reviewable text (``templates/cn/<kind>.<lang>.md.j2``, ``templates/cn/law.<lang>.yaml``,
see ``filings-contract`` in the README); this module only finds, reads and copies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import OutputExists, UsageError
from ..fsutil import atomic_write
from ..i18n import _

JURISDICTION = "cn"
KINDS = ("civil-pil", "recommendation", "announcement", "tort", "production-order")
LANGS = ("zh", "en")
#: Folder of a case's own templates (``plitool draft --init-templates``).
CASE_TEMPLATES = "templates"


def packaged_root() -> Path:
    """plitool's own templates folder.

    In a source checkout (a worktree, an editable install) the ``templates/`` beside the package
    is the one being edited; an installed wheel ships it as ``plitool.templates``.
    """
    beside = Path(__file__).resolve().parents[2] / "templates"
    if (beside / JURISDICTION).is_dir() and (beside / "case.toml").is_file():
        return beside
    return Path(str(resources.files("plitool.templates")))


@dataclass(frozen=True)
class TemplateSource:
    path: Path
    #: "case" (the case's own copy) or "packaged"
    origin: str

    def shown(self, case_root: Path) -> str:
        if self.origin == "case":
            try:
                return str(self.path.relative_to(case_root))
            except ValueError:
                return str(self.path)
        return f"plitool:templates/{self.path.parent.name}/{self.path.name}"


def _find(case_root: Path | None, name: str) -> TemplateSource:
    if case_root is not None:
        own = case_root / CASE_TEMPLATES / JURISDICTION / name
        if own.is_file():
            return TemplateSource(own, "case")
    packaged = packaged_root() / JURISDICTION / name
    if not packaged.is_file():
        raise UsageError(_("no template {name} in plitool's templates or the case's {folder}/ folder").format(
            name=f"{JURISDICTION}/{name}", folder=CASE_TEMPLATES))
    return TemplateSource(packaged, "packaged")


def template_for(case_root: Path | None, kind: str, lang: str) -> TemplateSource:
    if kind not in KINDS:
        raise UsageError(_("unknown kind {kind!r}; known: {known}").format(kind=kind, known=", ".join(KINDS)))
    if lang not in LANGS:
        raise UsageError(_("unknown language {lang!r}; known: {known}").format(lang=lang, known=", ".join(LANGS)))
    return _find(case_root, f"{kind}.{lang}.md.j2")


def load_law(case_root: Path | None, lang: str) -> tuple[dict[str, Any], TemplateSource]:
    """The parsed ``law.<lang>.yaml`` (the case's copy wins) and where it came from."""
    import yaml  # type: ignore[import-untyped]

    source = _find(case_root, f"law.{lang}.yaml")
    try:
        data = yaml.safe_load(source.path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(_("{path} cannot be read: {reason}").format(path=source.path, reason=exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list) or not isinstance(data.get("labels"), dict):
        raise UsageError(_("{path}: not a law table (it needs 'elements' and 'labels')").format(path=source.path))
    return data, source


def template_files() -> list[Path]:
    """Every packaged template and law table, sorted."""
    folder = packaged_root() / JURISDICTION
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.name.endswith(".md.j2") or p.name.endswith(".yaml")))


def init_templates(case_root: Path) -> list[Path]:
    """Copy the packaged templates into ``<case>/templates/cn/``; refuses (before copying anything)
    when any of them is already there, so a lawyer's edits are never overwritten."""
    target = case_root / CASE_TEMPLATES / JURISDICTION
    files = template_files()
    existing = [target / f.name for f in files if (target / f.name).exists()]
    if existing:
        raise OutputExists(_("{path} already exists: the case already has its own templates (nothing copied; "
                             "move them away first to start again from plitool's)").format(path=existing[0]))
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        dest = target / f.name
        atomic_write(dest, f.read_bytes(), overwrite=False)
        written.append(dest)
    return written
