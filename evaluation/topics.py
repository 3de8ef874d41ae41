"""The phrase bank of the labelled evaluation set: fifteen subjects, each worded several ways.

Each subject is named differently by the people who have the competence (`skill`), by the
organisations that have the problem (`need`), by researchers (`research`, and a paragraph-long
English profile), in a short label, and in Norwegian mixed with English jargon (`mixed`), so that
the two sides of a good match rarely share a phrase. Some subjects are deliberately close in
wording (log anomaly detection vs. image anomaly detection, OT security vs. PLC automation) to
make the set discriminating.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    """One subject of matching, with its wordings (variant pairs are never used on both sides)."""

    domains: tuple[str, ...]
    label_nb: str
    label_en: str
    skill_nb: tuple[str, str]
    skill_en: tuple[str, str]
    need_nb: tuple[str, str]
    need_en: tuple[str, str]
    mixed: tuple[str, str]  # Norwegian with English terms: (a competence, an organisation's need)
    research_nb: str
    research_en: str
    profile_en: str  # a researcher's paragraph-long English profile


SUBJECTS: dict[str, Subject] = {
    "ot_security": Subject(
        ("cyber_ict", "industrial_tech"), "OT-sikkerhet", "OT security",
        ("sikkerhet i industrielle styringssystemer (PLS og SCADA)", "segmentering og overvåking av OT-nettverk"),
        ("security of industrial control systems (PLC and SCADA)", "OT network segmentation and monitoring"),
        ("beskyttelse av produksjonslinjene våre mot dataangrep",
         "en gjennomgang av hvilke maskiner i fabrikken som er sårbare fordi de er koblet til nettet"),
        ("protecting our production lines against cyber attacks",
         "finding out which networked machines on the factory floor are exposed"),
        ("ICS security og Modbus/OPC UA-protokoller", "en security assessment av produksjonsnettverket (OT)"),
        "angrepsdeteksjon i industrielle kontrollsystemer",
        "intrusion detection for industrial control systems",
        "My research concerns the security of operational technology in manufacturing and energy. I study "
        "how attacks propagate through PLCs, SCADA servers and industrial protocols such as Modbus and OPC UA, "
        "and I build anomaly-based intrusion detection that learns the normal cycle of a production process. "
        "Recent work includes a testbed with real controllers, network segmentation strategies for brownfield "
        "plants, and methods for assessing the risk of legacy equipment that cannot be patched. I want to "
        "validate these methods with data from working factories.",
    ),
    "pentest": Subject(
        ("cyber_ict",), "penetrasjonstesting", "penetration testing",
        ("penetrasjonstesting av nettsider og nettverk", "etisk hacking og sårbarhetsanalyse"),
        ("web and network penetration testing", "ethical hacking and vulnerability assessment"),
        ("en test av hvor godt systemene våre tåler et ekte angrep",
         "en uavhengig kontroll av sikkerheten i nettbutikken og kundeportalen"),
        ("finding out how well our systems hold up against a real attacker",
         "an independent check of the security of our web shop and customer portal"),
        ("pentesting med Burp Suite og Kali, inkludert red teaming", "en pentest av de eksterne tjenestene våre"),
        "automatisert sårbarhetsanalyse og angrepsgrafer",
        "automated vulnerability discovery and attack graphs",
        "I work on offensive security and automated vulnerability discovery. My group develops fuzzing "
        "techniques for web applications and network services, and models attack paths through enterprise "
        "networks as attack graphs so that defenders can see which weaknesses matter most. We also study how "
        "penetration tests are scoped and reported, and how their findings turn into fixes. I supervise "
        "students who do hands-on security testing and welcome organisations willing to let us test real "
        "systems under a clear agreement.",
    ),
    "soc": Subject(
        ("cyber_ict",), "sikkerhetsovervåking", "security monitoring",
        ("logganalyse og håndtering av sikkerhetshendelser", "oppsett av SIEM og deteksjonsregler"),
        ("log analysis and incident response", "SIEM configuration and detection engineering"),
        ("bedre oversikt over hva som faktisk skjer i IT-miljøet vårt",
         "en plan for hva vi gjør dersom vi blir rammet av løsepengevirus"),
        ("a clearer picture of what is actually going on in our IT environment",
         "a plan for what we do if ransomware hits us"),
        ("threat hunting og incident response i Splunk og Elastic", "oppsett av logging og alerting for IT-driften"),
        "maskinlæring for å oppdage avvik i sikkerhetslogger",
        "machine learning for anomaly detection in security logs",
        "My research is about detecting intrusions in large volumes of security logs. I combine statistical "
        "baselines with machine learning to spot unusual sign-ins, lateral movement and data exfiltration, and "
        "I study how security operations centres triage alerts so that analysts are not drowned in false "
        "positives. Current projects cover log pipelines for small organisations, evaluation of detection "
        "rules against realistic attack simulations, and incident response playbooks for ransomware. I am keen "
        "to work with organisations that run their own monitoring.",
    ),
    "privacy": Subject(
        ("cyber_ict",), "personvern", "privacy",
        ("personvern, GDPR og risikovurderinger", "styringssystem for informasjonssikkerhet etter ISO 27001"),
        ("privacy engineering and GDPR compliance", "information security management to ISO 27001"),
        ("trygg behandling av personopplysninger i nye digitale tjenester",
         "vurderinger av risiko før vi flytter tjenester til skyen"),
        ("handling personal data safely in the new digital services we build",
         "risk assessments before we move services to the cloud"),
        ("DPIA, privacy by design og compliance-arbeid", "en gjennomgang av databehandleravtaler og GDPR-compliance"),
        "personvernfremmende teknologi og styring av informasjonssikkerhet",
        "privacy-enhancing technologies and security governance",
        "I research privacy-enhancing technologies and how organisations govern information security in "
        "practice. My work spans data protection impact assessments, anonymisation and synthetic data, and the "
        "management systems that ISO 27001 asks for. I am particularly interested in the public sector, where "
        "new digital services must respect the GDPR while sharing data across agencies, and in how cloud "
        "adoption changes the risk picture. I look for partners who are about to launch or redesign services "
        "that process personal data.",
    ),
    "webapp": Subject(
        ("cyber_ict",), "programvareutvikling", "software development",
        ("fullstack webutvikling med React og Python", "apputvikling og brukersentrert design"),
        ("full-stack web development with React and Python", "mobile app development and user-centred design"),
        ("en intern app som erstatter papirskjemaer og regneark", "et enkelt verktøy som viser nøkkeltall fra driften"),
        ("an in-house app to replace our paper forms and spreadsheets",
         "a simple dashboard that shows key figures from daily operations"),
        ("frontend og backend, REST API-er og UX-design", "en webløsning for booking og kundeoppfølging som MVP"),
        "programvarekvalitet og brukskvalitet i digitale tjenester",
        "software quality and usability of digital services",
        "My research is in software engineering and human-computer interaction. I study how small teams build "
        "and maintain web and mobile applications, with attention to code quality, automated testing and the "
        "usability of the final product. Recent projects include participatory design of internal tools with "
        "factory workers, low-code platforms in municipalities, and the accessibility of public web services. "
        "I am interested in collaborating with organisations that want to replace manual routines with "
        "well-designed software.",
    ),
    "ml_vision": Subject(
        ("industrial_tech", "cyber_ict"), "maskinsyn", "machine vision",
        ("maskinlæring og bildeanalyse for kvalitetskontroll", "maskinsyn med Python og PyTorch"),
        ("machine learning for visual quality inspection", "computer vision with Python and PyTorch"),
        ("automatisk oppdagelse av feil på produkter før de forlater fabrikken",
         "færre kassasjoner gjennom smartere kontroll på produksjonslinja"),
        ("spotting defective parts automatically before they leave the factory",
         "less scrap through smarter checks on the production line"),
        ("deep learning og computer vision for defect detection", "kamerabasert inspeksjon av deler, gjerne med AI"),
        "dyp læring for avviksdeteksjon i industrielle bilder",
        "deep learning for anomaly detection in industrial images",
        "I develop deep learning methods for visual inspection in manufacturing. Because defects are rare, much "
        "of my work is on anomaly detection that learns from images of good parts only, on synthetic data "
        "generation, and on models small enough to run at line speed on edge hardware. I have worked with "
        "castings, machined aluminium and painted surfaces, and with the practical questions of lighting, "
        "camera placement and operator trust. I want to test these methods on real production lines with real "
        "defect data.",
    ),
    "robotics": Subject(
        ("industrial_tech",), "robotisering", "robotics",
        ("programmering av industriroboter", "automatisering med roboter og PLS"),
        ("industrial robot programming", "automation with robots and PLCs"),
        ("automatisering av tunge og ensformige manuelle operasjoner i produksjonen",
         "en ny robotcelle for plukking og montasje"),
        ("automating heavy, repetitive manual work in our production", "a new robot cell for picking and assembly"),
        ("robotprogrammering i ABB RobotStudio og cobots", "en cobot-løsning for pakking på slutten av linja"),
        "fleksible robotceller og samarbeid mellom menneske og robot",
        "flexible robot cells and human-robot collaboration",
        "My research addresses flexible automation for high-mix, low-volume production. I work on robot cells "
        "that can be reconfigured quickly, on offline programming and simulation, and on collaborative robots "
        "that share the workspace with operators safely. A current theme is vision-guided picking of parts that "
        "arrive unsorted, and another is how to make robot programming accessible to operators without "
        "specialist training. I look for manufacturers with manual operations they would like to automate.",
    ),
    "aluminium": Subject(
        ("industrial_tech",), "aluminiumsforming", "aluminium forming",
        ("materialteknologi og forming av aluminium", "FEM-simulering av formeprosesser"),
        ("aluminium materials and forming", "finite-element simulation of forming processes"),
        ("jevnere kvalitet og mindre svinn når vi former aluminiumsdeler",
         "forbedringer i ekstrudering og bearbeiding av aluminiumsprofiler"),
        ("steadier quality and less waste when we form aluminium parts",
         "improvements in the extrusion and machining of aluminium profiles"),
        ("materials engineering, metallurgi og simulering i Abaqus", "optimalisering av ekstruderingen med simulation"),
        "modellering av formbarhet og mikrostruktur i aluminiumslegeringer",
        "modelling formability and microstructure of aluminium alloys",
        "I study the forming and processing of aluminium alloys, from extrusion to bending and crash-relevant "
        "components. My group combines finite-element simulation with microstructure characterisation to "
        "predict how a profile will behave in forming and in service, and we use these models to reduce scrap "
        "and trial-and-error in industrial processes. Recent work covers recycled alloys with higher impurity "
        "levels and process windows for new automotive parts. I seek industrial partners with forming "
        "challenges and process data.",
    ),
    "additive": Subject(
        ("industrial_tech",), "additiv tilvirkning", "additive manufacturing",
        ("3D-printing og additiv produksjon", "design for additiv tilvirkning i metall"),
        ("3D printing and additive manufacturing", "design for metal additive manufacturing"),
        ("raskere prototyper og reservedeler ved hjelp av 3D-printing",
         "en vurdering av om additiv produksjon lønner seg for noen av delene våre"),
        ("faster prototypes and spare parts made with 3D printing",
         "judging whether additive production pays off for some of our parts"),
        ("additive manufacturing, topologioptimering og CAD", "printing av reservedeler i metall og en business case"),
        "prosessovervåking og kvalifisering av additiv tilvirkning i metall",
        "process monitoring and qualification in metal additive manufacturing",
        "My research is on metal additive manufacturing, especially powder bed fusion and wire-arc processes. I "
        "work on in-situ monitoring with thermal cameras and melt-pool sensors, on qualifying printed parts for "
        "demanding applications, and on design methods such as topology optimisation that exploit what "
        "printing allows. I also study the economics of replacing cast or machined spare parts with printed "
        "ones. I would like to work with companies that want to assess or introduce additive production.",
    ),
    "energy": Subject(
        ("industrial_tech",), "energistyring", "energy management",
        ("kraftelektronikk og elektrifisering", "energimåling og styring av elektriske anlegg"),
        ("power electronics and electrification", "energy metering and control of electrical installations"),
        ("lavere strømforbruk og bedre oversikt over hvor energien går",
         "elektrifisering av maskinene og kjøretøyene i driften"),
        ("lower electricity use and a clearer view of where the energy goes",
         "electrifying the machines and vehicles we run"),
        ("energy management, smart grid og batterisystemer", "et energy monitoring-system for bygg og produksjon"),
        "energistyring og fleksibilitet i industrielle kraftsystemer",
        "energy management and flexibility in industrial power systems",
        "I research energy management in industrial power systems. My work covers metering and load "
        "monitoring, the electrification of processes and vehicles, battery storage, and how factories can "
        "shift consumption to cut costs and relieve the grid. We build models from high-resolution meter data "
        "and test control strategies on a laboratory microgrid. I am looking for companies and municipalities "
        "that want to understand and reduce their energy use and are willing to share measurements.",
    ),
    "forest_remote": Subject(
        ("bioeconomy", "cyber_ict"), "skogdata", "forest data",
        ("GIS, fjernmåling og laserdata", "dataanalyse av skogdata"),
        ("GIS, remote sensing and lidar data", "data analysis of forest inventories"),
        ("bedre skogdata til planlegging av hogst og skogskjøtsel", "digitale verktøy som hjelper skogeiere å velge"),
        ("better forest data for planning harvests and forest management",
         "digital tools that help forest owners make decisions"),
        ("remote sensing med drone og satellitt, QGIS og Python", "kartlegging av skogen med laserskanning og AI"),
        "maskinlæring på fjernmålingsdata for skogtakst",
        "machine learning on remote-sensing data for forest inventory",
        "My research applies remote sensing and machine learning to forests. I work with airborne laser "
        "scanning, satellite time series and drone imagery to estimate timber volume, tree species and forest "
        "health, and to detect storm damage and bark-beetle attacks early. I also study how such estimates can "
        "be turned into practical decision support for forest owners and planners. I seek partners in forestry "
        "who hold field plots or harvest data that can help validate the models.",
    ),
    "wood_materials": Subject(
        ("bioeconomy",), "trebaserte materialer", "wood-based materials",
        ("trebaserte materialer og trefiber", "livsløpsanalyse (LCA) av materialer"),
        ("wood-based materials and wood fibre", "life-cycle assessment (LCA) of materials"),
        ("bedre utnyttelse av tømmer og restråstoff fra sagbruket",
         "dokumentasjon av klimafotavtrykket til produktene våre i tre"),
        ("getting more value out of timber and sawmill residues",
         "documenting the carbon footprint of our wooden products"),
        ("biobaserte materialer, EPD og LCA i SimaPro", "en miljødeklarasjon (EPD) for trefiberplatene våre"),
        "livsløpsanalyse og sirkulære verdikjeder for trebaserte materialer",
        "life-cycle assessment and circular value chains for wood-based materials",
        "I work on wood-based materials and their environmental performance. My research covers fibreboards "
        "and insulation made from sawmill residues, the durability of bio-based products, and life-cycle "
        "assessment that documents their carbon footprint in environmental product declarations. I am "
        "interested in circular value chains where offcuts and used wood become new products rather than fuel. "
        "I look for companies in the wood industry that want to develop new products or document the climate "
        "impact of existing ones.",
    ),
    "food_sidestreams": Subject(
        ("bioeconomy",), "sidestrømmer fra mat", "food side streams",
        ("næringsmiddelteknologi og prosessering", "sirkulær økonomi og utnyttelse av sidestrømmer"),
        ("food processing technology", "circular economy and side-stream valorisation"),
        ("nye bruksområder for skrell, stivelse og andre restprodukter fra foredlingen",
         "mindre matsvinn i produksjonen"),
        ("new uses for peel, starch and other leftovers from processing", "less food waste in our production"),
        ("food science, upcycling og produktutvikling", "verdiskaping av side streams fra grønnsaksproduksjonen"),
        "bioraffinering av sidestrømmer fra næringsmiddelindustrien",
        "biorefining of side streams from the food industry",
        "My research is on turning side streams from food processing into valuable products. I study the "
        "extraction of starch, fibre and proteins from peels and pulp, fermentation of residues, and the "
        "quality and safety of ingredients made from them. Much of the work is done with processors of "
        "potatoes, vegetables and grain, where large volumes of by-products are today used as feed or go to "
        "waste. I seek food companies that want to reduce waste and explore new products.",
    ),
    "biogas": Subject(
        ("bioeconomy",), "biogass", "biogas",
        ("biogass og anaerob utråtning", "prosessmodellering av bioenergianlegg"),
        ("biogas and anaerobic digestion", "process modelling of bioenergy plants"),
        ("lønnsom biogass fra matavfall og husdyrgjødsel i regionen",
         "en mulighetsstudie for bioenergi basert på lokale råstoffer"),
        ("profitable biogas from food waste and manure in the region",
         "a feasibility study for bioenergy from local feedstock"),
        ("anaerobic digestion, biogass-oppgradering og process control", "en business case for et biogassanlegg"),
        "optimalisering av biogassproduksjon fra landbruksavfall",
        "optimising biogas yields from agricultural residues",
        "I research anaerobic digestion and the production of biogas from agricultural and municipal residues. "
        "My work combines laboratory digestion trials with process models that predict gas yield and stability "
        "for mixtures of manure, food waste and crop residues, and I assess the economics and climate benefit "
        "of regional biogas plants. I also study upgrading to biomethane for transport. I am looking for "
        "municipalities, farmers' cooperatives and companies that consider building or improving a biogas plant.",
    ),
    "precision_farming": Subject(
        ("bioeconomy", "cyber_ict"), "digitalt landbruk", "digital farming",
        ("presisjonslandbruk med sensorer og droner", "IoT og dataanalyse for landbruket"),
        ("precision agriculture with sensors and drones", "IoT and data analytics for farming"),
        ("mer presis gjødsling og vanning ut fra målinger på jordet",
         "overvåking av dyrehelse og fôring med digitale verktøy"),
        ("more precise fertilising and watering based on field measurements",
         "monitoring animal health and feeding with digital tools"),
        ("smart farming med IoT-sensorer, LoRaWAN og dashboards", "en pilot med sensors i fjøset og på jordet"),
        "digitalt landbruk og sensorbasert beslutningsstøtte",
        "digital agriculture and sensor-based decision support",
        "My research is in digital agriculture. I develop sensor networks and drone-based imaging to measure "
        "soil moisture, crop growth and nutrient status at field scale, and I build decision-support models "
        "that turn these measurements into recommendations for fertilising, irrigation and harvest timing. A "
        "second line of work concerns livestock: wearable sensors and cameras that detect illness and feeding "
        "problems early. I seek farms and agricultural advisers willing to run pilots and share data.",
    ),
}
