"""Deterministic demo participants for the Gjøvik region, in the participant-file format (docs/contracts.md §1).

Organisations and study programmes come from `data/gjovik_entities.csv` (real names, one-line
descriptions); people are invented. Texts about real organisations stay generic: each one only
gets topics its description supports, phrased as plausible offers and needs, never as facts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from service.kit.vocabulary import Domain, Engagement, Kind
from service.profiles.schemas import STUDENT_CAPACITY

Lang = Literal["nb", "en"]
EMAIL_DOMAIN = "demo.koble.example"  # under the reserved .example TLD, so no mail can go out
LOCATIONS = ("Vestre Toten", "Østre Toten", "Raufoss", "Gjøvik", "Lillehammer", "Hamar", "Land")
DOMAIN_MAP: dict[str, Domain] = {
    "industrial technology": "industrial_tech",
    "bioeconomy": "bioeconomy",
    "cyber/ICT": "cyber_ict",
}
TYPE_KIND: dict[str, Kind] = {
    "company": "company",
    "cluster": "company",
    "business garden": "company",
    "public body": "public_body",
    "public/education": "public_body",
}


@dataclass(frozen=True)
class Topic:
    """One subject, worded three ways so the two sides of a match never share a phrase."""

    domains: tuple[Domain, ...]
    skill_nb: tuple[str, str]  # how a student or engineer names the competence
    skill_en: tuple[str, str]
    need_nb: tuple[str, str]  # how an organisation describes the problem it has
    need_en: tuple[str, str]
    research_nb: str  # how a researcher names the field
    research_en: str

    def skill(self, lang: Lang, variant: int) -> str:
        """The competence wording, variant 0 or 1."""
        return (self.skill_nb if lang == "nb" else self.skill_en)[variant]

    def need(self, lang: Lang, variant: int) -> str:
        """The organisation's wording, variant 0 or 1."""
        return (self.need_nb if lang == "nb" else self.need_en)[variant]

    def research(self, lang: Lang) -> str:
        """The researcher's wording."""
        return self.research_nb if lang == "nb" else self.research_en


