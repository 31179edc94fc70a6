"""The chain: the protections in the order they apply, each in enforce or observe mode.

Read it top to bottom like a policy. A stage runs every rule of that stage, records each hit
and miss, and stops at the first enforced refusal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from outguard.policy.context import Context, Decision, Stage
from outguard.policy.rules import (
    LowReputationTrialRule,
    OutboundSpamRule,
    RestrictedSenderRule,
    Rule,
    SendAsRule,
    SenderLimitRule,
    SubscriptionLapseRule,
    TablMessageRule,
    TablRecipientRule,
    TenantAttributionRule,
    TenantBlockRule,
    UnregisteredDomainRule,
)

DEFAULT_RULES: tuple[Rule, ...] = (
    TenantAttributionRule(),  # MAIL  5.7.64  the connection belongs to no tenant
    SubscriptionLapseRule(),  # MAIL  5.7.705 subscription expired
    TenantBlockRule(),  # MAIL  5.7.705 tenant blocked (threshold or operator)
    LowReputationTrialRule(),  # MAIL  5.7.708 trial tenant on a low-reputation IP
    RestrictedSenderRule(),  # MAIL  5.1.8   sender restricted for exceeding its limits
    SendAsRule(),  # MAIL  5.7.60  a mailbox sending as a foreign domain
    UnregisteredDomainRule(),  # MAIL  5.7.750 over the unregistered-domain allowance
    TablRecipientRule(),  # RCPT  5.7.703 per-recipient mode
    TablMessageRule(),  # DATA  5.7.703 whole-message mode
    SenderLimitRule(),  # DATA  5.1.8   this message would take the sender over a limit
    OutboundSpamRule(),  # EOM   5.7.1   outbound spam, when the action is reject
)

# Rules whose refusal cannot be observed away: without a tenant there is nobody to relay for.
ALWAYS_ENFORCED = frozenset({"attribution"})


@dataclass
class StageResult:
    decision: Decision | None = None  # the enforced refusal, if any
    hits: list[dict[str, Any]] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    alerts: list[Decision] = field(default_factory=list)  # hits whose protection only alerts


class Chain:
    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES, modes: Mapping[str, str] | None = None) -> None:
        names = [r.name for r in rules]
        unknown = set(modes or {}) - set(names)
        if unknown:
            raise ValueError(f"[policy] mode names unknown rules: {', '.join(sorted(unknown))}")
        self.rules = tuple(rules)
        self.modes = {
            n: "enforce" if n in ALWAYS_ENFORCED else (modes or {}).get(n, "enforce") for n in names
        }
        self.by_stage = {s: tuple(r for r in self.rules if r.stage is s) for s in Stage}

    def run(self, stage: Stage, ctx: Context) -> StageResult:
        result = StageResult()
        for rule in self.by_stage[stage]:
            decision = rule.check(ctx)
            if decision is None:
                result.misses.append(rule.name)
                continue
            mode = self.modes[rule.name] if decision.enforce else "alert"
            result.hits.append(decision.as_trace(mode))
            if mode == "alert":
                result.alerts.append(decision)
            if mode == "enforce":
                result.decision = decision
                break
        return result
