"""The permissions model: other local users read nothing of a case's state.

``.plitool/`` and every folder in it are 0700, the fingerprint key is 0600 and stored objects are
0400 (see the README, "Permissions model"). ``verify`` reports a state folder open to others, a
key not 0600 and an object made writable; ``repair`` tightens what a case made before this model
(or a careless ``chmod``) left open, and logs it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from ..i18n import _
from .case import KEY_MODE, PRIVATE_DIR, Case
from .store import READ_ONLY


@dataclass(frozen=True)
class PermissionProblem:
    path: str
    message: str


def _rel(case: Case, path: str | os.PathLike[str]) -> str:
    return os.path.relpath(path, case.root)


def _mode(path: str | os.PathLike[str]) -> int | None:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return None


def check_permissions(case: Case) -> list[PermissionProblem]:
    """The state folder and the key (objects are checked one by one while they are re-hashed)."""
    problems: list[PermissionProblem] = []
    mode = _mode(case.paths.state)
    if mode is not None and mode & 0o077:
        problems.append(PermissionProblem(
            _rel(case, case.paths.state),
            _("the state folder {path}/ is open to other users (mode {mode:04o}, should be {want:04o}): "
              "they can read the stored evidence; 'plitool repair' tightens it").format(
                path=_rel(case, case.paths.state), mode=mode, want=PRIVATE_DIR),
        ))
    mode = _mode(case.paths.fingerprint_key)
    if mode is not None and mode != KEY_MODE:
        problems.append(PermissionProblem(
            _rel(case, case.paths.fingerprint_key),
            _("the key {path} has mode {mode:04o}, not {want:04o}; 'plitool repair' tightens it").format(
                path=_rel(case, case.paths.fingerprint_key), mode=mode, want=KEY_MODE),
        ))
    return problems


def object_writable(path: str | os.PathLike[str]) -> int | None:
    """The mode of a stored object that someone made writable, else None."""
    mode = _mode(path)
    return mode if mode is not None and mode & 0o222 else None


def tighten_permissions(case: Case) -> list[str]:
    """Bring what :func:`check_permissions` and ``verify`` judge back to the model.

    ``.plitool/`` itself 0700 (the gate: nothing below it is reachable by others then), the key
    and its folder private, the store's folders private and its objects 0400. Returns the paths
    changed, relative to the case. Only modes change, never bytes; links and special files are
    left for ``verify`` to report.
    """
    changed: list[str] = []

    def fix(path: str, want: int) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == want:
            return
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return
        os.chmod(path, want)
        changed.append(_rel(case, path))

    fix(str(case.paths.state), PRIVATE_DIR)
    fix(str(case.paths.keys), PRIVATE_DIR)
    fix(str(case.paths.fingerprint_key), KEY_MODE)
    fix(str(case.paths.objects), PRIVATE_DIR)
    for folder, dirs, files in os.walk(case.paths.objects):
        for name in dirs:
            fix(os.path.join(folder, name), PRIVATE_DIR)
        for name in files:
            fix(os.path.join(folder, name), READ_ONLY)
    return changed
