"""The status-code catalogue: every code Outguard answers with or explains, defined once.

SMTP replies, NDRs, the trace, the reports, the bounce explainer and the docs all read from here.
Reply texts for the Exchange-compatible codes are the ones Exchange Online documents, so scripts and
users that know Microsoft's bounces recognise ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatusCode:
    """One status code: what the server says, why, and how each audience fixes it."""

    enhanced: str  # RFC 3463 enhanced status code, e.g. "5.7.703"
    reply: int  # SMTP reply code, e.g. 550
    text: str  # reply text; may hold {placeholders} filled by `reply_text`
    name: str  # short label for tables and charts
    cause: str  # what happened, in plain language
    sender_fix: str  # what the person who sent the mail can do
    admin_fix: str  # what their email admin can do
    reason: str  # bounce-reason taxonomy name (see reference/bounce-reasons.md)
    lifted_by: str = ""  # who can lift the refusal
    report: str | None = None  # the Outguard report that shows the evidence
    outguard: bool = False  # Outguard itself produces this code
    variants: tuple[str, ...] = field(default=())  # other texts servers send for the same code
    # A generic code (5.7.1, 5.3.4, ...) means many things elsewhere: explain it with this entry only
    # when the server's text is ours.
    generic: bool = False

    @property
    def anchor(self) -> str:
        """A stable slug for links (portal `/codes/<anchor>`, docs)."""
        return self.enhanced.replace(".", "-")

    def reply_text(self, **values: object) -> str:
        return self.text.format(**values)

    def reply_line(self, **values: object) -> str:
        """The full SMTP reply, e.g. ``550 5.7.64 TenantAttribution; Relay Access Denied``."""
        return f"{self.reply} {self.enhanced} {self.reply_text(**values)}"

    @property
    def permanent(self) -> bool:
        return self.enhanced.startswith("5.")


def _code(*args: object, **kwargs: object) -> StatusCode:
    return StatusCode(*args, **kwargs)  # type: ignore[arg-type]


# --- Codes Outguard produces -------------------------------------------------------------------

TENANT_ATTRIBUTION = StatusCode(
    "5.7.64",
    550,
    "TenantAttribution; Relay Access Denied",
    "Relay access denied (no tenant)",
    cause="The gateway could not tell which organization the message belongs to: the sending server's "
    "IP address, TLS certificate and login matched none of the organizations it relays for, so it "
    "refused to relay (it is never an open relay).",
    sender_fix="Your mail server or app is not set up to send through this gateway. Forward this "
    "message to your email admin.",
    admin_fix="Make the connection attributable: add the server's public IP to an IP connector, send "
    "with a client certificate whose domain matches a certificate connector (and send the full "
    "certificate chain), or have the app log in with SMTP AUTH as a mailbox of the tenant. If the "
    "server's IP or certificate changed recently, update the connector.",
    reason="norelaying",
    lifted_by="tenant admin (fix the connector)",
    report="connectors",
    outguard=True,
    variants=("Relay Access Denied ATTR36",),
)

SENDER_NOT_ALLOWED = StatusCode(
    "5.7.60",
    550,
    "Client does not have permissions to send as this sender",
    "Send-as not permitted",
    cause="The logged-in mailbox tried to send with an envelope sender address outside its "
    "organization's accepted domains.",
    sender_fix="Send from your own address, or from an address in one of your organization's domains.",
    admin_fix="Add and verify the sender's domain as an accepted domain of the tenant, or have the "
    "application use an address in an accepted domain.",
    reason="rejected",
    lifted_by="tenant admin",
    report="non-accepted-domains",
    outguard=True,
)

TABL_BLOCKED = StatusCode(
    "5.7.703",
    550,
    "Your message can't be delivered because messages to {recipients} are blocked by your "
    "organization using Tenant Allow Block List",
    "Blocked by the allow/block list",
    cause="At least one recipient matches a block entry of your organization's Tenant Allow/Block "
    "List, so the message was refused (for every recipient, unless your organization blocks per "
    "recipient).",
    sender_fix="Remove the blocked recipients and send again. If you need to write to them, ask your "
    "email admin why they are blocked.",
    admin_fix="Review the block entries of the tenant's allow/block list (`outguard tabl list`): "
    "remove or let expire the entry that matches, or keep it if the block is intended. Wildcard "
    "entries (*.example.com) also cover subdomains.",
    reason="policyviolation",
    lifted_by="tenant admin (edit the list)",
    report="mailflow",
    outguard=True,
    variants=("one or more recipients are blocked by your organization's tenant allow/block list policy",),
)

TENANT_THRESHOLD = StatusCode(
    "5.7.705",
    550,
    "Access denied, tenant has exceeded threshold",
    "Tenant blocked (threshold)",
    cause="Your organization sent too much spam or bulk mail (or its subscription lapsed), so all of "
    "its outbound mail is refused until an operator lifts the block.",
    sender_fix="Nobody in your organization can send right now. Tell your email admin; there is "
    "nothing to change in the message.",
    admin_fix="Find the source: compromised accounts, an unknown or recently created connector, an "
    "on-premises server or app acting as an open relay, or bulk mail. Fix it (remove unknown "
    "connectors, reset passwords, enable MFA), then file a delisting request explaining the cause "
    "and the fix. If the subscription lapsed, renew it: the block lifts at once.",
    reason="blocked",
    lifted_by="operator only, with a written reason",
    report="spam",
    outguard=True,
    variants=("Service unavailable. Access denied, tenant has exceeded threshold",),
)

IP_NOT_ACCEPTED = StatusCode(
    "5.7.708",
    550,
    "Access denied, traffic not accepted from this IP",
    "Low-reputation IP (trial)",
    cause="Your organization is on a trial and sent from an IP address with a low reputation; mail "
    "from that IP is refused for trial tenants.",
    sender_fix="Tell your email admin; the message itself is fine.",
    admin_fix="Send from an IP with a good reputation, ask the operator for an IP exception while the "
    "trial lasts, or license the tenant.",
    reason="badreputation",
    lifted_by="operator (IP exception) or licensing",
    report="mailflow",
    outguard=True,
    variants=("Service unavailable. Access denied, traffic not accepted from this IP",),
)

UNREGISTERED_DOMAIN = StatusCode(
    "5.7.750",
    550,
    "Client blocked from sending from unregistered domain",
    "Unregistered sender domain",
    cause="Your organization relayed more mail than allowed from sender domains it has not added and "
    "verified, so mail from unregistered domains is refused.",
    sender_fix="Send from an address in one of your organization's verified domains, or tell your "
    "email admin.",
    admin_fix="Add and verify every domain you send from (`outguard domain add` / `domain verify`), or "
    "relay through a certificate connector whose certificate domain is an accepted domain. Check the "
    "non-accepted domain report for the sources, and look for unknown connectors or compromised "
    "servers.",
    reason="rejected",
    lifted_by="tenant admin (verify domains) or operator",
    report="non-accepted-domains",
    outguard=True,
    variants=(
        "Service unavailable. Client blocked from sending from unregistered domains",
        "Client blocked from sending from unregistered domains",
    ),
)

RESTRICTED_SENDER = StatusCode(
    "5.1.8",
    550,
    "Access denied, bad outbound sender",
    "Restricted sender",
    cause="Your address sent more mail than its outbound limits allow and is restricted from sending "
    "(it can still receive). This is usually a sign the account is compromised.",
    sender_fix="Change your password and check your sent items for mail you did not send, then ask "
    "your email admin to release you.",
    admin_fix="Secure the account (reset the password, enable MFA, look for forwarding rules), then "
    "release it from the restricted users (`outguard` portal or API). Blocks for the day end at "
    "midnight UTC on their own.",
    reason="rejected",
    lifted_by="tenant admin, or the next UTC day",
    report="top-senders",
    outguard=True,
)

SPAM_REFUSED = StatusCode(
    "5.7.1",
    550,
    "Message refused as outbound spam",
    "Outbound spam",
    cause="The gateway's spam filter judged the message to be spam, so it was not sent.",
    sender_fix="Check the message for content that looks like spam (links, attachments, wording) and "
    "send it again without it; if it is legitimate, tell your email admin.",
    admin_fix="Look the message up in the trace to see which tests fired; a burst of outbound spam "
    "usually means a compromised account or server.",
    reason="spamdetected",
    lifted_by="",
    report="spam",
    outguard=True,
    generic=True,
)

MESSAGE_TOO_BIG = StatusCode(
    "5.3.4",
    552,
    "Message size exceeds fixed maximum message size",
    "Message too big",
    cause="The message is larger than the gateway accepts.",
    sender_fix="Send large files as links instead of attachments, or split the message.",
    admin_fix="The limit is the SMTP listener's `max_message_size` setting.",
    reason="mesgtoobig",
    outguard=True,
    generic=True,
)

TOO_MANY_CONNECTIONS = StatusCode(
    "4.7.0",
    421,
    "Too many connections, try again later",
    "Too many connections",
    cause="The gateway is at its limit of concurrent connections.",
    sender_fix="Nothing: your server retries on its own.",
    admin_fix="Reduce the number of parallel connections the sending server opens, or raise the "
    "gateway's connection limit.",
    reason="toomanyconn",
    outguard=True,
    generic=True,
)

EXPIRED = StatusCode(
    "4.4.7",
    550,
    "Message expired: delivery was retried until the queue lifetime ran out",
    "Expired in queue",
    cause="The destination server could not be reached or kept deferring the message, and the gateway "
    "gave up after retrying for its queue lifetime.",
    sender_fix="Check the recipient's address and try again later; the recipient's server may be down.",
    admin_fix="Look at the delivery attempts in the trace: DNS, connection or TLS problems on the "
    "recipient's side, or a remote server that defers our IP.",
    reason="expired",
    outguard=True,
    generic=True,
)

# --- Codes other servers produce (explained, never answered by Outguard) ----------------------

_EXTERNAL: tuple[StatusCode, ...] = (
    _code(
        "5.7.711",
        550,
        "Access denied, bad inbound connector",
        "Connector blocked",
        cause="The organization's connector is suspected of sending spam or phishing and may no longer send.",
        sender_fix="Tell your email admin.",
        admin_fix="Investigate the connector (unknown or recently changed connectors, compromised "
        "servers), fix it, then release it from the restricted entities.",
        reason="blocked",
        report="connectors",
    ),
    _code(
        "5.7.520",
        550,
        "Access denied, Your organization does not allow external forwarding",
        "External forwarding blocked",
        cause="The message was forwarded automatically to an outside address, and the organization forbids that.",
        sender_fix="Ask your email admin whether forwarding to this address may be allowed.",
        admin_fix="Allow automatic forwarding for this mailbox in the outbound spam policy, or remove the forwarding rule.",
        reason="policyviolation",
    ),
    _code(
        "5.7.232",
        550,
        "Your message can't be sent because your trial tenant has exceeded its daily limit for sending email to external recipients",
        "Trial tenant external limit",
        cause="The trial organization reached its daily limit of external recipients.",
        sender_fix="Wait: the limit is a rolling 24-hour window.",
        admin_fix="License the tenant to raise the limit, or spread the sending over time.",
        reason="speeding",
    ),
    _code(
        "5.7.233",
        550,
        "Your message can't be sent because your tenant exceeded its daily limit for sending email to external recipients",
        "Tenant external limit",
        cause="The organization reached its daily limit of external recipients.",
        sender_fix="Wait: the limit is a rolling 24-hour window.",
        admin_fix="Spread bulk sending over time or move it to a bulk-mail service.",
        reason="speeding",
    ),
    _code(
        "5.1.90",
        550,
        "Your message can't be sent because you've reached your daily limit for message recipients",
        "Daily recipient limit",
        cause="You reached your daily limit of message recipients.",
        sender_fix="Wait a day, or send to fewer recipients.",
        admin_fix="Use a bulk-mail service for mass mailings.",
        reason="speeding",
    ),
    _code(
        "5.2.2",
        550,
        "Submission quota exceeded",
        "Quota exceeded",
        cause="The sender's sending quota, or the recipient's mailbox quota, is exceeded.",
        sender_fix="If the recipient's mailbox is full, try again later or reach them another way; "
        "if you sent too much, wait a day.",
        admin_fix="Check the sender's sending limits; a full recipient mailbox is fixed on the recipient's side.",
        reason="mailboxfull",
    ),
    _code(
        "5.7.501",
        550,
        "Access denied, spam abuse detected",
        "Account banned for spam",
        cause="The sending account was banned for sending spam.",
        sender_fix="Tell your email admin.",
        admin_fix="Secure the account, then contact the provider that banned it.",
        reason="spamdetected",
    ),
    _code(
        "5.7.502",
        550,
        "Access denied, banned sender",
        "Banned sender",
        cause="The sending account is banned.",
        sender_fix="Tell your email admin.",
        admin_fix="Contact the provider that banned the account.",
        reason="rejected",
    ),
    _code(
        "5.7.503",
        550,
        "Access denied, banned sender",
        "Banned sender",
        cause="The sending account is banned.",
        sender_fix="Tell your email admin.",
        admin_fix="Contact the provider that banned the account.",
        reason="rejected",
    ),
    _code(
        "5.7.504",
        550,
        "Recipient address rejected: Access denied",
        "Recipient rejected",
        cause="The recipient's server rejected the address.",
        sender_fix="Check the address and send again.",
        admin_fix="The recipient's organization must fix or allow the address.",
        reason="userunknown",
    ),
    _code(
        "5.7.505",
        550,
        "Access denied, banned recipient",
        "Banned recipient",
        cause="The recipient is not valid or is banned.",
        sender_fix="Check the address.",
        admin_fix="Nothing on your side: the recipient's provider refuses this recipient.",
        reason="userunknown",
    ),
    _code(
        "5.7.506",
        550,
        "Access Denied, Bad HELO",
        "Bad HELO",
        cause="The sending server introduced itself (HELO) as the server it connected to.",
        sender_fix="Tell your email admin.",
        admin_fix="Set a correct HELO/EHLO name on the sending server.",
        reason="blocked",
    ),
    _code(
        "5.7.507",
        550,
        "Access denied, rejected by recipient",
        "Rejected by recipient",
        cause="The recipient's organization blocks the sending IP.",
        sender_fix="Reach the recipient another way.",
        admin_fix="Ask the recipient's organization to remove your IP from its block list.",
        reason="blocked",
    ),
    _code(
        "5.7.509",
        550,
        "Access denied, sending domain does not pass DMARC verification and has a DMARC policy of reject",
        "DMARC reject",
        cause="The sender's domain failed DMARC and publishes a reject policy.",
        sender_fix="Tell your email admin.",
        admin_fix="Fix SPF and DKIM for the sending domain so DMARC passes.",
        reason="authfailure",
    ),
    _code(
        "5.7.511",
        550,
        "Access denied, banned sender",
        "Banned sending IP",
        cause="The sending IP is banned by the recipient's provider.",
        sender_fix="Tell your email admin.",
        admin_fix="Request delisting of the IP from the provider.",
        reason="blocked",
    ),
    _code(
        "5.7.512",
        550,
        "Access denied, message must be RFC 5322 section 3.6.2 compliant",
        "Invalid From header",
        cause="The message has no valid From header.",
        sender_fix="Tell your email admin or the app's owner.",
        admin_fix="Make the sending application write a valid From: header.",
        reason="notcompliantrfc",
    ),
    _code(
        "5.7.513",
        550,
        "Service unavailable, Client host blocked using Customer Block list",
        "Customer block list",
        cause="The recipient's organization blocks the sending server.",
        sender_fix="Reach the recipient another way.",
        admin_fix="Ask the recipient's organization to unblock your server.",
        reason="blocked",
    ),
    _code(
        "5.7.800",
        550,
        "Access denied, banned sender",
        "Banned sender domain",
        cause="The sender's domain is banned.",
        sender_fix="Tell your email admin.",
        admin_fix="Contact the provider that banned the domain.",
        reason="rejected",
    ),
    _code(
        "5.1.1",
        550,
        "The email account that you tried to reach does not exist",
        "Unknown recipient",
        cause="The recipient's address does not exist at the destination.",
        sender_fix="Check the address for typos and send again, or ask the recipient for a current address.",
        admin_fix="Nothing on your side unless the address is in your own organization; then create it.",
        reason="userunknown",
    ),
    _code(
        "5.1.10",
        550,
        "Recipient not found",
        "Recipient not found",
        cause="The recipient's address was not found at the destination.",
        sender_fix="Check the address and send again.",
        admin_fix="Nothing on your side; the address does not exist there.",
        reason="userunknown",
    ),
    _code(
        "5.4.1",
        550,
        "Recipient address rejected: Access denied",
        "Recipient rejected at the edge",
        cause="The destination refused the recipient address.",
        sender_fix="Check the address.",
        admin_fix="If the recipient's domain is yours, check its accepted domains and MX records.",
        reason="userunknown",
    ),
)

_EXTERNAL += (
    _code(
        "5.7.508",
        550,
        "Access denied, sending IPv6 range has exceeded permitted limits",
        "IPv6 range over limit",
        cause="The sending server's IPv6 range sent more than the recipient's provider permits.",
        sender_fix="Tell your email admin; try again later.",
        admin_fix="Send over IPv4, or reduce the volume from this IPv6 range.",
        reason="blocked",
    ),
    _code(
        "5.7.510",
        550,
        "Access denied, the recipient domain does not accept email over IPv6",
        "No IPv6 delivery",
        cause="The recipient's organization does not accept mail sent over IPv6.",
        sender_fix="Tell your email admin.",
        admin_fix="Deliver to this domain over IPv4.",
        reason="notaccept",
    ),
    _code(
        "5.7.515",
        550,
        "Access denied, sending domain doesn't meet the required authentication level",
        "Authentication level not met",
        cause="The sender's domain does not meet the authentication (SPF, DKIM, DMARC) the recipient's "
        "provider requires of high-volume senders.",
        sender_fix="Tell your email admin.",
        admin_fix="Publish SPF and DKIM for the sending domain and a DMARC record that aligns with them.",
        reason="authfailure",
    ),
    _code(
        "4.7.650",
        451,
        "The mail server has been temporarily rate limited due to IP reputation",
        "Rate limited (IP reputation)",
        cause="The recipient's provider slows down mail from the sending IP because of its reputation.",
        sender_fix="Nothing: the sending server retries. If it keeps failing, tell your email admin.",
        admin_fix="Check the IP's reputation (Microsoft SNDS), look for compromised accounts or bulk mail, "
        "and lower the sending rate.",
        reason="badreputation",
    ),
)

BANNED_IP = _code(
    "5.7.606",
    550,
    "Access denied, banned sending IP",
    "Banned sending IP",
    cause="The recipient's provider banned the sending server's IP address.",
    sender_fix="Tell your email admin; the message itself is fine.",
    admin_fix="Request delisting on the provider's delist portal (sender.office.com for Microsoft) and fix "
    "what made the IP send spam.",
    reason="blocked",
)
IP_THROTTLED = _code(
    "4.7.500",
    451,
    "Access denied, please try again later",
    "Temporarily throttled",
    cause="The recipient's provider temporarily refuses mail from the sending IP (its volume departs "
    "from its history, or it looks suspicious).",
    sender_fix="Nothing: the sending server retries.",
    admin_fix="Keep the volume steady; if you send through Microsoft 365, set up a connector for the "
    "on-premises server so its mail is attributed to your organization.",
    reason="blocked",
)

_RANGES: tuple[tuple[str, int, int, StatusCode], ...] = (
    # Microsoft sends the whole 5.7.700-749 range with the 5.7.705 text (ref. §1.1).
    ("5.7.", 700, 749, TENANT_THRESHOLD),
    # Exchange Online documents these as ranges (reference §1.2).
    ("5.7.", 606, 649, BANNED_IP),
    ("4.7.", 500, 699, IP_THROTTLED),
    ("4.7.", 850, 899, IP_THROTTLED),
)

_OUTGUARD: tuple[StatusCode, ...] = (
    TENANT_ATTRIBUTION,
    SENDER_NOT_ALLOWED,
    TABL_BLOCKED,
    TENANT_THRESHOLD,
    IP_NOT_ACCEPTED,
    UNREGISTERED_DOMAIN,
    RESTRICTED_SENDER,
    SPAM_REFUSED,
    MESSAGE_TOO_BIG,
    TOO_MANY_CONNECTIONS,
    EXPIRED,
)

OUTGUARD_CODES: tuple[StatusCode, ...] = _OUTGUARD
ALL_CODES: tuple[StatusCode, ...] = _OUTGUARD + _EXTERNAL

# Specific codes by enhanced code; generic ones are only matched together with their text.
CATALOGUE: dict[str, StatusCode] = {c.enhanced: c for c in ALL_CODES if not c.generic}
_GENERIC: tuple[StatusCode, ...] = tuple(c for c in ALL_CODES if c.generic)

_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def by_anchor(anchor: str) -> StatusCode | None:
    """The entry behind a portal/docs link slug (`5-7-703`)."""
    return next((c for c in ALL_CODES if c.anchor == anchor), None)


def lookup(enhanced: str | None, text: str = "") -> StatusCode | None:
    """The catalogue entry for an enhanced status code (and the server's text, for generic codes).

    None when the catalogue has nothing specific: callers explain by RFC 3463 class instead.
    """
    if not enhanced or not _ENHANCED.match(enhanced):
        return None
    if enhanced in CATALOGUE:
        return CATALOGUE[enhanced]
    lowered = text.lower()
    for code in _GENERIC:
        if code.enhanced == enhanced and lowered and code.text.lower() in lowered:
            return code
    for prefix, low, high, code in _RANGES:
        if enhanced.startswith(prefix):
            detail = int(enhanced[len(prefix) :])
            if low <= detail <= high:
                return code
    return None
