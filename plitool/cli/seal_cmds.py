"""``seal``, ``trust``, ``prove``, ``verify-proof``, ``timestamp verify``: thin wrappers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..i18n import _
from .common import emit_json, err, json_option, open_case, out, plain, safe_text

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from rich.text import Text

    from ..timestamps.timestamp import TokenVerdict

CA_HELP = "A root (or chain) certificate to trust, PEM or DER; repeatable."


def _load_ca(files: tuple[Path, ...]) -> list[Certificate]:
    from ..timestamps.trust import read_certificate_file

    certs: list[Certificate] = []
    for path in files:
        certs += read_certificate_file(path)
    return certs


def _verdict_line(verdict: TokenVerdict, before: str = "") -> Text:
    """``VALID signature, TSA certificate …``: the status once (the library's message may repeat
    it as its first word), escaped (a certificate's names are the TSA's text, not ours)."""
    colour = {"valid": "green", "untrusted": "yellow"}.get(verdict.status, "red")
    message = verdict.message
    if message.lower().startswith(verdict.status + ": "):
        message = message[len(verdict.status) + 2:]
    return plain(before, (verdict.status.upper(), colour), " ", message)


def _untrusted_advice(roots: list[tuple[str, str]]) -> str:
    """What to do after a seal whose tokens chain only to roots the case does not trust."""
    advice = _("no token chains to a trusted root: the tokens are kept, but 'plitool verify' fails until "
               "the case trusts the TSA's root.")
    for subject, sha256 in dict.fromkeys(roots):
        advice += " " + _("Get the root certificate {subject} from the TSA, check that its SHA-256 is {sha256}, "
                          "then run: plitool trust add ROOT.pem").format(subject=subject, sha256=sha256)
    if not roots:
        advice += " " + _("Get the TSA's root certificate, then run: plitool trust add ROOT.pem")
    return advice


# -- seal -------------------------------------------------------------------------------------


@click.command("seal")
@click.option("--tsa", "tsa", multiple=True, metavar="URL", help="A TSA to ask in addition to case.toml's [timestamps] tsa; repeatable.")
@click.option("--hash", "hash_name", type=click.Choice(["sha256", "sha512"]), default="sha256", show_default=True, help="Imprint algorithm of the request.")
@click.option("--timeout", type=click.FloatRange(min=0.05, max=600), help="Seconds to wait for each TSA (default: case.toml, else 10).")
@click.option("--offline", is_flag=True, help="Write the checkpoint and a request (.tsq) to carry to a connected machine; ask no TSA.")
@click.option("--import", "import_path", type=click.Path(dir_okay=False, path_type=Path), metavar="REPLY.tsr", help="Verify a reply to an --offline request and record it.")
@json_option
@click.pass_context
def seal_cmd(ctx: click.Context, tsa: tuple[str, ...], hash_name: str, timeout: float | None, offline: bool, import_path: Path | None, as_json: bool) -> None:
    """Timestamp the ledger's current checkpoint with RFC 3161 TSAs.

    \b
    Asks every TSA in case.toml ([timestamps] tsa) and each --tsa; succeeds when at least one
    answers with a valid token. Keeps the full reply (.tsr), the request and the chain under
    .plitool/timestamps/ and logs a 'sealed' entry. Exit 0 with a token from a trusted root;
    1 when the only tokens come from roots not trusted (kept; see 'plitool trust add');
    3 when no TSA gave a valid token (nothing recorded).
    """
    from ..errors import UsageError
    from ..timestamps.seal import import_reply, prepare_offline, seal_case

    if offline and import_path:
        raise UsageError(_("--offline and --import are two steps: use one at a time"))
    case = open_case(ctx)
    if offline:
        request = prepare_offline(case, hash_name=hash_name)
        if as_json:
            emit_json(request.as_json())
            return
        # plain lines (no rich): an offline seal of a large case is a start-up-bound command
        say = lambda text: click.echo(safe_text(text), err=True)  # noqa: E731
        say(_("checkpoint {size}: {path}").format(size=request.size, path=request.checkpoint_path))
        say(_("request:      {path}").format(path=request.tsq_path))
        say(_("On a connected machine, send it to a TSA and bring back the reply:"))
        click.echo(safe_text(f"curl -sS -H 'Content-Type: application/timestamp-query' --data-binary "
                             f"@{request.tsq_path.name} TSA_URL -o reply.tsr"))
        say(_("then: plitool seal --import reply.tsr"))
        return
    console = err()
    if import_path is not None:
        result = import_reply(case, import_path)
    else:
        def report(outcome: object) -> None:
            from ..timestamps.seal import TsaOutcome

            assert isinstance(outcome, TsaOutcome)
            if as_json:
                return
            if outcome.kept and outcome.verdict is not None:
                console.print(_verdict_line(outcome.verdict, f"{outcome.tsa}: "))
            else:
                console.print(plain((_("failed"), "red"), " ", str(outcome.error)))

        result = seal_case(case, extra_tsa=tsa, hash_name=hash_name, timeout=timeout, on_outcome=report)
    if as_json:
        emit_json(result.as_json())
    elif result.already_imported:
        console.print(_("already imported: this reply is in seal entry #{seq} (checkpoint {size}); nothing was "
                        "appended").format(seq=result.entry.seq if result.entry else "?", size=result.checkpoint.size),
                      highlight=False, markup=False)
    else:
        for o in result.outcomes:
            if o.kept and o.verdict and o.verdict.info:
                out().print(plain(_("sealed checkpoint {size} at {time} by {tsa} ({url}) -> .plitool/{file}").format(
                    size=result.checkpoint.size, time=o.verdict.info.as_json()["time"],
                    tsa=o.verdict.info.tsa_name or o.verdict.info.signer, url=o.tsa, file=o.tsr)), soft_wrap=True)
        if result.trusted == 0:
            roots = [(str(o.verdict.root), str(o.verdict.root_sha256)) for o in result.outcomes
                     if o.kept and o.verdict is not None and o.verdict.root and o.verdict.root_sha256]
            console.print(plain((_untrusted_advice(roots), "yellow")))
    if result.trusted == 0:
        sys.exit(1)


# -- trust ------------------------------------------------------------------------------------


@click.group("trust")
def trust_group() -> None:
    """The roots whose timestamps this case trusts."""


@trust_group.command("add")
@click.argument("ca_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="A label for the root (default: its subject).")
@json_option
@click.pass_context
def trust_add_cmd(ctx: click.Context, ca_file: Path, name: str | None, as_json: bool) -> None:
    """Copy a self-signed root (PEM or DER) into the case's trust store and log it."""
    from ..timestamps.trust import add_trust_roots

    added = add_trust_roots(open_case(ctx), ca_file, name)
    if as_json:
        emit_json([{**root.as_json(), "added": new} for root, new in added])
        return
    for root, new in added:
        what = _("trusted") if new else _("already trusted")
        err().print(plain(_("{what}: {name} — {subject} (SHA-256 {sha256})").format(
            what=what, name=root.name, subject=root.subject, sha256=root.sha256)))


