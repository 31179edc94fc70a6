"""The built-in classifier: GTUBE, each heuristic with its weight, realistic business mail (no false
positive), bulk signals and the BCL table, the fuzzy fingerprint and its window, the body budget,
malformed input; plus the interface shared with the Rspamd classifier."""

from __future__ import annotations

import email.policy
import random
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from outguard.config import ConfigError, Settings, SpamSettings, load
from outguard.model import TraceMessage
from outguard.spam import (
    BULK,
    CLASSIFIER_UNAVAILABLE,
    GENERAL_FILTER,
    URL_REPUTATION,
    MessageInfo,
    Verdict,
    open_classifier,
)
from outguard.spam.builtin import BULK_POINTS, GTUBE, WEIGHTS, BuiltinClassifier
from outguard.spam.content import BODY_BUDGET, extract
from outguard.spam.fingerprint import FingerprintStore, sketch
from outguard.spam.rspamd import RspamdClassifier


class Clock:
    """The fingerprint window's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def classifier(clock: Clock) -> BuiltinClassifier:
    return BuiltinClassifier(SpamSettings(), clock=clock)


def message(
    subject: str = "Quarterly figures and Thursday's meeting",
    text: str | None = None,
    html: str | None = None,
    sender: str = "Alice Martin <alice.martin@acme.example>",
    to: str = "Bob Stone <bob.stone@partner.example>",
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
    drop: tuple[str, ...] = (),
) -> bytes:
    """A message as a mail client writes it (CRLF, MIME), with `headers` added and `drop` removed."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Thu, 26 Nov 2026 09:41:07 +0000"
    m["Message-ID"] = "<DB9PR01MB7354.2026112609410712@acme.example>"
    for name, value in (headers or {}).items():
        m[name] = value
    if text is not None or html is None:
        m.set_content(PLAIN_BUSINESS if text is None else text)
        if html is not None:
            m.add_alternative(html, subtype="html")
    else:
        m.set_content(html, subtype="html")
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for name in drop:
        del m[name]
    return m.as_bytes(policy=email.policy.SMTP)


def info(
    content: bytes, recipients: tuple[str, ...] = ("bob.stone@partner.example",), tenant: str = "acme"
) -> MessageInfo:
    return MessageInfo(
        content=content,
        sender="alice.martin@acme.example",
        recipients=recipients,
        client_ip="192.0.2.10",
        helo="mail.acme.example",
        tenant=tenant,
        auth_user=None,
        queue_id="4F1A2B3C",
    )


PLAIN_BUSINESS = """\
Hi Bob,

thanks for the call this morning. As promised, here are the figures for the third quarter:
revenue grew by 4.2% to EUR 1.37m, mostly thanks to the new maintenance contracts, and the
backlog for Q4 stands at 212 orders. The full report is on our extranet:
https://extranet.acme.example/reports/2026-q3?view=summary

Could we go through the numbers on Thursday at 10:00 (CET)? I have booked room 3.14 and sent
an invitation; Carol will join by phone.

Best regards,
Alice

--
Alice Martin
Head of Finance | ACME Ltd
Phone +44 20 7946 0958 | www.acme.example
"""

OUTLOOK_HTML = """\
<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style>
</head><body lang="EN-GB"><div class="WordSection1">
<p class="MsoNormal">Dear Mr Okafor,</p>
<p class="MsoNormal">please find attached our offer for the replacement of the air handling units
in building B, as discussed on site last Tuesday. The prices are valid until 31 January 2027.</p>
<p class="MsoNormal">The technical data sheets are available <a href="https://www.acme.example/docs/ahu-b?lang=en">on our website</a>.
Do not hesitate to call me if you have any questions.</p>
<p class="MsoNormal">Kind regards</p>
<p class="MsoNormal"><b>Jonas Weber</b><br>Sales Engineer<br>ACME Building Services GmbH<br>
Tel. +49 30 1234567-89 | <a href="mailto:jonas.weber@acme.example">jonas.weber@acme.example</a></p>
<p class="MsoNormal" style="font-size:8.0pt;color:gray">ACME Building Services GmbH, Registergericht
Berlin HRB 12345, Geschäftsführer: Dr. Eva Schmidt</p>
</div></body></html>
"""

OUTLOOK_TEXT = """\
Dear Mr Okafor,

please find attached our offer for the replacement of the air handling units in building B, as
discussed on site last Tuesday. The prices are valid until 31 January 2027.

The technical data sheets are available on our website <https://www.acme.example/docs/ahu-b?lang=en>.
Do not hesitate to call me if you have any questions.

Kind regards

Jonas Weber
Sales Engineer
ACME Building Services GmbH
Tel. +49 30 1234567-89 | jonas.weber@acme.example
"""

