"""The users of one `berth up`, kept in `<data-dir>/users.json`, and the lookup from a token to a user.

Why a file and not an API kind: `berth user add` then works whether or not `berth up` runs, the bootstrap
admin can never lock themselves out through the API, and the API server needs nothing but a `stat` per
request to see a change (`Directory.authenticate` re-reads the file when its size, mtime or inode changes,
or while it is younger than two seconds),
which makes `berth user revoke` effective at the very next request.

Only the SHA-256 of each token is stored. Tokens are 256 random bits, so a fast hash is enough (no salt
or slow hash is needed against guessing, unlike passwords), and someone who reads the file cannot use what
they read. The plain token is shown once, by `berth user add`, and written into that user's kubeconfig.

Writers hold an exclusive `flock` on `users.lock` for the whole read-modify-write and replace the file
atomically, so two `berth user` commands never lose each other's change and the server never reads half a
file. The bootstrap token (`<data-dir>/token`, the one in the admin kubeconfig that the controllers,
scheduler and nodes use) is the user `admin`, always an admin; the name is reserved.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from berth.apiserver.tls import write_private  # atomic 0600 writes, as for the other secrets
from berth.authz.roles import ROLES, User

FILE = "users.json"
#: The name of the bootstrap admin (the token in `<data-dir>/token`).
BOOTSTRAP = "admin"
#: A file changed this recently is re-read even when its stamp looks unchanged: two writes within one tick of
#: the file system's clock, of the same size, onto a recycled inode, would otherwise look alike ("racy" files,
#: as git calls them).
RACY_NS = 2_000_000_000
NAME = re.compile(r"^[a-z0-9]([-a-z0-9._@]{0,61}[a-z0-9])?$")


class UserError(ValueError):
    """A `berth user` request that cannot be done; the message names the flag or argument and the fix."""


@dataclass(frozen=True)
class StoredUser:
    name: str
    role: str
    projects: tuple[str, ...]
    token_sha256: str
    created: str

    def user(self) -> User:
        return User(self.name, self.role, self.projects)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def read(data_dir: Path) -> list[StoredUser]:
    """The users in the data directory (none when there is no file yet)."""
    path = data_dir / FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        entries = orjson.loads(raw).get("users", [])
        return [StoredUser(e["name"], e["role"], tuple(e.get("projects", ())), e["tokenSHA256"], e.get("created", ""))
                for e in entries]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not a users file Berth wrote ({exc}); move it away, and add the users again "
                        "with `berth user add`") from exc


def _save(data_dir: Path, users: list[StoredUser]) -> None:
    body = {"users": [{"name": u.name, "role": u.role, "projects": list(u.projects), "tokenSHA256": u.token_sha256,
                       "created": u.created} for u in users]}
    write_private(data_dir / FILE, orjson.dumps(body, option=orjson.OPT_INDENT_2))


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_new(name: str, role: str, projects: tuple[str, ...]) -> None:
    """Refuse a bad name, role or project list, naming the argument and the fix."""
    if not NAME.match(name):
        raise UserError(f'NAME "{name}" is not a valid user name: use lower-case letters, digits and -._@, '
                        "starting and ending with a letter or digit (at most 63 characters)")
    if name == BOOTSTRAP:
        raise UserError(f'NAME "{BOOTSTRAP}" is the bootstrap admin of `berth up` (the token in the data directory); '
                        "choose another name")
    if role not in ROLES:
        raise UserError(f'--role "{role}" is not a role: use one of {", ".join(ROLES)}')
    if role == "researcher" and not projects:
        raise UserError("--project is required for a researcher: name the projects they work in, "
                        "e.g. --project team-a")
    if role != "researcher" and projects:
        raise UserError(f"--project applies to researchers only: a{'n' if role[0] in 'aeiou' else ''} {role} "
                        "reaches every project; leave out --project")
    for project in projects:
        if not NAME.match(project):
            raise UserError(f'--project "{project}" is not a valid project name')


def add(data_dir: Path, name: str, role: str, projects: tuple[str, ...] = ()) -> str:
    """Add a user; returns their new token (shown once: only its hash is kept)."""
    check_new(name, role, projects)
    token = secrets.token_urlsafe(32)
    with _locked(data_dir):
        users = read(data_dir)
        if any(u.name == name for u in users):
            raise UserError(f'user "{name}" already exists: `berth user revoke {name}` first to give them a new '
                            "token, or choose another NAME")
        created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        users.append(StoredUser(name, role, tuple(dict.fromkeys(projects)), hash_token(token), created))
        _save(data_dir, users)
    return token


def revoke(data_dir: Path, name: str) -> StoredUser:
    """Remove a user: their token is refused from the next request on."""
    with _locked(data_dir):
        users = read(data_dir)
        gone = [u for u in users if u.name == name]
        if not gone:
            known = ", ".join(u.name for u in users) or "none"
            hint = " (the bootstrap admin's token is <data-dir>/token)" if name == BOOTSTRAP else ""
            raise UserError(f'no user "{name}"{hint}; users: {known} (see `berth user list`)')
        _save(data_dir, [u for u in users if u.name != name])
    return gone[0]


class Directory:
    """The API server's view of the users: token -> User, re-read when the file changes."""

    def __init__(self, data_dir: Path | None, bootstrap_token: str) -> None:
        self.data_dir = data_dir
        self._bootstrap = bootstrap_token
        self._stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, User] = {}

    def _refresh(self) -> None:
        if self.data_dir is None:  # a server without a data directory knows only the bootstrap admin
            return
        try:
            st = os.stat(self.data_dir / FILE)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp and (stamp is None or time.time_ns() - stamp[0] > RACY_NS):
            return
        try:
            users = read(self.data_dir)
        except UserError:
            users = []  # an unreadable file lets nobody but the bootstrap admin in (default deny)
        self._by_hash = {u.token_sha256: u.user() for u in users}
        self._stamp = stamp

    def authenticate(self, token: str) -> User | None:
        """The user holding `token`, or None (unknown or revoked)."""
        if hmac.compare_digest(token, self._bootstrap):
            return User(BOOTSTRAP, "admin")
        self._refresh()
        return self._by_hash.get(hash_token(token))