@trust_group.command("list")
@click.option("--system", "system", is_flag=True, help="Also list the system / certifi roots (trusted only when case.toml opts in).")
@json_option
@click.pass_context
def trust_list_cmd(ctx: click.Context, system: bool, as_json: bool) -> None:
    """List the case's trusted roots."""
    from ..timestamps.trust import case_trust_roots, system_trust_roots

    case = open_case(ctx)
    roots = [r for r, _new in case_trust_roots(case)]
    if system or case.config.system_roots:
        roots += [r for r, _new in system_trust_roots()]
    if as_json:
        emit_json({"system_roots_trusted": case.config.system_roots, "roots": [r.as_json() for r in roots]})
        return
    console = out()
    if not roots:
        err().print(plain(_("no trusted roots yet: plitool trust add ROOT.pem")))
    for r in roots:
        console.print(plain(f"{r.sha256[:16]}…  {r.source:6}  {r.name}  ({r.subject}, "
                            + _("until {date}").format(date=r.not_after) + ")"), soft_wrap=True)
    if case.config.system_roots:
        err().print(plain(_("note: case.toml trusts the system roots too ([timestamps] system_roots = true)")))


# -- prove / verify-proof ----------------------------------------------------------------------


@click.command("prove")
@click.argument("item")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Proof file (default: ITEM.proof.json here); its files go in a folder beside it.")
@click.option("--force", is_flag=True, help="Replace an existing proof.")
@json_option
@click.pass_context
def prove_cmd(ctx: click.Context, item: str, output: Path | None, force: bool, as_json: bool) -> None:
    """Write a self-contained proof that ITEM existed by a trusted time.

    The proof holds the item's ledger entry, its inclusion path to the earliest sealed
    checkpoint, the checkpoint and the TSA replies; the folder beside it has the same as plain
    files with a README (English, 中文) to check it by hand with sha256sum, python3 and openssl.
    """
    from ..timestamps.proof import write_proof

    case = open_case(ctx)
    target = output or Path(f"{item.strip().upper()}.proof.json")
    path, folder, proof = write_proof(case, item, target, force=force)
    if as_json:
        emit_json({"proof": str(path), "files": str(folder), "item": proof["item"]["id"],
                   "checkpoint": proof["inclusion"]["tree_size"],
                   "timestamps": [{k: v for k, v in s.items() if k not in ("tsr_b64", "chain_pem")} for s in proof["timestamps"]]})
        return
    times = ", ".join(f"{s['time']} ({s['tsa_name']})" for s in proof["timestamps"])
    err().print(plain(_("wrote {path} and {folder}/ (README.md tells how to check it by hand)").format(path=path, folder=folder)))
    err().print(plain(_("{item} is in checkpoint {size}, timestamped {times}").format(
        item=proof["item"]["id"], size=proof["inclusion"]["tree_size"], times=times)))


