"""Amazon SES notifications delivered by email through SNS: the JSON "Bounce", "Complaint" and
"Delivery" notification objects (docs.aws.amazon.com/ses/latest/dg/notification-contents.html).

SNS sends the notification as the body of an "AWS Notification Message", either the SES object
itself or wrapped in an SNS envelope whose "Message" field holds it as a JSON string. SNS folds long
lines with "!" and a newline plus a space, which is undone before reading the JSON.
"""

from __future__ import annotations

import json
from typing import Any

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address, mta_name

NAME = "AmazonSES"

# bounceSubType → reason, where the subtype alone says what happened.
_SUBTYPES = {
    "Suppressed": "suppressed",
    "OnAccountSuppressionList": "suppressed",
    "MailboxFull": "mailboxfull",
    "MessageTooLarge": "mesgtoobig",
    "ContentRejected": "contenterror",
}


def detect(mail: Mail) -> bool:
    return "notificationType" in mail.text[:20000] and (
        "amazonaws.com" in mail.sender.lower() or '"TopicArn"' in mail.text or '"mail"' in mail.text
    )


def _payload(text: str) -> dict[str, Any] | None:
    body = text.split("\n\n--\n", 1)[0].replace("!\n ", "").strip()
    start = body.find("{")
    if start < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(body[start:])
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    return data if isinstance(data, dict) and "notificationType" in data else None


def decode(mail: Mail) -> list[Failure]:
    data = _payload(mail.text)
    if data is None:
        return []
    kind = str(data.get("notificationType", ""))
    out: list[Failure] = []
    if kind == "Bounce":
        bounce = data.get("bounce") or {}
        reporting = mta_name(str(bounce.get("reportingMTA") or "")) or None
        reason = _SUBTYPES.get(str(bounce.get("bounceSubType", "")), "")
        for r in bounce.get("bouncedRecipients") or []:
            addr = clean_address(str(r.get("emailAddress", "")))
            if not addr:
                continue
            diag = str(r.get("diagnosticCode") or "")
            dtype, sep, rest = diag.partition(";")
            out.append(
                Failure(
                    recipient=addr,
                    action=str(r.get("action") or "failed").lower(),
                    status=str(r.get("status") or "") or None,
                    diagnostic=rest.strip() if sep else diag,
                    diagnostic_type=dtype.strip().upper() if sep else "",
                    reporting_mta=reporting,
                    reason=reason,
                )
            )
    elif kind == "Complaint":
        complaint = data.get("complaint") or {}
        ftype = str(complaint.get("complaintFeedbackType") or "abuse")
        for r in complaint.get("complainedRecipients") or []:
            addr = clean_address(str(r.get("emailAddress", "")))
            if addr:
                out.append(Failure(recipient=addr, action="", reason="feedback", feedback_type=ftype))
    elif kind == "Delivery":
        delivery = data.get("delivery") or {}
        reporting = mta_name(str(delivery.get("reportingMTA") or "")) or None
        for r in delivery.get("recipients") or []:
            addr = clean_address(str(r))
            if addr:
                out.append(
                    Failure(
                        recipient=addr,
                        action="delivered",
                        diagnostic=str(delivery.get("smtpResponse") or ""),
                        reporting_mta=reporting,
                        reason="delivered",
                    )
                )
    return out