TOPICS: dict[str, Topic] = {
    "ot_security": Topic(
        ("cyber_ict", "industrial_tech"),
        ("sikkerhet i PLS- og SCADA-systemer", "segmentering og overvåking av OT-nettverk"),
        ("PLC and SCADA security", "OT network segmentation and monitoring"),
        ("beskyttelse av styringssystemene i produksjonen mot dataangrep",
         "kartlegging av sårbarheter i produksjonsutstyr som er koblet til nettet"),
        ("protecting the control systems on our production lines from cyber attacks",
         "mapping vulnerabilities in networked production equipment"),
        "angrepsdeteksjon i industrielle kontrollsystemer",
        "intrusion detection for industrial control systems",
    ),
    "pentest": Topic(
        ("cyber_ict",),
        ("penetrasjonstesting av web og nettverk", "etisk hacking og sårbarhetsanalyse"),
        ("web and network penetration testing", "ethical hacking and vulnerability assessment"),
        ("en test av hvor godt systemene våre tåler et reelt angrep",
         "en uavhengig sjekk av sikkerheten i våre nettbaserte tjenester"),
        ("finding out how well our systems withstand a real attack",
         "an independent check of the security of our online services"),
        "automatisert sårbarhetsanalyse og angrepsgrafer",
        "automated vulnerability analysis and attack graphs",
    ),
    "soc": Topic(
        ("cyber_ict",),
        ("logganalyse og hendelseshåndtering", "oppsett av SIEM og deteksjonsregler"),
        ("log analysis and incident response", "SIEM setup and detection engineering"),
        ("bedre oversikt over hva som skjer i IT-miljøet vårt",
         "en plan for hva vi gjør hvis vi rammes av løsepengevirus"),
        ("better visibility of what happens in our IT environment",
         "a plan for what to do if ransomware hits us"),
        "maskinlæring for anomalideteksjon i sikkerhetslogger",
        "machine learning for anomaly detection in security logs",
    ),
    "privacy": Topic(
        ("cyber_ict",),
        ("personvern, GDPR og risikovurdering", "styringssystem for informasjonssikkerhet (ISO 27001)"),
        ("privacy engineering and GDPR compliance", "information security management (ISO 27001)"),
        ("trygg håndtering av personopplysninger i nye digitale tjenester",
         "risikovurderinger før vi tar i bruk skytjenester"),
        ("handling personal data safely in new digital services",
         "risk assessments before we move services to the cloud"),
        "personvernfremmende teknologi og sikkerhetsstyring",
        "privacy-enhancing technologies and security governance",
    ),
    "ml_inspection": Topic(
        ("industrial_tech", "cyber_ict"),
        ("maskinlæring og bildeanalyse for kvalitetskontroll", "datasyn med Python og PyTorch"),
        ("machine learning for visual quality inspection", "computer vision with Python and PyTorch"),
        ("automatisk oppdagelse av feil på produkter før de forlater fabrikken",
         "færre kassasjoner gjennom smartere kvalitetskontroll på linja"),
        ("spotting defective parts automatically before they leave the factory",
         "less scrap through smarter in-line quality control"),
        "dyp læring for anomalideteksjon i industrielle bilder",
        "deep learning for anomaly detection in industrial images",
    ),
    "robot_cells": Topic(
        ("industrial_tech",),
        ("robotprogrammering og automatisering", "programmering av industriroboter og PLS"),
        ("industrial robot programming", "automation with robots and PLCs"),
        ("automatisering av manuelle operasjoner i produksjonen",
         "en ny robotcelle for håndtering og montasje"),
        ("automating manual steps in production", "a new robot cell for handling and assembly"),
        "fleksible robotceller og samarbeid mellom menneske og robot",
        "flexible robot cells and human-robot collaboration",
    ),
    "aluminium_forming": Topic(
        ("industrial_tech",),
        ("materialteknologi og forming av aluminium", "FEM-simulering av formingsprosesser"),
        ("aluminium materials and forming", "finite-element simulation of forming processes"),
        ("stabil kvalitet og mindre svinn i formingen av aluminiumsdeler",
         "prosessforbedringer i bearbeiding av aluminium"),
        ("steady quality and less waste when forming aluminium parts",
         "process improvements in aluminium processing"),
        "modellering av formbarhet og mikrostruktur i aluminiumslegeringer",
        "modelling formability and microstructure of aluminium alloys",
    ),
    "additive": Topic(
        ("industrial_tech",),
        ("3D-printing og additiv tilvirkning", "design for additiv tilvirkning i metall"),
        ("3D printing and additive manufacturing", "design for metal additive manufacturing"),
        ("raskere prototyper og reservedeler med 3D-printing",
         "en vurdering av om additiv produksjon lønner seg for utvalgte deler"),
        ("faster prototypes and spare parts through 3D printing",
         "judging whether additive production pays off for selected parts"),
        "prosessovervåking og kvalifisering i additiv tilvirkning av metall",
        "process monitoring and qualification in metal additive manufacturing",
    ),
    "digital_twin": Topic(
        ("industrial_tech", "cyber_ict"),
        ("digitale tvillinger og simulering", "IoT-sensorer og dataflyt fra maskiner"),
        ("digital twins and simulation", "IoT sensors and machine data pipelines"),
        ("en digital modell av produksjonslinja for å teste endringer før vi gjør dem",
         "bedre utnyttelse av maskindataene vi allerede samler inn"),
        ("a virtual copy of a production line to try changes before we make them",
         "making use of the machine data we already collect"),
        "digitale tvillinger for prediktivt vedlikehold",
        "digital twins for predictive maintenance",
    ),
    "lean": Topic(
        ("industrial_tech",),
        ("lean, produksjonsplanlegging og forbedringsarbeid", "verdistrømsanalyse og logistikk"),
        ("lean production and continuous improvement", "value-stream mapping and production logistics"),
        ("kortere gjennomløpstid og mindre venting mellom operasjoner",
         "bedre planlegging av produksjon og lager"),
        ("shorter lead times and less waiting between operations",
         "better planning of production and inventory"),
        "bærekraftig og smidig produksjonsstyring",
        "sustainable and agile production management",
    ),
    "composites": Topic(
        ("industrial_tech",),
        ("komposittmaterialer og materialtesting", "mekanisk testing og utmattingsanalyse"),
        ("composite materials and materials testing", "mechanical testing and fatigue analysis"),
        ("testing og dokumentasjon av komposittprodukter", "mer effektiv produksjon av komposittdeler"),
        ("testing and documenting composite products", "more efficient production of composite parts"),
        "skademekanikk og levetid for fiberkompositter",
        "damage mechanics and service life of fibre composites",
    ),
    "energy": Topic(
        ("industrial_tech",),
        ("kraftelektronikk og elektrifisering", "energimåling og styring av elektriske anlegg"),
        ("power electronics and electrification", "energy metering and control of electrical installations"),
        ("lavere energibruk og bedre oversikt over strømforbruket", "elektrifisering av maskiner og kjøretøy"),
        ("lower energy use and a clearer picture of power consumption", "electrifying machines and vehicles"),
        "energistyring og fleksibilitet i industrielle kraftsystemer",
        "energy management and flexibility in industrial power systems",
    ),
    "software_dev": Topic(
        ("cyber_ict",),
        ("fullstack webutvikling", "apputvikling og brukersentrert design"),
        ("full-stack web development", "app development and user-centred design"),
        ("en intern app som erstatter papirskjemaer og regneark",
         "et enkelt verktøy som viser nøkkeltall fra driften"),
        ("an in-house app to replace paper forms and spreadsheets",
         "a simple dashboard showing key operational figures"),
        "programvarekvalitet og sikker programvareutvikling",
        "software quality and secure software development",
    ),
    "public_digital": Topic(
        ("cyber_ict",),
        ("digitalisering av offentlige tjenester", "skyløsninger og digital infrastruktur"),
        ("digital public services", "cloud and digital infrastructure"),
        ("enklere digitale tjenester for innbyggerne",
         "smartere bruk av sensorer og data i tjenesteutviklingen"),
        ("simpler digital services for residents", "smarter use of sensors and data in service development"),
        "smarte byer og sikker deling av offentlige data",
        "smart cities and secure sharing of public data",
    ),
    "health_tech": Topic(
        ("cyber_ict",),
        ("velferdsteknologi og sikker behandling av helsedata",
         "universell utforming av digitale helsetjenester"),
        ("welfare technology and secure handling of health data",
         "accessible design of digital health services"),
        ("nye digitale løsninger for helse og omsorg", "trygg deling av helsedata mellom aktører"),
        ("new digital solutions for health and care", "safe sharing of health data between partners"),
        "sikkerhet og personvern i e-helse",
        "security and privacy in e-health",
    ),
    "forest_data": Topic(
        ("bioeconomy", "cyber_ict"),
        ("GIS, fjernmåling og laserdata", "dataanalyse av skogdata"),
        ("GIS, remote sensing and lidar data", "data analysis of forest inventories"),
        ("bedre skogdata til planlegging av hogst og skogkultur", "digitale verktøy for skogeiere"),
        ("better forest data for planning harvests and silviculture", "digital tools for forest owners"),
        "maskinlæring på fjernmålingsdata for skogtakst",
        "machine learning on remote-sensing data for forest inventory",
    ),
    "wood_fibre": Topic(
        ("bioeconomy",),
        ("trefiber og biobaserte materialer", "materialstrømmer og livsløpsanalyse (LCA)"),
        ("wood fibre and bio-based materials", "material flows and life-cycle assessment (LCA)"),
        ("bedre utnyttelse av trevirke og restråstoff i verdikjeden",
         "dokumentasjon av klimafotavtrykket til trebaserte produkter"),
        ("getting more value from timber and its residues along the value chain",
         "documenting the carbon footprint of wood-based products"),
        "livsløpsanalyse og sirkulære verdikjeder for trebaserte materialer",
        "life-cycle assessment and circular value chains for wood-based materials",
    ),
    "timber_building": Topic(
        ("bioeconomy", "industrial_tech"),
        ("trekonstruksjoner og BIM", "bygningsfysikk og isolasjon"),
        ("timber structures and BIM", "building physics and insulation"),
        ("mer bruk av tre og biobasert isolasjon i nye bygg",
         "målinger av fukt og energi i bygg med trebaserte materialer"),
        ("more wood and bio-based insulation in new buildings",
         "measuring moisture and energy in buildings with wood-based materials"),
        "fukt- og energiytelse i massivtre og trefiberisolasjon",
        "hygrothermal and energy performance of mass timber and wood-fibre insulation",
    ),
    "potato_sidestreams": Topic(
        ("bioeconomy",),
        ("næringsmiddelteknologi og prosessering", "sirkulær økonomi og utnyttelse av sidestrømmer"),
        ("food processing technology", "circular economy and side-stream valorisation"),
        ("nye bruksområder for skrell, stivelse og andre sidestrømmer fra potetforedling",
         "mindre matsvinn i foredlingen"),
        ("new uses for peel, starch and other side streams from potato processing",
         "less food waste in processing"),
        "bioraffinering av sidestrømmer fra næringsmiddelindustrien",
        "biorefining of food-industry side streams",
    ),
    "biogas": Topic(
        ("bioeconomy",),
        ("biogass og anaerob nedbrytning", "prosessmodellering av bioenergianlegg"),
        ("biogas and anaerobic digestion", "process modelling of bioenergy plants"),
        ("lønnsom biogass fra organisk avfall i regionen",
         "en mulighetsstudie for bioenergi basert på lokale råstoffer"),
        ("viable biogas from organic waste in the region", "a feasibility study on bioenergy from local feedstock"),
        "optimalisering av biogassproduksjon fra landbruksavfall",
        "optimising biogas yields from agricultural residues",
    ),
    "bio_value_chains": Topic(
        ("bioeconomy",),
        ("bærekraftig forretningsutvikling i bioøkonomien", "verdikjedeanalyse og innovasjonsledelse"),
        ("sustainable business development in the bioeconomy", "value-chain analysis and innovation management"),
        ("nye forretningsideer basert på regionens skog- og landbruksressurser",
         "samarbeid mellom bedrifter om felles bioressurser"),
        ("new business ideas from the region's forest and farm resources",
         "getting companies to share bio-resources"),
        "innovasjonssystemer og regionale verdikjeder i bioøkonomien",
        "innovation systems and regional value chains in the bioeconomy",
    ),
}

