"""The protections, one small pure rule each: read the context, return a Decision or None."""

from __future__ import annotations

from outguard import codes
from outguard.policy.context import Context, Decision, Stage
from outguard.util import ipv4_int


class Rule:
    name: str = ""
    stage: Stage = Stage.MAIL
    description: str = ""

    def check(self, ctx: Context) -> Decision | None:  # pragma: no cover - interface
        raise NotImplementedError

    def refuse(
        self, code: codes.StatusCode, detail: str = "", about: tuple[str, ...] = (), **values: str
    ) -> Decision:
        """A refusal with `code`; `values` fill the catalogue text, `about` names the recipients concerned."""
        return Decision(self.name, code, values, detail, about)


class TenantAttributionRule(Rule):
    name, stage = "attribution", Stage.MAIL
    description = "The connection must belong to a tenant (certificate, login or IP connector)."

    def check(self, ctx: Context) -> Decision | None:
        if ctx.tenant is None:
            return self.refuse(
                codes.TENANT_ATTRIBUTION, f"no connector, certificate or login matched {ctx.client_ip}"
            )
        return None


class SubscriptionLapseRule(Rule):
    name, stage = "subscription", Stage.MAIL
    description = "A tenant whose subscription expired may not send (5.7.705) until it is renewed."

    def check(self, ctx: Context) -> Decision | None:
        t = ctx.tenant
        if t is not None and t.subscription_lapsed(ctx.today):
            return self.refuse(codes.TENANT_THRESHOLD, f"subscription expired on {t.subscription_expires}")
        return None


class TenantBlockRule(Rule):
    name, stage = "tenant-block", Stage.MAIL
    description = "A blocked tenant's outbound mail is refused with the code of its block."

    def check(self, ctx: Context) -> Decision | None:
        t = ctx.tenant
        if t is not None and t.blocked:
            code = codes.lookup(t.block_code) or codes.TENANT_THRESHOLD
            return self.refuse(code, f"tenant blocked: {t.block_reason or ''}".strip())
        return None


class SendAsRule(Rule):
    name, stage = "send-as", Stage.MAIL
    description = "A mailbox (SMTP AUTH) may only send as an address in its tenant's accepted domains."

    def check(self, ctx: Context) -> Decision | None:
        if ctx.via == "auth" and ctx.sender and not ctx.sender_in_accepted_domain:
            return self.refuse(
                codes.SENDER_NOT_ALLOWED,
                f"{ctx.auth_user} may not send as {ctx.sender}: not an accepted domain",
            )
        return None


class UnregisteredDomainRule(Rule):
    name, stage = "unregistered-domain", Stage.MAIL
    description = (
        "Mail from sender domains that are not accepted, verified domains of the tenant is "
        "relayed up to the allowance per rolling 24 h, then refused."
    )

    def check(self, ctx: Context) -> Decision | None:
        if not ctx.unregistered_sender:
            return None
        allowance = int(ctx.settings.get("unregistered_allowance", 100))
        sent = ctx.counts.get("unregistered", 0)
        if sent >= allowance:
            return self.refuse(
                codes.UNREGISTERED_DOMAIN,
                f"{sent} messages from unregistered domains in 24 h (allowance {allowance}); "
                f"sender domain {ctx.sender_domain or '-'}",
            )
        return None


class TablRecipientRule(Rule):
    name, stage = "tabl-recipient", Stage.RCPT
    description = "Per-recipient mode: a recipient on a block entry is refused at RCPT."

    def check(self, ctx: Context) -> Decision | None:
        t = ctx.tenant
        if t is None or t.tabl_mode != "per-recipient" or ctx.recipient is None:
            return None
        entry = t.blocklist.match(ctx.recipient, ctx.now)
        if entry is None:
            return None
        return self.refuse(
            codes.TABL_BLOCKED, f"matches block entry {entry}", (ctx.recipient,), recipients=ctx.recipient
        )


