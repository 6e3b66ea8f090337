"""Workload policies: constraints and defaults per project or globally (Run:ai notes, section 3).

Pure functions, no I/O: `lookup.select` picks the policy, `engine.evaluate` composes the effective
workload and checks it, `selfcheck.check_policy` checks a policy against itself. The API server's
admission plugin, the real-cluster webhook, the CLI and the UI all call these with what they read.
"""

from berth.policy.engine import POLICY_ANNOTATION, Evaluation, evaluate
from berth.policy.lookup import describe, select
from berth.policy.rules import Violation
from berth.policy.selfcheck import check_policy

__all__ = ["POLICY_ANNOTATION", "Evaluation", "Violation", "check_policy", "describe", "evaluate", "select"]
