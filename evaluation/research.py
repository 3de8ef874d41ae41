"""A hard labelled set for issue 16: long research profiles against companies' and public bodies' R&D needs.

`python -m evaluation.research [FOLDER]` writes `participants.jsonl` and `gold.jsonl` (default
bench/data/research_long); the same seed always writes the same files. `koble evaluate` reads them.

**Who.** Researchers describe themselves by 3-5 of their papers (title and abstract, 150-300 words in
all), in English or Norwegian; half list each paper as an interest of its own, half paste the whole
profile as one text (up to 2,000 characters). Companies and public bodies each seek one R&D need
(2-3 sentences, plain words rather than the papers' terms), in Norwegian or English, and offer
nothing, so every organisation is a query that ranks exactly the researchers sharing its domain
(researcher vs researcher breaks "different kinds", organisation vs organisation has nothing to
compare). Researchers seek nothing.

**The failure cases built in.**
- *Many topics:* a "broad" researcher has one paper on the need's exact subject among papers on two
  or three other subjects; a "near" researcher has all papers on a related subject of the same field.
  Their side means are about equally close to the need, or the near one closer.
- *Truncation:* in a one-text profile the paper that fits is placed last in half of the cases, past
  what a 128-token encoder reads.
- *Words:* needs are written in plain words, papers in the field's terms, with shared boilerplate
  (funding, partners, validation) that BM25 counts.
- *Languages:* about half of the pairs are cross-lingual.

**Grades (each organisation x each researcher; 0s are left out of gold.jsonl, as its format asks).**
- 3: depth: a paper on the need's subject (topic and subtopic) and at least one more on its topic;
- 2: a paper on the need's subject, the only one on its topic (a broad researcher's side line);
- 1: papers on the need's topic but none on its subject;
- 0: nothing on the need's topic (papers of the same field on other topics are near misses, not fits).
The grade depends on the papers alone (not on how they are written or in which language), so it is
what an expert assigning reviewers would decide.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 16
OUT = Path(__file__).resolve().parents[1] / "bench" / "data" / "research_long"

# topic -> (field, domain); two subtopics each: (English title, two English sentences, Norwegian title,
# two Norwegian sentences, the need in English, the need in Norwegian).
FIELDS = {"vision": "industrial_tech", "robots": "industrial_tech", "additive": "industrial_tech",
          "maintenance": "industrial_tech", "ot": "cyber_ict", "privacy": "cyber_ict",
          "forest": "bioeconomy", "biogas": "bioeconomy"}
Subtopic = tuple[str, str, str, str, str, str]
TOPICS: dict[str, tuple[Subtopic, Subtopic]] = {
    "vision": (
        ("Deep learning for surface defect detection on cast aluminium parts",
         "We train convolutional networks on few labelled images of porosity, cracks and cold shuts in die-cast "
         "aluminium housings. Synthetic defects rendered from CAD models reduce the labelled data needed by 70 %.",
         "Dyp læring for å finne overflatefeil på støpte aluminiumsdeler",
         "Vi trener konvolusjonsnett på få merkede bilder av porer, sprekker og kaldflyt i trykkstøpte "
         "aluminiumshus. Syntetiske feil generert fra CAD-modeller reduserer behovet for merkede data med 70 %.",
         "Our foundry scraps too many die-cast housings late in the line. We want a camera station that spots "
         "pores and cracks on every part right after casting, before machining adds cost.",
         "Støperiet vårt kaster for mange trykkstøpte hus sent i linja. Vi vil ha en kamerastasjon som ser porer "
         "og sprekker på hver del rett etter støping, før maskineringen gjør dem dyre."),
        ("Hyperspectral imaging for sorting mixed aluminium scrap",
         "Spectral signatures in the short-wave infrared separate wrought from cast alloys on a conveyor at "
         "3 m/s. A lightweight classifier runs on an embedded GPU next to the sorting line.",
         "Hyperspektral avbildning for sortering av blandet aluminiumsskrap",
         "Spektrale signaturer i kortbølget infrarødt skiller knalegeringer fra støpelegeringer på et transportbånd "
         "i 3 m/s. En lett klassifikator kjører på en innebygd GPU ved sorteringslinja.",
         "We melt scrap from many sources and the alloy mix varies from load to load. We need a way to tell "
         "the different alloys apart automatically while the scrap moves on the belt.",
         "Vi smelter skrap fra mange kilder, og legeringsblandingen varierer fra lass til lass. Vi trenger en måte "
         "å skille legeringene automatisk mens skrapet går på båndet."),
    ),
    "robots": (
        ("Collaborative robots for small-batch welding",
         "A programming-by-demonstration interface lets welders teach a cobot new seams in minutes. Force "
         "control keeps the torch angle within two degrees on warped sheet metal.",
         "Samarbeidende roboter for sveising i små serier",
         "Et grensesnitt for programmering ved demonstrasjon lar sveisere lære en cobot nye sømmer på minutter. "
         "Kraftstyring holder brennervinkelen innenfor to grader på skjeve stålplater.",
         "We weld many one-off steel frames and our skilled welders are hard to find. We want a robot that our "
         "own welders can show new joints quickly, without a robot programmer.",
         "Vi sveiser mange enkeltstående stålrammer, og dyktige sveisere er vanskelige å finne. Vi vil ha en robot "
         "som våre egne sveisere raskt kan vise nye skjøter, uten en robotprogrammerer."),
        ("Bin picking of reflective parts with 3D vision and grasp learning",
         "Structured-light point clouds of shiny machined parts are completed by a learned depth model. Grasp "
         "success rose from 61 % to 93 % in a robot cell feeding a CNC machine.",
         "Plukking fra kasse av blanke deler med 3D-syn og læring av grep",
         "Punktskyer fra strukturert lys av blanke maskinerte deler fullføres av en lært dybdemodell. Andelen "
         "vellykkede grep økte fra 61 % til 93 % i en robotcelle som mater en CNC-maskin.",
         "Parts arrive jumbled in crates and an operator loads them into the machines by hand at night. We want "
         "a robot to take shiny parts out of the crate reliably and feed the machines.",
         "Delene kommer hulter til bulter i kasser, og en operatør legger dem i maskinene for hånd om natta. Vi "
         "vil at en robot skal ta blanke deler ut av kassen og mate maskinene."),
    ),
    "additive": (
        ("Process monitoring of laser powder bed fusion with melt-pool sensing",
         "Photodiode and thermal camera signals of the melt pool predict lack-of-fusion porosity layer by layer. "
         "A closed-loop controller adjusts laser power to keep density above 99.5 %.",
         "Prosessovervåking av laser pulverbedsmelting med sensorer for smeltebadet",
         "Signaler fra fotodioder og termisk kamera av smeltebadet forutsier porøsitet fra manglende "
         "sammensmelting lag for lag. En lukket regulator justerer laserens effekt for å holde tettheten over 99,5 %.",
         "Our 3D-printed titanium brackets sometimes fail inspection after days of printing. We need to know "
         "during the print whether a part is going wrong, instead of finding out with a CT scan afterwards.",
         "De 3D-printede titanbrakettene våre feiler av og til kontrollen etter dager med printing. Vi må vite "
         "under printingen om en del går galt, i stedet for å finne det ut med CT etterpå."),
        ("Wire arc additive manufacturing of large aluminium components",
         "Cold metal transfer deposition builds near-net-shape aluminium parts up to two metres. Interpass "
         "cooling and path planning control distortion and residual stress.",
         "Trådbuebasert additiv tilvirkning av store aluminiumskomponenter",
         "Avsetting med cold metal transfer bygger nesten ferdigformede aluminiumsdeler på opptil to meter. "
         "Kjøling mellom lagene og baneplanlegging styrer deformasjon og restspenninger.",
         "We machine large aluminium parts from solid blocks and throw most of the metal away as chips. We are "
         "looking for a way to build the rough shape by welding metal layer on layer.",
         "Vi maskinerer store aluminiumsdeler fra massive blokker og kaster det meste av metallet som spon. Vi "
         "ser etter en måte å bygge grovformen ved å sveise metall lag på lag."),
    ),
    "maintenance": (
        ("Vibration-based remaining useful life estimation for gearboxes",
         "Envelope spectra of accelerometer data feed a survival model that estimates remaining useful life. "
         "Transfer learning moves models between gearboxes of different sizes with little run-to-failure data.",
         "Estimering av gjenværende levetid for girkasser fra vibrasjonsdata",
         "Omhyllingsspektre av akselerometerdata mater en overlevelsesmodell som anslår gjenværende levetid. "
         "Overføringslæring flytter modeller mellom girkasser av ulik størrelse med lite data fram til havari.",
         "Gearboxes on our conveyors break without warning and stop the whole plant for days. We want to know "
         "weeks ahead which one is about to fail so we can change it in a planned stop.",
         "Girkasser på transportbåndene våre ryker uten forvarsel og stanser hele anlegget i flere dager. Vi vil "
         "vite uker i forveien hvilken som snart går, så vi kan bytte den i en planlagt stans."),
        ("Anomaly detection in hydraulic press data with autoencoders",
         "Pressure and flow time series of hydraulic presses are compressed by autoencoders; reconstruction "
         "error flags leaking valves and pump wear before quality drops.",
         "Avviksdeteksjon i data fra hydrauliske presser med autoenkodere",
         "Tidsserier for trykk og strømning i hydrauliske presser komprimeres av autoenkodere; "
         "rekonstruksjonsfeilen varsler lekkende ventiler og pumpeslitasje før kvaliteten faller.",
         "Our presses slowly lose pressure and the parts get worse before anyone notices. We log lots of "
         "machine data but nobody looks at it; we want warnings when a press starts to behave oddly.",
         "Pressene våre mister sakte trykk, og delene blir dårligere før noen merker det. Vi logger mye "
         "maskindata, men ingen ser på det; vi vil ha varsler når en presse begynner å oppføre seg rart."),
    ),
    "ot": (
        ("Intrusion detection for industrial control networks using protocol models",
         "Deterministic models of Modbus and IEC 104 traffic learned from normal operation detect injected "
         "commands in SCADA networks with few false alarms on a water utility testbed.",
         "Inntrengningsdeteksjon i industrielle kontrollnettverk med protokollmodeller",
         "Deterministiske modeller av Modbus- og IEC 104-trafikk lært fra normal drift oppdager injiserte "
         "kommandoer i SCADA-nettverk med få falske alarmer på en testplattform for vannverk.",
         "Our waterworks are run from a control room over an old network. We worry that someone could send "
         "commands to the pumps, and we need to notice quickly if anything unusual happens on that network.",
         "Vannverket vårt styres fra et kontrollrom over et gammelt nettverk. Vi er redde for at noen kan sende "
         "kommandoer til pumpene, og vi må raskt merke om noe uvanlig skjer i det nettet."),
        ("Secure remote access and patching for PLC-based production lines",
         "We evaluate jump-host architectures, signed firmware and staged patching for programmable logic "
         "controllers, measuring downtime and attack surface in three factories.",
         "Sikker fjerntilgang og oppdatering for PLS-baserte produksjonslinjer",
         "Vi vurderer arkitekturer med hoppvert, signert fastvare og trinnvis oppdatering av programmerbare "
         "logiske styringer, og måler nedetid og angrepsflate i tre fabrikker.",
         "Suppliers log in to our machines from outside to fix problems, and the controllers are never "
         "updated. We want a safe way to let them in and to keep the machines up to date without stopping production.",
         "Leverandører logger seg inn på maskinene våre utenfra for å fikse feil, og styringene oppdateres "
         "aldri. Vi vil ha en trygg måte å slippe dem inn og holde maskinene oppdatert uten å stanse produksjonen."),
    ),
    "privacy": (
        ("Differential privacy for municipal health statistics",
         "Calibrated noise and privacy budgets let municipalities publish small-area health statistics while "
         "bounding re-identification risk; utility loss is measured on registry data.",
         "Differensielt personvern for kommunal helsestatistikk",
         "Kalibrert støy og personvernbudsjetter lar kommuner publisere helsestatistikk for små områder samtidig "
         "som risikoen for reidentifisering begrenses; tapet av nytte måles på registerdata.",
         "We want to publish figures about residents' health for each village, but in small places people "
         "could be recognised. We need a method to share the numbers without exposing anyone.",
         "Vi vil publisere tall om innbyggernes helse for hver bygd, men på små steder kan folk kjennes igjen. "
         "Vi trenger en metode for å dele tallene uten å utlevere noen."),
        ("Automated GDPR compliance checking of data processing records",
         "Natural language processing maps records of processing activities to GDPR articles and flags missing "
         "legal bases and retention periods; evaluated with data protection officers.",
         "Automatisk kontroll av GDPR-etterlevelse i behandlingsprotokoller",
         "Språkteknologi kobler protokoller over behandlingsaktiviteter til artikler i GDPR og markerer manglende "
         "behandlingsgrunnlag og lagringstider; evaluert sammen med personvernombud.",
         "We have hundreds of systems that handle personal data and our overview is a messy spreadsheet. We "
         "need help to check quickly which of them lack a legal basis or keep data for too long.",
         "Vi har hundrevis av systemer som behandler personopplysninger, og oversikten er et rotete regneark. Vi "
         "trenger hjelp til raskt å sjekke hvilke som mangler grunnlag eller lagrer data for lenge."),
    ),
    "forest": (
        ("Airborne laser scanning for single-tree inventory in boreal forest",
         "Individual tree crowns are segmented from dense lidar point clouds and stem volume is estimated "
         "per tree; accuracy is compared with field plots in Innlandet.",
         "Flybåren laserskanning for enkelttretakst i boreal skog",
         "Enkelttrekroner segmenteres fra tette lidar-punktskyer, og stammevolum anslås per tre; "
         "nøyaktigheten sammenlignes med prøveflater i Innlandet.",
         "We own large forest areas and send people out to measure trees by hand, which is slow. We want to "
         "know how much timber stands in each part of the forest without walking it all.",
         "Vi eier store skogarealer og sender folk ut for å måle trær for hånd, noe som tar tid. Vi vil vite "
         "hvor mye tømmer som står i hver del av skogen uten å gå over alt."),
        ("Satellite time series for detecting bark beetle damage",
         "Sentinel-2 time series and change detection reveal spruce stands attacked by bark beetles weeks "
         "before crowns turn red, mapped at 10 m resolution across the county.",
         "Satellittidsserier for å oppdage barkbilleskader",
         "Tidsserier fra Sentinel-2 og endringsdeteksjon avslører granbestand angrepet av barkbiller uker før "
         "kronene blir røde, kartlagt med 10 m oppløsning over hele fylket.",
         "More and more spruce trees are dying from insect attacks after dry summers. We need maps that show "
         "early where the forest is being attacked so owners can harvest in time.",
         "Stadig flere grantrær dør av insektangrep etter tørre somre. Vi trenger kart som tidlig viser hvor "
         "skogen er angrepet, så eierne kan hogge i tide."),
    ),
    "biogas": (
        ("Co-digestion of manure and food waste for higher methane yield",
         "Batch and continuous reactor trials show that adding food waste to cattle manure raises methane "
         "yield by 40 % while ammonia inhibition is kept in check by trace element dosing.",
         "Samråtning av husdyrgjødsel og matavfall for høyere metanutbytte",
         "Batchforsøk og kontinuerlige reaktorforsøk viser at matavfall i storfegjødsel øker metanutbyttet med "
         "40 %, mens ammoniakkhemming holdes i sjakk med dosering av sporstoffer.",
         "Our farm gas plant gives less gas than promised. We could get leftovers from a nearby food factory "
         "and want to know whether mixing them in would help and how to avoid upsetting the tank.",
         "Gårdsgassanlegget vårt gir mindre gass enn lovet. Vi kan få rester fra en matfabrikk i nærheten og vil "
         "vite om det hjelper å blande dem inn, og hvordan vi unngår å ødelegge tanken."),
        ("Upgrading biogas to biomethane with membrane separation",
         "Hollow-fibre membranes separate carbon dioxide from raw biogas to vehicle-fuel quality; a two-stage "
         "design cuts methane slip below 0.5 % at small plant scale.",
         "Oppgradering av biogass til biometan med membranseparasjon",
         "Hulfibermembraner skiller karbondioksid fra rå biogass til drivstoffkvalitet; et totrinns oppsett "
         "kutter metanslipp under 0,5 % i små anlegg.",
         "We produce raw gas from waste but cannot sell it as fuel for our buses because it is not clean "
         "enough. We need an affordable way to clean the gas at our small plant.",
         "Vi lager rågass av avfall, men kan ikke selge den som drivstoff til bussene fordi den ikke er ren "
         "nok. Vi trenger en rimelig måte å rense gassen på i det lille anlegget vårt."),
    ),
}
# What every paper ends with, whatever its subject: the words BM25 counts and side means blur over.
BOILERPLATE = {
    "en": ["The work was funded by the Research Council of Norway together with industrial partners in Innlandet.",
           "Results were validated in collaboration with companies and public bodies in the region.",
           "Data and code are openly available, and the methods were tested in an industrial pilot.",
           "The project trained master students and involved partners from industry and the public sector."],
    "nb": ["Arbeidet ble finansiert av Forskningsrådet sammen med industripartnere i Innlandet.",
           "Resultatene ble validert i samarbeid med bedrifter og offentlige virksomheter i regionen.",
           "Data og kode er åpent tilgjengelige, og metodene ble testet i et industrielt pilotprosjekt.",
           "Prosjektet utdannet masterstudenter og involverte partnere fra industri og offentlig sektor."],
}
FIRST_NAMES = ["Ingrid", "Lars", "Marit", "Ola", "Sigrid", "Jonas", "Kari", "Erik", "Nora", "Henrik", "Aisha",
               "Mateusz", "Linh", "Tobias", "Astrid", "Farid", "Silje", "Magnus", "Ragnhild", "Ivan"]
LAST_NAMES = ["Hansen", "Johansen", "Olsen", "Berg", "Haugen", "Bakken", "Lien", "Nguyen", "Kowalski", "Dahl",
              "Moen", "Solberg", "Strand", "Ali", "Eriksen", "Lund"]
Paper = tuple[str, int]  # (topic, subtopic 0 or 1)


@dataclass(frozen=True)
class Researcher:
    """A generated researcher: their papers, the language they write in and how they list them."""

    external_id: str
    papers: tuple[Paper, ...]
    language: str
    one_text: bool


def paper_text(paper: Paper, language: str, rng: random.Random, boilerplate: int = 1) -> str:
    """Title and abstract: the subject's two sentences and `boilerplate` shared sentences (~55-85 words)."""
    topic, sub = paper
    title_en, body_en, title_nb, body_nb, _, _ = TOPICS[topic][sub]
    title, body = (title_en, body_en) if language == "en" else (title_nb, body_nb)
    return f"{title}. {body} {' '.join(rng.sample(BOILERPLATE[language], boilerplate))}"


