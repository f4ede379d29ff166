"""Draft assembly: case facts + vault + provenance + a template → document markup → .docx / .md.

:func:`build_draft` is pure (reads the case, writes nothing); :func:`render` turns a draft into
bytes; :func:`write_draft` writes them atomically and records the draft in the custody ledger
(a ``note`` event: which document, its SHA-256, the template and how many items it lists).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CaseConfigError, UsageError
from ..i18n import _, ngettext
from . import markup
from .analysis import MatrixRow, Provenance, build_matrix, provenance_for
from .evidence import EvidenceRow, evidence_rows
from .facts import Facts, PartyView, add_days, format_date, table_key
from .render_docx import TableData
from .templates import TemplateSource, load_law, template_for

if TYPE_CHECKING:
    from ..vault.case import Case

FORMATS = ("docx", "md")
#: A fixed draft date (ISO), e.g. for reproducible output: ``--date`` wins over it.
ENV_DATE = "PLITOOL_DRAFT_DATE"


@dataclass(frozen=True)
class Placeholder:
    key: str
    #: where to add it, as a person finds it in case.toml: ``[claims] damages_amount``
    where: str


@dataclass
class Draft:
    kind: str
    lang: str
    title: str
    today: date
    blocks: list[markup.Block]
    tables: dict[str, TableData]
    figure_png: bytes | None
    figure_note: str
    placeholders: list[Placeholder]
    missing_elements: list[str]
    checklist: list[str]
    template: TemplateSource
    template_shown: str
    evidence: list[EvidenceRow] = field(default_factory=list)
    matrix: list[MatrixRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "lang": self.lang, "date": self.today.isoformat(), "title": self.title,
            "template": self.template_shown, "template_origin": self.template.origin,
            "placeholders": [{"key": p.key, "where": p.where} for p in self.placeholders],
            "missing_elements": self.missing_elements, "evidence_items": len(self.evidence),
            "figure": self.figure_png is not None, "checklist": self.checklist,
        }


def draft_date(explicit: str | None = None) -> date:
    text = explicit or os.environ.get(ENV_DATE, "").strip()
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(_("{value!r} is not a date (YYYY-MM-DD)").format(value=text)) from exc


def _environment(source: TemplateSource) -> Any:
    import jinja2.sandbox

    # Sandboxed: a case may carry its own templates, and a template must not reach Python's insides.
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(source.path.parent)),
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _mask_name(value: Any) -> str:
    from ..pii.mask import mask

    return mask("name", str(value))


def _tables(law: dict[str, Any], rows: list[EvidenceRow], matrix: list[MatrixRow], prov: Provenance,
            placeholders: list[Placeholder]) -> dict[str, TableData]:
    labels = law["labels"]
    none = str(labels.get("none", "—"))
    sep = labels.get("list_sep", "、")
    evidence = TableData(
        headers=tuple(labels["evidence_headers"]),
        rows=tuple((str(r.number), r.id, r.name, r.source, f"{r.collected_by} / {r.collected_at}", r.pages, r.purpose,
                    f"{r.short_sha256}\n{r.short_blake3}" if r.short_blake3 else r.short_sha256,
                    r.trusted_time or str(labels["not_sealed"])) for r in rows),
        widths=(4, 8, 13, 11, 12, 4, 21, 13, 14))
    flagged = frozenset((i, 3) for i, m in enumerate(matrix) if m.missing)
    matrix_table = TableData(
        headers=tuple(labels["matrix_headers"]),
        rows=tuple((m.element, m.bearer, sep.join(m.evidence_ids) or none, m.filled, m.rebuttal) for m in matrix),
        widths=(13, 19, 13, 21, 24), flagged=flagged)
    digests = TableData(headers=tuple(labels["digests_headers"]),
                        rows=tuple((r.id, r.sha256, r.blake3 or none) for r in rows), widths=(8, 46, 46))
    harm = TableData(
        headers=tuple(labels["harm_headers"]),
        rows=tuple((f"{s.name} ({s.id})", str(s.records), str(s.subjects) if s.subjects is not None else
                    str(labels["harm_unknown"]), sep.join(s.kinds) or none, sep.join(s.sensitive_kinds) or none)
                   for s in prov.harm.sightings),
        widths=(20, 12, 12, 30, 26))
    documents = TableData(
        headers=tuple(labels["documents_headers"]),
        rows=tuple((str(i), str(d["name"]), str(d["fact"]), str(d["control"]), str(d["ground"]))
                   for i, d in enumerate(document_list(law), start=1)),
        widths=(4, 26, 24, 20, 26))
    ph = TableData(headers=tuple(labels["placeholders_headers"]),
                   rows=tuple((str(i), f"{p.where}") for i, p in enumerate(placeholders, start=1))
                   or ((none, str(labels["placeholders_none"])),),
                   widths=(8, 92), flagged=frozenset((i, 1) for i in range(len(placeholders))))
    return {"evidence": evidence, "matrix": matrix_table, "digests": digests, "harm": harm, "documents": documents,
            "placeholders": ph}


def document_list(law: dict[str, Any], extra: list[Any] | None = None) -> list[dict[str, str]]:
    docs = [dict(d) for d in law.get("documents", [])]
    for item in extra or []:
        if isinstance(item, dict) and item.get("name"):
            docs.append({k: str(item.get(k, "")) for k in ("name", "fact", "control", "ground")})
        elif isinstance(item, str) and item.strip():
            docs.append({"name": item.strip(), "fact": "", "control": "", "ground": ""})
    return docs


def _plaintiff_for(kind: str, plaintiffs: list[PartyView]) -> PartyView | None:
    """An individual's complaint (``tort``) is brought by an individual plaintiff; every other
    filing by the procuratorate or the organisation. The first such party; else the first one."""
    if not plaintiffs:
        return None
    wanted = [p for p in plaintiffs if (p.kind == "individual") == (kind == "tort")]
    return (wanted or plaintiffs)[0]


def _date_or_text(value: Any, lang: str) -> str:
    """A date in the language's form; a placeholder (or any text that is no date) unchanged."""
    try:
        return format_date(value, lang)
    except (TypeError, ValueError):
        return str(value)


