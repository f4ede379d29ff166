"""The case workspace: ``case.toml`` (people's facts) and ``.plitool/`` (the tool's state)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from .config import LANGS, CaseConfig, load_config, render_case_toml
from ..errors import CaseExists, CaseNotFound, StorageError, UsageError
from ..fsutil import atomic_write, case_lock
from .ledger import Ledger, NewEvent, utc_now

CASE_FILE = "case.toml"
STATE_DIR = ".plitool"
STATE_FORMAT = 1
ENV_CASE = "PLITOOL_CASE"


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
            meta = json.loads(self.paths.meta.read_text("utf-8"))
            self.case_id: str = meta["id"]
        except FileNotFoundError as exc:
            raise CaseNotFound(f"{self.paths.meta} is missing: {root} is not a complete case") from exc
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
        paths.state.mkdir()
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
    for sub in (paths.checkpoints, paths.objects, paths.staging, paths.repair):
        sub.mkdir()
    paths.keys.mkdir(mode=0o700)
    atomic_write(paths.fingerprint_key, secrets.token_bytes(32), mode=0o600, overwrite=False)
    meta = {"format": STATE_FORMAT, "id": case_id, "created": created.isoformat()}
    atomic_write(paths.meta, json.dumps(meta, indent=2).encode() + b"\n", overwrite=False)
    atomic_write(paths.ledger, b"", overwrite=False)
    toml_text = render_case_toml(title, lang, created)
    tomllib.loads(toml_text)  # the generated file must parse before anything refers to it
    case = Case(paths.root)
    with case.locked():
        case.ledger.append(
            [NewEvent("created", None, {"title": title, "lang": lang, "case_id": case_id})], at=created
        )
    atomic_write(paths.case_file, toml_text.encode("utf-8"), overwrite=False)
    return case
