"""Seeded prose for the benchmark corpus: fictional councils, people, topics and sentence templates.

Every function takes a `random.Random` and nothing else random, so one seed
always gives the same text. The vocabulary is shaped like the real material:
a few words are everywhere (children, council, services), most are topical,
and some (programme names, surnames, hamlets) are rare, so full-text search
meets both common and rare terms. Inspection rounds repeat a council's issues
in new words, which is what linking has to find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

Rng = random.Random


@dataclass(frozen=True)
class Council:
    name: str
    short: str
    welsh: str
    towns: tuple[str, ...]
    domain: str
    paper: str  # the local newspaper


@dataclass(frozen=True)
class Topic:
    key: str
    service: str  # children, adults or both
    phrases: tuple[tuple[str, bool], ...]  # (noun phrase, plural?)
    tails: tuple[str, ...]


# Twenty-two councils, as Wales has. Glanmor and Afonwy are the bundled corpus's councils (in the gazetteer);
# the rest are invented for the bench.
COUNCILS: tuple[Council, ...] = (
    Council(
        "Glanmor County Council",
        "Glanmor",
        "Cyngor Sir Glanmor",
        ("Aberglanmor", "Penglan"),
        "glanmor.gov.example",
        "Glanmor Gazette",
    ),
    Council(
        "Afonwy County Borough Council",
        "Afonwy",
        "Cyngor Bwrdeistref Sirol Afonwy",
        ("Pont Afon", "Cwmafon"),
        "afonwy.gov.example",
        "Afonwy Advertiser",
    ),
    Council(
        "Bryncoed County Council",
        "Bryncoed",
        "Cyngor Sir Bryncoed",
        ("Llanbryn", "Coedfa"),
        "bryncoed.gov.example",
        "Bryncoed Chronicle",
    ),
    Council(
        "Penrhos County Borough Council",
        "Penrhos",
        "Cyngor Bwrdeistref Sirol Penrhos",
        ("Tregarn", "Rhosfa"),
        "penrhos.gov.example",
        "Penrhos Observer",
    ),
    Council(
        "Morfa Glas County Council",
        "Morfa Glas",
        "Cyngor Sir Morfa Glas",
        ("Porth Morfa", "Glasfryn"),
        "morfaglas.gov.example",
        "Morfa Mercury",
    ),
    Council(
        "Dyffryn Teg County Borough Council",
        "Dyffryn Teg",
        "Cyngor Bwrdeistref Sirol Dyffryn Teg",
        ("Aberteg", "Nantteg"),
        "dyffrynteg.gov.example",
        "Valley Gazette",
    ),
    Council(
        "Llanfaes City Council",
        "Llanfaes",
        "Cyngor Dinas Llanfaes",
        ("Llanfaes", "Maesglas"),
        "llanfaes.gov.example",
        "Llanfaes Evening Post",
    ),
    Council(
        "Mynydd Du County Council",
        "Mynydd Du",
        "Cyngor Sir Mynydd Du",
        ("Cwmdu", "Talybont Isaf"),
        "mynydddu.gov.example",
        "Mountain Herald",
    ),
    Council(
        "Cwm Arian County Borough Council",
        "Cwm Arian",
        "Cyngor Bwrdeistref Sirol Cwm Arian",
        ("Arian", "Blaenarian"),
        "cwmarian.gov.example",
        "Arian Valley News",
    ),
    Council(
        "Traeth Gwyn County Council",
        "Traeth Gwyn",
        "Cyngor Sir Traeth Gwyn",
        ("Traethgwyn", "Porth Eirin"),
        "traethgwyn.gov.example",
        "Coast Journal",
    ),
    Council(
        "Caerwen County Council",
        "Caerwen",
        "Cyngor Sir Caerwen",
        ("Caerwen", "Llys Wen"),
        "caerwen.gov.example",
        "Caerwen Leader",
    ),
    Council(
        "Pontfaen County Borough Council",
        "Pontfaen",
        "Cyngor Bwrdeistref Sirol Pontfaen",
        ("Pontfaen", "Gwaunfaen"),
        "pontfaen.gov.example",
        "Pontfaen Press",
    ),
    Council(
        "Aberhafren County Council",
        "Aberhafren",
        "Cyngor Sir Aberhafren",
        ("Trefhafren", "Hafrenfa"),
        "aberhafren.gov.example",
        "Hafren Times",
    ),
    Council(
        "Bro Dawel County Borough Council",
        "Bro Dawel",
        "Cyngor Bwrdeistref Sirol Bro Dawel",
        ("Pentawel", "Tawelfa"),
        "brodawel.gov.example",
        "Bro Dawel Echo",
    ),
    Council(
        "Glyn Euraid County Council",
        "Glyn Euraid",
        "Cyngor Sir Glyn Euraid",
        ("Euraidfa", "Glynfach"),
        "glyneuraid.gov.example",
        "Golden Valley Star",
    ),
    Council(
        "Maes Hir County Borough Council",
        "Maes Hir",
        "Cyngor Bwrdeistref Sirol Maes Hir",
        ("Maeshir", "Pen-y-maes"),
        "maeshir.gov.example",
        "Maes Hir Mail",
    ),
    Council(
        "Tir Uchel County Council",
        "Tir Uchel",
        "Cyngor Sir Tir Uchel",
        ("Llanuchel", "Uchelfa"),
        "tiruchel.gov.example",
        "Uplands Courier",
    ),
    Council(
        "Nant Gwyrdd County Borough Council",
        "Nant Gwyrdd",
        "Cyngor Bwrdeistref Sirol Nant Gwyrdd",
        ("Blaennant", "Gwyrddfa"),
        "nantgwyrdd.gov.example",
        "Nant Gwyrdd Guardian",
    ),
    Council(
        "Penarfor County Council",
        "Penarfor",
        "Cyngor Sir Penarfor",
        ("Penarfor", "Morfa Bach"),
        "penarfor.gov.example",
        "Penarfor Tide",
    ),
    Council(
        "Llwyn Onn County Borough Council",
        "Llwyn Onn",
        "Cyngor Bwrdeistref Sirol Llwyn Onn",
        ("Llwynonn", "Onnen"),
        "llwynonn.gov.example",
        "Ashgrove Herald",
    ),
    Council(
        "Bryn Gwyn City Council",
        "Bryn Gwyn",
        "Cyngor Dinas Bryn Gwyn",
        ("Bryngwyn", "Castell Gwyn"),
        "bryngwyn.gov.example",
        "Bryn Gwyn Post",
    ),
    Council(
        "Cwm Derw County Borough Council",
        "Cwm Derw",
        "Cyngor Bwrdeistref Sirol Cwm Derw",
        ("Cwmderw", "Derwen Fawr"),
        "cwmderw.gov.example",
        "Oakvale Weekly",
    ),
)

GIVEN = (
    "Rhian Dafydd Sian Gareth Nia Owain Carys Huw Ffion Rhodri Eleri Iwan Mared Aled Bethan Gwyn Catrin Emyr "
    "Lowri Tomos Sarah David Helen Mark Claire Paul Rachel Andrew Karen Steven Angharad Geraint Meinir Elfed "
    "Gwenllian Dylan Hywel Menna Sioned Trystan"
).split()
SURNAMES = (
    "Jones Davies Williams Evans Thomas Roberts Hughes Lewis Morgan Griffiths Price Rees Pritchard Powell "
    "Owen Jenkins Llewellyn Vaughan Parry Bowen Howells Prosser Meredith Bevan Watkins Tudur Gwilym Pugh "
    "Gruffydd Rowlands"
).split()
# Rare on purpose: each appears in roughly one statement in a thousand.
PROGRAMMES = (
    "Gwennol",
    "Camau Cyntaf",
    "Ffordd Newydd",
    "Cydweithio",
    "Seren Fach",
    "Llwybr",
    "Drws Agored",
    "Teulu Cryf",
    "Aelwyd",
    "Cam wrth Gam",
    "Hafan",
    "Gobaith",
    "Pont",
    "Cynefin",
    "Enfys",
    "Tarian",
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        "safeguarding",
        "both",
        (
            ("safeguarding referrals", True),
            ("child protection enquiries", True),
            ("strategy meetings", True),
            ("the response to adult safeguarding reports", False),
        ),
        ("within the required timescales", "when risks escalate", "at the front door", "outside office hours"),
    ),
    Topic(
        "supervision",
        "both",
        (
            ("supervision of social workers", False),
            ("reflective supervision", False),
            ("the recording of management oversight", False),
        ),
        ("in line with the local authority's own policy", "for newly qualified staff", "across all teams"),
    ),
    Topic(
        "workforce",
        "both",
        (
            ("the recruitment and retention of social workers", False),
            ("reliance on agency staff", False),
            ("vacancy rates", True),
            ("workforce stability", False),
        ),
        ("in the children's safeguarding teams", "in community teams", "over the past twelve months"),
    ),
    Topic(
        "caseloads",
        "both",
        (("caseloads", True), ("the allocation of work", False), ("unallocated cases", True)),
        ("so that practitioners can work directly with families", "in the duty and assessment team"),
    ),
    Topic(
        "assessments",
        "both",
        (("assessments", True), ("what matters conversations", True), ("the timeliness of assessments", False)),
        ("within statutory timescales", "with the person's own outcomes at their centre", "for disabled children"),
    ),
    Topic(
        "care_plans",
        "both",
        (
            ("care and support plans", True),
            ("personal outcomes in plans", True),
            ("the quality of care planning", False),
        ),
        ("so that they are specific and measurable", "for people with complex needs"),
    ),
    Topic(
        "reviews",
        "both",
        (("reviews of care and support plans", True), ("statutory reviews", True)),
        ("on time", "with the involvement of the person and their family"),
    ),
    Topic(
        "placements",
        "children",
        (
            ("placement sufficiency", False),
            ("out-of-county placements", True),
            ("the availability of local foster carers", False),
        ),
        ("for children looked after", "close to children's homes and schools"),
    ),
    Topic(
        "care_leavers",
        "children",
        (("pathway plans", True), ("support for care leavers", False), ("the personal adviser service", False)),
        ("for young people leaving care", "up to the age of twenty-five"),
    ),
    Topic(
        "corporate_parenting",
        "children",
        (("corporate parenting arrangements", True), ("the corporate parenting panel", False)),
        ("across the council and its partners",),
    ),
    Topic(
        "carers",
        "adults",
        (("carers' assessments", True), ("support for unpaid carers", False), ("the offer to young carers", False)),
        ("so that carers are recognised and supported", "in rural areas"),
    ),
    Topic(
        "direct_payments",
        "adults",
        (("direct payments", True), ("the take-up of direct payments", False)),
        ("as a way for people to arrange their own support",),
    ),
    Topic(
        "domiciliary_care",
        "adults",
        (
            ("domiciliary care capacity", False),
            ("unmet hours of care", True),
            ("waiting lists for domiciliary care", True),
        ),
        ("in the north of the county", "particularly at weekends"),
    ),
    Topic(
        "hospital_discharge",
        "adults",
        (("hospital discharge arrangements", True), ("delays in transfers of care", True)),
        ("with the health board", "for older people"),
    ),
    Topic(
        "reablement",
        "adults",
        (("reablement", False), ("the reablement service", False)),
        ("after a stay in hospital", "to help people regain their independence"),
    ),
    Topic(
        "iaa",
        "both",
        (("information, advice and assistance", False), ("the front door service", False)),
        ("so that people get the right help at the first point of contact",),
    ),
    Topic(
        "quality_assurance",
        "both",
        (
            ("quality assurance of practice", False),
            ("audits of case files", True),
            ("the use of performance information", False),
        ),
        ("to drive improvement", "by senior managers"),
    ),
    Topic(
        "advocacy",
        "both",
        (("the active offer of advocacy", False), ("access to independent advocacy", False)),
        ("for children and adults who need it",),
    ),
    Topic(
        "welsh_language",
        "both",
        (("the active offer of services in Welsh", False), ("the availability of Welsh-speaking staff", False)),
        ("in line with More than just words",),
    ),
    Topic(
        "dols",
        "adults",
        (("deprivation of liberty safeguards assessments", True), ("the backlog of DoLS applications", False)),
        ("in care homes and hospitals",),
    ),
    Topic(
        "transitions",
        "both",
        (("transitions to adult services", True), ("planning for young people moving to adult services", False)),
        ("from the age of fourteen",),
    ),
    Topic(
        "early_help",
        "children",
        (("early help", False), ("family support services", True), ("edge of care services", True)),
        ("to prevent children becoming looked after",),
    ),
    Topic(
        "records",
        "both",
        (("case recording", False), ("chronologies", True), ("the case management system", False)),
        ("so that records are up to date and accessible",),
    ),
    Topic(
        "governance",
        "both",
        (
            ("scrutiny arrangements", True),
            ("corporate support for social services", False),
            ("oversight by elected members", False),
        ),
        ("at cabinet and scrutiny committee", "through the improvement board"),
    ),
)

SERVICE_NAMES = {"children": "children's services", "adults": "adult services"}
YEARS = tuple(range(2014, 2026))
MONTHS = ("January February March April May June July August September October November December").split()

_OPEN_NEG = (
    "Inspectors found that",
    "We found that",
    "Our review of case files showed that",
    "In too many cases,",
    "Practitioners told us that",
    "Despite some progress,",
    "There is evidence that",
)
_NEG = (
    "were not consistently completed",
    "were not always recorded",
    "varied in quality",
    "were often delayed",
    "did not reflect what matters to people",
    "were not routinely evaluated",
    "remained a significant challenge",
)
_NEG_SING = (
    "was not consistently completed",
    "was not always recorded",
    "varied in quality",
    "was often delayed",
    "did not reflect what matters to people",
    "was not routinely evaluated",
    "remained a significant challenge",
)
_POS = ("have improved", "are now more consistent", "are generally of good quality", "are timely and proportionate")
_POS_SING = ("has improved", "is now more consistent", "is generally of good quality", "is timely and proportionate")
_SUBJECT = (
    "The local authority",
    "The council",
    "Senior leaders",
    "Managers",
    "The director of social services",
    "Leaders",
)
_PLURAL_SUBJECTS = frozenset({"Senior leaders", "Managers", "Leaders"})
_MODAL = ("should", "must", "needs to", "should continue to")
_VERBS = ("ensure that", "improve", "strengthen", "review", "prioritise", "develop", "address")
_IMPERATIVE = ("Ensure that", "Improve", "Strengthen", "Review", "Prioritise", "Develop", "Address")
_PURPOSE = (
    "so that people receive the right support at the right time",
    "to keep children safe",
    "so that outcomes for people improve",
    "to reduce risk to vulnerable adults",
    "in line with the Social Services and Well-being (Wales) Act 2014",
    "as a matter of urgency",
)
_STATUS = (
    "this has been met",
    "progress has been made but this remains an area for improvement",
    "this has not yet been addressed",
    "this recommendation has been partially met",
    "this remains a concern",
)
_QUOTES = (
    "We accept the findings of the report in full and we are already acting on them",
    "Families deserve better than this and we will not rest until things improve",
    "I am proud of our staff, who have worked incredibly hard through a difficult period",
    "The report recognises the progress we have made, but there is more to do",
    "We have invested in our workforce and we are starting to see the difference",
    "These findings are deeply concerning and the cabinet must be held to account",
    "Our priority is, and always will be, the safety of children in the county",
)
_ROLES = (
    "cabinet member for social services",
    "leader of the council",
    "director of social services",
    "head of children's services",
    "head of adult services",
    "chair of the scrutiny committee",
    "leader of the opposition group",
)
_RESOLUTIONS = (
    "the report be noted",
    "the committee receive a further update in six months",
    "the improvement plan be endorsed",
    "the recommendations be referred to cabinet",
    "officers provide members with the performance data requested",
)
WELSH = (
    "Dylai'r awdurdod lleol sicrhau bod asesiadau'n cael eu cwblhau mewn pryd.",
    "Mae angen gwella ansawdd cynlluniau gofal a chymorth.",
    "Canfu arolygwyr fod goruchwyliaeth gweithwyr cymdeithasol yn anghyson.",
    "Mae'r cyngor wedi gwneud cynnydd ers yr arolygiad diwethaf.",
    "Dywedodd teuluoedd wrthym eu bod yn teimlo bod rhywun yn gwrando arnynt.",
    "Rhaid i'r cyngor gryfhau trefniadau diogelu ar frys.",
    "Nid yw gofalwyr di-dâl bob amser yn cael cynnig asesiad.",
    "Mae prinder gweithwyr gofal cartref yn parhau i fod yn her sylweddol.",
)


def person(r: Rng) -> str:
    return f"{r.choice(GIVEN)} {r.choice(SURNAMES)}"


def date_text(year: int, month: int, day: int) -> str:
    return f"{day} {MONTHS[month - 1]} {year}"


def topics_for(service: str) -> list[Topic]:
    return [t for t in TOPICS if t.service in ("both", service)]


def _np(r: Rng, topic: Topic) -> tuple[str, bool]:
    return r.choice(topic.phrases)


def _maybe_rare(r: Rng, text: str) -> str:
    if r.random() < 0.004:  # programme names are the rare terms search looks for
        return text[:-1] + f", through the {r.choice(PROGRAMMES)} programme."
    return text


def finding(r: Rng, topic: Topic) -> str:
    np, plural = _np(r, topic)
    roll = r.random()
    if roll < 0.25:
        pct, was = r.randint(31, 79), r.randint(40, 95)
        return _maybe_rare(
            r,
            f"Only {pct}% of cases met the standard for {np} {r.choice(topic.tails)}, "
            f"compared with {was}% the year before.",
        )
    if roll < 0.45:
        verb = r.choice(_POS if plural else _POS_SING)
        return _maybe_rare(
            r,
            f"{np[0].upper() + np[1:]} {verb} since the last inspection, and "
            f"{r.choice(('people', 'families', 'carers', 'young people'))} told us they felt listened to.",
        )
    verb = r.choice(_NEG if plural else _NEG_SING)
    return _maybe_rare(r, f"{r.choice(_OPEN_NEG)} {np} {verb} {r.choice(topic.tails)}.")


def recommendation(r: Rng, topic: Topic, imperative: bool = False) -> str:
    np, plural = _np(r, topic)
    if imperative:
        verb = r.choice(_IMPERATIVE)
        be = "are" if plural else "is"
        body = (
            f"{np} {be} {r.choice(('timely', 'consistent', 'of good quality', 'properly recorded'))}"
            if verb == "Ensure that"
            else np
        )
        return f"{verb} {body} {r.choice(topic.tails)}."
    verb = r.choice(_VERBS)
    be = "are" if plural else "is"
    body = f"{np} {be} {r.choice(('timely', 'robust', 'consistent', 'effective'))}" if verb == "ensure that" else np
    subject = r.choice(_SUBJECT)
    modal = r.choice(_MODAL)
    if modal == "needs to" and subject in _PLURAL_SUBJECTS:
        modal = "need to"
    return _maybe_rare(r, f"{subject} {modal} {verb} {body} {r.choice(_PURPOSE)}.")


def recap(r: Rng, topic: Topic, year: int) -> str:
    np, _ = _np(r, topic)
    return (
        f"At our last inspection in {year} we recommended that the local authority "
        f"{r.choice(('improve', 'strengthen', 'review'))} {np}; {r.choice(_STATUS)}."
    )


def quote(r: Rng, council: Council, speaker: str | None = None) -> str:
    who = speaker or person(r)
    if r.random() < 0.5:
        return f"\u201c{r.choice(_QUOTES)},\u201d said Cllr {who}, {r.choice(_ROLES)} at {council.short}."
    return f"Cllr {who}, {r.choice(_ROLES)}, said: \u201c{r.choice(_QUOTES)}.\u201d"


def minutes_line(r: Rng, topic: Topic) -> str:
    np, plural = _np(r, topic)
    roll = r.random()
    if roll < 0.3:
        return f"Members asked whether {np} had improved since the last report."
    if roll < 0.6:
        return (
            f"The {r.choice(('Head of Children’s Services', 'Head of Adult Services', 'Director of Social Services'))} "
            f"explained that {np} {'were' if plural else 'was'} being addressed {r.choice(topic.tails)}."
        )
    if roll < 0.8:
        return f"Cllr {person(r)} expressed concern about {np} and asked for figures at the next meeting."
    return f"In response to a question, officers confirmed that {r.randint(3, 60)} {r.choice(('posts', 'cases', 'people'))} were affected."


def resolution(r: Rng) -> str:
    return f"RESOLVED: That {r.choice(_RESOLUTIONS)}."


def news_lead(r: Rng, council: Council, topic: Topic) -> str:
    np, _ = _np(r, topic)
    return (
        f"{council.short} council has been told to improve {np} after inspectors found "
        f"{r.choice(('serious weaknesses', 'delays', 'inconsistent practice', 'too little progress'))} "
        f"{r.choice(topic.tails)}."
    )


def paragraph(r: Rng, topics: list[Topic], n: int, kinds: str = "ff") -> str:
    """`n` sentences on the given topics: `kinds` picks from f(inding), r(ecommendation), m(inutes)."""
    out = []
    for _ in range(n):
        kind = r.choice(kinds)
        topic = r.choice(topics)
        out.append(
            finding(r, topic) if kind == "f" else recommendation(r, topic) if kind == "r" else minutes_line(r, topic)
        )
    return " ".join(out)


def statement(r: Rng, council: Council) -> tuple[str, str]:
    """One statement for the search database: (text, kind)."""
    roll = r.random()
    topic = r.choice(TOPICS)
    if roll < 0.45:
        return finding(r, topic), "finding"
    if roll < 0.7:
        return recommendation(r, topic, imperative=r.random() < 0.3), "recommendation"
    if roll < 0.8:
        return quote(r, council), "quote"
    if roll < 0.95:
        return minutes_line(r, topic), "other"
    return r.choice(WELSH), "finding"