def _add_days_or_text(value: Any, n: int) -> str:
    try:
        return add_days(value, n)
    except (TypeError, ValueError):
        return str(value)


def _join(value: Any, sep: str) -> str:
    """A list joined; a single text (or a placeholder) unchanged."""
    if isinstance(value, (list, tuple)):
        return sep.join(str(v) for v in value)
    return str(value)


def _verify_notes(law: dict[str, Any], text: str, kind: str, fmt: str) -> list[str]:
    notes = []
    for v in law.get("verify", []):
        hit = kind in v.get("kinds", []) or fmt in v.get("formats", []) or any(p in text for p in v.get("patterns", []))
        if hit:
            notes.append(str(v["note"]))
    return notes


def build_draft(case: Case, kind: str, *, lang: str | None = None, allow_missing: bool = False,
                today: date | None = None, fmt: str = "docx", sighting: str | None = None,
                figure: bool = True) -> Draft:
    """Assemble one draft. Without ``allow_missing``, a case fact the template needs but
    ``case.toml`` lacks is an error naming every such key (nothing is rendered)."""
    if fmt not in FORMATS:
        raise UsageError(_("unknown format {format!r}; known: {known}").format(format=fmt, known=", ".join(FORMATS)))
    lang = lang or case.config.lang
    source = template_for(case.root, kind, lang)
    law, law_source = load_law(case.root, lang)
    law = dict(law, lang=lang)
    today = today or draft_date()
    facts = Facts(case.config.raw, case.paths.case_file, lang)
    labels = law["labels"]

    rows = evidence_rows(case, law)
    prov = provenance_for(case, law, sighting=sighting or facts.val("facts.sighting") or None, figure=figure)
    matrix = build_matrix(law, rows, prov, str(facts.val("facts.benefit", "")))
    missing_elements = [m.element for m in matrix if m.missing]

    plaintiffs = facts.parties("plaintiff")
    plaintiff = _plaintiff_for(kind, plaintiffs) or PartyView({}, "plaintiff", facts)
    if kind == "civil-pil" and not plaintiff.kind:
        facts.mark_missing("parties.plaintiff.kind")
    defendants = facts.parties("defendant") or [PartyView({}, "defendant", facts)]
    harm = prov.harm
    context: dict[str, Any] = {
        "lang": lang, "kind": kind, "today": format_date(today, lang), "today_iso": today.isoformat(),
        "need": facts.need, "has": facts.has, "val": facts.val,
        "plaintiff": plaintiff, "plaintiffs": plaintiffs, "defendants": defendants,
        "third_parties": facts.parties("third-party"),
        "evidence": rows, "matrix": matrix, "missing_elements": missing_elements,
        "harm": harm, "attribution": prov.attribution, "has_figure": prov.figure.png is not None,
        "law": law, "documents": document_list(law, facts.val("production.extra", [])),
    }
    env = _environment(source)
    env.filters["mask_name"] = _mask_name
    env.filters["date"] = lambda value: _date_or_text(value, lang)
    env.filters["join_list"] = lambda value, sep=None: _join(value, sep or law["labels"].get("list_sep", "、"))
    env.filters["add_days"] = lambda value, n: _add_days_or_text(value, n)
    import jinja2

    try:
        text = env.get_template(source.path.name).render(**context)
    except (jinja2.TemplateError, OverflowError, TypeError, ValueError, AttributeError, KeyError, IndexError,
            ZeroDivisionError) as exc:  # a template's own mistake (the case may carry its own copy)
        line = getattr(exc, "lineno", None)
        where = f"{source.path}:{line}" if line else str(source.path)
        raise UsageError(_("template {path}: {problem}").format(path=where, problem=exc)) from exc
    placeholders = [Placeholder(k, table_key(k)) for k in facts.missing]
    if placeholders and not allow_missing:
        raise CaseConfigError(ngettext(
            "{path}: the {kind} draft needs {n} fact that is missing: {keys} (add it, or draft with --allow-missing "
            "to leave a marked placeholder)",
            "{path}: the {kind} draft needs {n} facts that are missing: {keys} (add them, or draft with "
            "--allow-missing to leave marked placeholders)", len(placeholders)).format(
            path=case.paths.case_file, kind=kind, n=len(placeholders), keys="; ".join(p.where for p in placeholders)))
    blocks = markup.parse(text)
    title = next((b.text for b in blocks if b.type == "title"), kind)
    origin = source.origin if law_source.origin == source.origin else "case"
    shown = source.shown(case.root) + ("" if law_source.origin == source.origin else ", " + law_source.shown(case.root))
    checklist = [str(labels["checklist_intro"]), str(labels["checklist_citations"])]
    checklist += [str(labels["checklist_verify"]).format(note=n)
                  for n in _verify_notes(law, markup.plain_text(blocks), kind, fmt)]
    if kind in ("civil-pil", "tort"):
        checklist += [str(labels["checklist_missing_element"]).format(element=e) for e in missing_elements]
    checklist.append(str(labels["checklist_placeholders"]).format(n=len(placeholders), file="case.toml")
                     if placeholders else str(labels["checklist_no_placeholders"]))
    checklist.append(str(labels["checklist_masked"]))
    if kind in ("civil-pil", "tort"):
        checklist.append(str(labels["checklist_no_punitive"]))
    if any(b.type == "table" and b.text in ("evidence", "digests") for b in blocks):
        checklist.append(str(labels["checklist_evidence"]).format(n=len(rows)))
    checklist.append(str(labels["checklist_template"]).format(
        template=shown, origin=labels["checklist_template_case"] if origin == "case" else labels["checklist_template_packaged"]))
    tables = _tables(law, rows, matrix, prov, placeholders)
    blocks = _with_checklist(blocks, checklist, labels)
    return Draft(kind=kind, lang=lang, title=title, today=today, blocks=blocks, tables=tables,
                 figure_png=prov.figure.png, figure_note=prov.figure.note, placeholders=placeholders,
                 missing_elements=missing_elements, checklist=checklist, template=source, template_shown=shown,
                 evidence=rows, matrix=matrix)


