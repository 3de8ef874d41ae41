"""The region's shared vocabulary: who takes part, the three domains, the kinds of collaboration.

Every domain speaks it (profiles validate it, the ranker masks it, explanations name it), so it lives
in plumbing rather than in one domain (docs/contracts.md §1 lists the values).
"""

from __future__ import annotations

from typing import Literal, get_args

from service.kit.i18n import _

Kind = Literal["student", "researcher", "company", "public_body"]
Domain = Literal["bioeconomy", "cyber_ict", "industrial_tech"]
Engagement = Literal[
    "thesis",
    "internship",
    "summer_job",
    "part_time_job",
    "project",
    "mentoring",
    "research_collaboration",
]
# The same values as tuples, for forms, labels and checks (one source: the Literal types above).
KINDS: tuple[Kind, ...] = get_args(Kind)
DOMAINS: tuple[Domain, ...] = get_args(Domain)
ENGAGEMENTS: tuple[Engagement, ...] = get_args(Engagement)


def kind_labels() -> dict[str, str]:
    """Who a participant is, as people read it."""
    return {"student": _("Student"), "researcher": _("Researcher"), "company": _("Company"),
            "public_body": _("Public body")}


def domain_labels() -> dict[str, str]:
    """The three domains of the Gjøvik region, as people read them."""
    return {"bioeconomy": _("Bioeconomy"), "cyber_ict": _("Cyber security and ICT"),
            "industrial_tech": _("Industrial technology")}


def engagement_labels() -> dict[str, str]:
    """Kinds of collaboration, as people read them."""
    return {
        "thesis": _("Thesis (bachelor or master)"), "internship": _("Internship"), "summer_job": _("Summer job"),
        "part_time_job": _("Part-time job"), "project": _("R&D project"), "mentoring": _("Mentoring"),
        "research_collaboration": _("Research collaboration"),
    }


def language_labels() -> dict[str, str]:
    """The languages Koble writes in, each named in its own language."""
    return {"nb": "Norsk (bokmål)", "en": "English"}
