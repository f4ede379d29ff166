"""The case workspace: ``case.toml`` (people's facts) and ``.plitool/`` (the tool's state)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from .config import LANGS, CaseConfig, load_config, render_case_toml
from ..errors import CaseExists, CaseNotFound, InputNotFound, PlitoolError, StorageError, UsageError
from ..fsutil import atomic_write, case_lock, read_regular_file
from ..i18n import _, ngettext
from .ledger import Entry, Ledger, LedgerScan, NewEvent, utc_now

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


def find_case_root(start: Path | None = None, explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--case DIR`` / ``$PLITOOL_CASE`` / the nearest parent folder holding a case."""
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if not is_case(root):
            raise CaseNotFound(f"{root} is not a plitool case (no {CASE_FILE} and {STATE_DIR}/ there)")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_case(candidate):
            return candidate
    raise CaseNotFound(
        f"no plitool case in {here} or any folder above it; "
        "run 'plitool init DIR --title ...' or pass --case DIR"
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
            raise CaseNotFound(f"{self.paths.meta} is missing: {root} is not a complete case") from exc
        except UsageError as exc:  # a FIFO, a link or a huge file where case.json should be
            raise StorageError(f"{self.paths.meta} is damaged: {exc}") from exc
        except (ValueError, KeyError) as exc:
            raise StorageError(f"{self.paths.meta} is damaged: {exc}") from exc

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None, start: Path | None = None) -> Case:
        return cls(find_case_root(start, explicit))

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

    def append_events(self, events: Sequence[NewEvent], *, scan: LedgerScan | None = None) -> list[Entry]:
        """Append under the lock the caller holds; if it fails, say exactly what was recorded.

        The append (one write, one fsync) and the checkpoint written after it are two steps. When
        the second fails the entries are in the ledger all the same: the error must say so, not
        leave the person believing nothing happened.
        """
        before = len(scan.entries) if scan is not None else len(self.ledger.scan().entries)
        try:
            return self.ledger.append(events, scan=scan)
        except PlitoolError as exc:
            now = self.ledger.scan().entries
            recorded = now[before:]
            if not recorded or [(e.event, e.item) for e in recorded] != [(e.event, e.item) for e in events]:
                raise  # nothing (or not ours) was recorded: the error says what happened
            raise _recorded_but(recorded, exc) from exc


def init_case(directory: Path, title: str, lang: str = "zh") -> Case:
    """Create a case in ``directory`` (made if missing); refuses to touch an existing case."""
    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}")
    if not title.strip() or any(ord(c) < 32 and c not in "\t" for c in title):
        raise UsageError("--title must be a non-empty single line of text")
    directory = directory.expanduser().resolve()
    paths = CasePaths(directory)
    if paths.case_file.exists() or paths.state.exists():
        raise CaseExists(f"{directory} already holds a case ({CASE_FILE} or {STATE_DIR}/ exists); nothing changed")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a folder")
    created = utc_now()
    case_id = str(uuid.uuid4())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths.state.mkdir(mode=PRIVATE_DIR)
        os.chmod(paths.state, PRIVATE_DIR)  # whatever the umask: other local users read nothing
    except FileExistsError as exc:
        raise CaseExists(f"{directory} already holds a case; nothing changed") from exc
    except OSError as exc:
        raise StorageError(f"cannot create {paths.state}: {exc.strerror}") from exc
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
    toml_text = render_case_toml(title, lang, created)
    tomllib.loads(toml_text)  # the generated file must parse before anything refers to it
    case = Case(paths.root)
    with case.locked():
        case.ledger.append(
            [NewEvent("created", None, {"title": title, "lang": lang, "case_id": case_id})], at=created
        )
    atomic_write(paths.case_file, toml_text.encode("utf-8"), overwrite=False)
    return case


def _recorded_but(recorded: Sequence[Entry], exc: PlitoolError) -> PlitoolError:
    items = list(dict.fromkeys(e.item for e in recorded if e.item))
    first, last = recorded[0].seq, recorded[-1].seq
    where = (
        _("entry #{seq}").format(seq=first) if first == last else _("entries #{first}–#{last}").format(first=first, last=last)
    )
    if not items:
        what = ngettext("{n} event was", "{n} events were", len(recorded)).format(n=len(recorded))
    elif len(items) <= 5:
        what = ngettext("{items} was", "{items} were", len(items)).format(items=", ".join(items))
    else:
        what = _("{first} … {last} ({n} items) were").format(first=items[0], last=items[-1], n=len(items))
    err = PlitoolError(
        _(
            "{what} recorded in the ledger ({where}); its checkpoint could not be written: {reason}. "
            "Nothing recorded is lost: the next command that writes to this case writes a checkpoint "
            "covering these entries, and 'plitool verify' checks the ledger meanwhile"
        ).format(what=what, where=where, reason=exc)
    )
    err.exit_code = exc.exit_code
    return err
