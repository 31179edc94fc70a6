"""Remote-host rules: mailbox providers whose wording means something specific at that provider.

Applied when the generic reading is weak (no reason yet, or one of the retried reasons). Keyed by
the recipient's domain or the remote MTA's host name, never by a sample.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from outguard.ndr.reasons import RETRY as RETRY
from outguard.ndr.reasons import says

if TYPE_CHECKING:
    from outguard.ndr.mail import Mail
    from outguard.ndr.parse import Failure
    from outguard.ndr.reasons import Evidence

# KDDI (au): its MX answers "550 <rcpt>: User unknown" only for addresses that do not exist.
_KDDI = re.compile(r"(?:^|\.)(?:ezweb\.ne\.jp|au\.com|auone-net\.jp)$")
# Microsoft (Exchange Online, Outlook.com): RESOLVER.ADR.* texts and 5.1.10 mean no such recipient.
_MICROSOFT_HOST = re.compile(r"(?:outlook\.com|hotmail\.com|protection\.outlook\.com|office365\.com)$", re.I)
# Yahoo: "This user doesn't have a yahoo.com account".
_YAHOO_NOUSER = re.compile(r"this user doesn't have a \S+ account")
# Orange / La Poste (France Télécom): "LPN007_416"-style tags; the number names the cause.
_FRANCEPTT = re.compile(r"\b(?:LPN|LPNAA|OFR|OFR_|ODR|OUK|LHN)[0-9A-Z]*_(\d{3})\b")
_FRANCEPTT_CODES = {
    "102": "blocked",
    "103": "blocked",
    "104": "toomanyconn",
    "105": "blocked",
    "109": "blocked",
    "201": "toomanyconn",
    "305": "securityerror",
    "401": "authfailure",
    "402": "securityerror",
    "403": "rejected",
    "405": "rejected",
    "415": "rejected",
    "416": "userunknown",
    "417": "mailboxfull",
    "418": "userunknown",
    "419": "rejected",
    "420": "suspend",
    "421": "rejected",
    "423": "systemerror",
    "424": "rejected",
    "425": "rejected",
    "426": "suspend",
    "429": "mailboxfull",
    "430": "policyviolation",
    "431": "suspend",
    "432": "rejected",
    "437": "rejected",
    "501": "blocked",
    "502": "blocked",
    "503": "blocked",
    "504": "blocked",
    "505": "blocked",
    "506": "spamdetected",
    "507": "blocked",
    "508": "blocked",
    "509": "blocked",
    "510": "blocked",
    "511": "blocked",
    "512": "blocked",
    "513": "blocked",
    "514": "blocked",
    "515": "blocked",
    "516": "blocked",
    "517": "blocked",
    "518": "blocked",
    "519": "blocked",
    "520": "blocked",
    "521": "blocked",
    "522": "blocked",
    "523": "spamdetected",
    "524": "blocked",
    "601": "systemerror",
    "602": "systemerror",
    "603": "systemerror",
    "604": "systemerror",
    "605": "systemerror",
    "606": "systemerror",
    "607": "systemerror",
    "608": "systemerror",
    "609": "systemerror",
    "610": "systemerror",
    "611": "systemerror",
    "612": "systemerror",
}


def find(failure: Failure, mail: Mail, ev: Evidence) -> str:
    """A reason decided by the remote provider's own conventions, or ''."""
    domain = failure.recipient.rpartition("@")[2].lower()
    host = (failure.remote_mta or "").lower()
    text = ev.diagnostic.lower()
    if _KDDI.search(domain) and says("userunknown", text):
        return "userunknown"
    if "resolver.adr.recipientnotfound" in text or "resolver.adr.recipnotfound" in text:
        return "userunknown"
    if _MICROSOFT_HOST.search(host) and ev.status in ("5.1.10", "5.1.1"):
        return "userunknown"
    if _YAHOO_NOUSER.search(text):
        return "userunknown"
    m = _FRANCEPTT.search(ev.diagnostic)
    if m and m.group(1) in _FRANCEPTT_CODES:
        return _FRANCEPTT_CODES[m.group(1)]
    return ""