class TablMessageRule(Rule):
    name, stage = "tabl-message", Stage.DATA
    description = "Whole-message mode: if any recipient is on a block entry, the message is refused."

    def check(self, ctx: Context) -> Decision | None:
        t = ctx.tenant
        if t is None or t.tabl_mode != "whole-message":
            return None
        blocked, entries = [], []
        for r in ctx.recipients:
            entry = t.blocklist.match(r, ctx.now)
            if entry is not None:
                blocked.append(r)
                entries.append(entry)
        if not blocked:
            return None
        return self.refuse(
            codes.TABL_BLOCKED,
            "matches block entries " + ", ".join(dict.fromkeys(entries)),
            tuple(blocked),
            recipients=", ".join(blocked),
        )


class LowReputationTrialRule(Rule):
    name, stage = "trial-ip-reputation", Stage.MAIL
    description = (
        "A trial tenant sending from a low-reputation client IP is refused, unless an operator "
        "granted an IP exception. Licensed tenants are not refused for this."
    )

    def check(self, ctx: Context) -> Decision | None:
        t = ctx.tenant
        rep = ctx.facts.get("reputation")
        if t is None or t.licensed or rep is None or not rep.listed:
            return None
        try:
            ip = ipv4_int(ctx.client_ip)
        except ValueError:
            ip = None
        if ip is not None and t.ip_exceptions.find(ip, ctx.now) is not None:
            return None
        return self.refuse(codes.IP_NOT_ACCEPTED, f"{ctx.client_ip} listed by {rep.source}: {rep.detail}")


LIMITS = ("external_per_hour", "internal_per_hour", "per_day")


class RestrictedSenderRule(Rule):
    name, stage = "restricted-sender", Stage.MAIL
    description = (
        "A sender restricted for exceeding its outbound limits is refused until released or expired."
    )

    def check(self, ctx: Context) -> Decision | None:
        t, key = ctx.tenant, ctx.sender_key
        if t is None or not key:
            return None
        until = t.restricted.get(key)
        if until is not None and ctx.now < until:
            return self.refuse(codes.RESTRICTED_SENDER, f"{key} is restricted (outbound limits exceeded)")
        return None


class SenderLimitRule(Rule):
    name, stage = "sender-limits", Stage.DATA
    description = (
        "Per sender: external recipients per hour, internal recipients per hour and recipients "
        "per day. The message that would go over a limit is refused and the sender restricted "
        "(or, with action alert-only, only an alert is raised)."
    )

    def check(self, ctx: Context) -> Decision | None:
        t, key = ctx.tenant, ctx.sender_key
        if t is None or not key or key in t.released_today:
            return None
        internal = sum(1 for r in ctx.recipients if ctx.is_internal(r))
        adding = {
            "external_per_hour": len(ctx.recipients) - internal,
            "internal_per_hour": internal,
            "per_day": len(ctx.recipients),
        }
        for limit in LIMITS:
            cap = int(ctx.settings.get(limit, 0))
            if cap and adding[limit] and ctx.counts.get(limit, 0) + adding[limit] > cap:
                action = str(ctx.settings.get("restricted_action", "block-until-tomorrow"))
                d = self.refuse(
                    codes.RESTRICTED_SENDER,
                    f"{key}: {limit} limit {cap} exceeded ({ctx.counts.get(limit, 0)} + {adding[limit]})",
                )
                return Decision(
                    d.rule, d.code, d.values, d.detail, (limit, str(cap)), enforce=action != "alert-only"
                )
        return None


class OutboundSpamRule(Rule):
    name, stage = "outbound-spam", Stage.EOM
    description = (
        "Outbound spam is refused with 5.7.1 when [abuse] spam_action is reject; otherwise it is "
        "relayed through the high-risk pool. Either way it is traced as FilteredAsSpam."
    )

    def check(self, ctx: Context) -> Decision | None:
        verdict = ctx.facts.get("verdict")
        if verdict is None or not verdict.spam or ctx.settings.get("spam_action") != "reject":
            return None
        return self.refuse(codes.SPAM_REFUSED, f"spam score {verdict.score:.1f}: {', '.join(verdict.tests)}")
