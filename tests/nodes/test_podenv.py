"""The pure parts of a container's environment: `$(VAR)` expansion, what is inherited, working directories."""

from __future__ import annotations

from pathlib import Path

from berth.nodes import podenv


def test_references_expand_as_kubernetes_expands_them():
    env = {"NAME": "job-1", "EMPTY": ""}
    assert podenv.expand("run $(NAME) in $(EMPTY)/x", env) == "run job-1 in /x"
    assert podenv.expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert podenv.expand("$$(NAME) is escaped, $$ is a dollar", env) == "$(NAME) is escaped, $ is a dollar"
    assert podenv.expand("$NAME and ${NAME} are not references", env) == "$NAME and ${NAME} are not references"


def test_berth_s_own_variables_are_not_inherited():
    parent = {"PATH": "/usr/bin", "KUBECONFIG": "/admin", "BERTH_DATA_DIR": "/d", "CUDA_VISIBLE_DEVICES": "0,1",
              "LANG": "C.UTF-8"}
    assert podenv.inherited(parent) == {"PATH": "/usr/bin", "LANG": "C.UTF-8"}


def test_command_and_args_expand_and_no_command_is_empty():
    env = {"PORT": "8123"}
    container = {"command": ["python", "-m", "http.server"], "args": ["$(PORT)"]}
    assert podenv.command_line(container, env) == ["python", "-m", "http.server", "8123"]
    assert podenv.command_line({"args": ["serve"]}, env) == []


def test_working_directories(tmp_path: Path):
    scratch = tmp_path / "pod"
    assert podenv.working_dir({}, scratch) == scratch and scratch.is_dir()
    assert podenv.working_dir({"workingDir": "a/b"}, scratch) == scratch / "a" / "b"
    mine = tmp_path / "project"
    assert podenv.working_dir({"workingDir": str(mine)}, scratch) == mine and mine.is_dir()
    (tmp_path / "file").write_text("")  # a path that cannot be a directory here goes under the scratch directory
    assert podenv.working_dir({"workingDir": str(tmp_path / "file" / "x")}, scratch) == \
        scratch / str(tmp_path / "file" / "x").lstrip("/")


def test_gpu_variables_come_from_the_annotations():
    pod = {"metadata": {"annotations": {"run.ai/gpu-devices": "0, 2", "gpu-fraction": "0.25"}}}
    assert podenv.gpu_environment(pod) == {"CUDA_VISIBLE_DEVICES": "0,2", "NVIDIA_VISIBLE_DEVICES": "0,2",
                                           "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "GPU_PORTION": "0.25"}
    assert podenv.gpu_environment({"metadata": {}})["CUDA_VISIBLE_DEVICES"] == ""


def test_a_mig_instance_is_named_by_its_uuid_where_the_node_knows_it():
    from berth.nodes.node import Gpu
    gpus = (Gpu(0), Gpu(1, mig=("3g.20gb", "1g.5gb"), mig_uuids=("MIG-aaaa", "MIG-bbbb")))
    pod = {"metadata": {"annotations": {"run.ai/gpu-devices": "1:1"}}}
    assert podenv.gpu_environment(pod, gpus)["CUDA_VISIBLE_DEVICES"] == "MIG-bbbb"
    assert podenv.gpu_environment(pod)["NVIDIA_VISIBLE_DEVICES"] == "MIG-1:1"  # a simulated GPU: no UUID
    assert podenv.gpu_devices(pod) == [1]


def test_a_temporary_home_the_local_node_cannot_mount_is_the_scratch_directory(tmp_path: Path):
    import asyncio

    async def nothing(kind: str, namespace: str, name: str) -> None:
        return None

    container = {"name": "main", "env": [{"name": "HOME", "value": "/home/runai"}],
                 "volumeMounts": [{"name": "home", "mountPath": "/home/runai"}]}
    pod = {"metadata": {"name": "p"}, "spec": {"volumes": [{"name": "home", "emptyDir": {}}], "containers": [container]}}
    env = asyncio.run(podenv.environment(pod, container, scratch=tmp_path, host_ports={}, read=nothing, parent={}))
    assert env["HOME"] == str(tmp_path)
    own = {**container, "env": [{"name": "HOME", "value": "/data/me"}]}  # a home of the user's own: kept
    assert asyncio.run(podenv.environment(pod, own, scratch=tmp_path, host_ports={}, read=nothing,
                                          parent={}))["HOME"] == "/data/me"