def grade(papers: Sequence[Paper], need: Paper) -> int:
    """The module docstring's rules: 3 the subject in depth, 2 the subject once, 1 the topic only, 0 otherwise."""
    on_topic = sum(1 for topic, _ in papers if topic == need[0])
    if need in papers:
        return 3 if on_topic >= 2 else 2
    return 1 if on_topic else 0


def _others(rng: random.Random, avoid: set[str], count: int, pool: Sequence[str]) -> list[Paper]:
    topics = [t for t in pool if t not in avoid]
    return [(t, rng.randrange(2)) for t in rng.sample(topics, min(count, len(topics)))]


def make_researchers(rng: random.Random) -> list[Researcher]:
    """Per subject: a specialist (both subjects of the topic, 0-2 papers of the field), a broad researcher
    (that subject among 2-3 others) and a near one (a related topic of the field only), each in a random
    language and listing style."""
    researchers: list[Researcher] = []
    for topic in TOPICS:
        related = [t for t in TOPICS if FIELDS[t] == FIELDS[topic] and t != topic]
        for sub in (0, 1):
            specialist = [(topic, sub), (topic, 1 - sub), *_others(rng, {topic}, 2, related)]
            broad = [(topic, sub), *_others(rng, {topic}, rng.choice([2, 3]), list(TOPICS))]
            near_topic = rng.choice(related) if related else rng.choice([t for t in TOPICS if t != topic])
            field = {t for t in TOPICS if FIELDS[t] == FIELDS[topic]}
            near = [(near_topic, 0), (near_topic, 1), *_others(rng, field | {near_topic}, 1, list(TOPICS))]
            for papers in (specialist, broad, near):
                one_text = rng.random() < 0.5
                if one_text and papers[0] == (topic, sub) and rng.random() < 0.5:
                    papers = papers[1:] + papers[:1]  # the fitting paper last: past a 128-token window
                elif not one_text:
                    rng.shuffle(papers)
                researchers.append(Researcher(f"rl-researcher-{len(researchers) + 1:03d}", tuple(papers),
                                              rng.choice(["en", "en", "nb"]), one_text))
    return researchers


