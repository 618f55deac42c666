"""One self-contained HTML page describing the archive: what it holds and how complete it is.

The charts are inline SVG drawn here in Python, the styles inline CSS: the page has no script,
font, image or stylesheet from anywhere, so it opens offline, can be mailed as one file, and a
newsroom proxy can't break it. Figures come from the counters the archive keeps as it writes
(:mod:`crawler.archive.counts_read`), else from one scan.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from crawler.archive.query import Archive
from crawler.extract.dates import date_window, iso_utc

logger = logging.getLogger(__name__)

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH = 880
#: Day series longer than this are drawn as lines without a dot per day.
DOTS_UP_TO = 62


@dataclass
class ReportData:
    """Everything the page shows, gathered before rendering so rendering is a pure function."""

    generated_at: datetime
    total: int
    duplicates: int
    per_day: list[dict[str, Any]]
    coverage: dict[str, float]
    top_tags: list[tuple[str | None, int]]
    by_source: list[tuple[str, int, int]]  # source, records, duplicates
    #: Records whose publication day is outside the plausible window (crawler.extract.dates), left
    #: out of the per-day figures: a year 999 from an old parser bug must not stretch the
    #: chart over a millennium, nor crash it.
    days_left_out: int = 0
    #: Stories carried by more than one desk, first published since ``since`` (see
    #: :mod:`crawler.archive.story_counts`): how many, and per source how many it carries.
    multi_desk_stories: int = 0
    multi_desk_by_source: list[tuple[str, int]] = field(default_factory=list)


def chart_day(day: str | None, now: datetime | None = None) -> date | None:
    """``day`` ("YYYY-MM-DD") as a date if it is one and lies in the plausible window."""
    if not day:
        return None
    try:
        parsed = date.fromisoformat(day)
    except ValueError:  # "999-12-31": strftime does not pad years before 1000
        return None
    earliest, latest = date_window(now)
    return parsed if earliest.date() <= parsed <= latest.date() else None


def collect(archive: Archive, since: str | None = None, top_tags: int = 20) -> ReportData:
    """Gather the figures: from the archive's counters, else one pass over the archive (see
    :meth:`Archive.tally`)."""
    counts = archive.tally(since=since, groups=("tag",))
    daily = sorted(counts.daily_by_source.items(), key=lambda item: (item[0][0], str(item[0][1])))
    per_day = [
        {"day": day, "source": source, "count": count}
        for (day, source), count in daily
        if chart_day(day) is not None
    ]
    left_out = sum(count for (day, _), count in daily if chart_day(day) is None)
    if left_out:
        logger.warning("%s record(s) with an implausible publication date left out", left_out)
    by_source = [
        (str(source or "(none)"), count, counts.duplicates_by_source[source])
        for source, count in counts.ordered("source")
    ]
    carried: defaultdict[str, int] = defaultdict(int)
    for source, count in counts.multi_desk_by_source.items():
        carried[str(source or "(none)")] += count
    return ReportData(
        multi_desk_stories=counts.multi_desk,
        multi_desk_by_source=sorted(carried.items(), key=lambda item: (-item[1], item[0])),
        generated_at=datetime.now(UTC),
        total=counts.total,
        duplicates=counts.duplicates,
        per_day=per_day,
        coverage=counts.coverage(),
        top_tags=counts.ordered("tag")[:top_tags],
        by_source=by_source,
        days_left_out=left_out,
    )


def write_report(
    archive: Archive, out: str | Path, since: str | None = None, top_tags: int = 20
) -> Path:
    """Collect the figures and write the page to ``out``."""
    path = Path(out)
    path.write_text(render(collect(archive, since, top_tags)), encoding="utf-8")
    logger.info("Report written to %s", path)
    return path


def _svg(height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">{"".join(body)}</svg>'
    )


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _empty(label: str) -> str:
    return _svg(60, label, [_text(WIDTH / 2, 35, "no data", "muted", "middle")])


def per_day_chart(rows: list[dict[str, Any]]) -> str:
    """Articles per day, one line per source; days without articles count as zero."""
    label = "Articles per day per source"
    dated = [(when, row) for row in rows if (when := chart_day(row["day"])) is not None]
    if not dated:
        return _empty(label)
    rows = [row for _, row in dated]
    first = min(when for when, _ in dated)
    last = max(when for when, _ in dated)
    days = (last - first).days + 1
    series: dict[str, dict[int, int]] = defaultdict(dict)
    for when, row in dated:
        offset = (when - first).days
        series[str(row["source"] or "(none)")][offset] = row["count"]
    peak = max(row["count"] for row in rows)
    left, top, plot_w, plot_h = 50, 20, WIDTH - 70, 220
    legend_y = top + plot_h + 45

    def xy(offset: int, count: int) -> tuple[float, float]:
        x = left + (plot_w * offset / (days - 1) if days > 1 else plot_w / 2)
        return x, top + plot_h - plot_h * count / peak

    body = [f'<rect class="frame" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h - plot_h * fraction
        body.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y}" y2="{y}"/>')
        body.append(_text(left - 6, y + 4, f"{peak * fraction:g}", "axis", "end"))
    for offset in sorted({0, (days - 1) // 2, days - 1}):
        x, _ = xy(offset, 0)
        anchor = "start" if offset == 0 else "end" if offset == days - 1 else "middle"
        day = str(first + timedelta(days=offset))
        body.append(_text(x, top + plot_h + 18, day, "axis", anchor if days > 1 else "middle"))
    for index, (source, counts) in enumerate(sorted(series.items())):
        color = PALETTE[index % len(PALETTE)]
        points = [xy(offset, counts.get(offset, 0)) for offset in range(days)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline class="series" points="{path}" stroke="{color}"/>')
        if days <= DOTS_UP_TO:
            for offset, (x, y) in enumerate(points):
                tip = f"{source} {first + timedelta(days=offset)}: {counts.get(offset, 0)}"
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                    f"<title>{escape(tip)}</title></circle>"
                )
        lx = left + 180 * (index % 4)
        ly = legend_y + 18 * (index // 4)
        body.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        body.append(_text(lx + 18, ly + 1, f"{source} ({sum(counts.values())})"))
    height = legend_y + 18 * ((len(series) + 3) // 4) + 10
    return _svg(height, label, body)


def bar_chart(label: str, rows: list[tuple[str, float, str]], color_of: Any = None) -> str:
    """Horizontal bars: (label, fraction of the longest bar in [0, 1], value text)."""
    if not rows:
        return _empty(label)
    left, bar_w, row_h = 210, WIDTH - 290, 22
    body: list[str] = []
    for index, (name, fraction, value) in enumerate(rows):
        y = 10 + index * row_h
        color = color_of(fraction) if color_of else PALETTE[0]
        body.append(_text(left - 8, y + 14, name[:32], "", "end"))
        body.append(f'<rect class="track" x="{left}" y="{y + 3}" width="{bar_w}" height="15"/>')
        body.append(
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(bar_w * fraction, 1):.1f}" '
            f'height="15" fill="{color}"><title>{escape(f"{name}: {value}")}</title></rect>'
        )
        body.append(_text(left + bar_w + 8, y + 14, value))
    return _svg(20 + len(rows) * row_h, label, body)


def _coverage_color(share: float) -> str:
    return "#2ca02c" if share >= 0.9 else "#ff9f1c" if share >= 0.5 else "#d62728"


def duplicates_chart(by_source: list[tuple[str, int, int]]) -> str:
    """Per source, a bar split into first-archived copies and duplicates."""
    label = "Duplicates per source"
    if not by_source:
        return _empty(label)
    left, bar_w, row_h = 210, WIDTH - 420, 24
    peak = max(n for _, n, _ in by_source)
    body: list[str] = []
    for index, (source, n, dups) in enumerate(by_source):
        y = 10 + index * row_h
        unique_w, dup_w = bar_w * (n - dups) / peak, bar_w * dups / peak
        body.append(_text(left - 8, y + 15, source[:32], "", "end"))
        body.append(
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(unique_w, 1):.1f}" '
            f'height="16" fill="{PALETTE[0]}"><title>{n - dups} first copies</title></rect>'
        )
        body.append(
            f'<rect class="bar" x="{left + unique_w:.1f}" y="{y + 3}" width="{dup_w:.1f}" '
            f'height="16" fill="{PALETTE[3]}"><title>{dups} duplicates</title></rect>'
        )
        share = dups / n if n else 0.0
        body.append(_text(left + bar_w + 8, y + 15, f"{dups} of {n} duplicated ({share:.1%})"))
    legend_y = 22 + len(by_source) * row_h
    body.append(f'<rect x="{left}" y="{legend_y}" width="12" height="12" fill="{PALETTE[0]}"/>')
    body.append(_text(left + 18, legend_y + 10, "first-archived copy"))
    body.append(
        f'<rect x="{left + 170}" y="{legend_y}" width="12" height="12" fill="{PALETTE[3]}"/>'
    )
    body.append(_text(left + 188, legend_y + 10, "duplicate (duplicate_of set)"))
    return _svg(legend_y + 24, label, body)


STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0 auto; max-width: 940px; padding: 24px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 8px; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; }
.card b { display: block; font-size: 20px; }
.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 14px;
         margin: 0 0 16px; }
svg { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg text { fill: #333; } svg .axis, svg .muted { fill: #777; font-size: 11px; }
svg .frame { fill: none; stroke: #ccc; } svg .grid { stroke: #eee; }
svg .track { fill: #f0f0f0; } svg .series { fill: none; stroke-width: 2; }
.muted { color: #777; }
"""