# Topics per CSV organisation, chosen from its one-line description only. Entities left out
# (Bright House, NT6, Karriere Oppland, Fagskolen Innlandet) have no description that fits a
# Koble domain, so anything written for them would be invented.
ORG_TOPICS: dict[str, tuple[str, ...]] = {
    "Nammo (Raufoss)": ("ot_security", "additive", "ml_inspection"),
    "Benteler Aluminium Systems Norway AS": ("aluminium_forming", "robot_cells", "ml_inspection"),
    "Hydro Aluminium Profiler AS": ("aluminium_forming", "digital_twin", "ml_inspection"),
    "Kongsberg Automotive (Raufoss)": ("robot_cells", "ml_inspection", "ot_security"),
    "Raufoss Fuel Systems AS": ("digital_twin", "ml_inspection", "lean"),
    "Ragasco": ("composites", "ml_inspection"),
    "Intek": ("robot_cells", "ot_security", "digital_twin"),
    "Raufoss Industripark AS": ("ot_security", "soc", "energy"),
    "Mustad": ("robot_cells", "digital_twin", "software_dev"),
    "Øveraasen": ("digital_twin", "energy", "software_dev"),
    "Hunton": ("wood_fibre", "timber_building", "energy"),
    "HOFF (Norske potetindustrier)": ("potato_sidestreams", "biogas", "ml_inspection"),
    "Skogbrukets kompetansesenter (Honne)": ("forest_data", "wood_fibre"),
    "Landsbyen Næringshage": ("bio_value_chains", "biogas"),
    "Kapabl AS": ("bio_value_chains",),
    "Mjøsen Skog SA": ("forest_data", "wood_fibre"),
    "Norwegian Cybersecurity Cluster": ("pentest", "soc", "ot_security"),
    "Digital Innlandet": ("software_dev", "soc"),
    "NCE Manufacturing": ("digital_twin", "robot_cells", "lean"),
    "Manufacturing Technology Norwegian Catapult": ("additive", "digital_twin", "robot_cells"),
    "Læringsfabrikken": ("lean", "robot_cells"),
    "TotAl-gruppen": ("lean",),
    "Helseinn": ("health_tech",),  # "health/ICT": only the ICT side is a Koble domain
    "Gjøvik kommune": ("public_digital", "privacy", "soc"),
    "Vestre Toten kommune": ("public_digital", "energy"),
    "Gjøvikregionen Utvikling": ("bio_value_chains", "biogas", "forest_data"),
    "Statsforvalteren i Innlandet": ("privacy", "public_digital"),  # every public body digitalises
}
# Research institutes in the CSV employ generated researchers instead of posting themselves.
INSTITUTE_TOPICS: dict[str, tuple[str, ...]] = {
    "SINTEF Raufoss Manufacturing": (
        "additive", "aluminium_forming", "robot_cells", "digital_twin", "ml_inspection", "composites",
    ),
}