def _with_checklist(blocks: list[markup.Block], checklist: list[str], labels: dict[str, Any]) -> list[markup.Block]:
    """The review checklist where the template says ``@checklist``, else on a last page of its own."""
    section = [markup.Block("heading", str(labels["checklist_title"]), level=1)]
    section += [markup.Block("para", f"{i}. {item}", indent=False) for i, item in enumerate(checklist, start=1)]
    section.append(markup.Block("table", "placeholders"))
    if any(b.type == "checklist" for b in blocks):
        out: list[markup.Block] = []
        for b in blocks:
            out += section if b.type == "checklist" else [b]
        return out
    return blocks + [markup.Block("pagebreak")] + section


def render(draft: Draft, fmt: str, *, figure_name: str = "graph.png") -> bytes:
    if fmt == "md":
        from .render_md import render_md

        return render_md(draft.blocks, draft.tables, draft.figure_png, draft.figure_note, figure_name)
    if fmt == "docx":
        from .render_docx import render_docx

        return render_docx(draft.blocks, draft.tables, draft.figure_png, draft.figure_note, draft.lang, draft.title,
                           draft.today)
    raise UsageError(_("unknown format {format!r}; known: {known}").format(format=fmt, known=", ".join(FORMATS)))


def default_output(case: Case, kind: str, lang: str, fmt: str) -> Path:
    return case.root / "drafts" / f"{kind}.{lang}.{fmt}"