def stories_chart(by_source: list[tuple[str, int]]) -> str:
    """Per source, how many stories carried by more than one desk it carries."""
    label = "Stories on several desks per source"
    if not by_source:
        return _svg(60, label, [_text(WIDTH / 2, 35, "no shared story", "muted", "middle")])
    peak = max(count for _, count in by_source)
    return bar_chart(label, [(name, n / peak, str(n)) for name, n in by_source])


def render(data: ReportData) -> str:
    """The HTML page for ``data`` (no external references of any kind)."""
    days = sorted({day for row in data.per_day if (day := chart_day(row["day"])) is not None})
    span = f"{days[0]} – {days[-1]}" if days else "–"
    share = data.duplicates / data.total if data.total else 0.0
    peak_tag = max((count for _, count in data.top_tags), default=1)
    cards = [
        ("records", f"{data.total:,}"),
        ("sources", str(len(data.by_source))),
        ("published", span),
        ("duplicates", f"{data.duplicates:,} ({share:.1%})"),
        ("stories on several desks", f"{data.multi_desk_stories:,}"),
    ]
    coverage_rows = [(name, s, f"{s:.1%}") for name, s in data.coverage.items() if data.total]
    tag_rows = [(str(tag), count / peak_tag, str(count)) for tag, count in data.top_tags]
    sections = [
        ("chart-per-day", "Articles per day per source (UTC days)", per_day_chart(data.per_day)),
        ("chart-coverage", "Field coverage (share of records with a non-empty value)",
         bar_chart("Field coverage", coverage_rows, _coverage_color)),
        ("chart-tags", f"Top {len(data.top_tags)} tags", bar_chart("Top tags", tag_rows)),
        ("chart-duplicates", "Duplicates (same story archived under another URL)",
         duplicates_chart(data.by_source)),
        ("chart-stories", f"Stories carried by more than one desk ({data.multi_desk_stories:,}): "
         "how many of them each source carries", stories_chart(data.multi_desk_by_source)),
    ]  # fmt: skip
    html = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>News archive report</title><style>{STYLE}</style></head><body>",
        "<h1>News archive report</h1>",
        f'<p class="muted">Generated {escape(iso_utc(data.generated_at))}</p>',
        *(
            [
                f'<p class="muted" id="days-left-out">{data.days_left_out:,} record(s) with a '
                "publication date outside the plausible window are not in the per-day figures."
                "</p>"
            ]
            if data.days_left_out
            else []
        ),
        '<div class="cards">',
        *(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards),
        "</div>",
        *(
            f'<section class="chart" id="{id_}"><h2>{escape(title)}</h2>{svg}</section>'
            for id_, title, svg in sections
        ),
        "</body></html>",
    ]
    return "\n".join(html)