@dataclass(frozen=True)
class Programme:
    """How a CSV study programme is named in texts, and what its students work on."""

    nb: str
    en: str
    master: bool
    topics: tuple[str, ...]
    weight: int  # relative share of the generated students
    international: float  # share of international students, who write English
    english: float  # share of the Norwegian students who still write English


PROGRAMMES: dict[str, Programme] = {
    "NTNU MIS - Master in Information Security": Programme(
        "masterprogrammet i informasjonssikkerhet (MIS)", "Master in Information Security (MIS)",
        True, ("ot_security", "pentest", "soc", "privacy", "health_tech"), 14, 0.5, 0.5,
    ),
    "NTNU MISEB - Experience-based Master in Information Security": Programme(
        "erfaringsbasert master i informasjonssikkerhet (MISEB)",
        "Experience-based Master in Information Security (MISEB)",
        True, ("privacy", "soc", "public_digital"), 4, 0.0, 0.1,
    ),
    "NTNU BPROG - Bachelor i programmering (Spill | Applikasjoner)": Programme(
        "bachelor i programmering (BPROG)", "Bachelor in Programming (BPROG)",
        False, ("software_dev", "digital_twin", "forest_data", "health_tech"), 11, 0.06, 0.15,
    ),
    "NTNU Bachelor i digital infrastruktur og cybersikkerhet": Programme(
        "bachelor i digital infrastruktur og cybersikkerhet",
        "Bachelor in Digital Infrastructure and Cyber Security",
        False, ("soc", "pentest", "ot_security", "public_digital"), 13, 0.06, 0.15,
    ),
    "NTNU Dataingeniør (cybersikkerhet og programmering)": Programme(
        "dataingeniørstudiet", "Bachelor in Computer Engineering",
        False, ("software_dev", "ml_inspection", "pentest", "forest_data"), 11, 0.06, 0.15,
    ),
    "NTNU Elektroingeniør": Programme(
        "elektroingeniørstudiet", "Bachelor in Electrical Engineering",
        False, ("energy", "ot_security", "robot_cells", "digital_twin"), 9, 0.06, 0.15,
    ),
    "NTNU Byggingeniør (incl. online)": Programme(
        "byggingeniørstudiet", "Bachelor in Civil Engineering",
        False, ("timber_building", "wood_fibre", "digital_twin", "energy"), 9, 0.06, 0.15,
    ),
    "NTNU Teknologidesign og ledelse": Programme(
        "bachelor i teknologidesign og ledelse", "Bachelor in Technology Design and Management",
        False, ("lean", "additive", "bio_value_chains", "potato_sidestreams", "biogas"), 9, 0.06, 0.15,
    ),
}


@dataclass(frozen=True)
class Unit:
    """Where a generated researcher works, as named in nb and en texts."""

    organisation: str
    nb: str
    en: str
    topics: tuple[str, ...]
    weight: int  # relative share of the generated researchers
    location: str | None = "Gjøvik"


NTNU_UNITS: tuple[Unit, ...] = (
    Unit("NTNU Gjøvik", "Institutt for informasjonssikkerhet og kommunikasjonsteknologi",
         "the Department of Information Security and Communication Technology",
         ("ot_security", "pentest", "soc", "privacy", "public_digital", "health_tech"), 7),
    Unit("NTNU Gjøvik", "Institutt for vareproduksjon og byggteknikk",
         "the Department of Manufacturing and Civil Engineering",
         ("robot_cells", "aluminium_forming", "additive", "lean", "composites", "timber_building"), 5),
    Unit("NTNU Gjøvik", "Institutt for datateknologi og informatikk", "the Department of Computer Science",
         ("ml_inspection", "digital_twin", "software_dev", "forest_data", "health_tech"), 5),
    Unit("NTNU Gjøvik", "Institutt for industriell økonomi og teknologiledelse",
         "the Department of Industrial Economics and Technology Management",
         ("lean", "bio_value_chains", "wood_fibre", "biogas"), 3),
)

