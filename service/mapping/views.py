"""What the map's pages show: tables, charts drawn as SVG on the server (no JavaScript), one-sentence
summaries, the public version with small cells hidden, and the exports (xlsx, CSV).

Pure apart from rendering templates: every function takes the stored figures (service.figures_document).
Charts are SVG with role="img", a <title> and a <desc> (the summary), and each has a data table beside
it, so a screen reader and a printout get the same numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from service.kit.exports import text_cell
from service.kit.i18n import _
from service.kit.templating import templates
from service.kit.vocabulary import DOMAINS, KINDS
from service.mapping import figures

HEAT_ROWS = 15  # themes in the heat map (the largest)
BAR_ROWS = 20
SUPPLY, DEMAND = "#1f5f99", "#b34700"  # both at least 4.5:1 on white, told apart by pattern and legend too
Cell = int | None  # None: hidden on the public page


@dataclass
class Table:
    """Rows of numbers with their labels; `links` (same shape) hold drill-down URLs or None."""

    caption: str
    row_header: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]
    links: list[list[str | None]] = field(default_factory=list)

    @property
    def body(self) -> list[tuple[str, list[tuple[Cell, str | None]]]]:
        """Each row's label and its (value, link or None) cells; no link on a hidden or zero value."""
        out = []
        for i, (label, cells) in enumerate(self.rows):
            links = self.links[i] if i < len(self.links) else []
            out.append((label, [(v, links[j] if j < len(links) and v else None) for j, v in enumerate(cells)]))
        return out


def theme_name(theme: Mapping[str, Any], lang: str) -> str:
    """A theme's label in a language."""
    return str(theme["label_nb"] if lang == "nb" else theme["label_en"])


def value_name(dimension: str, value: str) -> str:
    """A dimension's value in words (kinds, domains and semesters translated)."""
    if dimension == "kind":
        return {
            "student": _("Students"),
            "researcher": _("Researchers"),
            "company": _("Companies"),
            "public_body": _("Public bodies"),
        }.get(value, value)
    if dimension == "domain":
        return {
            "bioeconomy": _("Bioeconomy"),
            "cyber_ict": _("Cyber security and ICT"),
            "industrial_tech": _("Industrial technology"),
        }.get(value, value)
    if dimension == "semester":
        year, half = value.split("-")
        return (_("Spring %(year)s") if half == "1" else _("Autumn %(year)s")) % {"year": year}
    return {figures.OTHER: _("Elsewhere"), figures.UNKNOWN: _("Not given")}.get(value, value)


def ordered_values(dimension: str, values: Sequence[str]) -> list[str]:
    """A dimension's values in a reading order (the vocabulary's order for kinds and domains)."""
    orders: dict[str, list[str]] = {"kind": [str(k) for k in KINDS], "domain": [str(d) for d in DOMAINS]}
    order = orders.get(dimension)
    if order:
        return [v for v in order if v in values] + sorted(v for v in values if v not in order)
    tail = [v for v in (figures.OTHER, figures.UNKNOWN) if v in values]
    return sorted(v for v in values if v not in tail) + tail


# --- the public version ---------------------------------------------------------------------------------


def public_themes(document: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[list[Cell]]]:
    """(themes, rows [offers, seeks, total?]...) with small cells hidden; the last row is the totals."""
    themes = document["themes"]
    counts = np.array([[t["offers"], t["seeks"]] for t in themes], dtype=np.int64).reshape(len(themes), 2)
    table = figures.with_margins(
        counts,
        counts.sum(axis=1),
        np.array([document["offering"], document["seeking"]]),
        int(document["offering"] + document["seeking"]),
    )
    return themes, figures.public_table(table)


