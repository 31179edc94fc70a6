"""Bounce reasons: text → reason rules, grouped by reason, and the order they are tried in.

The taxonomy is Sisimai's (see shared/reference/bounce-reasons.md). A reason is decided from three
things an MTA writes: the enhanced status code (RFC 3463), the diagnostic text, and the SMTP command
the remote server was answering. Phrases below are the wording MTAs and mailbox providers really use;
each list holds plain substrings (lower case) and ordered fragments ("a … b" matches when `a` appears
before `b`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from outguard import codes

# Reasons whose verdict is weak: a later rule (remote host, text) may replace them.
RETRY = frozenset(
    {
        "undefined",
        "onhold",
        "systemerror",
        "securityerror",
        "expired",
        "networkerror",
        "hostunknown",
        "userunknown",
    }
)

# SMTP commands sent before DATA: content filters cannot have run yet.
BEFORE_DATA = frozenset({"CONN", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT"})


def _rule(phrases: Iterable[str], ordered: Iterable[tuple[str, ...]] = ()) -> re.Pattern[str]:
    """One regex for a reason: any phrase, or any ordered sequence of fragments."""
    alts = [re.escape(p) for p in phrases]
    alts += [".*?".join(re.escape(f) for f in seq) for seq in ordered]
    return re.compile("|".join(alts), re.S)


# --- the recipient's address -------------------------------------------------------------------

USERUNKNOWN = _rule(
    [
        "#5.1.1 bad address",
        "550 address invalid",
        "5.1.0 address rejected.",
        "address does not exist",
        "address not present in directory",
        "address unknown",
        "can't accept user",
        "does not exist.",
        "destination addresses were unknown",
        "destination server rejected recipients",
        "email address does not exist",
        "email address could not be found",
        "invalid address",
        "invalid mailbox",
        "invalid recipient",
        "is not a known user",
        "is not a valid mailbox",
        "is not an active address at this host",
        "mailbox does not exist",
        "mailbox invalid",
        "mailbox is inactive",
        "mailbox is unavailable",
        "mailbox not present",
        "mailbox not found",
        "mailbox unavaiable",
        "nessun utente simile in questo indirizzo",
        "no account by that name here",
        "no existe dicha persona",
        "no existe ese usuario ",
        "no mail box available for this user",
        "no mailbox by that name is currently available",
        "no mailbox found",
        "no such address here",
        "no such mailbox",
        "no such person at this address",
        "no such recipient",
        "no such user",
        "no thank you rejected: account unavailable",
        "no valid recipients, bye",
        "not a valid recipient",
        "not a valid user here",
        "not a local address",
        "not email addresses",
        "recipient address rejected. (in reply to rcpt to command)",
        "recipient address rejected: access denied",
        "recipient address rejected: invalid user",
        "recipient address rejected: invalid-recipient",
        "recipient address rejected: unknown user",
        "recipient address rejected: userunknown",
        "recipient does not exist",
        "recipient is not accepted",
        "recipient is not local",
        "recipient not exist",
        "recipient not found",
        "recipient not ok",
        "recipient refuses to accept your mail",
        "recipient unknown",
        "requested action not taken: mailbox unavailable",
        "resolver.adr.recipient notfound",
        "resolver.adr.recipientnotfound",
        "sorry, user unknown",
        "sorry, badrcptto",
        "sorry, no mailbox here by that name",
        "sorry, your envelope recipient has been denied",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the email account that you tried to reach does not exist",
        "the following recipients was undeliverable",
        "the user's email name is not found",
        "there is no one at this address",
        "this address no longer accepts mail",
        "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list",
        "this recipient is not in my validrcptto list",
        "this spectator does not exist",
        "unknown mailbox",
        "unknown recipient",
        "unknown user",
        "user does not exist",
        "user missing home directory",
        "user not active",
        "user not exist",
        "user not found",
        "user not known",
        "user unknown",
        "utilisateur inconnu !",
        "vdeliver: invalid or unknown virtual user",
        "weil die adresse nicht gefunden wurde oder keine e-mails empfangen kann",
        "your envelope recipient is in my badrcptto list",
    ],
    [
        ("<", "> not found"),
        ("<", ">... blocked by "),
        ("account ", " does not exist at the organization"),
        ("adresse d au moins un destinataire invalide. invalid recipient.", "416"),
        ("adresse d au moins un destinataire invalide. invalid recipient.", "418"),
        ("bad", "recipient"),
        ("mailbox ", "does not exist"),
        ("mailbox ", "unavailable or access denied"),
        ("no ", " in name directory"),
        ("non", "existent user"),
        ("rcpt <", " does not exist"),
        ("rcpt (", "t exist "),
        ("recipient ", " was not found in"),
        ("recipient address rejected: user ", "  does not exist"),
        ("recipient address rejected: user unknown in ", "  table"),
        ("said: 550", "5.1.1 ", " user unknown "),
        ("this user doesn't have a ", " account"),
        ("unknown e", "mail address"),
        ("unknown local", "part"),
        ("user ", " was not found"),
        ("user ", " does not exist"),
        ("user (", ") unknown"),
    ],
)

HOSTUNKNOWN = _rule(
    [
        "domain does not exist",
        "domain is not reachable",
        "domain must exist",
        "host or domain name not found",
        "host unknown",
        "host unreachable",
        "mail domain mentioned in email address is unknown",
        "name or service not known",
        "no such domain",
        "recipient address rejected: unknown domain name",
        "recipient domain must exist",
        "the account or domain may not exist",
        "unknown host",
        "unroutable address",
        "unrouteable address",
    ],
    [("553 ", " does not exist")],
)

HASMOVED = _rule([" has been replaced by "])

# --- the recipient's mailbox -------------------------------------------------------------------

MAILBOXFULL = _rule(
    [
        "452 insufficient disk space",
        "account disabled temporarly for exceeding receiving limits",
        "boite du destinataire pleine",
        "exceeded storage allocation",
        "full mailbox",
        "mailbox exceeds allowed size",
        "mailbox size limit exceeded",
        "mailbox would exceed maximum allowed storage",
        "mailfolder is full",
        "no space left on device",
        "not sufficient disk space",
        "quota violation for",
        "too much mail data",
        "user has exceeded quota, bouncing mail",
        "user has too many messages on the server",
        "user's space has been used up",
    ],
    [
        ("account is ", " quota"),
        ("disk", "quota"),
        ("enough ", " space"),
        ("mailbox ", "exceeded", " limit"),
        ("mailbox ", "full"),
        ("mailbox ", "quota"),
        ("maildir ", "quota"),
        ("over ", "quota"),
        ("quota ", "exceeded"),
    ],
)

SUSPEND = _rule(
    [
        " is currently suspended",
        " temporary locked",
        "archived recipient",
        "boite du destinataire archivee",
        "email account that you tried to reach is disabled",
        "has been suspended",
        "inactive account",
        "invalid/inactive user",
        "is a deactivated mailbox",
        "is unavailable: user is terminated",
        "mailbox currently suspended",
        "mailbox disabled",
        "mailbox is frozen",
        "mailbox unavailable or access denied",
        "recipient rejected: temporarily inactive",
        "recipient suspend the service",
        "the email account that you tried to reach is inactive",
        "this account has been disabled or discontinued",
        "this account has been temporarily suspended",
        "this address no longer accepts mail",
        "this mailbox is disabled",
        "user or domain is disabled",
        "user suspended",
        "vdelivermail: account is locked email bounced",
    ]
)

MESGTOOBIG = _rule(
    [
        "exceeded maximum inbound message size",
        "exceeded the maximum incoming message size",
        "line limit exceeded",
        "max message size exceeded",
        "message file too big",
        "message length exceeds administrative limit",
        "message size exceeds fixed limit",
        "message size exceeds fixed maximum message size",
        "message size exceeds maximum value",
        "message too big",
        "message too large for this ",
        "size limit",
        "taille limite du message atteinte",
    ]
)

EXCEEDLIMIT = _rule(["message header size exceeds limit", "message too large"])

FILTERED = _rule(
    [
        "account is protected by",
        "bounced address",
        "has restricted sms e-mail",
        "is not accepting any mail",
        "message filtered",
        "message rejected due to user rules",
        "not found recipient account",
        "recipient id refuse to receive mail",
        "recipient is only accepting mail from specific email addresses",
        "refused due to recipient preferences",
        "user not found",
        "user refuses to receive this mail",
        "user reject",
        "you have been blocked by the recipient",
    ]
)

# --- the sender, the sending host and its reputation -------------------------------------------

REJECTED_NOT = _rule(["5.1.0 address rejected", "recipient address rejected", "sender ip address rejected"])
REJECTED = _rule(
    [
        "access denied (in reply to mail from command)",
        "access denied (sender blacklisted)",
        "address rejected",
        "administrative prohibition",
        "batv failed to verify",
        "batv validation failure",
        "backscatter protection detected an invalid or expired email address",
        "because the sender isn't on the recipient's list of senders to accept mail from",
        "bogus mail from",
        "can't determine purported responsible address",
        "connections not accepted from servers without a valid sender domain",
        "denied [bouncedeny]",
        "denied by secumail valid-address-filter",
        "delivery not authorized, message refused",
        "does not exist e2110",
        "domain of sender address ",
        "email address is on senderfilterconfig list",
        "emetteur invalide",
        "empty envelope senders not allowed",
        "envelope blocked - ",
        "error: no third-party dsns",
        "from: domain is invalid. please provide a valid from:",
        "fully qualified email address required",
        "invalid domain, see <url:",
        "invalid sender",
        "is not a registered gateway user",
        "mail from not owned by user",
        "message rejected: email address is not verified",
        "mx records for ",
        "null sender is not allowed",
        "recipient addresses rejected : access denied",
        "recipient not accepted. (batv: no tag",
        "returned mail not accepted here",
        "rfc 1035 violation: recursive cname records for",
        "rule imposed mailbox access for",
        "sending this from a different address or alias using the ",
        "sender address has been blacklisted",
        "sender email address rejected",
        "sender is in my black list",
        "sender is spammer",
        "sender not pre-approved",
        "sender rejected",
        "sender domain is empty",
        "sender verify failed",
        "sender was rejected",
        "spam reporting address",
        "syntax error: empty email address",
        "the message has been rejected by batv defense",
        "this server does not accept mail from",
        "transaction failed unsigned dsn for",
        "unroutable sender address",
        "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
        "your access to submit messages to this e-mail system has been rejected",
        "your email address has been blacklisted",
    ]
)

BLOCKED = _rule(
    [
        " said: 550 blocked",
        "//www.spamcop.net/bl.",
        "bad sender ip address",
        "banned sending ip",
        "blacklisted by",
        "blocked using ",
        "blocked - see http",
        "dnsbl:attrbl",
        "client host rejected: abus detecte gu_eib_02",
        "client host rejected: abus detecte gu_eib_04",
        "client host rejected: may not be mail exchanger",
        "client host rejected: was not authenticated",
        "confirm this mail server",
        "connection dropped",
        "connection refused by",
        "connection reset by peer",
        "connection was dropped by remote host",
        "connections not accepted from ip addresses on spamhaus xbl",
        "currently sending spam see: ",
        "domain does not exist:",
        "dynamic/zombied/spam ips blocked",
        "error: no valid recipients from ",
        "esmtp not accepting connections",
        "extreme bad ip profile",
        "go away",
        "helo command rejected:",
        "host network not allowed",
        "hosts with dynamic ip",
        "invalid ip for sending mail of domain",
        "is in a black list",
        "is not allowed to send mail from",
        "mailfrom domain is listed in spamhaus",
        "no access from mail server",
        "no matches to nameserver query",
        "not currently accepting mail from your ip",
        "part of their network is on our block list",
        "please use the smtp server of your isp",
        "refused - see http",
        "rejected - multi-blacklist",
        "rejected because the sending mta or the sender has not passed validation",
        "rejecting open proxy",
        "sender ip address rejected",
        "server access forbidden by your ip ",
        "service not available, closing transmission channel",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts",
        "sorry, your remotehost looks suspiciously like spammer",
        "temporarily deferred due to unexpected volume or user complaints",
        "to submit messages to this e-mail system has been rejected",
        "too many spams from your ip",
        "too many unwanted messages have been sent from the following ip address above",
        "was blocked by ",
        "we do not accept mail from dynamic ips",
        "you are not allowed to connect",
        "you are sending spam",
        "your ip address is listed in the rbl",
        "your network is temporary blacklisted",
        "your server requires confirmation",
    ],
    [
        ("(", "@", ":blocked)"),
        ("access from ip address ", " blocked"),
        ("client host ", " blocked using"),
        ("connections will not be accepted from ", " because the ip is in spamhaus's list"),
        ("dnsbl:rbl ", ">_is_blocked"),
        ("email blocked by ", ".barracudacentral.org"),
        ("email blocked by ", "spamhaus"),
        ("host ", " refused to talk to me: ", " blocked"),
        ("ip ", " is blocked by earthlink"),
        ("is in an ", "rbl on "),
        ("mail server at ", " is blocked"),
        ("mail from ", " refused:"),
        ("mail from ", " refused, see ", "orbs"),
        ("message from ", " rejected based on blacklist"),
        ("messages from ", " temporarily deferred due to user complaints"),
        ("server ip ", " listed as abusive"),
        ("sorry! your ip address", " is blocked by rbl"),
        ("the domain ", " is blacklisted"),
        ("the email ", " is blacklisted"),
        ("the ip", " is blacklisted"),
        ("veuillez essayer plus tard. service refused, please try later. ", "103"),
        ("veuillez essayer plus tard. service refused, please try later. ", "510"),
        ("your access ip", " has been rejected"),
        ("your sender's ip address is listed at ", ".abuseat.org"),
    ],
)

BADREPUTATION = _rule(
    [
        "a poor email reputation score",
        "has been temporarily rate limited due to ip reputation",
        "ip/domain reputation problems",
        "likely suspicious due to the very low reputation",
        "none/bad reputation",
        "temporarily deferred due to unexpected volume or user complaints",
        "the sending mta's poor reputation",
    ]
)

REQUIREPTR = _rule(
    [
        "access denied. ip name lookup failed",
        "all mail servers must have a ptr record with a valid reverse dns entry",
        "bad dns ptr resource record",
        "cannot find your hostname",
        "cannot resolve your address.",
        "client host rejected: cannot find your hostname",
        "fix reverse dns for ",
        "ips with missing ptr records",
        "no ptr record found.",
        "please get a custom reverse dns name from your isp for your host",
        "ptr record setup",
        "reverse dns failed",
        "reverse dns required",
        "sender ip reverse lookup rejected",
        "the ip address sending this message does not have a ptr record setup",
        "the corresponding forward dns entry does not point to the sending ip",
        "this system will not accept messages from servers/devices with no reverse dns",
        "unresolvable relay host name",
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
    ],
    [
        ("domain ", " mismatches client ip"),
        ("dns lookup failure: ", " try again later"),
        ("reverse dns lookup for host ", " failed permanently"),
        ("server access ", " forbidden by invalid rdns record of your mail server"),
        ("service permits ", " unverifyable sending ips"),
    ],
)

AUTHFAILURE = _rule(
    [
        "//spf.pobox.com",
        "bad spf records for",
        "dmarc policy",
        "doesn't meet the required authentication level",
        "please inspect your spf settings",
        "sender policy framework (spf) fail",
        "sender policy framework violation",
        "spf (sender policy framework) domain authentication fail",
        "spf check: fail",
        "the 5322.from address doesn't meet the authentication requirements defined for the sender",
    ],
    [(" is not allowed to send mail.", "_401"), ("is not allowed to send from <", " per it's spf record")],
)

SPEEDING = _rule(
    [
        "mail sent from your ip address has been temporarily rate limited",
        "please try again slower",
        "receiving mail at a rate that prevents additional messages from being delivered",
    ]
)

TOOMANYCONN = _rule(
    [
        "all available ips are at maximum connection limit",
        "connection rate limit exceeded",
        "exceeds per-domain connection limit for",
        "has exceeded the max emails per hour ",
        "throttling failure: daily message quota exceeded",
        "throttling failure: maximum sending rate exceeded",
        "too many connections",
        "too many concurrent smtp connections",
        "too many errors from your ip",
        "too many recipients",
        "too many smtp sessions for this host",
        "trop de connexions, ",
        "we have already made numerous attempts to deliver this message",
    ]
)

NORELAYING = _rule(
    [
        "as a relay",
        "email address is not verified.",
        "insecure mail relay",
        "is not permitted to relay through this server without authentication",
        "mail server requires authentication when attempting to send to a non-local e-mail address",
        "no relaying",
        "not a gateway",
        "not allowed to relay through this machine",
        "not an open relay, so get lost",
        "not local host",
        "relay access denied",
        "relay denied",
        "relay not permitted",
        "relaying denied",
        "relaying mail to ",
        "specified domain is not allowed",
        "that domain isn't in my list of allowed rcpthost",
        "this system is not configured to relay mail",
        "unable to relay ",
        "we don't handle mail for",
    ]
)

# --- the content -------------------------------------------------------------------------------

SPAMDETECTED = _rule(
    [
        " - spam",
        "//www.spamhaus.org/help/help_spam_16.htm",
        "//dsbl.org/help/help_spam_16.htm",
        "//mail.163.com/help/help_spam_16.htm",
        "554 5.7.0 reject, id=",
        "appears to be unsolicited",
        "blacklisted url in message",
        "block for spam",
        "blocked by policy: no spam please",
        "blocked by spamassassin",
        "blocked for abuse. see http://att.net/blocks",
        "cannot be forwarded because it was detected as spam",
        "considered unsolicited bulk e-mail (spam) by our mail filters",
        "content filter rejection",
        "cyberoam anti spam engine has identified this email as a bulk email",
        "denied due to spam list",
        "high probability of spam",
        "is classified as spam and is rejected",
        "listed in work.drbl.imedia.ru",
        "the mail server detected your message as spam and has prevented delivery.",
        "mail appears to be unsolicited",
        "mail content denied",
        "may consider spam",
        "message considered as spam or virus",
        "message contains spam or virus",
        "message content rejected",
        "message detected as spam",
        "message filtered",
        "message looks like spam",
        "message is being rejected as it seems to be a spam",
        "message refused by mailmarshal spamprofiler",
        "message refused by trustwave seg spamprofiler",
        "message rejected as spam",
        "message rejected because of unacceptable content",
        "message rejected due to suspected spam content",
        "message rejected for policy reasons",
        "message was rejected for possible spam/virus content",
        "our email server thinks this email is spam",
        "our system has detected that this message is ",
        "probable spam",
        "reject bulk.advertising",
        "rejected: spamassassin score ",
        "rejected - bulk email",
        "rejecting banned content",
        "rejecting mail content",
        "related to content with spam-like characteristics",
        "sender domain listed at ",
        "sending address not accepted due to spam filter",
        "spam blocked",
        "spam check",
        "spam content matched",
        "spam detected",
        "spam email",
        "spam message rejected.",
        "spam not accepted",
        "spam refused",
        "spam rejection",
        "spam score ",
        "spambouncer identified spam",
        "spamming not allowed",
        "too many spam complaints",
        "too much spam.",
        "the email message was detected as spam",
        "the message has been rejected by spam filtering engine",
        "the message was rejected due to classification as bulk mail",
        "the content of this message looked like spam",
        "this message appears to be spam",
        "this message has been identified as spam",
        "this message has been scored as spam with a probability",
        "this message was classified as spam",
        "this message was rejected by recurrent pattern detection system",
        "transaction failed spam message not queued",
        "we dont accept spam",
        "your email appears similar to spam we have received before",
        "your email breaches local uribl policy",
        "your email had spam-like ",
        "your email is considered spam",
        "your email is probably spam",
        "your email was detected as spam",
        "your message as spam and has prevented delivery",
        "your message has been temporarily blocked by our filter",
        "your message has been rejected because it appears to be spam",
        "your message has triggered a spam block",
        "your message may contain the spam contents",
        "your message failed several antispam checks",
    ],
    [
        ("greylisted", " please try again in"),
        ("mail score (", " over "),
        ("mail rejete. mail rejected. ", "506"),
        ("our filters rate at and above ", " percent probability of being spam"),
        ("rejected by ", " (spam)"),
        ("rejected due to spam ", "classification"),
        ("rejected due to spam ", "content"),
        ("rule imposed as ", " is blacklisted on"),
        ("spam ", " exceeded"),
        ("this message scored ", " spam points"),
    ],
)

VIRUSDETECTED = _rule(
    [
        "it has a potentially executable attachment",
        "the message was rejected because it contains prohibited virus or spam content",
        "this form of attachment has been used by recent viruses or other malware",
        "virus detected",
        "virus phishing/malicious_url detected",
        "your message was infected with a virus",
    ]
)

POLICYVIOLATION = _rule(
    [
        "an illegal attachment on your message",
        "because the recipient is not accepting mail with ",
        "by non-member to a members-only list",
        "closed mailing list",
        "denied by policy",
        "email not accepted for policy reasons",
        "email rejected due to security policies",
        "header are not accepted",
        "header error",
        "local policy violation",
        "message bounced due to organizational settings",
        "message given low priority",
        "message not accepted for policy reasons",
        "message rejected due to local policy",
        "messages with multiple addresses",
        "rejected for policy reasons",
        "protocol violation",
        "the email address used to send your message is not subscribed to this group",
        "the message was rejected by organization policy",
        "this message was blocked because its content presents a potential",
        "we do not accept messages containing images or other attachments",
        "you're using a mass mailer",
    ],
    [("you have exceeded the", "allowable number of posts without solving a captcha")],
)

CONTENTERROR = _rule(
    [
        "duplicate header",
        "header size exceeds maximum permitted",
        "improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum",
        "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers",
        "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding",
    ]
)

NOTCOMPLIANTRFC = _rule(
    [
        "duplicate header",
        "this message is not rfc 5322 compliant",
        "https://support.google.com/mail/?p=rfcmessagenoncompliant",
    ],
    [(" multiple ", " header")],
)

# --- the destination system and the network ----------------------------------------------------

SECURITYERROR = _rule(
    [
        "account not subscribed to ses",
        "authentication credentials invalid",
        "authentication failure",
        "authentication required",
        "authentication turned on in your email client",
        "executable files are not allowed in compressed files",
        "insecure mail relay",
        "recipient address rejected: access denied",
        "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts",
        "unauthenticated senders not allowed",
        "verification failure",
        "you are not authorized to send mail, authentication is required",
    ],
    [
        ("authentication failed; server ", " said: "),
        ("authentification invalide", "305"),
        ("authentification requise", "402"),
        ("domain ", " is a dead domain"),
        ("user ", " is not authorized to perform ses:sendrawemail on resource"),
    ],
)

SYSTEMERROR = _rule(
    [
        "aliasing/forwarding loop broken",
        "can't create user output file",
        "could not load drd for domain",
        "internal error reading data",
        "internal server error: operation now in progress",
        "interrupted system call",
        "it encountered an error while being processed",
        "it would create a mail loop",
        "local configuration error",
        "local error in processing",
        "loop was found in the mail exchanger",
        "loops back to myself",
        "mail system configuration error",
        "queue file write error",
        "recipient deferred because there is no mdb",
        "remote server is misconfigured",
        "server configuration error",
        "service currently unavailable",
        "system config error",
        "temporary local problem",
        "timeout waiting for input",
        "transaction failed ",
    ],
    [("unable to connect ", "daemon")],
)

SYSTEMFULL = _rule(["mail system full", "requested mail action aborted: exceeded storage allocation"])

NOTACCEPT = _rule(
    [
        "does not accept mail (nullmx)",
        "host/domain does not accept mail",
        "host does not accept mail",
        "mail receiving disabled",
        "name server: .: host not found",
        "no mx record found for domain=",
        "no route for current request",
        "smtp protocol returned a permanent error",
    ]
)

NETWORKERROR = _rule(
    [
        "could not connect and send the mail to",
        "dns type 'mx' lookup of",
        "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop",
        "host is unreachable",
        "host name lookup failure",
        "host not found, try again",
        "mail forwarding loop for ",
        "malformed name server reply",
        "malformed or unexpected name server reply",
        "maximum forwarding loop count exceeded",
        "message looping",
        "message probably in a routing loop",
        "no route to host",
        "too many hops",
        "unable to resolve route ",
        "unrouteable mail domain",
    ]
)

EXPIRED = _rule(
    [
        "connection timed out",
        "could not find a gateway for",
        "delivery attempts will continue to be",
        "delivery expired",
        "envelope expired",
        "message expired",
        "delivery time expired",
        "failed to deliver to domain ",
        "giving up on",
        "have been failing for a long time",
        "has been delayed",
        "it has not been collected after",
        "message expired after sitting in queue for",
        "message expired, cannot connect to remote server",
        "message expired, connection refulsed",
        "message timed out",
        "retry time not reached for any host after a long failure period",
        "server did not respond",
        "this message has been in the queue too long",
        "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period",
        "your message could not be delivered for more than",
    ],
    [("could not be delivered for", " days")],
)

FAILEDSTARTTLS = _rule(["starttls is required to send mail", "tls required but not supported"])

MAILERERROR = _rule(
    [
        " || exit ",
        "procmail: ",
        "bin/procmail",
        "bin/maidrop",
        "command failed: ",
        "command died with status ",
        "command output:",
        "mailer error",
        "pipe to |/",
        "x-unix; ",
    ]
)

SUPPRESSED = _rule(["address is on the suppression list", "suppressed recipient"])

VACATION = _rule(
    ["i am away on vacation", "i am away until", "i am out of the office", "i will be traveling for work on"]
)

# Reason name → its text rule, for the plain "does the text say so" tests.
TEXT_RULES: dict[str, re.Pattern[str]] = {
    "userunknown": USERUNKNOWN,
    "hostunknown": HOSTUNKNOWN,
    "hasmoved": HASMOVED,
    "mailboxfull": MAILBOXFULL,
    "suspend": SUSPEND,
    "mesgtoobig": MESGTOOBIG,
    "exceedlimit": EXCEEDLIMIT,
    "filtered": FILTERED,
    "blocked": BLOCKED,
    "badreputation": BADREPUTATION,
    "requireptr": REQUIREPTR,
    "authfailure": AUTHFAILURE,
    "speeding": SPEEDING,
    "toomanyconn": TOOMANYCONN,
    "norelaying": NORELAYING,
    "spamdetected": SPAMDETECTED,
    "virusdetected": VIRUSDETECTED,
    "policyviolation": POLICYVIOLATION,
    "contenterror": CONTENTERROR,
    "notcompliantrfc": NOTCOMPLIANTRFC,
    "securityerror": SECURITYERROR,
    "systemerror": SYSTEMERROR,
    "systemfull": SYSTEMFULL,
    "notaccept": NOTACCEPT,
    "networkerror": NETWORKERROR,
    "expired": EXPIRED,
    "failedstarttls": FAILEDSTARTTLS,
    "mailererror": MAILERERROR,
    "suppressed": SUPPRESSED,
}


def says(reason: str, text: str) -> bool:
    """Does the (lower-cased) diagnostic text use wording of this reason?"""
    if not text:
        return False
    if reason == "rejected":
        return not REJECTED_NOT.search(text) and bool(REJECTED.search(text))
    rule = TEXT_RULES.get(reason)
    return bool(rule and rule.search(text))


def match_text(text: str) -> str:
    """The first reason whose wording the text uses (for a bare error line), or ''."""
    lowered = text.lower()
    for reason in (
        "mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "userunknown", "filtered", "rejected",
        "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked", "authfailure", "failedstarttls",
        "securityerror", "systemerror", "networkerror", "expired", "contenterror", "hasmoved", "systemfull",
        "notaccept", "mailererror", "norelaying", "suppressed",
    ):  # fmt: skip
        if says(reason, lowered):
            return reason
    return ""


# --- RFC 3463 status code → reason -------------------------------------------------------------

_BY_STATUS: dict[str, str] = {
    "2.1.5": "delivered",
    "4.1.6": "hasmoved",
    "4.1.7": "rejected",
    "4.1.8": "rejected",
    "4.1.9": "systemerror",
    "4.2.1": "blocked",
    "4.2.2": "mailboxfull",
    "4.2.3": "exceedlimit",
    "4.2.4": "filtered",
    "4.3.1": "systemfull",
    "4.3.2": "notaccept",
    "4.3.3": "systemerror",
    "4.3.5": "systemerror",
    "4.4.1": "expired",
    "4.4.2": "networkerror",
    "4.4.3": "systemerror",
    "4.4.4": "networkerror",
    "4.4.5": "systemfull",
    "4.4.6": "networkerror",
    "4.4.7": "expired",
    "4.4.8": "networkerror",
    "4.5.3": "systemerror",
    "4.5.5": "systemerror",
    "4.6.0": "contenterror",
    "4.6.2": "contenterror",
    "4.6.5": "contenterror",
    "4.7.1": "blocked",
    "4.7.2": "blocked",
    "4.7.5": "securityerror",
    "4.7.6": "securityerror",
    "4.7.7": "securityerror",
    "4.7.12": "securityerror",
    "4.7.15": "securityerror",
    "4.7.16": "mesgtoobig",
    "4.7.24": "authfailure",
    "4.7.25": "requireptr",
    "4.7.26": "authfailure",
    "5.1.0": "userunknown",
    "5.1.1": "userunknown",
    "5.1.2": "hostunknown",
    "5.1.3": "userunknown",
    "5.1.4": "filtered",
    "5.1.6": "hasmoved",
    "5.1.7": "rejected",
    "5.1.8": "rejected",
    "5.1.9": "systemerror",
    "5.1.10": "notaccept",
    "5.2.0": "filtered",
    "5.2.1": "filtered",
    "5.2.2": "mailboxfull",
    "5.2.3": "exceedlimit",
    "5.2.4": "filtered",
    "5.3.0": "systemerror",
    "5.3.1": "systemfull",
    "5.3.2": "notaccept",
    "5.3.3": "systemerror",
    "5.3.4": "mesgtoobig",
    "5.3.5": "systemerror",
    "5.4.0": "networkerror",
    "5.4.3": "systemerror",
    "5.4.4": "hostunknown",
    "5.5.2": "syntaxerror",
    "5.5.3": "toomanyconn",
    "5.5.4": "systemerror",
    "5.5.5": "systemerror",
    "5.5.6": "syntaxerror",
    "5.7.13": "suspend",
    "5.7.16": "mesgtoobig",
    "5.7.17": "hasmoved",
    "5.7.18": "hasmoved",
    "5.7.20": "authfailure",
    "5.7.21": "authfailure",
    "5.7.22": "authfailure",
    "5.7.23": "authfailure",
    "5.7.24": "authfailure",
    "5.7.25": "requireptr",
    "5.7.26": "authfailure",
    "5.7.27": "notaccept",
    "5.7.28": "spamdetected",
    "5.7.29": "authfailure",
    "5.7.30": "failedstarttls",
}
for _detail in ("5.6.0", "5.6.1", "5.6.2", "5.6.3", "5.6.5", "5.6.6", "5.6.7", "5.6.8", "5.6.9"):
    _BY_STATUS[_detail] = "contenterror"
for _n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 19):
    _BY_STATUS[f"5.7.{_n}"] = "securityerror"


def by_status(status: str | None) -> str:
    """The reason an RFC 3463 code names by itself ('' when the code is vague or unknown)."""
    return _BY_STATUS.get(status or "", "")


@dataclass
class Evidence:
    """What the reason is decided from: one failed recipient as the bounce describes it."""

    status: str = ""
    diagnostic: str = ""  # the remote server's (or the MTA's) error text
    diagnostic_type: str = ""  # RFC 3464 diagnostic type: "SMTP", "X-UNIX", ... ('' when unknown)
    command: str = ""  # the SMTP command the error answered (RCPT, DATA, ...)
    reply_code: str = ""
    action: str = ""
    reason: str = ""  # a verdict a decoder already reached


# The order in which reasons claim a recipient; specific wording before broad wording (Sisimai's order).
_FIRST_PASS = (
    "mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
    "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
    "rejected", "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked",
)  # fmt: skip
_SECOND_PASS = (
    "mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
    "policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
    "systemfull", "notaccept", "expired", "failedstarttls", "securityerror", "suppressed", "mailererror",
)  # fmt: skip


def _probe(reason: str, ev: Evidence, text: str) -> bool:
    """Does the evidence point at `reason`? Status code first, then wording, guarded by the command."""
    if ev.reason == reason:
        return True  # a decoder already read this reason from the MTA's own wording
    coded = by_status(ev.status)
    if reason == "userunknown":
        if coded == "userunknown":
            # 5.1.1 with wording of another cause (a full mailbox, a relay refusal…) is that cause.
            return not any(
                says(r, text)
                for r in ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept")
            )
        # Only an answer to RCPT is about the address; the same words after DATA come from a filter.
        return ev.command == "RCPT" and says("userunknown", text)
    if reason == "filtered":
        if coded == "filtered":
            return says("userunknown", text) or says("filtered", text)
        if ev.command in BEFORE_DATA:
            return False
        return says("filtered", text) or says("userunknown", text)
    if reason == "rejected":
        if coded == "rejected":
            return True
        if ev.command == "MAIL" or (ev.command == "DATA" and coded != "userunknown"):
            return says("rejected", text)
        if coded in ("", "onhold", "undefined", "securityerror", "systemerror"):
            return says("rejected", text)
        return False
    if reason == "hostunknown":
        if coded == "hostunknown":
            return not says("networkerror", text)
        return says("hostunknown", text)
    if reason == "spamdetected":
        if not ev.status:
            return False
        if coded == "spamdetected":
            return True
        return ev.command not in BEFORE_DATA and says("spamdetected", text)
    if reason == "mesgtoobig":
        if coded == "mesgtoobig":
            return True
        if coded == "exceedlimit" or ev.status == "5.2.3":
            return False
        return says("mesgtoobig", text)
    if reason == "suspend":
        return ev.reply_code == "525" or says("suspend", text)
    if reason == "norelaying":
        if ev.command in ("CONN", "EHLO", "HELO"):
            return False
        return says("norelaying", text)
    if reason == "contenterror":
        if _probe("spamdetected", ev, text):
            return False
        return coded == "contenterror" or says("contenterror", text)
    if reason in ("mailboxfull", "exceedlimit", "authfailure", "requireptr", "toomanyconn", "blocked"):
        if reason == "mailboxfull" and not ev.status:
            return says(reason, text)
        return coded == reason or says(reason, text)
    return says(reason, text)


def _outguard_reason(ev: Evidence) -> str:
    """Outguard's own refusals carry the catalogue's reason (its reply texts are known exactly)."""
    entry = codes.lookup(ev.status, ev.diagnostic)
    if entry is None or not entry.outguard:
        return ""
    text = ev.diagnostic.lower()
    known = (entry.text.split("{")[0], *entry.variants)  # the fixed part, before any placeholder
    return entry.reason if any(t.lower().strip() and t.lower().strip() in text for t in known) else ""


def decide(ev: Evidence) -> str:
    """The reason for one failed recipient (Sisimai's decision order, our rules)."""
    if ev.reason and ev.reason not in RETRY:
        return ev.reason
    if own := _outguard_reason(ev):
        return own
    if ev.status.startswith("2."):
        return "delivered"
    text = ev.diagnostic.lower()
    found = ""
    if not ev.diagnostic_type:
        ev.diagnostic_type = "SMTP"
    if ev.diagnostic_type == "SMTP":
        found = next((r for r in _FIRST_PASS if _probe(r, ev, text)), "")
    if found:
        return found
    found = _another(ev, text)
    if not found and ev.action == "delayed":
        found = "expired"
    if found:
        return found
    if VACATION.search(text):
        return "vacation"
    return "onhold" if text else "undefined"


def _another(ev: Evidence, text: str) -> str:
    """Fallback when no first-pass rule fired: broader wording, then the code's class."""
    if ev.reason and ev.reason not in ("undefined", "onhold"):
        return ev.reason
    coded = by_status(ev.status)
    if coded and coded not in RETRY and ev.diagnostic_type == "SMTP":
        return coded
    for reason in _SECOND_PASS:
        if says(reason, text):
            return reason
    if coded:
        return coded
    klass = ev.status[:3]
    if klass in ("5.6", "4.6"):
        return "contenterror"
    if klass in ("5.7", "4.7"):
        return "securityerror"
    if ev.diagnostic_type.startswith("X-UNIX"):
        return "mailererror"
    if ev.reply_code.isdigit() and (400 < int(ev.reply_code) < 408 or 500 < int(ev.reply_code) < 508):
        return "syntaxerror"
    if ev.action in ("delayed", "expired"):
        return "expired"
    if ev.command in ("EHLO", "HELO"):
        return "blocked"
    return ""


# --- what each reason means for the two audiences ----------------------------------------------


@dataclass(frozen=True)
class Advice:
    """Plain-language explanation of a reason: what happened, what the sender and the admin can do."""

    summary: str
    sender_fix: str
    admin_fix: str


ADVICE: dict[str, Advice] = {
    "userunknown": Advice(
        "The recipient's address does not exist at the destination.",
        "Check the address for typos, or ask the recipient for their current address, then send again.",
        "Nothing to fix on your side unless the address is in your own organization; remove it from "
        "mailing lists so it does not bounce again.",
    ),
    "hostunknown": Advice(
        "The recipient's domain does not exist or has no mail server.",
        "Check the part after the @ for typos, then send again.",
        "Check the domain's MX and A records (dig MX domain). If the domain is yours, publish an MX record.",
    ),
    "hasmoved": Advice(
        "The recipient's mailbox has moved and mail is not forwarded.",
        "Ask the recipient for their new address.",
        "Update the address in address books and mailing lists.",
    ),
    "mailboxfull": Advice(
        "The recipient's mailbox is full.",
        "Try again later, or reach the recipient another way so they can make room.",
        "Nothing to fix on your side; the recipient's provider must raise the quota or the recipient must "
        "delete mail.",
    ),
    "suspend": Advice(
        "The recipient's mailbox is suspended or disabled.",
        "Reach the recipient another way; their account is not taking mail.",
        "Nothing to fix on your side. If the mailbox is in your organization, re-enable it.",
    ),
    "notaccept": Advice(
        "The destination does not accept mail at all (null MX or no mail service).",
        "The address cannot receive mail; ask the recipient for another one.",
        "If the domain is yours, publish a real MX record instead of a null MX.",
    ),
    "mesgtoobig": Advice(
        "The message is larger than the destination accepts.",
        "Send large files as a link, or split the message, then send again.",
        "Check the size limits on your relay and, if needed, ask the recipient's admin for their limit.",
    ),
    "exceedlimit": Advice(
        "The message exceeds a limit of the recipient's mailbox (size or number of recipients).",
        "Send a smaller message, or to fewer recipients at once.",
        "Check the recipient's per-mailbox limits with their admin.",
    ),
    "filtered": Advice(
        "The recipient's server or mailbox filter refused the message after reading it.",
        "Check with the recipient whether they block your address or this kind of content.",
        "Look at the remote server's text; the recipient side must allow your mail.",
    ),
    "rejected": Advice(
        "The message was refused because of the sender's address (the envelope-from).",
        "Check that you send from your normal address; tell your email admin if it keeps happening.",
        "Check the sender domain's DNS (MX, SPF), that the envelope sender exists and can receive "
        "bounces, and whether the remote side blocks your domain.",
    ),
    "blocked": Advice(
        "The recipient's server refused the sending server's IP address or host name (often a block list).",
        "Tell your email admin; the message itself is fine.",
        "Look the sending IP up on the block lists named in the error, fix the cause, request delisting, "
        "and check the server's HELO name and reverse DNS.",
    ),
    "badreputation": Advice(
        "The recipient's provider refused or throttled mail because the sending IP has a poor reputation.",
        "Tell your email admin and try again later.",
        "Check the IP's reputation with the provider's postmaster tools, look for compromised accounts "
        "or bulk sending, and warm new IPs up slowly.",
    ),
    "requireptr": Advice(
        "The sending server's IP address has no valid reverse DNS (PTR) record.",
        "Tell your email admin; the message itself is fine.",
        "Publish a PTR record for the sending IP that matches the server's HELO name and resolves back "
        "to the same IP.",
    ),
    "authfailure": Advice(
        "The message failed sender authentication (SPF, DKIM or DMARC).",
        "Tell your email admin; the recipient's server does not trust mail from your domain as sent.",
        "Fix the sending domain's SPF record to include this server, sign with DKIM, and check the "
        "DMARC policy and alignment.",
    ),
    "spamdetected": Advice(
        "The recipient's spam filter judged the message to be spam.",
        "Remove what looks like spam (links, attachments, wording) and send again, or reach the "
        "recipient another way.",
        "Check the sending IP and domain reputation and the message's authentication (SPF/DKIM/DMARC).",
    ),
    "virusdetected": Advice(
        "The recipient's virus scanner found malware in the message.",
        "Do not resend the attachment; scan your computer and send the file another way if it is safe.",
        "Scan the sender's device and check outbound mail for malware.",
    ),
    "policyviolation": Advice(
        "A policy on the destination refused the message (for example attachments or a closed list).",
        "Check the remote server's text for the rule, change the message, or ask the recipient.",
        "Ask the recipient's admin which policy applied.",
    ),
    "securityerror": Advice(
        "The destination refused the message for a security reason (authentication required, not "
        "authorized).",
        "Tell your email admin.",
        "Read the remote server's text: check SMTP authentication, TLS and the relay settings.",
    ),
    "contenterror": Advice(
        "The message's headers or content format were refused.",
        "Send the message again without unusual formatting or attachments.",
        "Check the sending application's MIME and header output.",
    ),
    "notcompliantrfc": Advice(
        "The message does not comply with the email standards (for example duplicate or missing headers).",
        "Tell your email admin or the application's owner.",
        "Fix the sending application so the message has one valid From, Date and Message-ID header.",
    ),
    "speeding": Advice(
        "The sending server hit a rate limit at the destination.",
        "Wait and send again later, to fewer recipients at once.",
        "Slow down sending to this destination and spread bulk mail over time.",
    ),
    "toomanyconn": Advice(
        "The destination refused the connection: too many connections or messages at once.",
        "Nothing: the message is retried or can be sent again later.",
        "Reduce concurrent connections to this destination.",
    ),
    "norelaying": Advice(
        "The server refused to relay the message for this recipient.",
        "Tell your email admin.",
        "Send through a server that accepts mail for this domain, or authenticate before relaying.",
    ),
    "syntaxerror": Advice(
        "The destination rejected an SMTP command as malformed.",
        "Tell your email admin.",
        "Check the sending server's SMTP client and the address syntax.",
    ),
    "systemerror": Advice(
        "The destination's mail system had an error (configuration, loop or internal failure).",
        "Try again later.",
        "If it persists, contact the recipient's email admin with the error text.",
    ),
    "systemfull": Advice(
        "The destination's mail system is out of disk space.",
        "Try again later.",
        "Nothing on your side; the recipient's provider must fix it.",
    ),
    "networkerror": Advice(
        "The destination could not be reached (DNS lookup or connection failure, or a mail loop).",
        "Check the address and try again later.",
        "Check DNS for the recipient domain from your server and the network path to its MX.",
    ),
    "expired": Advice(
        "Delivery was retried until the sending server gave up.",
        "Check the address and try again later; the recipient's server may be down.",
        "Look at the delivery attempts: DNS, connection or TLS problems, or a remote server that "
        "defers your IP.",
    ),
    "failedstarttls": Advice(
        "The servers could not agree on an encrypted (TLS) connection.",
        "Tell your email admin.",
        "Check the TLS configuration and certificates on both sides.",
    ),
    "mailererror": Advice(
        "A local delivery program (a pipe, filter or mailbox agent) failed at the destination.",
        "Try again later or reach the recipient another way.",
        "The recipient's admin must fix the delivery program.",
    ),
    "suppressed": Advice(
        "The address is on the sending service's suppression list after earlier bounces or complaints.",
        "Check the address; the service will not send to it until it is removed from the list.",
        "Remove the address from the suppression list once it is known to work.",
    ),
    "delivered": Advice(
        "The message was delivered; this is a success report.",
        "Nothing to do.",
        "Nothing to do.",
    ),
    "feedback": Advice(
        "A recipient's provider reported the message as a complaint (feedback loop).",
        "Make sure the recipient wants your mail; remove them from lists if not.",
        "Suppress complaining recipients and check what they received.",
    ),
    "vacation": Advice(
        "The recipient's automatic reply (out of office).",
        "Nothing to do; the message was delivered.",
        "Nothing to do.",
    ),
    "onhold": Advice(
        "The bounce has an error text but it does not say clearly why delivery failed.",
        "Read the server's text below; if unsure, forward this message to your email admin.",
        "Read the remote server's text and, if needed, ask the recipient's admin.",
    ),
    "undefined": Advice(
        "The bounce does not say why delivery failed.",
        "Check the address and send again; forward this message to your email admin if it repeats.",
        "Look the message up in the delivery log of the server that bounced it.",
    ),
}

# RFC 3463 subject (the middle digit) → what it is about, when no reason is known.
CLASS_SUBJECT = {
    "0": "an undefined problem",
    "1": "a problem with an address",
    "2": "a problem with the recipient's mailbox",
    "3": "a problem with the destination mail system",
    "4": "a network or routing problem",
    "5": "a mail protocol problem",
    "6": "a problem with the message content",
    "7": "a security or policy refusal",
}


def advice(reason: str) -> Advice:
    return ADVICE.get(reason) or ADVICE["undefined"]