NB_FIRST = (
    "Åse", "Ingrid", "Kari", "Sigrid", "Ingeborg", "Maja", "Nora", "Ida", "Thea", "Sofie", "Marte",
    "Solveig", "Ragnhild", "Tone", "Hilde", "Synnøve", "Guro", "Eirin", "Vilde", "Mari", "Åsne",
    "Ola", "Lars", "Knut", "Håkon", "Øystein", "Bjørn", "Sindre", "Magnus", "Jonas", "Eirik",
    "Sondre", "Torbjørn", "Jørgen", "Halvard", "Even", "Trygve", "Espen", "Aksel", "Pål", "Kjetil",
)
NB_LAST = (
    "Bjørnstad", "Sæther", "Løken", "Kvåle", "Håland", "Ødegård", "Røed", "Østby", "Aasen",
    "Mæhlum", "Sørli", "Haugen", "Hansen", "Johansen", "Olsen", "Larsen", "Bakken", "Nilsen",
    "Kristiansen", "Karlsen", "Berg", "Dahl", "Lie", "Halvorsen", "Moen", "Strand", "Rud",
    "Nygård", "Sveen", "Lund", "Bråten", "Tangen", "Fjeld", "Myhre", "Kolstad", "Rønning",
    "Hovde", "Grøndahl", "Nordli", "Granum", "Engebretsen", "Thorstensen",
)
INT_FIRST = (
    "Aisha", "Daniel", "Sarah", "Liam", "Wei", "Priya", "Mateo", "Emily", "Tomasz", "Fatima",
    "Kwame", "Sofia", "Arjun", "Hannah", "Yusuf", "Olivia", "Ravi", "Chloe", "Samuel", "Amara",
)
INT_LAST = (
    "Khan", "Okafor", "Mitchell", "O'Connor", "Chen", "Raman", "García", "Carter", "Nowak",
    "Haddad", "Mensah", "Rossi", "Mehta", "Schmidt", "Demir", "Brown", "Patel", "Kim", "Silva",
)

# Text templates. {skill}/{need}/{research} take a Topic wording; {programme}, {unit}, {level}
# are filled per person. Organisations write "need" wordings, people "skill" wordings.
STUDENT_INTRO: dict[Lang, tuple[str, ...]] = {
    "nb": ("Student på {programme}, med prosjekterfaring innen {skill}",
           "Tar {programme} og har jobbet praktisk med {skill}"),
    "en": ("Student in the {programme}, with project experience in {skill}",
           "Currently taking the {programme}; hands-on work with {skill}"),
}
STUDENT_SKILL: dict[Lang, tuple[str, ...]] = {
    "nb": ("Erfaring med {skill}", "Kurs og egne prosjekter i {skill}"),
    "en": ("Experience with {skill}", "Coursework and side projects in {skill}"),
}
STUDENT_GENERIC: dict[Lang, tuple[str, ...]] = {
    "nb": ("Bruker Python, Git og Linux daglig", "Førerkort klasse B og kan reise i regionen",
           "Vant til å jobbe i team med smidige metoder"),
    "en": ("Comfortable with Python, Git and Linux", "Driving licence and happy to travel around the region",
           "Used to working in agile student teams"),
}
LEVEL: dict[Lang, tuple[str, str]] = {  # (bachelor, master)
    "nb": ("Bacheloroppgave", "Masteroppgave"),
    "en": ("bachelor's thesis", "master's thesis"),
}
STUDENT_SEEKS: dict[Lang, dict[Engagement, str]] = {
    "nb": {
        "thesis": "{level} om {skill}, gjerne sammen med en bedrift",
        "summer_job": "Sommerjobb der jeg får jobbe med {skill}",
        "internship": "Praksisplass innen {skill}",
        "part_time_job": "Deltidsjobb ved siden av studiene, gjerne med {skill}",
        "project": "Studentprosjekt for en ekstern oppdragsgiver innen {skill}",
    },
    "en": {
        "thesis": "A {level} on {skill} together with a company",
        "summer_job": "A summer job working on {skill}",
        "internship": "An internship in {skill}",
        "part_time_job": "A part-time job alongside my studies, ideally with {skill}",
        "project": "A student project for an external partner on {skill}",
    },
}
ORG_SEEKS: dict[Lang, dict[Engagement, str]] = {
    "nb": {
        "thesis": "Student som vil skrive bachelor- eller masteroppgave om {need}",
        "internship": "Praktikant som kan bidra til {need}",
        "summer_job": "Sommerstudent som kan hjelpe oss med {need}",
        "part_time_job": "Student i deltidsstilling som kan jobbe med {need}",
        "project": "Studentgruppe eller forskere som kan se på {need}",
        "mentoring": "Studenter som vil lære mer om {need}",
        "research_collaboration": "Forskningspartner som kan hjelpe oss med {need}",
    },
    "en": {
        "thesis": "A student who wants to write a thesis on {need}",
        "internship": "An intern who can contribute to {need}",
        "summer_job": "A summer student to help us with {need}",
        "part_time_job": "A part-time student to work on {need}",
        "project": "A student team or researchers to look into {need}",
        "mentoring": "Students who want to learn more about {need}",
        "research_collaboration": "A research partner to help us with {need}",
    },
}
ORG_OFFERS: dict[Lang, dict[Engagement, str]] = {
    "nb": {
        "thesis": "Vi kan tilby bachelor- eller masteroppgave om {need}",
        "internship": "Vi kan tilby praksisplass med arbeid på {need}",
        "summer_job": "Vi kan tilby sommerjobb knyttet til {need}",
        "part_time_job": "Vi kan tilby deltidsjobb med {need}",
        "project": "Et konkret prosjekt om {need}",
        "mentoring": "Veiledning og mentorordning knyttet til {need}",
        "research_collaboration": "Et praktisk case for forskning på {need}",
    },
    "en": {
        "thesis": "We can offer a thesis topic on {need}",
        "internship": "We can offer an internship working on {need}",
        "summer_job": "We can offer a summer job related to {need}",
        "part_time_job": "We can offer a part-time job on {need}",
        "project": "A concrete project on {need}",
        "mentoring": "Mentoring related to {need}",
        "research_collaboration": "A practical case for research on {need}",
    },
}
NETWORK_OFFER: dict[Lang, str] = {  # true of any cluster or business garden by definition
    "nb": "Kontakt med et nettverk av bedrifter i regionen",
    "en": "Contact with a network of companies in the region",
}
CONTACT_OFFER: dict[Lang, str] = {
    "nb": "Fast kontaktperson og oppfølging underveis",
    "en": "A dedicated contact person and follow-up along the way",
}
RESEARCHER_INTRO: dict[Lang, tuple[str, ...]] = {
    "nb": ("Forsker ved {unit}, med ekspertise på {research}", "Forsker ved {unit}; arbeider med {research}"),
    "en": ("Researcher at {unit}, working on {research}", "Researcher at {unit} with expertise in {research}"),
}
RESEARCHER_EXTRA: dict[Lang, tuple[str, ...]] = {
    "nb": ("Forskningssamarbeid om {research}", "Veiledning av studentoppgaver innen {skill}"),
    "en": ("Research collaboration on {research}", "Supervision of student theses on {skill}"),
}
RESEARCHER_SEEKS: dict[Lang, tuple[str, ...]] = {
    "nb": ("Industripartner med reelle utfordringer innen {skill}", "Reelle data og case innen {skill}",
           "Bedrifter eller offentlige virksomheter med behov innen {skill}"),
    "en": ("An industry partner with real challenges in {skill}", "Real-world data and use cases for {skill}",
           "Companies or public bodies with needs in {skill}"),
}