def dimension_matrix(document: Mapping[str, Any], dimension: str, side: int) -> tuple[list[str], np.ndarray]:
    """(values, int (themes+1, values+1)): participants per theme and value (side 0 offers, 1 seeks,
    2 either), theme totals in the last column and value totals in the last row."""
    dim = document["dimensions"][dimension]
    values = ordered_values(dimension, dim["values"])
    index = {t["id"]: i for i, t in enumerate(document["themes"])}
    counts = np.zeros((len(index), len(values)), dtype=np.int64)
    where = {v: j for j, v in enumerate(values)}
    for theme, value, *numbers in dim["cells"]:
        if theme in index:
            counts[index[theme], where[value]] = numbers[side]
    key = ("offers", "seeks", "participants")[side]
    row_totals = np.array([t[key] for t in document["themes"]], dtype=np.int64)
    col_totals = np.array([dim["margins"][v][side] for v in values], dtype=np.int64)
    grand = (document["offering"], document["seeking"], document["participants"])[side]
    return values, figures.with_margins(counts, row_totals, col_totals, int(grand))


def shown(matrix: np.ndarray, public: bool) -> list[list[Cell]]:
    """The matrix's cells as shown: all of them for staff, small ones hidden for the public."""
    return figures.public_table(matrix) if public else matrix.tolist()


# --- charts ---------------------------------------------------------------------------------------------


def svg_open(chart_id: str, width: int, height: int, title: str, summary: str) -> str:
    """The opening of an accessible SVG chart: role img, labelled by its title, described by its summary."""
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>'
    )


def number(value: Cell) -> str:
    """A cell as text: its number, or a dash when hidden."""
    return "\u2013" if value is None else str(value)  # an en dash


def bars_svg(rows: Sequence[tuple[str, Cell, Cell]], title: str, summary: str) -> Markup:
    """Supply against demand per theme: two horizontal bars per row (rows: label, offers, seeks)."""
    rows = list(rows)[:BAR_ROWS]
    top = max([v for _, o, s in rows for v in (o, s) if v is not None] + [1])
    width, label_w, row_h = 640, 220, 34
    parts = [svg_open("bars", width, row_h * len(rows) + 40, title, summary), _legend(label_w)]
    for i, (label, offers, seeks) in enumerate(rows):
        y = 36 + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" class="label">{escape(_short(label))}</text>'
        )
        for k, (value, color) in enumerate(((offers, SUPPLY), (seeks, DEMAND))):
            w = 0 if value is None else (width - label_w - 50) * value / top
            parts.append(
                f'<rect x="{label_w}" y="{y + k * 13}" width="{w:.1f}" height="11" fill="{color}"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + k * 13 + 10}" class="value">{number(value)}</text>'
            )
    return Markup("".join(parts) + "</svg>")


def _legend(x: int) -> str:
    return (
        f'<rect x="{x}" y="6" width="12" height="12" fill="{SUPPLY}"/><text x="{x + 16}" y="16" class="value">'
        f'{escape(_("Offers (supply)"))}</text><rect x="{x + 170}" y="6" width="12" height="12" fill="{DEMAND}"/>'
        f'<text x="{x + 186}" y="16" class="value">{escape(_("Seeks (demand)"))}</text>'
    )


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def heat_svg(
    row_labels: Sequence[str], col_labels: Sequence[str], cells: Sequence[Sequence[Cell]], title: str, summary: str
) -> Markup:
    """A heat map: darker is more participants; every cell also prints its number (or a dash)."""
    col_w, row_h, label_w, head_h = 64, 26, 220, 70
    width, height = label_w + col_w * len(col_labels) + 10, head_h + row_h * len(row_labels) + 10
    top = max([v for row in cells for v in row if v is not None] + [1])
    parts = [svg_open("heat", width, height, title, summary)]
    for j, label in enumerate(col_labels):
        x = label_w + j * col_w + col_w / 2
        parts.append(
            f'<text x="{x}" y="{head_h - 8}" transform="rotate(-35 {x} {head_h - 8})" class="label">'
            f"{escape(_short(label, 14))}</text>"
        )
    for i, label in enumerate(row_labels):
        y = head_h + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="label">{escape(_short(label))}</text>'
        )
        for j, value in enumerate(cells[i]):
            share = 0.0 if value is None else value / top
            fill = "#eeeeee" if value is None else _blue(share)
            ink = "#ffffff" if share > 0.5 else "#1a1a1a"
            x = label_w + j * col_w
            parts.append(
                f'<rect x="{x}" y="{y}" width="{col_w - 2}" height="{row_h - 2}" fill="{fill}"/>'
                f'<text x="{x + col_w / 2 - 1}" y="{y + 17}" text-anchor="middle" fill="{ink}" class="value">'
                f"{number(value)}</text>"
            )
    return Markup("".join(parts) + "</svg>")


