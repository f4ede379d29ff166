"""``bundle`` and ``verify-bundle``: thin wrappers over :mod:`plitool.bundle`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..i18n import _, ngettext
from .common import emit_json, err, json_option, open_case, out, plain, safe_text


@click.command("bundle")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("bundle"), show_default=True,
              help="The bundle folder to write (built beside it, then renamed into place).")
@click.option("--items", "items", metavar="E-0001,E-0003", help="Only these items, in this order (default: all).")
@click.option("--lang", "doc_lang", type=click.Choice(["zh", "en"]), help="Language of exhibits.pdf and the report (default: the case's lang).")
@click.option("--force", is_flag=True, help="Replace an existing bundle folder.")
@click.option("--skip-bad", is_flag=True, help="An exhibit that cannot be merged (encrypted, corrupt, no pages) gets a page saying why instead of stopping the bundle.")
@json_option
@click.pass_context
def bundle_cmd(ctx: click.Context, output: Path, items: str | None, doc_lang: str | None, force: bool, skip_bad: bool,
               as_json: bool) -> None:
    """Write the court-ready exhibit bundle: exhibits.pdf (cover, index, every exhibit stamped),
    verification-report.pdf, the original evidence, the ledger, checkpoints, timestamps, proofs,
    SHA256SUMS and B3SUMS. Logs an 'exported' entry per item with the bundle digest.

    Check it anywhere with 'plitool verify-bundle DIR' or with sha256sum, b3sum and openssl.
    """
    from ..bundle.build import build_bundle

    case = open_case(ctx)
    chosen = [i for i in (items or "").split(",") if i.strip()]
    console = err()

    def progress(item: str, done: int, total: int) -> None:
        if not as_json and console.is_terminal:
            console.print(plain(_("bundling {item} (page {done} of {total})").format(item=item, done=done + 1, total=total)),
                          end="\r")

    try:
        result = build_bundle(case, output, items=chosen, lang=doc_lang, force=force, skip_bad=skip_bad, progress=progress)
    finally:
        if not as_json and console.is_terminal:
            console.print(" " * 60, end="\r")  # clear the progress line
    if as_json:
        emit_json(result.as_json())
        return
    for ex in result.skipped:
        console.print(plain((_("warning"), "yellow"), _(": "), _("{item} was not merged ({reason}); a page says why and the "
                                                              "original is in evidence/").format(item=ex.id, reason=ex.problem)))
    o = out()
    o.print(plain(_("bundle written: {path}").format(path=result.path)), soft_wrap=True)
    o.print(plain(_("{n} exhibits, {pages} pages in exhibits.pdf; bundle digest (SHA-256) {digest}").format(
        n=len(result.exhibits), pages=result.total_pages, digest=result.digest)), soft_wrap=True)
    o.print(plain(_("check it with: plitool verify-bundle {path}   or   cd {path} && sha256sum -c SHA256SUMS").format(
        path=safe_text(str(result.path)))), soft_wrap=True)


@click.command("verify-bundle")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--ca", "ca", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A TSA root to judge the timestamps by (default: the roots the case trusted, shipped in the bundle); repeatable.")
@click.option("--system-roots", is_flag=True, help="Also trust the system / certifi roots.")
@json_option
def verify_bundle_cmd(folder: Path, ca: tuple[Path, ...], system_roots: bool, as_json: bool) -> None:
    """Check a bundle written by 'plitool bundle', with no case workspace.

    Every file against SHA256SUMS and B3SUMS, the bundle digest, the ledger and its checkpoints,
    every timestamp token and inclusion proof, and that exhibits.pdf's pages, bookmarks and
    stamps match the index. Exit 0 when all holds; 1 naming each mismatch.
    """
    from ..bundle.verify import verify_bundle
    from .seal_cmds import _load_ca

    report = verify_bundle(folder, roots=_load_ca(ca), system_roots=system_roots)
    if as_json:
        emit_json(report.as_json())
    else:
        o = out()
        for p in report.problems:
            o.print(plain((_("FAIL"), "red"), f" {p.check:10} ", p.message), soft_wrap=True)
        for note in report.notes:
            err().print(plain(_("note"), _(": "), note))
        counts = _(", ").join(f"{k} {v}" for k, v in report.checked.items())
        if report.ok:
            o.print(plain((_("OK"), "green"), _(": "), _("the bundle holds ({counts}); bundle digest {digest}").format(
                counts=counts, digest=report.digest)), soft_wrap=True)
        else:
            o.print(plain((_("bundle does not hold"), "red"), _(": "), ngettext("{n} problem", "{n} problems", len(report.problems)).format(
                n=len(report.problems))),
                    soft_wrap=True)
    if not report.ok:
        sys.exit(1)