# (first engagement drawn from, further ones drawn from), per CSV type or person kind.
ENGAGEMENT_POOLS: dict[str, tuple[tuple[Engagement, ...], tuple[Engagement, ...]]] = {
    "company": (("thesis", "summer_job", "internship"),
                ("project", "part_time_job", "research_collaboration", "thesis", "summer_job", "internship")),
    "cluster": (("project",), ("mentoring", "internship", "research_collaboration", "thesis")),
    "business garden": (("project",), ("mentoring", "internship", "research_collaboration", "thesis")),
    "public body": (("internship", "project"), ("thesis", "summer_job", "project", "internship")),
    "public/education": (("internship", "project"), ("thesis", "summer_job", "project", "internship")),
    "student": (("thesis", "summer_job"), ("internship", "part_time_job", "project", "thesis", "summer_job")),
    "researcher": (("research_collaboration",), ("project", "mentoring", "thesis")),
}
# The period each engagement usually covers in the 2027 academic year; None is open-ended.
WINDOWS: dict[Engagement, tuple[dt.date, dt.date | None]] = {
    "thesis": (dt.date(2027, 1, 6), dt.date(2027, 6, 15)),
    "internship": (dt.date(2027, 5, 3), dt.date(2027, 8, 27)),
    "summer_job": (dt.date(2027, 6, 1), dt.date(2027, 8, 15)),
    "part_time_job": (dt.date(2027, 1, 6), dt.date(2027, 12, 17)),
    "project": (dt.date(2027, 1, 6), dt.date(2027, 12, 17)),
    "mentoring": (dt.date(2027, 1, 6), dt.date(2027, 12, 17)),
    "research_collaboration": (dt.date(2027, 1, 4), None),
}


@dataclass(frozen=True)
class Entity:
    """One row of the CSV."""

    name: str
    type: str
    domain: str
    description: str


@dataclass
class Participant:
    """One participant-file line, fields in the contract's order."""

    external_id: str
    kind: Kind
    name: str
    email: str
    organisation: str | None
    language: Lang
    domains: list[Domain]
    engagements: list[Engagement]
    available_from: str | None
    available_until: str | None
    capacity: int
    location: str | None
    offers: list[str]
    seeks: list[str]


@dataclass
class _Context:
    """The one random source plus the names and addresses already handed out."""

    rng: random.Random
    names: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)


def load_entities() -> tuple[Entity, ...]:
    """The organisations and study programmes of the packaged CSV."""
    source = resources.files("service.profiles") / "data" / "gjovik_entities.csv"
    reader = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8")))
    return tuple(
        Entity(r["name"].strip(), r["type"].strip(), r["domain"].strip(), r["short_description"].strip())
        for r in reader
    )


def _ascii(text: str) -> str:
    """Lower-case ASCII spelling; Norwegian letters the Norwegian way, other accents dropped."""
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _email(ctx: _Context, label: str, separator: str) -> str:
    """A unique address under the reserved demo domain, made from a name."""
    local = re.sub(r"[^a-z0-9]+", separator, _ascii(label)).strip(separator)
    candidate, n = local, 2
    while candidate in ctx.emails:
        candidate, n = f"{local}{n}", n + 1
    ctx.emails.add(candidate)
    return f"{candidate}@{EMAIL_DOMAIN}"