def researcher_row(r: Researcher, rng: random.Random) -> dict[str, Any]:
    """A participant line (docs/contracts.md §1) for a researcher: papers as offers, no seeks."""
    boilerplate = 2 if len(r.papers) <= 3 else 1  # 150-300 words in all
    texts = [paper_text(p, r.language, rng, boilerplate) for p in r.papers]
    offers: list[str] | str = " ".join(texts)[:2000] if r.one_text else texts
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    return _row(r.external_id, "researcher", name, "NTNU Gjøvik", r.language,
                sorted({FIELDS[t] for t, _ in r.papers}), offers, [])


def _row(external_id: str, kind: str, name: str, organisation: str, language: str, domains: list[str],
         offers: list[str] | str, seeks: list[str] | str) -> dict[str, Any]:
    return {"external_id": external_id, "kind": kind, "name": name,
            "email": f"{external_id}@research-long.koble.example", "organisation": organisation,
            "language": language, "domains": domains, "engagements": ["research_collaboration"],
            "available_from": None, "available_until": None, "capacity": 3, "location": None,
            "offers": offers, "seeks": seeks}


def build(seed: int = SEED) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(participant lines, gold lines): 48 researchers, 32 organisations (each subject's need in both
    languages, a company and a public body), every pair graded."""
    rng = random.Random(seed)
    researchers = make_researchers(rng)
    rows = [researcher_row(r, rng) for r in researchers]
    gold = []
    for topic, subtopics in TOPICS.items():
        for sub, subject in enumerate(subtopics):
            for language, need in (("en", subject[4]), ("nb", subject[5])):
                external_id = f"rl-org-{len(rows) - len(researchers) + 1:03d}"
                kind = "company" if (sub + (language == "nb")) % 2 == 0 else "public_body"
                rows.append(_row(external_id, kind, f"{topic.title()} {kind.replace('_', ' ')} {language}",
                                 f"{topic.title()} AS", language, [FIELDS[topic]], [], need))
                gold += [{"a": external_id, "b": r.external_id, "relevance": g} for r in researchers
                         if (g := grade(r.papers, (topic, sub))) > 0]
    return rows, gold


def main(argv: Sequence[str]) -> None:
    """Write participants.jsonl and gold.jsonl into the folder given (default bench/data/research_long)."""
    folder = Path(argv[0]) if argv else OUT
    folder.mkdir(parents=True, exist_ok=True)
    rows, gold = build()
    for name, lines in (("participants.jsonl", rows), ("gold.jsonl", gold)):
        (folder / name).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    words = [len((" ".join(r["offers"]) if isinstance(r["offers"], list) else r["offers"]).split())
             for r in rows if r["kind"] == "researcher"]
    print(f"{len(rows)} participants, {len(gold)} graded pairs, researcher profiles {min(words)}-{max(words)} words",
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
