"""The policy chain: each protection is a small pure rule; the chain is a readable table of them."""

from outguard.policy.chain import DEFAULT_RULES, Chain, StageResult
from outguard.policy.context import Context, Decision, Stage

__all__ = ["DEFAULT_RULES", "Chain", "Context", "Decision", "Stage", "StageResult"]