def _person(ctx: _Context, international: bool) -> str:
    """A full name not used before in this data set."""
    first, last = (INT_FIRST, INT_LAST) if international else (NB_FIRST, NB_LAST)
    while True:
        name = f"{ctx.rng.choice(first)} {ctx.rng.choice(last)}"
        if name not in ctx.names:
            ctx.names.add(name)
            return name


def _engagements(rng: random.Random, pool_key: str, most: int = 3) -> list[Engagement]:
    """One engagement typical of the kind, plus up to `most - 1` others."""
    first_pool, extra_pool = ENGAGEMENT_POOLS[pool_key]
    first = rng.choice(first_pool)
    extras = [e for e in extra_pool if e != first]
    return [first, *rng.sample(extras, rng.randint(0, most - 1))]


def _window(rng: random.Random, engagements: list[Engagement], kind: Kind) -> tuple[str | None, str | None]:
    """Availability covering all engagements, with some open-ended or shifted variation."""
    start = min(WINDOWS[e][0] for e in engagements)
    ends = [WINDOWS[e][1] for e in engagements]
    end = None if None in ends else max(d for d in ends if d is not None)
    roll = rng.random()
    if roll < (0.04 if kind == "student" else 0.1):
        return None, None  # no constraint given at all
    if roll < 0.2:
        end = None  # open-ended: available until further notice
    elif roll < 0.45:
        start += dt.timedelta(weeks=rng.randint(1, 3))  # every window spans 10+ weeks, so start <= end
    return start.isoformat(), end.isoformat() if end else None


def _domains(csv_domain: str | None, topics: Iterable[Topic]) -> list[Domain]:
    """The CSV's domain first (when it is a Koble domain), then those the topics touch."""
    found: list[Domain] = [DOMAIN_MAP[csv_domain]] if csv_domain in DOMAIN_MAP else []
    for topic in topics:
        found.extend(topic.domains)
    return list(dict.fromkeys(found))


def _location(entity: Entity) -> str | None:
    """The first known place named in the entity's name or description; None when none is."""
    for text in (entity.name, entity.description):
        for place in LOCATIONS:
            if re.search(rf"\b{re.escape(place)}\b", text):
                return place
    return None  # unknown: better no location than an invented one


def _language(rng: random.Random, english_share: float) -> Lang:
    """Bokmål or English, English with the given probability."""
    return "en" if rng.random() < english_share else "nb"


def _pick(rng: random.Random, options: tuple[str, ...], low: int, high: int) -> list[Topic]:
    """Between `low` and `high` distinct topics out of `options`, in random order."""
    keys = rng.sample(options, min(len(options), rng.randint(low, high)))
    return [TOPICS[key] for key in keys]


def _org_texts(
    rng: random.Random, topics: list[Topic], engagements: list[Engagement], lang: Lang
) -> tuple[list[str], list[str]]:
    """(offers, seeks) of an organisation: one need per topic, worded differently per side."""
    seeks = [ORG_SEEKS[lang][rng.choice(engagements)].format(need=t.need(lang, 0)) for t in topics]
    offers = [ORG_OFFERS[lang][rng.choice(engagements)].format(need=t.need(lang, 1)) for t in topics]
    return offers[:3], seeks[:3]


def _org_posting(ctx: _Context, entity: Entity, topics: list[Topic], number: int, contact: bool) -> Participant:
    """One organisation profile; a contact person's posting when `contact` is set."""
    rng = ctx.rng
    kind, lang = TYPE_KIND[entity.type], _language(rng, 0.4)
    engagements = _engagements(rng, entity.type)
    offers, seeks = _org_texts(rng, topics, engagements, lang)
    if entity.type in ("cluster", "business garden"):
        offers = [*offers, NETWORK_OFFER[lang]][:3]
    if contact:
        offers = [*offers, CONTACT_OFFER[lang]][:3]
    name = _person(ctx, rng.random() < 0.1) if contact else entity.name
    return Participant(
        f"demo-org-{number:03d}", kind, name, _email(ctx, name, "." if contact else "-"), entity.name,
        lang, _domains(entity.domain, topics), engagements, *_window(rng, engagements, kind),
        rng.randint(1, 3 if kind == "public_body" else 5), _location(entity), offers, seeks,
    )


def _org_participants(ctx: _Context, entities: Iterable[Entity]) -> list[Participant]:
    """Every usable CSV organisation; those with three topics also post a contact's third one."""
    rows: list[Participant] = []
    for entity in entities:
        keys = ORG_TOPICS.get(entity.name)
        if keys is None or entity.type not in TYPE_KIND:
            continue
        topics = [TOPICS[k] for k in ctx.rng.sample(keys, len(keys))]
        main, extra = (topics[:2], topics[2:]) if len(topics) > 2 else (topics, [])
        rows.append(_org_posting(ctx, entity, main, len(rows) + 1, contact=False))
        if extra:  # a second person at a larger organisation brings a separate need
            rows.append(_org_posting(ctx, entity, extra, len(rows) + 1, contact=True))
    return rows


