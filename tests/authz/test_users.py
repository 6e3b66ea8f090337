"""`berth user` and the users file, without a server: errors that name the flag and the fix, hashed tokens,
and the server-side lookup seeing every change at once."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from berth.apiserver import users
from berth.cli.main import cli


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory as `berth up` leaves it (only the admin kubeconfig matters here)."""
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump({"clusters": [{"name": "berth", "cluster": {
        "server": "https://127.0.0.1:1", "certificate-authority-data": "Q0E="}}]}))
    return tmp_path


def berth(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["user", *args, "--data-dir", str(data_dir)])
    return result.exit_code, result.output


def test_add_prints_the_token_once_and_keeps_only_its_hash(data_dir: Path) -> None:
    code, out = berth(data_dir, "add", "alice", "--role", "researcher", "--project", "team-a")
    assert code == 0, out
    token = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("token: "))
    stored = (data_dir / "users.json").read_text()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    kubeconfig = data_dir / "users" / "alice.kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "users.json").stat().st_mode) == 0o600
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["users"] == [{"name": "alice", "user": {"token": token}}]
    assert config["contexts"][0]["context"]["namespace"] == "runai-team-a"
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1"
    code, out = berth(data_dir, "list")
    assert "alice" in out and "team-a" in out and token not in out


@pytest.mark.parametrize("args,message", [
    (("add", "bob", "--role", "root"), '--role "root" is not a role: use one of admin, researcher, viewer'),
    (("add", "bob", "--role", "researcher"), "--project is required for a researcher"),
    (("add", "bob", "--role", "viewer", "--project", "team-a"), "--project applies to researchers only"),
    (("add", "Bob", "--role", "viewer"), 'NAME "Bob" is not a valid user name'),
    (("add", "admin", "--role", "viewer"), "is the bootstrap admin"),
    (("revoke", "nobody"), 'no user "nobody"'),
])
def test_errors_name_the_flag_and_the_fix(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    code, out = berth(data_dir, *args)
    assert code == 1 and message in out and "Traceback" not in out
    assert not (data_dir / "users" / "bob.kubeconfig").exists()


def test_a_taken_name_is_refused_and_the_first_token_kept(data_dir: Path) -> None:
    assert berth(data_dir, "add", "vera", "--role", "viewer")[0] == 0
    before = (data_dir / "users.json").read_text()
    code, out = berth(data_dir, "add", "vera", "--role", "admin")
    assert code == 1 and 'user "vera" already exists: `berth user revoke vera` first' in out
    assert (data_dir / "users.json").read_text() == before


def test_add_before_berth_up_says_to_start_it(tmp_path: Path) -> None:
    code, out = berth(tmp_path, "add", "vera", "--role", "viewer")
    assert code == 1 and "run `berth up --data-dir" in out
    assert not (tmp_path / "users.json").exists()


def test_a_damaged_users_file_is_reported_and_lets_only_the_admin_in(data_dir: Path) -> None:
    (data_dir / "users.json").write_text("{not json")
    code, out = berth(data_dir, "list")
    assert code == 1 and "is not a users file Berth wrote" in out and "Traceback" not in out
    directory = users.Directory(data_dir, "bootstrap-token")
    assert directory.authenticate("bootstrap-token") is not None
    assert directory.authenticate("anything") is None


def test_the_server_sees_additions_and_revocations_at_once(data_dir: Path) -> None:
    directory = users.Directory(data_dir, "bootstrap-token")
    assert directory.authenticate("bootstrap-token").name == "admin"
    token = users.add(data_dir, "alice", "researcher", ("team-a",))
    found = directory.authenticate(token)
    assert found is not None and (found.name, found.role, found.projects) == ("alice", "researcher", ("team-a",))
    other = users.add(data_dir, "bob", "viewer")  # within the same clock tick: the inode changed
    users.revoke(data_dir, "alice")
    assert directory.authenticate(token) is None
    assert directory.authenticate(other) is not None