@click.command("verify-proof")
@click.argument("proof_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data", type=click.Path(dir_okay=False, path_type=Path), help="The evidence file: check it is the item's exact bytes.")
@click.option("--ca", "ca", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help=CA_HELP)
@click.option("--system-roots", is_flag=True, help="Also trust the system / certifi roots.")
@json_option
def verify_proof_cmd(proof_file: Path, data: Path | None, ca: tuple[Path, ...], system_roots: bool, as_json: bool) -> None:
    """Check a proof written by 'plitool prove', with no case workspace.

    Exit 0 when the entry, its inclusion path, a timestamp from a trusted root (--ca) and, with
    --data, the evidence bytes all hold; 1 otherwise (a root not trusted is a failure).
    """
    from ..fsutil import read_input
    from ..timestamps.proof import verify_proof
    from ..timestamps.timestamp import iso_z
    from ..timestamps.trust import trusted_certificates

    roots = trusted_certificates(None, extra=_load_ca(ca), system=system_roots)
    report = verify_proof(read_input(proof_file), data=data, roots=roots)
    if as_json:
        emit_json(report.as_json())
    else:
        console = out()
        for c in report.checks:
            console.print(plain((_("OK").ljust(4), "green") if c.ok else (_("FAIL"), "red"), f" {c.name:10} ", c.message),
                          soft_wrap=True)
        for stamp, verdict in report.verdicts:
            console.print(_verdict_line(verdict, f"     {stamp.get('file')}: "), soft_wrap=True)
        bound = report.existed_no_later_than
        if report.ok and bound:
            console.print(plain((_("OK"), "green"), _(": "), _("{item} existed no later than {time}, per TSA {tsa}").format(
                item=report.item, time=iso_z(bound[0]), tsa=bound[1])), soft_wrap=True)
        elif not report.ok:
            console.print(plain((_("proof does not hold"), "red"), " ", _("for {item}").format(item=report.item)),
                          soft_wrap=True)
    if not report.ok:
        sys.exit(1)


# -- timestamp verify ---------------------------------------------------------------------------


@click.group("timestamp")
def timestamp_group() -> None:
    """Work with any RFC 3161 timestamp reply, inside or outside a case."""


@timestamp_group.command("verify")
@click.argument("reply", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data", type=click.Path(dir_okay=False, path_type=Path), help="The file the token should cover.")
@click.option("--digest", "digest", metavar="HEX", help="Or the digest it should cover (in the token's algorithm).")
@click.option("--ca", "ca", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help=CA_HELP + " Non-root certificates complete the chain.")
@click.option("--system-roots", is_flag=True, help="Also trust the system / certifi roots.")
@json_option
def timestamp_verify_cmd(reply: Path, data: Path | None, digest: str | None, ca: tuple[Path, ...], system_roots: bool, as_json: bool) -> None:
    """Verify an RFC 3161 reply (.tsr) or bare token against a file or a digest.

    Checks status, signature, chain to the --ca roots, the critical timeStamping EKU and the
    imprint; prints time, TSA, policy, serial and accuracy. Exit 0 valid; 1 otherwise
    (including "signature valid, root not trusted").
    """
    from ..errors import UsageError
    from ..fsutil import read_input
    from ..timestamps.timestamp import is_self_signed, openssl_verify_command, verify_reply
    from ..timestamps.trust import trusted_certificates

    if (data is None) == (digest is None):
        raise UsageError(_("give exactly one of --data FILE or --digest HEX"))
    certs = _load_ca(ca)
    roots = trusted_certificates(None, extra=[c for c in certs if is_self_signed(c)], system=system_roots)
    extra = [c for c in certs if not is_self_signed(c)]
    blob = read_input(reply)
    payload = read_input(data, limit=None) if data is not None else None  # evidence: any size
    want: bytes | None = None
    if digest is not None:
        try:
            want = bytes.fromhex(digest.strip())
        except ValueError as exc:
            raise UsageError(_("--digest {digest!r} is not hexadecimal").format(digest=digest)) from exc
    verdict = verify_reply(blob, data=payload, digest=want, roots=roots, extra_certs=extra)
    if as_json:
        emit_json({"file": str(reply), **verdict.as_json()})
    else:
        console = out()
        console.print(_verdict_line(verdict), soft_wrap=True)
        if verdict.info is not None:
            info = verdict.info.as_json()
            for key in ("time", "tsa_name", "signer", "policy", "serial", "accuracy", "hash", "imprint", "nonce"):
                console.print(plain(f"  {key:9} {info[key]}"), soft_wrap=True)
        if verdict.root:
            console.print(plain("  root      " + _("{root} (SHA-256 {sha256})").format(
                root=verdict.root, sha256=verdict.root_sha256)), soft_wrap=True)
        for note in verdict.notes:
            err().print(plain(_("note: {note}").format(note=note)))
        if data is not None and ca:
            err().print(plain(_("cross-check: {command}").format(
                command=openssl_verify_command(str(reply), str(data), str(ca[0])))))
    if not verdict.ok:
        sys.exit(1)
