"""The case workspace: ``case.toml`` (people's facts) and ``.plitool/`` (the tool's state)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from .config import LANGS, CaseConfig, default_timezone, load_config, render_case_toml
from ..errors import CaseConfigError, CaseExists, CaseNotFound, InputNotFound, StorageError, UsageError
from ..i18n import N_, _, case_language
from ..fsutil import atomic_write, case_lock, read_regular_file
from .hashing import DEFAULT_ALGORITHMS
from .ledger import Entry, Ledger, NewEvent, utc_now

CASE_FILE = "case.toml"
STATE_DIR = ".plitool"
STATE_FORMAT = 1
META_LIMIT = 64 * 1024
ENV_CASE = "PLITOOL_CASE"

#: The permissions model (README, "Permissions model"): ``.plitool/`` and every folder in it are
#: private to the case's owner; the fingerprint key is 0600; stored objects are 0400.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
KEY_MODE = 0o600


@dataclass(frozen=True)
class CasePaths:
    root: Path

    @property
    def case_file(self) -> Path:
        return self.root / CASE_FILE

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def meta(self) -> Path:
        return self.state / "case.json"

    @property
    def ledger(self) -> Path:
        return self.state / "ledger.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.state / "checkpoints"

    @property
    def objects(self) -> Path:
        return self.state / "objects"

    @property
    def staging(self) -> Path:
        return self.state / "tmp"

    @property
    def repair(self) -> Path:
        return self.state / "repair"

    @property
    def keys(self) -> Path:
        return self.state / "keys"

    @property
    def fingerprint_key(self) -> Path:
        return self.keys / "fingerprint.key"

    @property
    def lock(self) -> Path:
        return self.state / "lock"


def is_case(path: Path) -> bool:
    return (path / CASE_FILE).is_file() and (path / STATE_DIR).is_dir()


def _lost_case_file(path: Path) -> bool:
    """A case whose ``case.toml`` is gone: the tool's state is there, the people's file is not."""
    return (path / STATE_DIR / "case.json").is_file() and not (path / CASE_FILE).exists()


def _case_file_missing(root: Path) -> CaseConfigError:
    return CaseConfigError(
        _(
            "{root} holds a plitool case ({state}/) but its {file} is missing; "
            "rewrite it from the ledger with: plitool init --restore {root_arg}"
        ).format(root=root, state=STATE_DIR, file=CASE_FILE, root_arg=shlex.quote(str(root)))
    )


def find_case_root(start: Path | None = None, explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--case DIR`` / ``$PLITOOL_CASE`` / the nearest parent folder holding a case."""
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if _lost_case_file(root):
            raise _case_file_missing(root)
        if not is_case(root):
            raise CaseNotFound(_("{root} is not a plitool case (no {case_file} and {state_dir}/ there)").format(
                root=root, case_file=CASE_FILE, state_dir=STATE_DIR))
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_case(candidate):
            return candidate
        if _lost_case_file(candidate):
            raise _case_file_missing(candidate)
    raise CaseNotFound(
        _("no plitool case in {folder} or any folder above it; "
          "run 'plitool init DIR --title ...' or pass --case DIR").format(folder=here)
    )


