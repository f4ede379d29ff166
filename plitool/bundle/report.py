"""``verification-report.pdf``: what was collected, by whom, when and how; digests; custody;
sealed checkpoints and trusted times; and the exact commands to check it all by hand."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..pii.mask import mask_text
from ..vault.ledger import Entry
from . import layout

#: Exhibits laid out per part of the report (bounds reportlab's memory).
EXHIBITS_PER_PART = 20

if TYPE_CHECKING:
    from ..vault.case import Case
    from .build import Exhibit


def _event_summary(e: Entry) -> str:
    d = e.data
    parts = []
    for key in ("collected_by", "source", "method", "reason", "text", "note"):
        value = d.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(f"{key}: {mask_text(value)}")
    return "; ".join(parts)


def _tool(value: object) -> str:
    """The intake's tool record (``{"name", "version", "python"}``) in words."""
    if isinstance(value, dict):
        text = f"{value.get('name', '')} {value.get('version', '')}".strip()
        return f"{text} (Python {value['python']})" if value.get("python") else text or "—"
    return str(value or "—")


def write_report(case: Case, lang: str, exhibits: Sequence[Exhibit], entries: Sequence[Entry], target: Path,
                 digest: str, created: str, total_pages: int) -> None:
    title = layout.LABELS[lang]["report_title"]
    _write_parts(_sections(case, lang, exhibits, entries, digest, created, total_pages), target, lang, title)


def _sections(case: Case, lang: str, exhibits: Sequence[Exhibit], entries: Sequence[Entry], digest: str, created: str,
              total_pages: int) -> Iterator[list[Any]]:
    """The report's flowables, a part at a time (each is laid out and dropped before the next)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    L = layout.LABELS[lang]
    cfg = case.config
    P = layout.para
    flow: list[Any] = [P(L["report_title"], "title"), P(L["report_intro"]), Spacer(1, 4 * mm)]
    flow.append(layout.table([[L["case"], cfg.title], [L["court"], cfg.court or "—"], [L["number"], cfg.number or "—"],
                              [L["date"], created], [L["exhibits"], str(len(exhibits))], [L["pages"], str(total_pages)],
                              [L["digest"], digest], ["plitool", __version__]], [45 * mm, 120 * mm], header=False))
    flow.append(P(L["digest_covers"], "small"))

    by_item: dict[str, list[Entry]] = {}
    for e in entries:
        if e.item:
            by_item.setdefault(str(e.item), []).append(e)
    for n, ex in enumerate(exhibits):
        if n % EXHIBITS_PER_PART == 0:
            yield flow
            flow = []
        events = by_item.get(ex.id, [])
        first = events[0].data if events else {}
        flow.append(P(f"{ex.id}  {ex.name}", "h1"))
        rows = [
            [L["col_pages"], f"{ex.pages[0]}–{ex.pages[1]}"],
            [L["bundle_path"], ex.file],
            [L["size"], f"{ex.size:,} B"],
            [L["collected_at"], str(first.get("collected_at") or "—")],
            [L["collected_by"], mask_text(str(first.get("collected_by") or "—"))],
            [L["col_source"], ex.source or "—"],
            [L["method"], mask_text(str(first.get("method") or "—"))],
            [L["tool"], _tool(first.get("tool"))],
            [L["intake_at"], str(first.get("intake_at") or (events[0].at if events else "—"))],
            *[[k.upper(), v] for k, v in sorted(ex.digests.items())],
            [L["trusted_time"], L["existed"].format(**ex.trusted_time) if ex.trusted_time else L["not_sealed"]],
        ]
        if ex.problem:
            rows.append(["!", L["bad_page"].format(reason=ex.problem)])
        flow.append(layout.table(rows, [45 * mm, 120 * mm], header=False))
        flow.append(P(L["custody"], "h2"))
        flow.append(layout.table([["#", L["col_time"], L["col_event"], L["col_details"]]] + [[str(e.seq), e.at, e.event, _event_summary(e)]
                                                                 for e in events],
                                 [12 * mm, 45 * mm, 22 * mm, 86 * mm]))

    yield flow
    flow = [P(L["seals"], "h1")]
    sealed = [e for e in entries if e.event == "sealed"]
    if not sealed:
        flow.append(P(L["no_seals"]))
    for e in sealed:
        cp = e.data.get("checkpoint", {})
        flow.append(P(L["checkpoint"].format(size=cp.get("size")), "h2"))
        rows = [[L["file"], f"ledger/{cp.get('file', '')}"], [L["root"], str(cp.get("root", ""))]]
        for tok in e.data.get("tokens", []):
            rows += [[L["tsa"], f"{tok.get('tsa_name', '')} ({tok.get('tsa', '')})"], [L["time"], str(tok.get("time", ""))],
                     [L["serial"], str(tok.get("serial", ""))], [L["file"], f"ledger/{tok.get('tsr', '')}"]]
        flow.append(layout.table(rows, [45 * mm, 120 * mm], header=False))

    flow.append(P(L["how"], "h1"))
    flow.append(P(L["how_intro"]))
    flow.append(P(L["how_sums"]))
    sums = ["sha256sum -c SHA256SUMS", "b3sum -c B3SUMS"]
    flow.append(P("\n".join(sums), "mono"))
    flow.append(P(L["how_ts"]))
    ts_cmds = []
    for e in sealed:
        cp = e.data.get("checkpoint", {})
        for tok in e.data.get("tokens", []):
            ts_cmds.append(f"openssl ts -verify -data ledger/{cp.get('file', '')} -in ledger/{tok.get('tsr', '')} "
                           f"-CAfile ledger/{tok.get('chain', '')}")
    if ts_cmds:
        ts_cmds.append("openssl x509 -in ROOT.pem -noout -fingerprint -sha256")
    flow.append(P("\n".join(ts_cmds) or "—", "mono"))
    flow.append(P(L["how_incl"]))
    incl = [f"(cd {Path(ex.proof).with_suffix('').as_posix()} && python3 check_inclusion.py && sha256sum ../../{ex.file})"
            for ex in exhibits if ex.proof]
    flow.append(P("\n".join(incl) or "—", "mono"))
    flow.append(P(L["how_all"]))
    flow.append(P("plitool verify-bundle . --ca ROOT.pem", "mono"))
    flow.append(Spacer(1, 4 * mm))
    flow.append(P(L["masking"], "small"))
    yield flow


def _write_parts(sections: Iterable[list[Any]], target: Path, lang: str, title: str) -> None:
    """reportlab keeps a whole document in memory until it is saved: the report is laid out a
    part at a time and the parts are streamed into one file, each page numbered in its margin."""
    import io

    from pypdf import PdfReader

    from .pdfstream import Outline, StreamingPdfWriter

    label = layout.LABELS[lang]["report_page"]
    with open(target, "xb") as fh:
        writer = StreamingPdfWriter(fh)
        for flow in sections:
            if not flow:
                continue
            buf = io.BytesIO()
            layout.render(flow, buf, title)
            start = len(writer.pages)

            def numbered(i: int, start: int = start) -> Callable[[float, float, float, float, int], bytes]:
                return layout.stamp_operators(label.format(page=start + i + 1))

            writer.copy_document(PdfReader(buf), numbered)
            del buf
        writer.finish([Outline(title, 0)], {"Title": title, "Creator": f"plitool {__version__}"})
        fh.flush()
        os.fsync(fh.fileno())