def figure_path(output: Path) -> Path:
    """Where ``--format md`` puts the graph picture it links to: beside the Markdown file."""
    return output.with_name(output.name.removesuffix(".md") + ".graph.png")


@dataclass(frozen=True)
class WrittenDraft:
    path: Path
    sha256: str
    figure: Path | None
    ledger_seq: int


def write_draft(case: Case, draft: Draft, output: Path, fmt: str, *, force: bool = False) -> WrittenDraft:
    """Write the draft (atomically; never over an existing file without ``force``) and record it."""
    from ..errors import OutputExists
    from ..fsutil import atomic_write, check_output_path
    from ..vault.ledger import NewEvent

    check_output_path(case, output)
    shows_figure = draft.figure_png is not None and any(b.type == "figure" for b in draft.blocks)
    extra = figure_path(output) if fmt == "md" and shows_figure else None
    for path in (output, extra):
        if path is not None and path.exists() and not force:
            raise OutputExists(_("{path} already exists (use --force to replace it)").format(path=path))
    data = render(draft, fmt, figure_name=extra.name if extra else "graph.png")
    output.parent.mkdir(parents=True, exist_ok=True)
    if extra is not None and draft.figure_png is not None:
        check_output_path(case, extra)
        atomic_write(extra, draft.figure_png, overwrite=force)
    atomic_write(output, data, overwrite=force)
    digest = hashlib.sha256(data).hexdigest()
    with case.locked():
        (entry,) = case.ledger.append([NewEvent("note", None, {
            "action": "draft written", "kind": draft.kind, "lang": draft.lang, "format": fmt,
            "to": str(output), "sha256": digest, "template": draft.template_shown,
            "date": draft.today.isoformat(), "evidence_items": len(draft.evidence),
            "placeholders": [p.key for p in draft.placeholders],
        })])
    return WrittenDraft(output, digest, extra, entry.seq)