class Case:
    """An opened case. Cheap to construct; reads ``case.toml`` once."""

    def __init__(self, root: Path) -> None:
        self.paths = CasePaths(root)
        self.root = root
        try:
            meta = json.loads(read_regular_file(self.paths.meta, META_LIMIT))
            self.case_id: str = meta["id"]
        except InputNotFound as exc:
            raise CaseNotFound(_("{meta} is missing: {root} is not a complete case").format(meta=self.paths.meta, root=root)) from exc
        except UsageError as exc:  # a FIFO, a link or a huge file where case.json should be
            raise StorageError(_("{meta} is damaged: {error}").format(meta=self.paths.meta, error=exc)) from exc
        except (ValueError, KeyError) as exc:
            raise StorageError(_("{meta} is damaged: {error}").format(meta=self.paths.meta, error=exc)) from exc

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None, start: Path | None = None) -> Case:
        """Find and open a case; ``case.toml`` is read and checked here, once, for every command."""
        case = cls(find_case_root(start, explicit))
        case_language(case.config.lang)
        return case

    @cached_property
    def config(self) -> CaseConfig:
        return load_config(self.paths.case_file)

    @property
    def origin(self) -> str:
        return f"plitool.case/{self.case_id}"

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.paths.ledger, self.paths.checkpoints, self.origin)

    @contextmanager
    def locked(self, *, shared: bool = False) -> Iterator[None]:
        """Writers hold it exclusively; readers that must not see a half-appended ledger share it."""
        with case_lock(self.paths.lock, shared=shared):
            yield


def init_case(directory: Path, title: str, lang: str = "zh") -> Case:
    """Create a case in ``directory`` (made if missing); refuses to touch an existing case."""
    if lang not in LANGS:
        raise UsageError(_("--lang must be one of {langs}").format(langs=", ".join(LANGS)))
    if not title.strip() or any(ord(c) < 32 and c not in "\t" for c in title):
        raise UsageError(_("--title must be a non-empty single line of text"))
    directory = directory.expanduser().resolve()
    paths = CasePaths(directory)
    if _lost_case_file(directory):
        raise _case_file_missing(directory)
    if paths.case_file.exists() or paths.state.exists():
        raise CaseExists(_("{folder} already holds a case ({case_file} or {state_dir}/ exists); nothing changed").format(
            folder=directory, case_file=CASE_FILE, state_dir=STATE_DIR))
    if directory.exists() and not directory.is_dir():
        raise UsageError(_("{folder} exists and is not a folder").format(folder=directory))
    created = utc_now()
    case_id = str(uuid.uuid4())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths.state.mkdir(mode=PRIVATE_DIR)
        os.chmod(paths.state, PRIVATE_DIR)  # whatever the umask: other local users read nothing
    except FileExistsError as exc:
        raise CaseExists(_("{folder} already holds a case; nothing changed").format(folder=directory)) from exc
    except OSError as exc:
        raise StorageError(_("cannot create {path}: {reason}").format(path=paths.state, reason=exc.strerror)) from exc
    try:
        case = _populate_state(paths, title, lang, created, case_id)
    except BaseException:
        # Everything under .plitool/ was created just now by us: remove it so that a failed
        # init leaves no half-made case behind. case.toml is written last, so it is never ours.
        shutil.rmtree(paths.state, ignore_errors=True)
        raise
    return case


def _populate_state(paths: CasePaths, title: str, lang: str, created: datetime, case_id: str) -> Case:
    for sub in (paths.checkpoints, paths.objects, paths.staging, paths.repair, paths.keys):
        sub.mkdir(mode=PRIVATE_DIR)
    atomic_write(paths.fingerprint_key, secrets.token_bytes(32), mode=KEY_MODE, overwrite=False)
    meta = {"format": STATE_FORMAT, "id": case_id, "created": created.isoformat()}
    atomic_write(paths.meta, json.dumps(meta, indent=2).encode() + b"\n", mode=PRIVATE_FILE, overwrite=False)
    atomic_write(paths.ledger, b"", mode=PRIVATE_FILE, overwrite=False)
    timezone = default_timezone(lang)
    toml_text = render_case_toml(title, lang, created, timezone=timezone)
    tomllib.loads(toml_text)  # the generated file must parse before anything refers to it
    case = Case(paths.root)
    # What case.toml holds that the tool needs is recorded too, so that 'init --restore' can
    # rewrite a lost case.toml.
    facts = {"title": title, "lang": lang, "case_id": case_id, "timezone": timezone,
             "digests": list(DEFAULT_ALGORITHMS)}
    with case.locked():
        case.ledger.append([NewEvent("created", None, facts)], at=created)
    atomic_write(paths.case_file, toml_text.encode("utf-8"), overwrite=False)
    return case