def _blue(share: float) -> str:
    """From near white (0) to dark blue (1); white text is used above one half (contrast >= 4.5:1)."""
    light, dark = np.array([232, 240, 250]), np.array([16, 60, 120])
    r, g, b = (light + (dark - light) * share).astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def trend_svg(
    labels: Sequence[str], supply: Sequence[Cell], demand: Sequence[Cell], title: str, summary: str
) -> Markup:
    """Supply and demand per semester: grouped vertical bars, a number above each."""
    width, height, base, group_w = 640, 240, 200, max(40, min(120, 560 // max(len(labels), 1)))
    top = max([v for v in [*supply, *demand] if v is not None] + [1])
    parts = [svg_open("trend", width, height, title, summary), _legend(60)]
    for i, label in enumerate(labels):
        x = 60 + i * group_w
        for k, (value, color) in enumerate(((supply[i], SUPPLY), (demand[i], DEMAND))):
            h = 0 if value is None else (base - 50) * value / top
            parts.append(
                f'<rect x="{x + k * (group_w / 2 - 4)}" y="{base - h:.1f}" width="{group_w / 2 - 8}" '
                f'height="{h:.1f}" fill="{color}"/><text x="{x + k * (group_w / 2 - 4)}" y="{base - h - 4:.1f}" '
                f'class="value">{number(value)}</text>'
            )
        parts.append(f'<text x="{x}" y="{base + 18}" class="label">{escape(label)}</text>')
    return Markup("".join(parts) + "</svg>")


# --- summaries ------------------------------------------------------------------------------------------


def themes_summary(rows: Sequence[tuple[str, Cell, Cell]]) -> str:
    """One sentence on the bars: the largest theme, and the one with most demand against its supply."""
    if not rows:
        return _("No themes yet.")
    known = [(label, o or 0, s or 0) for label, o, s in rows]
    largest = max(known, key=lambda r: r[1] + r[2])
    hungry = max(known, key=lambda r: (r[2] - r[1], r[2]))
    return _(
        "%(n)s themes. The largest is “%(largest)s” (%(offers)s offering, %(seeks)s seeking); the most demand "
        "beyond supply is in “%(hungry)s” (%(hseeks)s seeking, %(hoffers)s offering)."
    ) % {
        "n": len(rows),
        "largest": largest[0],
        "offers": largest[1],
        "seeks": largest[2],
        "hungry": hungry[0],
        "hseeks": hungry[2],
        "hoffers": hungry[1],
    }


def heat_summary(row_labels: Sequence[str], col_labels: Sequence[str], cells: Sequence[Sequence[Cell]]) -> str:
    """One sentence on the heat map: its largest cell."""
    best = max(((v or 0, i, j) for i, row in enumerate(cells) for j, v in enumerate(row)), default=(0, 0, 0))
    if not best[0]:
        return _("No municipality has participants in these themes yet.")
    return _("Most participants in one theme and municipality: “%(theme)s” in %(place)s (%(n)s).") % {
        "theme": row_labels[best[1]],
        "place": col_labels[best[2]],
        "n": best[0],
    }


def trend_summary(labels: Sequence[str], supply: Sequence[Cell], demand: Sequence[Cell]) -> str:
    """One sentence on the trend: the latest semester against the one before."""
    if not labels:
        return _("No semesters yet.")
    if len(labels) == 1:
        return _("All participants so far registered in %(semester)s.") % {"semester": labels[0]}
    return _("From %(before)s to %(latest)s, supply went from %(s0)s to %(s1)s and demand from %(d0)s to %(d1)s.") % {
        "before": labels[-2],
        "latest": labels[-1],
        "s0": number(supply[-2]),
        "s1": number(supply[-1]),
        "d0": number(demand[-2]),
        "d1": number(demand[-1]),
    }


# --- the pages' context -------------------------------------------------------------------------------------


def context(document: Mapping[str, Any], lang: str, *, public: bool, people: bool) -> dict[str, Any]:
    """Everything the staff map (public False) or the public overview (public True) shows.

    `people`: whether numbers link to the participants behind them (reviewers and admins).
    """
    themes = document["themes"]
    names = [theme_name(t, lang) for t in themes]
    if public:
        _themes, cells = public_themes(document)
        theme_rows = [(names[i], cells[i][0], cells[i][1]) for i in range(len(themes))]
    else:
        theme_rows = [(names[i], t["offers"], t["seeks"]) for i, t in enumerate(themes)]
    heat = heat_map(document, names, public)
    trend = trend_data(document, public)
    return {
        "document": document,
        "public": public,
        "people": people and not public,
        "themes": themes,
        "names": names,
        "theme_table": theme_table(themes, theme_rows, people and not public, public),
        "bars": bars_svg(theme_rows, _("Supply and demand per theme"), themes_summary(theme_rows)),
        "bars_summary": themes_summary(theme_rows),
        **heat,
        **trend,
        "dimension_tables": [] if public else [dimension_table(document, d, names, people) for d in ("kind", "domain")],
        "gaps": [] if public else gap_lists(document, names, lang),
    }


def theme_table(
    themes: Sequence[Mapping[str, Any]], rows: Sequence[tuple[str, Cell, Cell]], people: bool, public: bool
) -> Table:
    """The bars' data: a row per theme (offers, seeks; unmet needs for staff)."""
    columns = [_("Offering"), _("Seeking")] + ([] if public else [_("Unmet needs")])
    table_rows: list[tuple[str, list[Cell]]] = [
        (label, [o, s] + ([] if public else [themes[i]["unmet"]])) for i, (label, o, s) in enumerate(rows)
    ]
    links = [
        [drill(t["id"], side) if people else None for side in ("offers", "seeks", "seeks")][: len(columns)]
        for t in themes
    ]
    return Table(_("Participants per theme"), _("Theme"), columns, table_rows, links)


def drill(theme_id: int, side: str, dimension: str | None = None, value: str | None = None) -> str:
    """The drill-down URL of one number."""
    url = f"/staff/map/people?theme={theme_id}&side={side}"
    return url + (f"&dimension={dimension}&value={escape(value)}" if dimension and value is not None else "")


def heat_map(document: Mapping[str, Any], names: Sequence[str], public: bool) -> dict[str, Any]:
    """The heat map of participants (offering or seeking) per theme and municipality, and its table."""
    values, matrix = dimension_matrix(document, "municipality", 2)
    cells = shown(matrix, public)
    rows = len(names) if public else min(len(names), HEAT_ROWS)
    labels = [value_name("municipality", v) for v in values]
    body = [row[:-1] for row in cells[:rows]]
    summary = heat_summary(names[:rows], labels, body)
    table = Table(
        _("Participants per theme and municipality"),
        _("Theme"),
        [*labels, _("All")],
        [(names[i], cells[i]) for i in range(len(names))] + [(_("All themes"), cells[-1])],
    )
    return {
        "heat": heat_svg(names[:rows], labels, body, _("Participants per theme and municipality"), summary),
        "heat_summary": summary,
        "heat_table": table,
    }


def trend_data(document: Mapping[str, Any], public: bool) -> dict[str, Any]:
    """Supply and demand per semester (all themes), as a chart and its table."""
    margins = document["dimensions"]["semester"]["margins"]
    semesters = sorted(margins)
    counts = np.array([[margins[s][0], margins[s][1]] for s in semesters], dtype=np.int64).reshape(len(semesters), 2)
    cells = shown(figures.with_margins(counts, counts.sum(axis=1), counts.sum(axis=0), int(counts.sum())), public)
    labels = [value_name("semester", s) for s in semesters]
    supply, demand = [row[0] for row in cells[:-1]], [row[1] for row in cells[:-1]]
    summary = trend_summary(labels, supply, demand)
    table = Table(
        _("Supply and demand per semester"),
        _("Semester"),
        [_("Offering"), _("Seeking")],
        [(labels[i], [supply[i], demand[i]]) for i in range(len(labels))],
    )
    return {
        "trend": trend_svg(labels, supply, demand, _("Supply and demand per semester"), summary),
        "trend_summary": summary,
        "trend_table": table,
    }


def dimension_table(document: Mapping[str, Any], dimension: str, names: Sequence[str], people: bool) -> Table:
    """Offering / seeking per theme and kind or domain (staff only)."""
    values, offers = dimension_matrix(document, dimension, 0)
    _values, seeks = dimension_matrix(document, dimension, 1)
    columns = [f"{value_name(dimension, v)}: {label}" for v in values for label in (_("offering"), _("seeking"))]
    rows = [(names[i], [int(m[i, j]) for j in range(len(values)) for m in (offers, seeks)]) for i in range(len(names))]
    ids = [t["id"] for t in document["themes"]]
    links = [
        [drill(ids[i], side, dimension, v) if people else None for v in values for side in ("offers", "seeks")]
        for i in range(len(names))
    ]
    caption = _("Participants per theme and kind") if dimension == "kind" else _("Participants per theme and domain")
    return Table(caption, _("Theme"), columns, [(label, list[Cell](cells)) for label, cells in rows], links)


def gap_lists(document: Mapping[str, Any], names: Sequence[str], lang: str) -> list[dict[str, Any]]:
    """The three gap lists, each item a theme's name and a sentence."""
    index = {t["id"]: names[i] for i, t in enumerate(document["themes"])}
    gaps = document["gaps"]
    return [
        {
            "title": _("Needs without supply"),
            "items": [
                (
                    index.get(g["theme"], "?"),
                    _("%(n)s participants seek something no offer comes close to") % {"n": g["participants"]},
                )
                for g in gaps["unmet"]
            ],
        },
        {
            "title": _("Competence without demand"),
            "items": [
                (
                    index.get(g["theme"], "?"),
                    _("%(n)s participants offer it, nobody seeks it") % {"n": g["participants"]},
                )
                for g in gaps["no_demand"]
            ],
        },
        {
            "title": _("Demand growing faster than supply"),
            "items": [
                (
                    index.get(g["theme"], "?"),
                    _("seekers %(d)+d, offerers %(s)+d since last semester")
                    % {"d": g["demand_growth"], "s": g["supply_growth"]},
                )
                for g in gaps["growing"]
            ],
        },
    ]


def render_staff_map(document: Mapping[str, Any], lang: str, people: bool) -> str:
    """The staff map page's HTML without a request (bench/themes.py times it)."""
    template = templates().get_template("mapping/map.html")
    found = context(document, lang, public=False, people=people)
    return template.render(
        found
        | {"ctx": found, "staff": None, "participant": None, "csrftoken": lambda: "", "notice": None, "request": None}
    )


# --- exports --------------------------------------------------------------------------------------------------


def export_rows(document: Mapping[str, Any], lang: str, public: bool) -> list[list[Any]]:
    """The map as one long table: dimension, value, theme id, theme, offering, seeking (hidden: empty)."""
    names = [theme_name(t, lang) for t in document["themes"]]
    ids = [t["id"] for t in document["themes"]]
    header: list[Any] = ["dimension", "value", "theme_id", "theme", "offering", "seeking"]
    out: list[list[Any]] = [header]
    if public:
        _t, cells = public_themes(document)
    else:
        cells = [[t["offers"], t["seeks"]] for t in document["themes"]]
    out += [["theme", "", ids[i], names[i], cells[i][0], cells[i][1]] for i in range(len(ids))]
    for dimension in figures.DIMENSIONS:
        values, offers = dimension_matrix(document, dimension, 0)
        _v, seeks = dimension_matrix(document, dimension, 1)
        o, s = shown(offers, public), shown(seeks, public)
        out += [
            [dimension, values[j], ids[i], names[i], o[i][j], s[i][j]]
            for i in range(len(ids))
            for j in range(len(values))
            if not public or o[i][j] != 0 or s[i][j] != 0
        ]
    return out


def as_csv(rows: Sequence[Sequence[Any]]) -> str:
    """CSV text; texts neutralised against formula injection (kit.exports.text_cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([text_cell(v) if isinstance(v, str) else ("" if v is None else v) for v in row])
    return buffer.getvalue()


def as_xlsx(rows: Sequence[Sequence[Any]], title: str) -> bytes:
    """An .xlsx workbook with one sheet of the rows (openpyxl); texts neutralised like the CSV."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    for row in rows:
        sheet.append([text_cell(v) if isinstance(v, str) else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
