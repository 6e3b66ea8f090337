"""The README is tested: the commands of its quickstart blocks run in order, as a user types them, against a
fresh `berth up` started with `make up`, and what each command's comment says it shows is what it shows.

Every command of a ```sh block must have a check here (`CHECKS`, matched on the command's text): a README
that changes without its test fails, so the README never drifts from what Berth does.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from berth.api.load import load_file
from tests.cluster import free_port, reap_pods
from tests.conftest import ROOT

README = ROOT / "README.md"
VENV_BIN = ROOT / ".venv" / "bin"
_COMMENT = re.compile(r"^(?P<command>.*?\S)\s{2,}# (?P<comment>.*)$")


@dataclass
class Command:
    text: str
    comment: str = ""


def blocks(kind: str, after: str = "## Five lines") -> list[str]:
    """The README's ```kind blocks from the heading `after` on (the two commands at its top, `make up` and
    `make test`, are what runs this test)."""
    text = README.read_text()
    return re.findall(rf"^```{kind}\n(.*?)^```$", text[text.index(after):], flags=re.S | re.M)


def commands(block: str) -> list[Command]:
    """The commands of a shell block: one a line, a heredoc with its lines, the comment after two spaces."""
    out: list[Command] = []
    lines = block.splitlines()
    while lines:
        line = lines.pop(0)
        if not line.strip():
            continue
        match = _COMMENT.match(line)
        command = Command(match["command"], match["comment"]) if match else Command(line.strip())
        if (heredoc := re.search(r"<<'?(\w+)'?", command.text)) is not None:
            body = []
            while lines and lines[0] != heredoc[1]:
                body.append(lines.pop(0))
            body.append(lines.pop(0))
            command.text = "\n".join([command.text, *body])
        out.append(command)
    return out


@dataclass
class Shell:
    """A user's terminal: each command runs in bash with what earlier ones exported or assigned."""

    home: Path
    env: dict[str, str]
    groups: list[int] = field(default_factory=list)  # process groups started, stopped at the end
    count: int = 0

    def _files(self) -> tuple[Path, Path, Path]:
        self.count += 1
        base = self.home.parent / f"command-{self.count}"
        return base.with_suffix(".out"), base.with_suffix(".err"), base.with_suffix(".env")

    def _script(self, text: str, env_file: Path) -> str:
        return f"set -a\n{text}\nstatus=$?\nenv -0 > {env_file}\nexit $status\n"

    def run(self, text: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        out, err, env_file = self._files()
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(["bash", "-c", self._script(text, env_file)], stdout=stdout, stderr=stderr,
                                       cwd=ROOT, env=self.env, start_new_session=True)
            self.groups.append(process.pid)
            code = process.wait(timeout=timeout)
        if env_file.exists():
            pairs = [p.split("=", 1) for p in env_file.read_text().split("\0") if "=" in p]
            self.env = {k: v for k, v in pairs if not k.startswith("BASH_FUNC_") and k not in ("_", "SHLVL", "status")}
        return subprocess.CompletedProcess(text, code, out.read_text(), err.read_text())

    def watch(self, text: str, done: Callable[[str], bool], timeout: float) -> str:
        """Run a command that never ends by itself (`-w`) until its output satisfies `done`, then Ctrl-C it."""
        out, err, env_file = self._files()
        with out.open("w") as stdout:
            process = subprocess.Popen(["bash", "-c", text], stdout=stdout, stderr=subprocess.STDOUT, cwd=ROOT,
                                       env=self.env, start_new_session=True)
        self.groups.append(process.pid)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not done(out.read_text()):
                assert process.poll() is None, f"{text!r} ended by itself:\n{out.read_text()}"
                time.sleep(0.5)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=10)
        shown = out.read_text()
        assert done(shown), f"{text!r} did not show it within {timeout} s:\n{shown}"
        return shown

    def terminal(self, text: str, typed: list[tuple[str, str]], timeout: float = 60) -> tuple[int, str]:
        """Run a command in a terminal of its own (a pty, as a user's), type each line once the screen shows
        the pattern before it, and return its exit status and everything the terminal showed."""
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command, in the user's shell environment
            os.chdir(ROOT)
            os.execve("/bin/bash", ["bash", "-c", text], self.env)
        self.groups.append(pid)
        shown = b""
        deadline = time.monotonic() + timeout
        pending = list(typed)
        while True:
            if pending and re.search(pending[0][0], shown.decode(errors="replace")):
                os.write(fd, pending.pop(0)[1].encode())
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                shown += chunk
            assert time.monotonic() < deadline, f"{text!r} still runs; the terminal showed:\n{shown.decode()}"
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")

    def stop(self) -> None:
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _column(table: str, name: str) -> list[str]:
    """The values of one column of `kubectl get -w` output, as they came, repeats folded."""
    values: list[str] = []
    header: list[str] | None = None
    for line in table.splitlines():
        cells = line.split()
        if cells and cells[0] == "NAME":
            header = cells
            continue
        if header is None or len(cells) != len(header):
            continue
        value = cells[header.index(name)]
        if not values or values[-1] != value:
            values.append(value)
    return values


