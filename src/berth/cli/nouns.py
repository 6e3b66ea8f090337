"""The noun-first commands of Run:ai's CLI v2 (`berth training submit`, `berth workspace list`, `berth pytorch
logs`, ...): one table of nouns, each a workload kind (and a framework for distributed ones), and the verbs
every noun gets from the modules that implement them.

A verb module registers a factory with `verbs`: given a `Noun`, it returns the click command for that noun
(`submit` fixed to the noun's kind, `list` filtered to it, ...). `noun_groups()` builds the click groups
once every module has registered, so a noun never lists a verb that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Noun:
    """One noun of CLI v2: the command name, the workload kind it stands for, and the framework of a
    distributed one."""

    name: str
    kind: str  # InteractiveWorkload, TrainingWorkload, DistributedWorkload or InferenceWorkload
    framework: str | None = None  # PyTorch, TF, MPI or XGBoost for DistributedWorkload
    summary: str = ""


WORKSPACE = Noun("workspace", "InteractiveWorkload", summary="Interactive workloads (Jupyter, a shell).")
TRAINING = Noun("training", "TrainingWorkload", summary="Training workloads: one pod that runs to completion.")
STANDARD = Noun("standard", "TrainingWorkload", summary="Standard (single-pod) training; the same as `training`.")
PYTORCH = Noun("pytorch", "DistributedWorkload", "PyTorch", "Distributed PyTorch training (master and workers).")
TF = Noun("tf", "DistributedWorkload", "TF", "Distributed TensorFlow training (chief and workers).")
MPI = Noun("mpi", "DistributedWorkload", "MPI", "Distributed MPI training (launcher and workers).")
XGBOOST = Noun("xgboost", "DistributedWorkload", "XGBoost", "Distributed XGBoost training (master and workers).")
INFERENCE = Noun("inference", "InferenceWorkload", summary="Inference workloads: autoscaled serving replicas.")

FRAMEWORKS = (PYTORCH, TF, MPI, XGBOOST)

#: Factories registered by the verb modules, in the order the verbs are listed in help.
verbs: list[Callable[[Noun], click.Command | None]] = []


def _group(noun: Noun) -> click.Group:
    group = click.Group(noun.name, help=noun.summary)
    for factory in verbs:
        command = factory(noun)
        if command is not None:
            group.add_command(command)
    return group


def noun_groups() -> list[click.Group]:
    """The top-level noun groups: workspace, training (with standard, pytorch, tf, mpi and xgboost below it),
    inference, and the framework aliases at the top (`berth pytorch submit` = `berth training pytorch
    submit`)."""
    training = _group(TRAINING)
    for noun in (STANDARD, *FRAMEWORKS):
        training.add_command(_group(noun))
    return [_group(WORKSPACE), training, _group(INFERENCE), *(_group(noun) for noun in FRAMEWORKS)]