GERMAN_INVOICE = """\
Sehr geehrte Damen und Herren,

anbei übersenden wir Ihnen die Rechnung Nr. 2026-10-0815 über 4.280,00 € für die im Oktober
erbrachten Wartungsleistungen. Bitte überweisen Sie den Betrag bis zum 15. Dezember 2026 auf
das in der Rechnung genannte Konto.

Ihre Rechnungen finden Sie auch im Kundenportal: https://portal.acme.example/rechnungen

Mit freundlichen Grüßen
Ihre Buchhaltung

ACME Gebäudetechnik GmbH · Musterstraße 12 · 10115 Berlin
"""

REPLY = """\
Hi Priya,

works for me - I've moved the review to Friday 2pm and updated the ticket:
https://acme.atlassian.net/browse/OPS-1432

Cheers,
Tom

On Wed, 25 Nov 2026 at 16:02, Priya Natarajan <priya@acme.example> wrote:
> Hi Tom,
> could we move the deployment review? I'm out on Thursday.
> Thanks, Priya
"""

ORDER_HTML = """\
<!DOCTYPE html><html><body style="font-family:Arial,sans-serif">
<h2>Thank you for your order</h2>
<p>Hello Ms Novak,</p>
<p>we have received your order <b>#100238841</b> of 26 November 2026 and will ship it within two
working days. You can follow its status in your customer account:</p>
<p><a href="https://shop.acme.example/account/orders/100238841">View my order</a></p>
<table><tr><td>1 x Office chair ErgoPlus</td><td>EUR 249.00</td></tr></table>
<p>If anything is wrong with your order, reply to this message or call +44 20 7946 0100.</p>
<p>ACME Office Supplies Ltd, 1 Example Street, London</p>
</body></html>
"""