def _in_order(seen: list[str], said: list[str]) -> bool:
    """Whether `seen` is `said` with some left out (a watch may miss a short phase), in that order."""
    rest = iter(said)
    return all(any(s == x for x in rest) for s in seen)


def _listed(comment: str) -> list[str]:
    """The phases or numbers a comment lists: "Creating, Pending, ... (Ctrl-C)" -> [Creating, Pending, ...]."""
    text = re.sub(r"\(.*?\)", "", comment.split(":", 1)[-1])
    return [word.strip() for word in re.split(r",|\bthen\b", text) if word.strip()]


# -- the checks, one per README command ----------------------------------------------------------------------


def check_export(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert Path(shell.env["KUBECONFIG"]).exists()
    assert shell.run("command -v kubectl").stdout.strip() == str(VENV_BIN / "kubectl")  # "kubectl comes with Berth"


def check_project(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.stdout.strip() == "project.run.ai/demo created", result.stderr
    namespace = re.search(r"namespace is (\S+)", command.comment)[1]
    deadline = time.monotonic() + 10
    while shell.run(f"kubectl get ns {namespace}").returncode != 0:
        assert time.monotonic() < deadline, f"no namespace {namespace}"
        time.sleep(0.2)


def check_hello(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)  # at once, as a user types it: the namespace must be there for it
    assert result.stdout.strip() == "trainingworkload.run.ai/hello created", result.stderr


def check_training_watch(shell: Shell, command: Command) -> None:
    said = _listed(command.comment)
    shown = shell.watch(command.text, lambda out: said[-1] in _column(out, "STATUS"), timeout=60)
    seen = _column(shown, "STATUS")
    assert _in_order(seen, said), f"the README says {said}; kubectl showed {seen}"


def check_logs(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and result.stdout == command.comment + "\n", result.stderr


def check_validate(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and "is valid" in result.stdout, result.stderr
    path = ROOT / command.text.split()[-1]
    (five_lines,) = blocks("yaml")  # the README's five lines are that file's object
    assert yaml.safe_load(five_lines) == load_file(path)[0].document


def check_explain(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and "nodeType" in result.stdout and "DESCRIPTION" in result.stdout, result.stderr


def check_model_apply(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.stdout.strip() == "inferenceworkload.run.ai/model created", result.stderr


def check_wait(shell: Shell, command: Command) -> None:
    result = shell.run(command.text, timeout=90)
    assert result.returncode == 0 and "condition met" in result.stdout, result.stderr


def check_url(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and shell.env.get("URL", "").startswith("http://127.0.0.1:"), shell.env.get("URL")


def check_load(shell: Shell, command: Command) -> None:
    assert shell.run(command.text).returncode == 0  # three users, in the background


def check_replica_watch(shell: Shell, command: Command) -> None:
    low, high, back = map(int, re.search(r"from (\d+) up to (\d+), back to (\d+)", command.comment).groups())

    def back_down(out: str) -> bool:
        seen = [int(v) for v in _column(out, "RUNNING")]
        return high in seen and seen[-1] == back and seen.index(high) < len(seen) - 1

    seen = [int(v) for v in _column(shell.watch(command.text, back_down, timeout=150), "RUNNING")]
    assert seen[0] == low and max(seen) == high, f"the README says from {low} up to {high}; kubectl showed {seen}"


def check_model_logs(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines, result.stderr
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z GET /predict -> 200$", line) for line in lines), lines


# -- the researcher's walkthrough with the CLI -----------------------------------------------------------------


def check_config_project(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and result.stdout.startswith("default project: demo"), result.stderr


def check_cli_submit(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == command.comment, result.stdout


def check_cli_wait(shell: Shell, command: Command) -> None:
    result = shell.run(command.text, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    phase = shell.run("kubectl get iw lab -n runai-demo -o jsonpath='{.status.phase}'").stdout
    assert phase == "Running", f"berth returned and lab is {phase!r}"


def check_cli_list(shell: Shell, command: Command) -> None:
    said = dict(pair.split() for pair in command.comment.split(", "))  # {"lab": "Running", "train-1": ...}
    deadline = time.monotonic() + 60  # train-1 may still be printing its line when the user lists
    while True:
        result = shell.run(command.text)
        assert result.returncode == 0 and result.stdout.startswith("Showing workloads for project demo"), result
        rows = {cells[0]: cells[1] for cells in map(str.split, result.stdout.splitlines()[1:]) if len(cells) > 1}
        if all(rows.get(name) == status for name, status in said.items()):
            return
        assert time.monotonic() < deadline, f"the README says {said}; berth list showed:\n{result.stdout}"
        time.sleep(1)


def check_cli_logs(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and result.stdout == command.comment + "\n", result.stdout + result.stderr


def check_cli_describe(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^STATUS:\s+Running$", result.stdout, flags=re.M), result.stdout
    assert re.search(r"^lab-0-0\s+RUNNING", result.stdout, flags=re.M) and "Events:" in result.stdout, result.stdout


def check_cli_bash(shell: Shell, command: Command) -> None:
    code, shown = shell.terminal(command.text, [(r"[$#] $", "tty\r"), (r"/dev/pts/\d+", "exit\r")])
    assert code == 0 and re.search(r"/dev/pts/\d+", shown), shown  # what tty printed: only its answer names /dev/pts


def check_cli_delete(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['deleted TrainingWorkload "train-1" in project demo',
                                          'deleted InteractiveWorkload "lab" in project demo'], result.stdout
    for kind, name in (("tw", "train-1"), ("iw", "lab")):
        deadline = time.monotonic() + 30
        while shell.run(f"kubectl get {kind} {name} -n runai-demo").returncode == 0:
            assert time.monotonic() < deadline, f"{name} is still there"
            time.sleep(0.5)


def check_rest_env(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert shell.env["TOKEN"] == (shell.home / ".berth" / "token").read_text().strip()
    assert Path(shell.env["CURL_CA_BUNDLE"]).is_file()


def check_rest_api(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", shell.env["API"]), shell.env["API"]
    assert shell.run("curl -s --oauth2-bearer $TOKEN $API/api/v1/openapi.json").stdout.startswith('{"openapi":"3.')


def check_rest_cluster(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0, result.stderr
    uid = shell.run("kubectl get namespace runai -o jsonpath='{.metadata.uid}'").stdout
    assert shell.env["CLUSTER"] == uid


def check_rest_create(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    answer = json.loads(result.stdout)
    said = re.findall(r'"(\w+)": "([^"]+)"', command.comment)
    assert said and all(answer[key] == value for key, value in said), (said, answer)
    uid = shell.run("kubectl get tw rest-1 -n runai-demo -o jsonpath='{.metadata.uid}'").stdout
    assert answer["workloadId"] == uid, (answer, uid)


def check_rest_kubectl(shell: Shell, command: Command) -> None:
    result = shell.run(command.text)
    assert result.returncode == 0 and result.stdout == command.comment, (result.stdout, result.stderr)


def check_rest_phase(shell: Shell, command: Command) -> None:
    said = command.comment.split(", once", 1)[0]
    deadline = time.monotonic() + 90
    while (shown := shell.run(command.text).stdout.strip().rstrip(",")) != said:
        assert time.monotonic() < deadline, f"the README says {said}; it shows {shown!r}"
        time.sleep(1)


def check_down(shell: Shell, command: Command) -> None:
    result = shell.run(command.text, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Stopped berth up \(pid \d+, serving https://127\.0\.0\.1:\d+\)\.", lines[0]), lines
    assert re.fullmatch(r"Stopped \d+ workload process(es)? \(pods? runai-demo/model-[^)]+\)\.", lines[-1]), lines


CHECKS: list[tuple[str, Callable[[Shell, Command], None]]] = [
    (r"^export KUBECONFIG=", check_export),
    (r"^kubectl apply -f examples/quickstart/demo-project\.yaml$", check_project),
    (r"^kubectl apply -f examples/quickstart/hello\.yaml$", check_hello),
    (r"^kubectl get tw -n runai-demo -w$", check_training_watch),
    (r"^kubectl logs hello-0-0 -n runai-demo$", check_logs),
    (r"^berth validate examples/workloads/training-seed\.yaml$", check_validate),
    (r"^berth explain trainingworkload\.spec\.nodeType$", check_explain),
    (r"^kubectl apply -f - <<EOF\n", check_model_apply),
    (r"^kubectl wait infw/model ", check_wait),
    (r"^URL=\$\(", check_url),
    (r"^for i in 1 2 3; do ", check_load),
    (r"^kubectl get infw model -n runai-demo -w$", check_replica_watch),
    (r"^kubectl logs model-0 ", check_model_logs),
    (r"^export CURL_CA_BUNDLE=", check_rest_env),
    (r"^API=\$\(kubectl config view ", check_rest_api),
    (r"^CLUSTER=\$\(curl ", check_rest_cluster),
    (r"^curl -s --oauth2-bearer \$TOKEN \$API/api/v1/workloads/trainings ", check_rest_create),
    (r"^kubectl get tw rest-1 ", check_rest_kubectl),
    (r"^curl -s --oauth2-bearer \$TOKEN \"\$API/api/v1/workloads\?", check_rest_phase),
    (r"^berth config project demo$", check_config_project),
    (r"^berth training submit train-1 ", check_cli_submit),
    (r"^berth workspace submit lab ", check_cli_wait),
    (r"^berth list$", check_cli_list),
    (r"^berth logs train-1$", check_cli_logs),
    (r"^berth describe lab$", check_cli_describe),
    (r"^berth bash lab$", check_cli_bash),
    (r"^berth delete train-1 lab$", check_cli_delete),
    (r"^berth down --workloads$", check_down),
]


def _check_for(command: Command) -> Callable[[Shell, Command], None]:
    found = [check for pattern, check in CHECKS if re.search(pattern, command.text)]
    assert len(found) == 1, f"the README command {command.text!r} has no check in tests/test_readme.py"
    return found[0]


@pytest.fixture
def shell(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN]
    env = {**{k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "VIRTUAL_ENV")},
           "HOME": str(home), "PATH": os.pathsep.join(path)}
    shell = Shell(home=home, env=env)
    yield shell
    shell.stop()
    reap_pods(home / ".berth")


def test_the_quickstart_runs_as_the_readme_says(shell):
    quickstart, model, rest, walkthrough = blocks("sh")
    first = commands(quickstart)
    assert first[0].text == "make up"
    port = free_port()
    log = shell.home.parent / "make-up.log"
    with log.open("w") as out:  # `make up` in another terminal; a free port, so a test never takes 6443
        up = subprocess.Popen(["make", "up", f"ARGS=--port {port}"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              env=shell.env, start_new_session=True)
    shell.groups.append(up.pid)
    kubeconfig = shell.home / ".berth" / "kubeconfig"
    deadline = time.monotonic() + 180
    while not (kubeconfig.exists() and "Berth API server on" in log.read_text()):
        assert up.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    suggested = log.read_text().split("Try:", 1)[1].split("Stop with", 1)[0].splitlines()
    readme_lines = {line.strip() for line in quickstart.splitlines()}
    for line in (line.strip() for line in suggested if line.strip()):
        assert line.startswith("export PATH=") or line in readme_lines, f"berth up suggests {line!r}, not the README"
    for command in first[1:] + commands(model) + commands(rest) + commands(walkthrough):
        _check_for(command)(shell, command)
    assert up.wait(timeout=30) == 0, log.read_text()  # the README's last command, `berth down`, stopped it
    assert "Traceback" not in log.read_text()


def test_every_readme_command_has_a_check():
    for block in blocks("sh"):
        for command in commands(block):
            if command.text != "make up":
                _check_for(command)
