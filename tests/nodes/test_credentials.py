"""Which user a container's process runs as on the local node: the pod's securityContext, as far as the
machine allows, and a warning when it cannot."""

from __future__ import annotations

from berth.nodes.credentials import asked, credentials


def pod(security: dict | None = None, container_security: dict | None = None) -> tuple[dict, dict]:
    container = {"name": "main", **({"securityContext": container_security} if container_security else {})}
    return {"spec": {"securityContext": security or {}, "containers": [container]}}, container


def test_a_container_s_own_user_and_group_win_over_the_pod_s():
    p, c = pod({"runAsUser": 1000, "runAsGroup": 100, "supplementalGroups": [42, 43]}, {"runAsUser": 2000})
    assert asked(p, c) == (2000, 100, (42, 43))


def test_as_root_the_process_runs_as_asked_with_group_0_when_none_is_given():
    p, c = pod({"runAsUser": 1234})
    assert credentials(p, c, euid=0, egid=0).popen() == {"user": 1234, "group": 0, "extra_groups": []}
    p, c = pod({"runAsUser": 1234, "runAsGroup": 5678, "supplementalGroups": [42]})
    assert credentials(p, c, euid=0, egid=0).popen() == {"user": 1234, "group": 5678, "extra_groups": [42]}


def test_nothing_asked_or_already_so_runs_as_berth_does():
    assert credentials(*pod(), euid=1000, egid=1000).popen() == {}
    assert credentials(*pod({"runAsUser": 1000, "runAsGroup": 1000}), euid=1000, egid=1000) == credentials(
        *pod(), euid=1000, egid=1000)


def test_without_root_another_user_is_not_possible_and_the_pod_is_told():
    who = credentials(*pod({"runAsUser": 0, "supplementalGroups": [42]}), euid=1000, egid=1000)
    assert who.popen() == {}
    assert who.warning.startswith("securityContext asks for runAsUser 0, supplementalGroups [42], but berth up "
                                  "runs as uid 1000 (gid 1000) and cannot switch users")


def test_run_as_non_root_refuses_a_process_that_would_run_as_root():
    refused = credentials(*pod({"runAsNonRoot": True}), euid=0, egid=0)
    assert refused.refusal.startswith("container has runAsNonRoot and would run as root")
    assert credentials(*pod({"runAsNonRoot": True, "runAsUser": 0}), euid=1000, egid=1000).refusal
    assert not credentials(*pod({"runAsNonRoot": True, "runAsUser": 1000}), euid=0, egid=0).refusal
    assert not credentials(*pod({"runAsNonRoot": True}), euid=1000, egid=1000).refusal  # berth up is not root
    assert not credentials(*pod({"runAsNonRoot": True}, {"runAsNonRoot": False}), euid=0, egid=0).refusal
