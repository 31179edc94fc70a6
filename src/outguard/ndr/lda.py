"""Local delivery agents: when the last hop is a program writing into the mailbox, its own message
names the cause (dovecot-lda, mail.local, procmail, maildrop, vpopmail, vmailmgr).

Used only when the error came at or after DATA (or the SMTP step is unknown): before DATA no local
delivery agent has run yet.
"""

from __future__ import annotations

# How each agent signs its messages (lower case).
AGENTS: dict[str, tuple[str, ...]] = {
    "dovecot": ("your message to <", "> was automatically rejected:"),
    "mail.local": ("mail.local: ",),
    "procmail": ("procmail: ", "/procmail "),
    "maildrop": ("maildrop: ",),
    "vpopmail": ("vdelivermail: ",),
    "vmailmgr": ("vdeliver: ",),
}
# Each agent's wording → reason.
MESSAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "dovecot": {
        "mailboxfull": ("not enough disk space", "quota exceeded"),
        "userunknown": ("mailbox doesn't exist: ",),
    },
    "mail.local": {
        "mailboxfull": ("disc quota exceeded", "mailbox full or quota exceeded"),
        "systemerror": ("temporary file write error",),
        "userunknown": (
            ": invalid mailbox path",
            ": unknown user:",
            ": user missing home directory",
            ": user unknown",
        ),
    },
    "procmail": {
        "mailboxfull": ("quota exceeded while writing", "user over quota"),
        "systemerror": ("service unavailable",),
        "systemfull": ("no space left to finish writing",),
    },
    "maildrop": {
        "mailboxfull": ("maildir over quota.",),
        "userunknown": ("cannot find system user", "invalid user specified."),
    },
    "vpopmail": {
        "filtered": ("user does not exist, but will deliver to ",),
        "mailboxfull": ("domain is over quota", "user is over quota"),
        "suspend": ("account is locked email bounced",),
        "userunknown": ("sorry, no mailbox here by that name.",),
    },
    "vmailmgr": {
        "mailboxfull": ("delivery failed due to system quota violation",),
        "userunknown": (
            "invalid or unknown base user or domain",
            "invalid or unknown virtual user",
            "user name does not refer to a virtual user",
        ),
    },
}


def find(diagnostic: str, command: str) -> str:
    """The reason a local delivery agent's message gives ('' if no agent wrote it)."""
    if not diagnostic or command not in ("", "DATA"):
        return ""
    text = diagnostic.lower()
    agent = next((a for a, marks in AGENTS.items() if any(m in text for m in marks)), "")
    if not agent:
        return ""
    for reason, phrases in MESSAGES[agent].items():
        if any(p in text for p in phrases):
            return reason
    return "mailererror"  # the agent failed in a way it does not name ("Couldn't create …")