BUSINESS_MAIL = {
    "plain-text-with-signature-and-link": lambda: message(),
    "outlook-html-and-text-with-attachment": lambda: message(
        subject="Offer 2026-4471: replacement of air handling units, building B",
        text=OUTLOOK_TEXT,
        html=OUTLOOK_HTML,
        sender="Jonas Weber <jonas.weber@acme.example>",
        to='"Okafor, Daniel" <d.okafor@client.example>',
        attachments=(("Offer-2026-4471.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40, "application/pdf"),),
    ),
    "german-invoice-quoted-printable": lambda: message(
        subject="Rechnung Nr. 2026-10-0815 – Wartung Oktober",
        text=GERMAN_INVOICE,
        sender="ACME Buchhaltung <rechnung@acme.example>",
        attachments=(("Rechnung_2026-10-0815.pdf", b"%PDF-1.4\n" + b"\x00\x10" * 3000, "application/pdf"),),
    ),
    "reply-with-quoted-text": lambda: message(subject="Re: deployment review", text=REPLY),
    "html-only-order-confirmation": lambda: message(
        subject="Your order #100238841", html=ORDER_HTML, sender="ACME Shop <orders@acme.example>"
    ),
    "several-colleagues-shared-document": lambda: message(
        subject="Draft budget 2027 - comments by Friday please",
        text="Hi all,\n\nthe draft budget is in the shared folder:\n"
        "https://acme.sharepoint.com/sites/finance/Shared%20Documents/Budget-2027.xlsx?d=w1a2b3c&csf=1\n\n"
        "Please add your comments by Friday noon.\n\nThanks,\nAlice\n",
        to="team-leads@acme.example",
    ),
}


async def test_gtube_is_spam(classifier: BuiltinClassifier) -> None:
    verdict = await classifier.classify(info(message(text=f"Test message\n\n{GTUBE}\n")))
    assert verdict.spam
    assert verdict.tests == ("GTUBE",)
    assert verdict.score == WEIGHTS["GTUBE"] == 1000.0
    assert verdict.classifier == "builtin" and verdict.error is None
    assert verdict.detection == GENERAL_FILTER


async def test_gtube_is_found_in_a_base64_html_part(classifier: BuiltinClassifier) -> None:
    html = f"<html><body><p>Test</p><p>{GTUBE}</p></body></html>"
    raw = message(html=html)
    assert GTUBE.encode() not in raw  # the part really is encoded
    verdict = await classifier.classify(info(raw))
    assert verdict.spam and verdict.tests == ("GTUBE",)


@pytest.mark.parametrize("build", BUSINESS_MAIL.values(), ids=BUSINESS_MAIL.keys())
async def test_business_mail_is_not_spam_nor_bulk(
    classifier: BuiltinClassifier, build: Callable[[], bytes]
) -> None:
    verdict = await classifier.classify(info(build()))
    assert not verdict.spam, verdict
    assert verdict.bulk_level <= 3 and not verdict.bulk, verdict
    assert verdict.score <= WEIGHTS["HTML_ONLY"], verdict  # at most: a legitimate HTML-only mail
    assert verdict.detection is None


SPAM_MAIL = {
    "lottery": (
        lambda: message(
            subject="CONGRATULATIONS YOU HAVE WON!!!",
            text="Dear friend,\n\nyou have won EUR 1,500,000 in our international lottery. To claim your "
            "prize send your details today. Act now, this offer expires in 24 hours!\n",
            sender="Lottery Board <board@acme.example>",
        ),
        {"SPAM_PHRASES_MANY", "SUBJ_ALL_CAPS", "SUBJ_EXCLAIM"},
    ),
    "credential-phishing": (
        lambda: message(
            subject="Action required: mailbox quota",
            text="Your mailbox storage is full and your account will be suspended within 24 hours.\n"
            "Verify your account now: http://198.51.100.23/owa/login.php\n",
            sender='"it-support@partner.example" <jdoe@acme.example>',
        ),
        {"PHISH_PHRASES", "URL_IP_LITERAL", "FROM_DISPLAY_SPOOF"},
    ),
    "pharmacy-html-hidden-text": (
        lambda: message(
            subject="Cheap meds",
            html="<html><body><p>Viagra and Cialis, no prescription needed. Online pharmacy: "
            '<a href="https://bit.ly/3kXyZ9q">order here</a></p>'
            '<div style="display:none">lorem ipsum dolor sit amet consectetur adipiscing elit sed do</div>'
            "</body></html>",
        ),
        {"SPAM_PHRASES_MANY", "HTML_ONLY", "HTML_ONLY_HIDDEN_TEXT", "URL_SHORTENER"},
    ),
    "malware-attachment": (
        lambda: message(
            subject="Invoice overdue",
            text="Please confirm your password in the attached form to see the invoice.\n",
            attachments=(("invoice_2026.pdf.exe", b"MZ\x90\x00" * 100, "application/octet-stream"),),
            drop=("Date", "Message-ID"),
        ),
        {"EXECUTABLE_ATTACHMENT", "PHISH_PHRASES", "MISSING_DATE", "MISSING_MESSAGE_ID"},
    ),
}


@pytest.mark.parametrize(("build", "expected"), SPAM_MAIL.values(), ids=SPAM_MAIL.keys())
async def test_spam_is_spam(
    classifier: BuiltinClassifier, build: Callable[[], bytes], expected: set[str]
) -> None:
    verdict = await classifier.classify(info(build()))
    assert verdict.spam, verdict
    assert set(verdict.tests) == expected
    assert verdict.score == sum(WEIGHTS[t] for t in expected) >= SpamSettings().score_threshold
    assert list(verdict.tests) == sorted(verdict.tests, key=lambda t: -WEIGHTS[t])  # strongest first


# One heuristic at a time, on an otherwise clean business message: the test fires alone, with its
# documented weight, and (GTUBE aside) no single heuristic makes a message spam.
HEURISTICS = {
    "SUBJ_ALL_CAPS": lambda: message(subject="QUARTERLY FIGURES AND MEETING"),
    "SUBJ_EXCLAIM": lambda: message(subject="Quarterly figures are in!!!"),
    "SPAM_PHRASES": lambda: message(text=PLAIN_BUSINESS + "\nPS: the early-bird price ends soon, act now.\n"),
    "SPAM_PHRASES_MANY": lambda: message(
        text=PLAIN_BUSINESS + "\nYou have won! Claim your prize, act now.\n"
    ),
    "PHISH_PHRASES": lambda: message(text=PLAIN_BUSINESS + "\nPlease verify your account here.\n"),
    "URL_SHORTENER": lambda: message(text=PLAIN_BUSINESS + "\nSlides are at https://bit.ly.\n"),
    "URL_IP_LITERAL": lambda: message(
        text=PLAIN_BUSINESS + "\nTest server (http://203.0.113.7:8080), user admin.\n"
    ),
    "FROM_DISPLAY_SPOOF": lambda: message(sender='"ceo@bigbank.example" <alice.martin@acme.example>'),
    "MISSING_FROM": lambda: message(drop=("From",)),
    "MISSING_DATE": lambda: message(drop=("Date",)),
    "MISSING_MESSAGE_ID": lambda: message(drop=("Message-ID",)),
    "HTML_ONLY": lambda: message(
        html="<html><body><p>" + PLAIN_BUSINESS.replace("\n", "<br>") + "</p></body></html>"
    ),
    "EXECUTABLE_ATTACHMENT": lambda: message(
        attachments=(("setup.exe", b"MZ" * 200, "application/octet-stream"),)
    ),
}


@pytest.mark.parametrize(("test", "build"), HEURISTICS.items(), ids=HEURISTICS.keys())
async def test_each_heuristic_fires_alone_with_its_weight(
    classifier: BuiltinClassifier, test: str, build: Callable[[], bytes]
) -> None:
    verdict = await classifier.classify(info(build()))
    assert verdict.tests == (test,)
    assert verdict.score == WEIGHTS[test]
    assert not verdict.spam


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://bit.ly/3xYzAbC", ("URL_SHORTENER",)),
        ("HTTPS://TinyURL.com/y7abc12", ("URL_SHORTENER",)),
        ("http://198.51.100.23/login.php", ("URL_IP_LITERAL",)),
        ("http://www.acme.example@198.51.100.23/", ("URL_IP_LITERAL",)),  # userinfo hides the host
        ("http://[2001:db8::1]/admin", ("URL_IP_LITERAL",)),
        ("https://bit.ly.example/offer", ()),  # a domain that merely starts like a shortener
        ("https://www.acme.example/docs/v1.2.3", ()),
    ],
)
async def test_link_forms(classifier: BuiltinClassifier, link: str, expected: tuple[str, ...]) -> None:
    verdict = await classifier.classify(info(message(text=PLAIN_BUSINESS + f"\nSee {link}\n")))
    assert verdict.tests == expected