def _student_texts(
    rng: random.Random, programme: Programme, topics: list[Topic], engagements: list[Engagement], lang: Lang
) -> tuple[list[str], list[str]]:
    """(offers, seeks) of a student: skills first, with the programme named once."""
    name = programme.nb if lang == "nb" else programme.en
    offers = [rng.choice(STUDENT_INTRO[lang]).format(programme=name, skill=topics[0].skill(lang, 0))]
    offers += [rng.choice(STUDENT_SKILL[lang]).format(skill=t.skill(lang, 0)) for t in topics[1:]]
    if rng.random() < 0.4:
        offers.append(rng.choice(STUDENT_GENERIC[lang]))
    level = LEVEL[lang][int(programme.master)]
    wanted = [e for e in engagements if e in STUDENT_SEEKS[lang]]
    seeks = [STUDENT_SEEKS[lang][rng.choice(wanted)].format(level=level, skill=t.skill(lang, 1)) for t in topics]
    return offers[:3], seeks[:3]


def _student(ctx: _Context, programme: Programme, csv_domain: str, number: int) -> Participant:
    """One generated student at NTNU Gjøvik."""
    rng = ctx.rng
    international = rng.random() < programme.international
    lang: Lang = "en" if international else _language(rng, programme.english)
    name = _person(ctx, international)
    topics = _pick(rng, programme.topics, 1, 2)
    engagements = _engagements(rng, "student")
    offers, seeks = _student_texts(rng, programme, topics, engagements, lang)
    location = rng.choices(LOCATIONS, weights=(2, 2, 2, 10, 2, 2, 1))[0]
    return Participant(
        f"demo-student-{number:03d}", "student", name, _email(ctx, name, "."), "NTNU Gjøvik", lang,
        _domains(csv_domain, topics), engagements, *_window(rng, engagements, "student"), STUDENT_CAPACITY,
        location, offers, seeks,
    )


def _students(ctx: _Context, entities: Iterable[Entity], count: int) -> list[Participant]:
    """`count` students spread over the CSV's study programmes by weight."""
    offered = [(e, PROGRAMMES[e.name]) for e in entities if e.name in PROGRAMMES]
    chosen = ctx.rng.choices(offered, weights=[p.weight for _, p in offered], k=count)
    return [_student(ctx, p, e.domain, i) for i, (e, p) in enumerate(chosen, start=1)]


def _researcher_texts(rng: random.Random, unit: Unit, topics: list[Topic], lang: Lang) -> tuple[list[str], list[str]]:
    """(offers, seeks) of a researcher: expertise offered, industry cases and data sought."""
    where = unit.nb if lang == "nb" else unit.en
    first = topics[0]
    offers = [rng.choice(RESEARCHER_INTRO[lang]).format(unit=where, research=first.research(lang))]
    for topic in topics[1:]:
        template = rng.choice(RESEARCHER_EXTRA[lang])
        offers.append(template.format(research=topic.research(lang), skill=topic.skill(lang, 0)))
    seeks = [rng.choice(RESEARCHER_SEEKS[lang]).format(skill=t.skill(lang, 1)) for t in topics[:2]]
    return offers[:3], seeks


def _researcher(ctx: _Context, unit: Unit, number: int) -> Participant:
    """One generated researcher at an NTNU Gjøvik department or a research institute."""
    rng = ctx.rng
    international = rng.random() < 0.35
    lang: Lang = "en" if international else _language(rng, 0.3)
    name = _person(ctx, international)
    topics = _pick(rng, unit.topics, 1, 3)
    engagements = _engagements(rng, "researcher")
    offers, seeks = _researcher_texts(rng, unit, topics, lang)
    return Participant(
        f"demo-researcher-{number:03d}", "researcher", name, _email(ctx, name, "."), unit.organisation, lang,
        _domains(None, topics), engagements, *_window(rng, engagements, "researcher"), rng.randint(1, 4),
        unit.location, offers, seeks,
    )


def _units(entities: Iterable[Entity]) -> list[Unit]:
    """NTNU Gjøvik departments plus the CSV's research institutes."""
    institutes = [
        Unit(e.name, e.name, e.name, INSTITUTE_TOPICS[e.name], 7, _location(e))
        for e in entities
        if e.type == "research" and e.name in INSTITUTE_TOPICS
    ]
    return [*NTNU_UNITS, *institutes]


def _researchers(ctx: _Context, entities: Iterable[Entity], count: int) -> list[Participant]:
    """`count` researchers spread over the units by weight."""
    units = _units(entities)
    chosen = ctx.rng.choices(units, weights=[u.weight for u in units], k=count)
    return [_researcher(ctx, unit, i) for i, unit in enumerate(chosen, start=1)]


def demo_participants(seed: int = 2026, students: int = 80, researchers: int = 25) -> list[dict[str, object]]:
    """About 150 demo participants (organisations, students, researchers); same seed, same rows."""
    ctx = _Context(random.Random(seed))
    entities = load_entities()
    people = [
        *_org_participants(ctx, entities),
        *_students(ctx, entities, students),
        *_researchers(ctx, entities, researchers),
    ]
    return [asdict(p) for p in people]


def write_jsonl(rows: Iterable[Mapping[str, object]], path: str | os.PathLike[str]) -> None:
    """Write rows as a participant file: UTF-8 JSON Lines, one object per line."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":  # python -m service.profiles.demo [FILE]
    write_jsonl(demo_participants(), sys.argv[1] if len(sys.argv) > 1 else "demo_participants.jsonl")