# -- a lost case.toml ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoredCaseFile:
    case: Case
    #: What the new case.toml says (also logged in the ledger's note).
    facts: dict[str, object]
    #: Where each fact came from ("created", "latest intake", "default", …: English, shown through _()).
    sources: dict[str, str]


def restore_case_file(directory: Path) -> RestoredCaseFile:
    """Rewrite a deleted ``case.toml`` from what the ledger recorded, and log that it was done.

    The ``created`` entry gives the title, the language and (since issue 8) the time zone and the
    digests; for a case made before that, the digests come from the latest intake and the TSAs
    from the seals. Court, number and parties were never recorded: they are left for people to
    fill in again. Refuses when ``case.toml`` exists or the folder holds no case state.
    """
    root = directory.expanduser().resolve()
    paths = CasePaths(root)
    if paths.case_file.exists():
        raise CaseExists(_("{file} exists: nothing to restore; nothing changed").format(file=paths.case_file))
    if not paths.meta.is_file():
        raise CaseNotFound(
            _("{root} holds no plitool case state ({state}/case.json): nothing to restore from").format(
                root=root, state=STATE_DIR
            )
        )
    case = Case(root)
    with case.locked():
        scan = case.ledger.require_healthy()
        facts, sources = _facts_from_ledger(scan.entries, root)
        created_at = datetime.fromisoformat(str(facts.pop("created")).replace("Z", "+00:00"))
        text = render_case_toml(
            str(facts["title"]), str(facts["lang"]), created_at, timezone=str(facts["timezone"]),
            digests=tuple(facts["digests"]), tsa=tuple(facts["tsa"]),  # type: ignore[arg-type]
        )
        tomllib.loads(text)  # must parse before anything refers to it
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        note = {
            "text": "case.toml restored from the ledger (init --restore)",
            "restored": facts,
            "sources": sources,
            "case_toml_sha256": digest,
        }
        case.ledger.append([NewEvent("note", None, note)], scan=scan)
        atomic_write(paths.case_file, text.encode("utf-8"), overwrite=False)
    return RestoredCaseFile(case, facts, sources)


def _facts_from_ledger(entries: list[Entry], root: Path) -> tuple[dict[str, object], dict[str, str]]:
    created = next((e for e in entries if e.event == "created"), None)
    if created is None:
        raise CaseConfigError(
            _("the ledger of {root} has no 'created' entry: case.toml cannot be restored").format(root=root)
        )
    data = created.data
    facts: dict[str, object] = {"title": data.get("title") or root.name, "created": created.at}
    sources = {"title": N_("created") if data.get("title") else N_("folder name")}
    lang = data.get("lang")
    facts["lang"], sources["lang"] = (lang, N_("created")) if lang in LANGS else ("zh", N_("default"))
    zone = data.get("timezone")
    facts["timezone"], sources["timezone"] = (zone, N_("created")) if isinstance(zone, str) else ("", N_("default"))
    digests = data.get("digests")
    if isinstance(digests, list) and digests:
        facts["digests"], sources["digests"] = [str(d) for d in digests], N_("created")
    else:
        intakes = [e for e in entries if e.event in ("added", "re-collected") and isinstance(e.data.get("digests"), dict)]
        if intakes:
            facts["digests"], sources["digests"] = list(intakes[-1].data["digests"]), N_("latest intake")
        else:
            facts["digests"], sources["digests"] = list(DEFAULT_ALGORITHMS), N_("default")
    tsa = [
        str(t.get("tsa"))
        for e in entries if e.event == "sealed"
        for t in e.data.get("tokens", []) if isinstance(t, dict) and str(t.get("tsa", "")).startswith(("http://", "https://"))
    ]
    facts["tsa"] = list(dict.fromkeys(tsa))
    sources["tsa"] = N_("seals") if tsa else N_("none recorded")
    return facts, sources