async def test_hidden_text_counts_only_in_html_only_mail(classifier: BuiltinClassifier) -> None:
    html = (
        '<html><body><span style="display:none;font-size:0">Your quarterly figures are ready to read</span>'
        "<p>Hello Bob, the figures are attached.</p></body></html>"
    )
    html_only = await classifier.classify(info(message(html=html)))
    assert set(html_only.tests) == {"HTML_ONLY", "HTML_ONLY_HIDDEN_TEXT"}
    assert html_only.score == WEIGHTS["HTML_ONLY"] + WEIGHTS["HTML_ONLY_HIDDEN_TEXT"]
    # A preheader in a message that also has a text part (what newsletters do) is not suspicious.
    with_text = await classifier.classify(
        info(message(text="Hello Bob, the figures are attached.\n", html=html))
    )
    assert with_text.tests == ()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("From", '"alice.martin@acme.example" <alice.martin@acme.example>'),  # its own address
        ("From", '"Alice (alice@eu.acme.example)" <alice.martin@acme.example>'),  # a subdomain
        ("Subject", "RE: Q3 OK"),  # short capitals: an acronym, not shouting
        ("Subject", "Go-live tomorrow!"),  # one exclamation mark
    ],
)
async def test_near_misses_do_not_fire(classifier: BuiltinClassifier, header: str, value: str) -> None:
    raw = message(sender=value) if header == "From" else message(subject=value)
    assert (await classifier.classify(info(raw))).tests == ()


async def test_strongest_test_names_the_detection_technology(classifier: BuiltinClassifier) -> None:
    raw = message(
        text="See http://203.0.113.9/files and https://tinyurl.com/y7abc12 for the files.\n", drop=("Date",)
    )
    verdict = await classifier.classify(info(raw))
    assert verdict.tests == ("URL_IP_LITERAL", "URL_SHORTENER", "MISSING_DATE")
    assert verdict.spam and verdict.score == 5.0
    assert verdict.detection == URL_REPUTATION


# Bulk ------------------------------------------------------------------------------------------

NEWSLETTER_HEADERS = {
    "List-Unsubscribe": "<https://news.acme.example/unsubscribe?u=8f2a1c>, <mailto:unsub@news.acme.example>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "List-Id": "ACME customer newsletter <customers.news.acme.example>",
    "Precedence": "bulk",
    "X-Mailer": "Mailchimp Mailer - **CID4b1c2d3e4f**",
}


