"""Remote-host rules: mailbox providers whose wording or error codes mean something specific there.

Big providers document their rejection texts and codes (Google's "About SMTP error messages",
Microsoft's NDR reference, Yahoo's SMTP error codes, GoDaddy's IB codes, Cox's and Spectrum's AUP#
codes, Orange/La Poste's OFR_/LPN_ tags, …). When a bounce comes from, or is about, one of these
providers, its own table decides the reason before the generic wording rules do.

The provider is recognised, in this order, by the recipient's domain, by the remote MTA (the
Remote-MTA field or a host named in the error text), then by the hosts that relayed the bounce
(its Received headers). Applied only when the generic reading is weak (no reason yet, or one of the
retried reasons).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from outguard.ndr.reasons import RETRY as RETRY

if TYPE_CHECKING:
    from outguard.ndr.mail import Mail
    from outguard.ndr.parse import Failure
    from outguard.ndr.reasons import Evidence


@dataclass(frozen=True)
class Context:
    """What a provider rule looks at."""

    status: str  # enhanced status code ('' if none)
    reply: str  # SMTP reply code ('' if none)
    command: str
    text: str  # the error text as written
    low: str  # the same, lower-cased


Rule = Callable[[Context], str]


def _phrases(table: dict[str, tuple[str, ...]], case: bool = False) -> Rule:
    """A rule that names the reason whose phrase appears in the text."""

    def rule(c: Context) -> str:
        text = c.text if case else c.low
        for reason, phrases in table.items():
            if any(p in text for p in phrases):
                return reason
        return ""

    return rule


# --- AOL ---------------------------------------------------------------------------------------
_aol = _phrases(
    {
        "hostunknown": ("Host or domain name not found",),
        "notaccept": ("type=MX: Malformed or unexpected name server reply",),
    },
    case=True,
)

# --- Apple iCloud (support.apple.com/102322) -----------------------------------------------------
_apple = _phrases(
    {
        "authfailure": ("s dmarc policy", "blocked for failing both spf and dkim autentication checks"),
        "blocked": (
            "rejected due to having a domain present in the spamhaus",
            "rejected due to listing in spamhaus",
            "blocked - see https://support.proofpoint.com/dnsbl-lookup",
            "not accepting connections",
        ),
        "hasmoved": ("recipient no longer on server",),
        "mailboxfull": ("user is over quota",),
        "norelaying": ("relay access denied",),
        "notaccept": ("host/domain does not accept mail",),
        "policyviolation": ("due to local policy",),
        "rejected": ("sender address rejected",),
        "speeding": ("due to excessive volume",),
        "userunknown": ("inactive email address", "user does not exist", "unknown or illegal alias"),
    }
)

# --- Cloudflare Email Routing --------------------------------------------------------------------
_cloudflare = _phrases(
    {"blocked": ("found on one or more DNSBLs",), "systemerror": ("Upstream error",)}, case=True
)

# --- Cox (AUP#CODE, cox.com "email error codes") -----------------------------------------------
_COX_CODES = {
    "CXBL": "blocked",
    "CXDNS": "requireptr",
    "CXSNDR": "authfailure",
    "CXSMTP": "rejected",
    "CXCNCT": "toomanyconn",
    "CXMXRT": "toomanyconn",
    "CDRBL": "blocked",
    "CXTHRT": "securityerror",
    "CXMJ": "securityerror",
    "URLBL011": "spamdetected",
    "URLBL101": "spamdetected",
    "URLBL110": "spamdetected",
    "URLBL1001": "spamdetected",
}
_cox_text = _phrases(
    {
        "blocked": ("cox too many bad commands from", "too many invalid recipients"),
        "requireptr": ("dns check failure - try again later", "rejected - no rdns"),
        "policyviolation": ("esmtp no data before greeting", "attachment extension is forbidden"),
        "rejected": ("sender rejected",),
        "systemerror": ("esmtp server temporarily not available",),
        "toomanyconn": (
            "too many sessions from",
            "requested action aborted: try again later",
            "message threshold exceeded",
        ),
        "userunknown": ("recipient rejected",),
    }
)


def _cox(c: Context) -> str:
    m = re.search(r"AUP#([A-Z0-9]+)", c.text)
    if m:
        code = m.group(1)
        if code.startswith("IPBL"):
            return "blocked"
        if code in _COX_CODES:
            return _COX_CODES[code]
    return _cox_text(c)


# --- Facebook (postmaster.facebook.com/response_codes) -------------------------------------------
_FACEBOOK_CODES = {
    "POL-P7": "authfailure",
    "POL-P1": "blocked",
    "POL-P2": "blocked",
    "POL-P3": "blocked",
    "POL-P4": "blocked",
    "POL-T1": "blocked",
    "POL-T2": "blocked",
    "POL-T3": "blocked",
    "MSG-P2": "contenterror",
    "RCP-P2": "filtered",
    "RCP-P3": "filtered",
    "MSG-P1": "mesgtoobig",
    "INT-P2": "mesgtoobig",
    "MSG-P3": "notcompliantrfc",
    "DNS-P1": "rejected",
    "DNS-P2": "rejected",
    "DNS-T1": "rejected",
    "DNS-P3": "requireptr",
    "DNS-T2": "requireptr",
    "POL-P6": "spamdetected",
    "RCP-T4": "suspend",
    "RCP-T1": "systemerror",
    "CON-T1": "toomanyconn",
    "CON-T2": "toomanyconn",
    "CON-T3": "toomanyconn",
    "CON-T4": "toomanyconn",
    "MSG-T1": "toomanyconn",
    "RCP-P1": "userunknown",
    "INT-P1": "userunknown",
    "INT-P3": "userunknown",
    "INT-P4": "userunknown",
    "POL-P5": "virusdetected",
}


def _facebook(c: Context) -> str:
    m = re.search(r"\b([A-Z]{3}-[PT]\d)\b", c.text)
    return _FACEBOOK_CODES.get(m.group(1), "") if m else ""


# --- Orange / La Poste (France Télécom): "OFR_416", "LPN007_420" tags -----------------------------
_FRANCEPTT_CODES = {
    "101": "blocked",
    "102": "blocked",
    "103": "blocked",
    "104": "toomanyconn",
    "305": "securityerror",
    "401": "authfailure",
    "402": "securityerror",
    "403": "rejected",
    "405": "rejected",
    "415": "rejected",
    "416": "userunknown",
    "417": "mailboxfull",
    "420": "suspend",
    "421": "rejected",
    "426": "suspend",
    "505": "systemerror",
    "506": "spamdetected",
    "510": "blocked",
    "514": "mesgtoobig",
    "517": "authfailure",
    "630": "policyviolation",
    "999": "blocked",
}
_FRANCEPTT_TAG = re.compile(r"\b(?:lpnaaa|lpn|ofr|ouk)[-_]?\d*[-_](\d{3})\b")


def _franceptt(c: Context) -> str:
    tags = _FRANCEPTT_TAG.findall(c.low)
    if tags:
        return _FRANCEPTT_CODES.get(tags[-1], "")
    return "authfailure" if "spf/dns de votre nom de domaine" in c.low else ""


# --- GoDaddy (IB codes, "Fix rejected email with a bounce error") --------------------------------
_GODADDY_CODES = {
    "IB401": "securityerror",
    "IB501": "notcompliantrfc",
    "IB502": "notcompliantrfc",
    "IB506": "rejected",
    "IB508": "authfailure",
    "IB108": "requireptr",
    "IB212": "spamdetected",
    "IB705": "virusdetected",
    "IB605": "toomanyconn",
    "IB007": "toomanyconn",
    "IB101": "speeding",
    "IB110": "blocked",
    "IB111": "blocked",
    "IB112": "blocked",
    "IB113": "blocked",
    "IB504": "speeding",
    "IB510": "speeding",
    "IB607": "speeding",
    "IB103": "badreputation",
    "IB104": "blocked",
    "IB105": "blocked",
    "IB106": "blocked",
}
_godaddy_text = _phrases(
    {
        "blocked": ("rbl reject", "www.spamhaus.org/query/bl?ip="),
        "expired": ("has been in the queue too long", "delivery timeout"),
        "mailboxfull": ("account storage limit",),
        "spamdetected": ("message rejected for spam or virus content",),
        "suspend": ("account disabled",),
        "systemerror": ("message is looping",),
        "userunknown": ("recipient not found", "account does not exist"),
    }
)


def _godaddy(c: Context) -> str:
    m = re.search(r"\b(IB\d{3})\b", c.text)
    if m and m.group(1) in _GODADDY_CODES:
        return _GODADDY_CODES[m.group(1)]
    return _godaddy_text(c)


# --- Google (Gmail, "About SMTP error messages"): reply code + status code + wording --------------
# (reply, status, phrase); the class digit of both codes may differ (4xx/5xx).
_GOOGLE: dict[str, tuple[tuple[str, str, str], ...]] = {
    "authfailure": (
        ("451", "4.7.24", "the spf record of the sending domain"),
        ("550", "5.7.24", "the spf record of the sending domain"),
        ("421", "4.7.26", "senders to authenticate with either spf or dkim"),
        ("550", "5.7.26", "senders to authenticate with either spf or dkim"),
        ("550", "5.7.26", "fails to pass spf checks for an spf record with a hard fail"),
        ("550", "5.7.26", "has an spf record with a hard fail policy"),
        ("550", "5.7.26", "is not accepted due to domain's dmarc policy"),
        ("550", "5.7.1", "fails to pass authentication checks"),
        ("550", "5.7.26", "fails to pass authentication checks"),
        ("421", "4.7.27", "senders to authenticate with spf"),
        ("421", "4.7.30", "senders to authenticate their email with dkim"),
        ("550", "5.7.30", "senders to authenticate with dkim"),
        ("421", "4.7.32", "aligned with either the authenticated spf or dkim"),
        ("421", "4.7.40", "to add a dmarc record to "),
    ),
    "badreputation": (
        ("421", "4.7.0", "very low reputation of the sending ip address"),
        ("421", "4.7.0", "very low reputation of the sending domain"),
        ("550", "5.7.1", "due to the very low reputation of the sending"),
    ),
    "blocked": (
        ("421", "4.7.0", "ip not in whitelist for rcpt domain"),
        ("421", "4.7.0", "try again later, closing connection."),
        ("501", "5.5.4", "empty helo/ehlo argument not allowed"),
        ("501", "5.5.4", "helo/ehlo argument is invalid"),
        ("421", "4.7.0", "an unusual rate of unsolicited mail"),
        ("421", "4.7.28", "an unusual rate of mail"),
        ("550", "5.7.1", "an unusual rate of unsolicited mail"),
        ("550", "5.7.28", "an unusual rate of unsolicited mail"),
    ),
    "exceedlimit": (
        ("552", "5.2.3", "exceeded google's message size limits"),
        ("552", "5.3.4", "your message exceeded google's message header size limits"),
        ("552", "5.3.4", "bytes per individual header size"),
        ("552", "5.3.4", "exceeds google's message header size limit"),
    ),
    "expired": (
        ("421", "4.7.0", "connection expired"),
        ("451", "4.4.2", "timeout - closing connection"),
    ),
    "failedstarttls": (
        ("530", "5.7.0", "must issue a starttls command first"),
        ("421", "4.7.0", "tls required for rcpt domain"),
        ("421", "4.7.29", "senders to use tls/ssl for smtp"),
        ("550", "5.7.29", "senders to use tls/ssl for smtp"),
    ),
    "mailboxfull": (
        ("452", "4.2.2", "inbox is out of storage space"),
        ("552", "5.2.2", "inbox is out of storage space and inactive"),
        ("452", "4.2.2", "is over quota"),
        ("552", "5.2.2", "is over quota"),
        ("550", "5.7.1", "email quota exceeded"),
    ),
    "mesgtoobig": (
        ("552", "5.3.4", "exceeded google's message size limits"),
        ("552", "5.3.4", "exceeds google's message size limit of"),
    ),
    "networkerror": (
        ("554", "5.4.6", "message exceeded 50 hops"),
        ("554", "5.6.0", "message exceeded 50 hops"),
    ),
    "norelaying": (
        ("550", "5.7.0", "mail relay denied"),
        ("550", "5.7.1", "invalid credentials for relay"),
        ("550", "5.7.1", "is not authorized to send email directly to our servers"),
    ),
    "notcompliantrfc": (
        ("550", "5.7.1", "missing a valid address in the from: header"),
        ("550", "5.7.1", "multiple addresses in from: header are not accepted"),
        ("550", "5.7.1", "is not rfc 5322 compliant"),
        ("550", "5.7.1", "missing a valid message-id: header"),
        ("550", "5.7.1", "contains a unicode character in a disallowed header"),
        ("550", "5.7.1", "encoded-word syntax is not permitted"),
        ("554", "5.6.0", "mail message is malformed"),
    ),
    "policyviolation": (
        ("552", "5.7.0", "illegal attachment on your message"),
        ("552", "5.7.0", "blocked because its content presents a potential security issue"),
        ("550", "5.7.1", "you are sending to (or from) has a policy that prohibited"),
        ("421", "4.7.28", "sending messages with the same message-id:"),
    ),
    "rejected": (
        ("550", "5.7.0", "mail sending denied"),
        ("550", "5.7.1", "unauthenticated email is not accepted"),
    ),
    "requireptr": (
        ("421", "4.7.0", "does not have a ptr record"),
        ("421", "4.7.23", " have a ptr record, or the ptr record"),
        ("550", "5.7.1", "does not meet ipv6 sending guidelines regarding ptr records and authentication"),
        ("550", "5.7.25", "does not have a ptr record"),
        ("550", "5.7.25", "does not match the ip address of the hostname"),
    ),
    "securityerror": (
        ("454", "4.7.0", "too many login attempts"),
        ("530", "5.5.1", "authentication required."),
        ("530", "5.7.0", "authentication required."),
        ("535", "5.7.1", "application-specific password required"),
        ("535", "5.7.1", "please log in with your web browser"),
        ("535", "5.7.1", "username and password not accepted"),
        ("535", "5.7.8", "username and password not accepted"),
    ),
    "spamdetected": (
        ("421", "4.7.0", "due to the nature of the content or the links within"),
        ("550", "5.7.1", "likely unsolicited mail"),
    ),
    "speeding": (
        ("450", "4.2.1", "is receiving mail too quickly"),
        ("450", "4.2.1", "peak smtp relay limit exceeded for customer"),
        ("450", "4.2.1", "rate that prevents additional messages from being delivered"),
        ("550", "5.2.1", "rate that prevents additional messages from being delivered"),
        ("550", "5.4.5", "daily sending quota exceeded"),
        ("550", "5.4.5", "daily user sending limit exceeded"),
        ("550", "5.7.1", "this mail has been rate limited"),
    ),
    "suspend": (
        ("550", "5.2.1", "account that you tried to reach is disabled"),
        ("550", "5.2.1", "account that you tried to reach is inactive"),
    ),
    "syntaxerror": (
        ("503", "5.5.1", "bad sequence of commands"),
        ("502", "5.5.1", "unrecognized command"),
        ("501", "5.5.2", "syntax error"),
    ),
    "systemerror": (
        ("421", "4.3.0", "temporary system problem"),
        ("421", "4.7.0", "temporary system problem"),
        ("421", "4.4.5", "server busy"),
        ("451", "4.3.0", "mail server temporarily rejected message"),
        ("451", "4.3.0", "multiple destination domains per transaction is unsupported"),
    ),
    "toomanyconn": (
        ("452", "4.5.3", "your message has too many recipients"),
        ("550", "5.5.3", "too many recipients for this sender"),
    ),
    "userunknown": (
        ("550", "5.1.1", "the email account that you tried to reach does not exist"),
        ("553", "5.1.2", "we weren't able to find the recipient domain"),
        ("553", "5.1.3", "is not a valid rfc 5321 address"),
    ),
}


def _google(c: Context) -> str:
    if len(c.reply) != 3 or not c.status:
        return ""
    for reason, entries in _GOOGLE.items():
        for reply, status, phrase in entries:
            if c.reply[1:] == reply[1:] and c.status[1:] == status[1:] and phrase in c.low:
                return reason
    return ""


# --- Google Workspace relays ("… because the address couldn't be found") -------------------------
def _gsuite(c: Context) -> str:
    klass = (c.status or c.reply)[:1]
    if "because the address couldn't be found. check for typos" in c.low:
        return "userunknown"
    if "null mx" in c.low:
        return "notaccept"
    if " responded with code nxdomain" in c.low or "domain name not found" in c.low:
        return "hostunknown" if klass == "5" else "networkerror"
    if " had no relevant answers." in c.low and klass != "5":
        return "networkerror"
    return ""


# --- i.ua ("https://mail.i.ua/err/N/") ----------------------------------------------------------
_IUA_CODES = {
    "1": "norelaying",
    "2": "userunknown",
    "3": "suspend",
    "4": "mailboxfull",
    "5": "toomanyconn",
    "6": "norelaying",
    "7": "blocked",
    "8": "rejected",
    "9": "blocked",
    "10": "filtered",
}


def _iua(c: Context) -> str:
    m = re.search(r"\.i\.ua/err/(\d+)/", c.low)
    return _IUA_CODES.get(m.group(1), "") if m else ""


# --- KDDI au: its MX answers "550 : User unknown" when the recipient's own filter refused -------
def _kddi(c: Context) -> str:
    if "550 : user unknown" in c.low:
        return "filtered"
    if ">: user unknown" in c.low:
        return "userunknown"
    return ""


# --- Broadcom/Symantec Email Security.cloud (MessageLabs) ----------------------------------------
_messagelabs = _phrases(
    {
        "authfailure": ("domain authentication fail",),
        "badreputation": ("connection rejected by policy",),
        "blocked": (
            "mail rejected because your ip is in the pbl",
            "your ip address has been ",
            "your ip address (ip-addr) has been blocked",
        ),
        "contenterror": ("stray linefeeds in message",),
        "failedstarttls": ("tls/sslv3 connection required",),
        "norelaying": (" as a relay, ",),
        "notcompliantrfc": (
            "550 requested action aborted [4]",
            "has detected that this message is not rfc 5322",
        ),
        "rejected": (
            "sender envelope domain not allowed for sender ip address",
            "your domain has been blocked",
            "your email address has been blocked",
            "your envelope sender is in my badmailfrom list",
            "your email address has been blacklisted",
            "your domain has been blacklisted",
        ),
        "securityerror": ("please turn on smtp authentication in your mail client",),
        "spamdetected": ("message filtered", "filtered by outbound scanning"),
        "toomanyconn": ("too many recipients received this hour", "too many messages"),
        "userunknown": ("no such user", "invalid recipient", "mailbox is not allowed"),
    }
)

# --- Microsoft (Exchange Online, Outlook.com): status code + documented wording ------------------
# (status, lowest and highest detail number for a range or '', wording)
_MICROSOFT: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "authfailure": (
        ("4.7.26", "", "", "must pass either spf or dkim validation, this message is not signed"),
        ("5.7.23", "", "", "the message was rejected because of sender policy framework violation"),
        ("5.7.509", "", "", "does not pass dmarc verification"),
        ("5.7.515", "", "", "doesn't meet the required authentication level"),
    ),
    "badreputation": (("4.7.650", "", "", "has been temporarily rate limited due to ip reputation"),),
    "blocked": (
        ("4.4.2", "", "", "connection dropped"),
        ("4.7.", "850", "899", "access denied, please try again later"),
        ("5.7.25", "", "", "must have a reverse dns record"),
        ("5.7.506", "", "", "access denied, bad helo"),
        ("5.7.507", "", "", "access denied, rejected by recipient"),
        ("5.7.510", "", "", "does not accept email over ipv6"),
        ("5.7.511", "", "", "access denied, banned sender"),
        ("5.7.513", "", "", "using customer block list"),
        ("5.7.", "606", "649", "access denied, banned sending ip "),
        ("4.7.", "500", "699", "access denied, please try again later"),
        ("5.7.1", "", "", "part of their network is on our block list (s3150)"),
    ),
    "contenterror": (
        ("5.3.0", "", "", "too many related errors"),
        ("5.6.11", "", "", "invalid characters"),
        ("5.5.6", "", "", "invalid message content"),
    ),
    "mesgtoobig": (
        ("5.2.3", "", "", "resolver.rst.recipsizelimit; message too large for this recipient"),
        ("5.3.4", "", "", "message size exceeds fixed maximum message size"),
        ("5.3.4", "", "", "message too big for system"),
    ),
    "expired": (
        ("4.4.1", "", "", "connection timed out"),
        ("4.4.7", "", "", "message delayed"),
        ("4.4.7", "", "", "message expired"),
        ("5.4.300", "", "", "message expired"),
        ("5.4.316", "", "", "message expired"),
    ),
    "failedstarttls": (
        ("4.4.317", "", "", "starttls is required to send mail"),
        ("5.4.317", "", "", "starttls is required to send mail"),
        ("4.7.5", "", "", "remote certificate failed mta-sts validation"),
        ("5.7.5", "", "", "remote certificate failed mta-sts validation"),
    ),
    "mailboxfull": (("5.2.2", "", "", "mailbox full"),),
    "networkerror": (
        ("5.4.4", "", "", "smtpsend.dns.nonexistentdomain; nonexistent domain"),
        ("5.4.6", "", "", "hop count exceeded - possible mail loop"),
        ("4.4.312", "", "", "dns query failed"),
        ("5.4.312", "", "", "dns query failed"),
        ("4.4.316", "", "", "connection refused"),
        ("5.4.316", "", "", "connection refused"),
        ("5.4.6", "", "", "routing loop detected"),
        ("5.4.14", "", "", "routing loop detected"),
    ),
    "norelaying": (
        ("5.7.1", "", "", "unable to relay"),
        ("5.4.1", "", "", "relay access denied"),
        ("5.7.64", "", "", "tenantattribution; relay access denied"),
    ),
    "notaccept": (
        ("4.3.2", "", "", "system not accepting network messages"),
        ("4.4.4", "", "", "hosted tenant which has no mail-enabled subscriptions"),
    ),
    "policyviolation": (("5.7.", "900", "999", "delivery not authorized, message refused"),),
    "rejected": (
        ("5.1.7", "", "", "invalid address"),
        ("5.1.7", "", "", "unknown sender address"),
        ("5.1.8", "", "", "access denied, bad outbound sender"),
        ("5.7.1", "", "", "delivery not authorized"),
        ("5.7.12", "", "", "sender was not authenticated by organization"),
        ("5.7.124", "", "", "sender not in allowed-senders list"),
        ("5.7.133", "", "", "sender not authenticated for group"),
        ("5.7.134", "", "", "sender was not authenticated for mailbox"),
        ("5.7.", "501", "503", "access denied, spam abuse detected"),
        ("5.7.512", "", "", "access denied, message must be rfc 5322 section 3.6.2 compliant"),
    ),
    "securityerror": (
        ("5.7.3", "", "", "cannot achieve exchange server authentication"),
        ("5.7.1", "", "", "client was not authenticated"),
        ("5.7.57", "", "", "client was not authenticated to send anonymous mail during mail from"),
    ),
    "spamdetected": (("5.2.1", "", "", "content filter agent quarantined this message"),),
    "suspend": (
        ("5.7.504", "", "", "recipient address rejected: access denied"),
        ("5.7.505", "", "", "access denied, banned recipient"),
        ("5.2.1", "", "", "mailbox cannot be accessed"),
    ),
    "systemerror": (
        ("4.3.2", "", "", "service not available"),
        ("5.3.5", "", "", "system incorrectly configured"),
        ("5.1.4", "", "", "destination mailbox address ambiguous"),
        ("5.2.4", "", "", "mailing list expansion problem"),
        ("5.2.14", "", "", "misconfigured forwarding address"),
        ("4.7.500", "", "", "server busy. please try again later from "),
    ),
    "systemfull": (("4.3.1", "", "", "insufficient system resources"),),
    "toomanyconn": (
        ("5.5.3", "", "", "too many recipients"),
        ("4.5.3", "", "", "too many recipients"),
        ("4.7.652", "", "", "has exceeded the maximum number of connections"),
    ),
    "userunknown": (
        ("5.1.1", "", "", "resolver.adr.exrecipnotfound; not found"),
        ("5.1.1", "", "", "user unknown"),
        ("5.1.3", "", "", "storedrv.submit; invalid recipient address"),
        ("5.1.1", "", "", "bad destination mailbox address"),
        ("5.1.10", "", "", "recipient not found"),
        ("5.4.1", "", "", "recipient address rejected: access denied"),
        ("5.5.0", "", "", "requested action not taken: mailbox unavailable"),
        ("5.1.351", "", "", "remote server returned unknown recipient or mailbox unavailable"),
    ),
}
# Outlook.com's own codes (postmaster troubleshooting page): (reply code, reason).
_OUTLOOK_CODES = {
    "RP-001": ("421", "badreputation"),
    "RP-002": ("421", "badreputation"),
    "RP-003": ("421", "badreputation"),
    "SC-001": ("550", "badreputation"),
    "SC-002": ("550", "policyviolation"),
    "SC-003": ("550", "blocked"),
    "SC-004": ("550", "blocked"),
    "DY-001": ("550", "blocked"),
    "DY-002": ("550", "securityerror"),
    "OU-001": ("550", "blocked"),
    "OU-002": ("550", "badreputation"),
}


def _microsoft(c: Context) -> str:
    if "resolver.adr.recipientnotfound" in c.low or "resolver.adr.recipnotfound" in c.low:
        return "userunknown"
    if not c.status:
        return ""
    detail = int(c.status.rsplit(".", 1)[1])
    for reason, entries in _MICROSOFT.items():
        for status, low, high, phrase in entries:
            if low:
                if not c.status.startswith(status) or not int(low) <= detail <= int(high):
                    continue
            elif c.status != status:
                continue
            if phrase in c.low:
                return reason
    for code, (reply, reason) in _OUTLOOK_CODES.items():
        if code in c.text and c.reply == reply:
            return reason
    return ""


# --- Mimecast (Mimecast SMTP error codes): reply code + wording ---------------------------------
_MIMECAST: dict[str, tuple[tuple[str, str], ...]] = {
    "authfailure": (
        ("550", "spf sender invalid - envelope rejected"),
        ("550", "dkim sender invalid - envelope rejected"),
        ("550", "dmarc sender invalid - envelope rejected"),
    ),
    "badreputation": (
        ("451", "internal resources are temporarily unavailable"),
        ("550", "local ct ip reputation - (reject)"),
    ),
    "blocked": (
        ("421", "sender address blocked"),
        ("451", "recipient temporarily unavailable"),
        ("451", "ip temporarily blacklisted"),
    ),
    "failedstarttls": (
        ("553", "this route requires encryption (tls)"),
        ("553", "this route requires tls version 1.2 or greater"),
        ("553", "this route requires high-strength ciphers"),
        ("554", "configuration is invalid for this certificate"),
    ),
    "mesgtoobig": (("554", "maximum email size exceeded"),),
    "networkerror": (
        ("451", "the incorrect hostname used for inbounds"),
        ("550", "the incorrect hostname used for inbounds"),
        ("554", "mail loop detected"),
    ),
    "norelaying": (("451", "open relay not allowed"), ("451", "open relay is not allowed")),
    "notaccept": (("451", "account inbounds disabled"),),
    "policyviolation": (
        ("550", "anti-spoofing policy - inbound not allowed"),
        ("550", "rejected by header-based anti-spoofing policy"),
        ("550", "message bounced due to content examination policy"),
        ("554", "host network not allowed"),
        ("554", "host network, not allowed"),
    ),
    "rejected": (
        ("550", "administrative prohibition envelope blocked"),
        ("550", "envelope blocked - user entry"),
        ("550", "envelope blocked - user domain entry"),
        ("550", "rejected by header-based manually blocked senders - block for manual block"),
        ("550", "rejected by header-based blocked senders - block policy for header from"),
        ("550", "envelope rejected - block policy for envelope from address"),
    ),
    "securityerror": (
        ("535", "incorrect authentication data"),
        ("550", "submitter failed to authenticate"),
    ),
    "systemerror": (
        ("451", "unable to process connection at this time"),
        ("451", "message ended early"),
        ("451", "unable to process command"),
        ("451", "unable to process an email at this time"),
    ),
    "toomanyconn": (
        ("451", "account service is temporarily unavailable"),
        ("452", "too many recipients"),
        ("550", "exceeding outbound thread limit"),
    ),
    "userunknown": (("501", "invalid address"), ("503", "user unknown"), ("550", "invalid recipient")),
    # A virus signature or a spam score over the limit: Mimecast writes the same text for both.
    "virusdetected": (("554", "email rejected due to security policies"),),
}


def _mimecast(c: Context) -> str:
    if not c.reply:
        return ""
    for reason, entries in _MIMECAST.items():
        for reply, phrase in entries:
            if c.reply == reply and phrase in c.low:
                return reason
    return ""


# --- NTT docomo: mfsmax.docomo.ne.jp answers "550 Unknown user" in several situations ------------
_docomo_text = _phrases(
    {
        "mailboxfull": ("552 too much mail data",),
        "syntaxerror": ("503 bad sequence of commands", "504 command parameter not implemented"),
        "toomanyconn": ("552 too many recipients",),
    }
)


def _nttdocomo(c: Context) -> str:
    if c.status == "5.1.1":
        return "userunknown"
    if c.status == "5.2.0":
        return "filtered"  # the recipient's own reception filter
    found = _docomo_text(c)
    if found or c.status != "5.0.0":
        return found
    if c.command == "RCPT":
        return "userunknown"
    if c.command == "DATA":
        return "rejected"  # "550 Unknown user" after DATA: the recipient's sender-domain filter
    return ""


# --- Outlook.com/Hotmail MX ----------------------------------------------------------------------
_outlook = _phrases(
    {
        "hostunknown": (
            "The mail could not be delivered to the recipient because the domain is not reachable",
        ),
        "userunknown": ("Requested action not taken: mailbox unavailable",),
    },
    case=True,
)


# --- Spectrum/Charter ("AUP#I1000"-style codes) --------------------------------------------------
_SPECTRUM = (
    (1000, 1000, "blocked"),
    (1010, 1010, "rejected"),
    (1020, 1080, "rejected"),
    (1090, 1090, "systemerror"),
    (1100, 1150, "requireptr"),
    (1160, 1190, "policyviolation"),
    (1200, 1210, "blocked"),
    (1220, 1250, "blocked"),
    (1260, 1260, "networkerror"),
    (1300, 1340, "toomanyconn"),
    (1350, 1490, "speeding"),
    (1500, 1500, "rejected"),
    (1520, 1520, "rejected"),
    (1530, 1530, "mesgtoobig"),
    (1540, 1540, "speeding"),
    (1550, 1550, "speeding"),
    (1560, 1560, "policyviolation"),
    (1580, 1580, "speeding"),
)


def _spectrum(c: Context) -> str:
    m = re.search(r"AUP#[A-Z]*(\d{4})", c.text)
    if not m:
        return ""
    code = int(m.group(1))
    return next((reason for low, high, reason in _SPECTRUM if low <= code <= high), "")


# --- Tencent QQ Mail (service.mail.qq.com/detail/122) -------------------------------------------
_tencent = _phrases(
    {
        "authfailure": ("spf check failed", "dmarc check failed"),
        "blocked": ("suspected bounce attacks", "suspected spam ip", "connection denied"),
        "mesgtoobig": ("message too large",),
        "rejected": ("suspected spam", "mail is rejected by recipients"),
        "spamdetected": ("spam is embedded in the email", "mail content denied"),
        "speeding": ("mailbox unavailable or access denined", "frequency of receiving messages is limited"),
        "suspend": ("is a deactivated mailbox",),
        "syntaxerror": ("bad address syntax",),
        "toomanyconn": (
            "ip frequency limited",
            "domain frequency limited",
            "sender frequency limited",
            "connection frequency limited",
        ),
        "userunknown": ("mailbox not found",),
    }
)

# --- Yahoo Inc. (senders.yahooinc.com/smtp-error-codes) ------------------------------------------
_yahoo = _phrases(
    {
        "authfailure": ("yahoo requires all senders to authenticate with either spf or dkim",),
        "blocked": (
            " because the ip is in spamhaus's list;",
            "not accepted from ip addresses on spamhaus xbl",
        ),
        "norelaying": ("relaying denied for ",),
        "notcompliantrfc": ("headers are not rfc compliant",),
        "policyviolation": ("not accepted for policy reasons",),
        # TSS04 is sent for volume, complaints and missing authentication alike.
        "rejected": (
            "temporarily deferred due to unexpected volume or user complaints",
            "due to unresolvable rfc.5321 domain",
            " will be permanently deferred",
        ),
        "speeding": ("user is receiving mail too quickly",),
        "suspend": (" is no longer valid.", "this mailbox is disabled"),
        "syntaxerror": ("syntax error in parameters or arguments",),
        "toomanyconn": ("max message per connection reached",),
        "userunknown": ("dd this user doesn't have a ", "mailbox not found"),
    }
)


@dataclass(frozen=True)
class Provider:
    name: str
    hosts: tuple[str, ...]  # host-name suffixes of the provider's servers
    rule: Rule


PROVIDERS: tuple[Provider, ...] = (
    Provider("Aol", (".mail.aol.com", ".mx.aol.com"), _aol),
    Provider("Apple", (".mail.icloud.com", ".apple.com", ".me.com"), _apple),
    Provider("Cloudflare", (".mx.cloudflare.net",), _cloudflare),
    Provider("Cox", ("cox.net",), _cox),
    Provider("Facebook", (".facebook.com",), _facebook),
    Provider("FrancePTT", (".laposte.net", ".orange.fr", ".wanadoo.fr"), _franceptt),
    Provider("GoDaddy", ("smtp.secureserver.net", "mailstore1.secureserver.net"), _godaddy),
    Provider("Google", ("aspmx.l.google.com", "gmail-smtp-in.l.google.com"), _google),
    Provider("GSuite", ("googlemail.com",), _gsuite),
    Provider("IUA", (".email.ua",), _iua),
    Provider("KDDI", (".ezweb.ne.jp", "msmx.au.com"), _kddi),
    Provider("MessageLabs", (".messagelabs.com",), _messagelabs),
    Provider(
        "Microsoft",
        (".prod.outlook.com", ".protection.outlook.com", ".onmicrosoft.com", ".exchangelabs.com"),
        _microsoft,
    ),
    Provider("Mimecast", (".mimecast.com",), _mimecast),
    Provider("NTTDOCOMO", ("mfsmax.docomo.ne.jp",), _nttdocomo),
    Provider("Outlook", (".hotmail.com",), _outlook),
    Provider("Spectrum", ("charter.net",), _spectrum),
    Provider("Tencent", (".qq.com",), _tencent),
    Provider("YahooInc", (".yahoodns.net",), _yahoo),
)

_HOST = re.compile(r"(?<![\w.@-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,})(?![\w.-]*@)", re.I)
_RECEIVED_FROM = re.compile(r"\bfrom\s+([\w.-]+\.[a-z]{2,})", re.I)


def provider(failure: Failure, mail: Mail | None = None) -> Provider | None:
    """The provider a bounce is about: by recipient domain, remote host, then the relaying hosts."""
    domain = failure.recipient.rpartition("@")[2].lower()
    if domain.count(".") >= 1:
        for p in PROVIDERS:
            if any(
                h.endswith(domain) and (len(h) == len(domain) or h[-len(domain) - 1] == ".") for h in p.hosts
            ):
                return p
    remote = [(failure.remote_mta or "").lower()]
    remote += [m.group(1).lower() for m in _HOST.finditer(failure.diagnostic or "")]
    for host in remote:
        for p in PROVIDERS:
            if host and any(host.endswith(h) for h in p.hosts):
                return p
    if mail is not None:
        # The reporting side: the domain the bounce comes from, then the hosts that relayed it.
        sender = mail.sender.rpartition("@")[2].strip(" >").lower()
        for p in PROVIDERS:
            if sender and any(h.lstrip(".") == sender for h in p.hosts):
                return p
        for value in mail.msg.get_all("Received") or []:
            m = _RECEIVED_FROM.search(str(value))
            host = m.group(1).lower() if m else ""
            for p in PROVIDERS:
                if host and any(host.endswith(h) for h in p.hosts):
                    return p
    return None


# Exchange's resolver names the missing recipient in its own words, whoever relays the NDR.
_EXCHANGE_NOT_FOUND = ("resolver.adr.recipientnotfound", "resolver.adr.recipnotfound")


def find(failure: Failure, mail: Mail | None, ev: Evidence) -> str:
    """A reason decided by the remote provider's own conventions, or ''."""
    if not ev.diagnostic:
        return ""
    if any(p in ev.diagnostic.lower() for p in _EXCHANGE_NOT_FOUND):
        return "userunknown"
    p = provider(failure, mail)
    if p is None:
        return ""
    c = Context(
        status=ev.status or "",
        reply=ev.reply_code or "",
        command=ev.command or "",
        text=ev.diagnostic,
        low=ev.diagnostic.lower(),
    )
    return p.rule(c)
