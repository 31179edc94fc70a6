"""The protections, one small pure rule each: read the context, return a Decision or None."""

from __future__ import annotations

from outguard import codes
from outguard.policy.context import Context, Decision, Stage


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