@pytest.mark.parametrize(
    ("headers", "recipients", "expected", "level"),
    [
        pytest.param(NEWSLETTER_HEADERS, 1, set(BULK_POINTS) - {"FINGERPRINT_MASS", "FINGERPRINT_REPEAT", "BULK_RCPT_MASS", "BULK_RCPT_MANY"}, 9, id="newsletter-all-list-headers"),
        pytest.param({"List-Unsubscribe": "<https://app.acme.example/notifications>"}, 1, {"BULK_LIST_UNSUBSCRIBE"}, 3, id="transactional-with-unsubscribe"),
        pytest.param({k: NEWSLETTER_HEADERS[k] for k in ("List-Unsubscribe", "List-Unsubscribe-Post")}, 1, {"BULK_LIST_UNSUBSCRIBE", "BULK_ONE_CLICK_UNSUBSCRIBE"}, 4, id="one-click-unsubscribe"),
        pytest.param({"List-Id": "<dev.lists.acme.example>", "Precedence": "list", "List-Unsubscribe": "<mailto:dev-leave@lists.acme.example>"}, 5, {"BULK_LIST_ID", "BULK_PRECEDENCE", "BULK_LIST_UNSUBSCRIBE"}, 6, id="mailing-list-post"),
        pytest.param({"List-Id": "<dev.lists.acme.example>", "Precedence": "list", "List-Unsubscribe": "<mailto:dev-leave@lists.acme.example>"}, 25, {"BULK_LIST_ID", "BULK_PRECEDENCE", "BULK_LIST_UNSUBSCRIBE", "BULK_RCPT_MANY"}, 8, id="mailing-list-post-to-25"),
        pytest.param({"Precedence": "junk"}, 1, {"BULK_PRECEDENCE"}, 2, id="precedence-junk"),
        pytest.param({"X-Campaign-Id": "spring-sale-2026"}, 1, {"BULK_MAILER"}, 2, id="campaign-header"),
        pytest.param({"User-Agent": "phpList v3.6.14"}, 1, {"BULK_MAILER"}, 2, id="bulk-mailer-user-agent"),
        pytest.param({}, 20, {"BULK_RCPT_MANY"}, 2, id="20-recipients"),
        pytest.param({}, 150, {"BULK_RCPT_MASS"}, 4, id="150-recipients"),
        pytest.param({"Auto-Submitted": "auto-replied", "Precedence": "auto_reply"}, 1, set(), 0, id="auto-reply-is-not-bulk"),
        pytest.param({"X-Mailer": "Microsoft Outlook 16.0"}, 19, set(), 0, id="ordinary-mail-to-19"),
    ],
)  # fmt: skip
async def test_bulk_signals_and_level(
    classifier: BuiltinClassifier, headers: dict[str, str], recipients: int, expected: set[str], level: int
) -> None:
    rcpts = tuple(f"customer{i}@example.net" for i in range(recipients))
    verdict = await classifier.classify(info(message(headers=headers), recipients=rcpts))
    assert set(verdict.tests) == expected
    assert verdict.bulk_level == level == min(9, sum(BULK_POINTS[t] for t in expected))
    assert verdict.bulk is (level >= 7) is verdict.is_bulk(7)
    assert not verdict.spam
    assert verdict.detection == (BULK if verdict.bulk else None)


