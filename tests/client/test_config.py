"""Finding the server and credentials, and what callers see when they are wrong."""

from __future__ import annotations

import pytest
import yaml

from berth.client import Client, ConfigError, Unauthorized, Unreachable
from tests.cluster import free_port


def rewrite(cluster, tmp_path, change) -> str:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    change(config)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


async def test_kubeconfig_from_the_environment_skipping_missing_files(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{cluster.kubeconfig}")
    async with Client.from_kubeconfig() as c:
        assert c.server == cluster.url
        assert c.namespace == "default"
        assert "runai" in {ns["metadata"]["name"] for ns in await c.list("namespaces")}
    async with Client.from_env() as c:  # not in a pod: the kubeconfig
        assert c.server == cluster.url


def test_a_missing_kubeconfig_or_context_is_a_config_error(cluster, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Client.from_kubeconfig(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="Context 'prod' not found"):
        Client.from_kubeconfig(cluster.kubeconfig, context="prod")
    (tmp_path / "garbage").write_text("clusters: 3\n")
    with pytest.raises(ConfigError, match="not usable"):
        Client.from_kubeconfig(tmp_path / "garbage")


def test_in_cluster_outside_a_pod_is_a_config_error():
    with pytest.raises(ConfigError, match="not running in a cluster"):
        Client.in_cluster()


async def test_a_wrong_token_is_unauthorized(cluster, tmp_path):
    def bad_token(config: dict) -> None:
        config["users"][0]["user"]["token"] = "not-the-token"

    async with Client.from_kubeconfig(rewrite(cluster, tmp_path, bad_token)) as c:
        with pytest.raises(Unauthorized) as refused:
            await c.get("Namespace", "default")
        assert refused.value.code == 401


async def test_a_context_without_a_user_connects_without_credentials(cluster, tmp_path):
    def no_user(config: dict) -> None:
        del config["contexts"][0]["context"]["user"]

    async with Client.from_kubeconfig(rewrite(cluster, tmp_path, no_user)) as c:
        with pytest.raises(Unauthorized):  # the server wants a token; the client did not refuse to try
            await c.list("namespaces")


async def test_no_server_is_unreachable(cluster, tmp_path):
    def elsewhere(config: dict) -> None:
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"

    async with Client.from_kubeconfig(rewrite(cluster, tmp_path, elsewhere)) as c:
        with pytest.raises(Unreachable, match="GET /api/v1/namespaces/default"):
            await c.get("Namespace", "default")
        with pytest.raises(Unreachable):
            async for _ in c.watch("pods"):
                pass
