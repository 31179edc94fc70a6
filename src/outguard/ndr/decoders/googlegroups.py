"""Google Groups: "the group you tried to contact (NAME) may not exist, or you may not have permission"."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "GoogleGroups"

_GROUP = re.compile(r"the group you tried to contact \(([^)]+)\)", re.I)


def detect(mail: Mail) -> bool:
    # The text is localised; the help link is not. A failed @googlegroups.com address alone does not
    # make a Google Groups notice: Gmail reports a group that does not exist like any other address.
    return "groups.google.com/support" in mail.text or (
        "Google Groups" in mail.text and bool(_GROUP.search(mail.text))
    )


def decode(mail: Mail) -> list[Failure]:
    diag = " ".join(mail.text.split("----- Original message -----")[0].split())
    rcpts = [a for a in (clean_address(p) for p in mail.header("X-Failed-Recipients").split(",")) if a]
    if not rcpts:
        to = mail.original_header("To") + "," + mail.original_header("Cc")
        rcpts = [a for a in (clean_address(p) for p in to.split(",")) if a.endswith("googlegroups.com")]
    if not rcpts:
        m = _GROUP.search(mail.text)
        rcpts = [f"{m.group(1)}@googlegroups.com"] if m else []
    # Posting refused by the group's settings: the sender is not allowed to post.
    return [Failure(recipient=r, diagnostic=diag, reason="rejected") for r in rcpts]