def campaign(i: int, variant: str = "autumn") -> bytes:
    """One copy of a mailing personalised per recipient: greeting, customer number, tracking link."""
    names = ["Alice", "Bob", "Chen", "Dana", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jamal"]
    text = (
        f"Dear {names[i % len(names)]},\n\n"
        f"our {variant} collection has arrived: outdoor jackets, hiking boots and tents for the whole "
        f"family, with free delivery on orders over EUR 50 until {i % 28 + 1} December. As a registered "
        f"customer (no. {100000 + i * 7}) you also get early access to the sale.\n\n"
        f"See the collection: https://shop.acme.example/{variant}?utm_source=mail&uid={i * 7919:x}\n\n"
        "Your ACME outdoor team\n"
    )
    return message(
        subject=f"The {variant} collection is here", text=text, sender="ACME Outdoor <shop@acme.example>"
    )


async def test_same_body_to_many_recipients_fingerprint_repeat_then_mass(
    classifier: BuiltinClassifier,
) -> None:
    fired: dict[int, tuple[str, ...]] = {}
    for i in range(200):
        verdict = await classifier.classify(info(campaign(i), recipients=(f"customer{i}@example.net",)))
        fired[i + 1] = verdict.tests  # recipients reached so far, this message included
    assert all(fired[n] == () for n in range(1, 20))
    assert all(fired[n] == ("FINGERPRINT_REPEAT",) for n in range(20, 200))
    assert fired[200] == ("FINGERPRINT_MASS",)
    last = await classifier.classify(info(campaign(200), recipients=("customer200@example.net",)))
    assert (
        last.bulk_level == BULK_POINTS["FINGERPRINT_MASS"] == 6 and not last.bulk
    )  # a template alone is not bulk


async def test_list_unsubscribe_and_a_repeated_body_is_bulk(classifier: BuiltinClassifier) -> None:
    for i in range(19):
        await classifier.classify(info(campaign(i), recipients=(f"customer{i}@example.net",)))
    raw = campaign(19).replace(
        b"Subject:", b"List-Unsubscribe: <https://shop.acme.example/unsub>\r\nSubject:", 1
    )
    verdict = await classifier.classify(info(raw, recipients=("customer19@example.net",)))
    assert verdict.tests == ("FINGERPRINT_REPEAT", "BULK_LIST_UNSUBSCRIBE")
    assert verdict.bulk_level == 7 and verdict.bulk and verdict.detection == BULK


async def test_one_message_to_many_is_counted_by_recipients_not_fingerprint(
    classifier: BuiltinClassifier,
) -> None:
    rcpts = tuple(f"customer{i}@example.net" for i in range(150))
    first = await classifier.classify(info(campaign(0), recipients=rcpts))
    assert first.tests == ("BULK_RCPT_MASS",)  # one message: nothing repeated yet
    second = await classifier.classify(info(campaign(1), recipients=("late@example.net",)))
    assert second.tests == ("FINGERPRINT_REPEAT",)  # 151 distinct recipients of the same body


async def test_fingerprint_counts_distinct_recipients(classifier: BuiltinClassifier) -> None:
    for i in range(40):
        verdict = await classifier.classify(info(campaign(i), recipients=("same.person@example.net",)))
        assert verdict.tests == ()


async def test_different_bodies_do_not_match(classifier: BuiltinClassifier) -> None:
    rng = random.Random(7)
    vocabulary = (PLAIN_BUSINESS + OUTLOOK_TEXT + REPLY).split()
    for i in range(60):
        text = " ".join(rng.choice(vocabulary) for _ in range(80))
        verdict = await classifier.classify(info(message(text=text), recipients=(f"r{i}@example.net",)))
        assert verdict.tests == (), i


async def test_near_identical_variants_match_but_other_campaigns_do_not(
    classifier: BuiltinClassifier,
) -> None:
    for i in range(19):
        await classifier.classify(info(campaign(i), recipients=(f"customer{i}@example.net",)))
    other = await classifier.classify(
        info(campaign(19, variant="winter"), recipients=("customer19@example.net",))
    )
    # "winter" for "autumn" changes a few shingles only: still the same mailing.
    assert other.tests == ("FINGERPRINT_REPEAT",)
    unrelated = message(text=PLAIN_BUSINESS)
    assert (await classifier.classify(info(unrelated, recipients=("x@example.net",)))).tests == ()


async def test_short_bodies_are_not_fingerprinted(classifier: BuiltinClassifier) -> None:
    for i in range(30):
        raw = message(subject="Scan", text="Please see attached.\n\n-- \nSent from my phone\n")
        assert (await classifier.classify(info(raw, recipients=(f"r{i}@example.net",)))).tests == ()
    assert sketch("Please see attached.") is None


async def test_fingerprints_are_counted_per_tenant(classifier: BuiltinClassifier) -> None:
    for i in range(19):
        await classifier.classify(info(campaign(i), recipients=(f"a{i}@example.net",), tenant="acme"))
        await classifier.classify(info(campaign(i), recipients=(f"b{i}@example.net",), tenant="globex"))
    verdict = await classifier.classify(info(campaign(19), recipients=("b19@example.net",), tenant="globex"))
    assert verdict.tests == ("FINGERPRINT_REPEAT",)  # globex's 20th recipient, not acme's 19 + globex's


async def test_fingerprint_window_slides(classifier: BuiltinClassifier, clock: Clock) -> None:
    window = SpamSettings().fingerprint_window.total_seconds()
    for i in range(15):
        await classifier.classify(info(campaign(i), recipients=(f"early{i}@example.net",)))
    clock.now += window - 1
    for i in range(4):
        verdict = await classifier.classify(info(campaign(i), recipients=(f"late{i}@example.net",)))
        assert verdict.tests == ()  # 19 distinct recipients within the window
    clock.now += 2  # the first 15 fall out of the window
    verdict = await classifier.classify(info(campaign(5), recipients=("late4@example.net",)))
    assert verdict.tests == ()  # 5 recipients left in the window, not 20
    clock.now += 1
    for i in range(15):
        verdict = await classifier.classify(info(campaign(i), recipients=(f"again{i}@example.net",)))
    assert verdict.tests == ("FINGERPRINT_REPEAT",)  # 5 + 15 within the window


def test_fingerprint_store_memory_is_bounded() -> None:
    store = FingerprintStore(window=3600, max_clusters=100, max_recipients=50)
    rng = random.Random(3)
    vocabulary = PLAIN_BUSINESS.split()
    bodies = [sketch(" ".join(rng.choice(vocabulary) for _ in range(40))) for _ in range(400)]
    bodies = [b for b in dict.fromkeys(bodies) if b is not None]
    assert len(bodies) > 300
    for i, body in enumerate(bodies):
        store.observe("acme", body, [f"r{i}@example.net"], now=float(i))
    assert len(store) == 100
    assert len(store._index) <= 100 * 8
    # The first body was evicted: it starts over; the last one is still counted.
    assert store.observe("acme", bodies[0], ["again@example.net"], now=1000.0) == (1, 0)
    assert store.observe("acme", bodies[-1], ["again@example.net"], now=1000.0) == (2, 1)
    # Recipients per cluster saturate at max_recipients.
    store.observe("acme", bodies[-1], [f"m{i}@example.net" for i in range(500)], now=1001.0)
    assert store.observe("acme", bodies[-1], ["one.more@example.net"], now=1002.0) == (50, 50)


# Bounded reading and malformed input ---------------------------------------------------------------


async def test_body_beyond_the_budget_is_not_read(classifier: BuiltinClassifier) -> None:
    filler = ("The quick brown fox jumps over the lazy dog. " * 2000)[: BODY_BUDGET + 1000]
    late = await classifier.classify(info(message(text=f"{filler}\n{GTUBE}\n")))
    assert "GTUBE" not in late.tests  # documented: only the first 64 KB of body are looked at
    early = await classifier.classify(info(message(text=f"{GTUBE}\n{filler}\n")))
    assert early.tests == ("GTUBE",)


def test_a_25mb_message_is_read_within_the_budget() -> None:
    head = (
        b"From: Alice <alice@acme.example>\r\nSubject: backup\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\nthe backup is attached.\r\n"
        b'--b1\r\nContent-Type: application/x-tar; name="backup.tar"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    )
    raw = (
        head
        + b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\r\n" * 360_000
        + b"--b1--\r\n"
    )
    assert len(raw) > 25_000_000
    content = extract(raw)
    assert len(content.body_prefix) == BODY_BUDGET
    assert content.plain == ["Hello,\r\nthe backup is attached."]  # the CRLF before "--b1" is the delimiter's
    assert content.attachments == ["backup.tar"]  # seen by name, never decoded
    assert content.html == []


MALFORMED = {
    "empty": b"",
    "no-header-block": b"just some text without headers\r\n",
    "binary": bytes(range(256)) * 20,
    "headers-only": b"From: a@acme.example\r\nSubject: x\r\n",
    "lf-line-ends": b"From: a@acme.example\nSubject: hello\n\nbody text\n",
    "multipart-without-boundary": b"From: a@acme.example\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n--x--\r\n",
    "truncated-base64": b"From: a@acme.example\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQhIFRoaXMgaXMgY",
    "bad-base64": b"From: a@acme.example\r\nContent-Transfer-Encoding: base64\r\n\r\n====!!!!\r\n",
    "unknown-charset": b"From: a@acme.example\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff\r\n",
    "broken-encoded-word": b"From: =?utf-8?b?!!!?= <a@acme.example>\r\nSubject: =?x-unknown?q?abc?=\r\n\r\nhi\r\n",
    "deep-multipart": b"From: a@acme.example\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"".join(
        f"--{c}\r\nContent-Type: multipart/mixed; boundary={chr(ord(c) + 1)}\r\n\r\n".encode()
        for c in "abcdefgh"
    )
    + b"--i\r\nContent-Type: text/plain\r\n\r\ndeep\r\n",
    "part-without-headers": b"From: a@acme.example\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nbare text\r\n--q--\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_messages_get_a_verdict(classifier: BuiltinClassifier, raw: bytes) -> None:
    verdict = await classifier.classify(info(raw))
    assert verdict.error is None and verdict.classifier == "builtin"
    assert not verdict.spam


def test_part_without_headers_is_plain_text() -> None:
    assert extract(MALFORMED["part-without-headers"]).plain == ["bare text"]
    assert extract(MALFORMED["lf-line-ends"]).plain == ["body text\n"]


@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_a_classifier_bug_gives_the_fail_mode_verdict(fail: str) -> None:
    classifier = BuiltinClassifier(SpamSettings(fail=fail))
    broken = MessageInfo(None, "", (), "", "", "acme", None, "Q")  # type: ignore[arg-type]
    verdict = await classifier.classify(broken)
    assert verdict.error and verdict.error.startswith("builtin:")
    assert verdict.spam is (fail == "closed")
    assert verdict.tests == (CLASSIFIER_UNAVAILABLE,)


# Interface and configuration -------------------------------------------------------------------


async def test_open_classifier_follows_settings() -> None:
    builtin = open_classifier(Settings())
    assert isinstance(builtin, BuiltinClassifier) and builtin.name == "builtin"
    rspamd = open_classifier(Settings(spam=SpamSettings(classifier="rspamd")))
    assert isinstance(rspamd, RspamdClassifier) and rspamd.name == "rspamd"
    assert open_classifier(Settings(spam=SpamSettings(classifier="off"))) is None
    for c in (builtin, rspamd):
        await c.start()
        await c.close()


def test_verdict_fills_the_trace_columns() -> None:
    verdict = Verdict(spam=True, score=7.5, bulk_level=4, tests=("A", "B"), classifier="builtin")
    trace = verdict.as_trace()
    assert set(trace) <= set(TraceMessage.__table__.columns.keys())
    assert trace == {
        "spam": True,
        "spam_score": 7.5,
        "bulk_level": 4,
        "spam_tests": ["A", "B"],
        "classifier": "builtin",
    }
    assert verdict.is_bulk(4) and not verdict.is_bulk(5)


async def test_bulk_threshold_and_score_threshold_come_from_settings(clock: Clock) -> None:
    strict = BuiltinClassifier(SpamSettings(bulk_threshold=3, score_threshold=1.5), clock=clock)
    notice = await strict.classify(
        info(message(headers={"List-Unsubscribe": "<https://app.acme.example/n>"}))
    )
    assert notice.bulk_level == 3 and notice.bulk
    caps = await strict.classify(info(message(subject="QUARTERLY FIGURES AND MEETING")))
    assert caps.spam and caps.score == 1.5


def test_spam_settings_from_environment() -> None:
    s = load(
        environ={
            "OUTGUARD_SPAM__FINGERPRINT_WINDOW": "30m",
            "OUTGUARD_SPAM__FINGERPRINT_REPEAT": "10",
            "OUTGUARD_SPAM__FINGERPRINT_MASS": "50",
            "OUTGUARD_SPAM__SCORE_THRESHOLD": "6.5",
            "OUTGUARD_SPAM__RSPAMD_URL": "http://rspamd.internal:11333/",
            "OUTGUARD_SPAM__RSPAMD_SETTINGS_ID": "outbound",
        }
    ).spam
    assert s.fingerprint_window.total_seconds() == 1800 and (s.fingerprint_repeat, s.fingerprint_mass) == (
        10,
        50,
    )
    assert s.score_threshold == 6.5 and s.rspamd_settings_id == "outbound"
    assert s.rspamd_url == "http://rspamd.internal:11333"  # no trailing slash: /checkv2 is appended


@pytest.mark.parametrize(
    ("env", "message_part"),
    [
        ({"OUTGUARD_SPAM__FINGERPRINT_MASS": "20"}, "[spam] fingerprint_mass: Value error, must be above fingerprint_repeat (20)"),
        ({"OUTGUARD_SPAM__RSPAMD_URL": "127.0.0.1:11333"}, "[spam] rspamd_url"),
        ({"OUTGUARD_SPAM__SCORE_THRESHOLD": "0"}, "[spam] score_threshold"),
        ({"OUTGUARD_SPAM__FINGERPRINT_MAX_CLUSTERS": "10"}, "[spam] fingerprint_max_clusters"),
    ],
)  # fmt: skip
def test_bad_spam_settings_are_refused(env: dict[str, str], message_part: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(environ=env)
    assert message_part in str(e.value)


def test_a_flood_of_one_off_mail_does_not_push_out_a_repeated_body() -> None:
    store = FingerprintStore(window=3600, max_clusters=100, max_recipients=50)
    rng = random.Random(11)
    vocabulary = OUTLOOK_TEXT.split()
    campaign_body = sketch(PLAIN_BUSINESS)
    assert campaign_body is not None
    store.observe("acme", campaign_body, ["a@example.net"], now=0.0)
    store.observe("acme", campaign_body, ["b@example.net"], now=1.0)  # seen twice: kept longer
    for i in range(500):
        one_off = sketch(" ".join(rng.choice(vocabulary) for _ in range(40)))
        assert one_off is not None
        store.observe("acme", one_off, [f"r{i}@example.net"], now=2.0 + i)
    assert len(store) == 100
    assert store.observe("acme", campaign_body, ["c@example.net"], now=600.0) == (3, 2)
