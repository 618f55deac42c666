"""``python -m crawler run SPIDER``: one scheduled crawl (see :mod:`crawler.ops.runner`);
``run --all``, ``run 'PATTERN'`` or ``run SPIDER SPIDER...``: several spiders in one crawl
(:mod:`crawler.ops.run_all`). ``--all`` is every ANTARA desk; ``--publishers`` (alone, with
``--all`` or with names) adds every configured publisher (``crawler/sites/publishers/``).
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from crawler.ops import run_all, runner

#: A SPIDER with one of these is a pattern (fnmatch) over the project's spiders.
_PATTERN_CHARACTERS = frozenset("*?[")
#: Group options that, given on the command line, override the project settings.
_GROUP_OPTIONS = {"mongo_uri": "MONGO_URI", "data_dir": "DATA_DIR", "database": "MONGO_DATABASE"}


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=what)
        pairs.append((name, rest))
    return pairs


@click.command(
    epilog=f"""Exit codes: 0 the run succeeded; 1 it failed (finish reason, errors, a
    monitor, a crash; with --all or a pattern: any spider crawled failed); 2 usage error (no
    spider matches); {runner.EX_TEMPFAIL} another run of SPIDER is active (with --all: of every
    matching spider).""",
)
@click.argument("spider", required=False)
@click.argument("extra_args", nargs=-1, metavar="[SPIDER]... [NAME=VALUE]...")
@click.option(
    "--all",
    "all_spiders",
    is_flag=True,
    help="Crawl every ANTARA spider: desks, national, English (as '*'; no publisher's).",
)
@click.option(
    "--publishers",
    is_flag=True,
    help="Also crawl every configured publisher (crawler/sites/publishers/*.toml).",
)
@click.option("-a", "spider_args", multiple=True, metavar="NAME=VALUE", help="Spider argument.")
@click.option("-s", "settings", multiple=True, metavar="NAME=VALUE", help="Setting override.")
@click.pass_context
def run(
    ctx: click.Context,
    spider: str | None,
    extra_args: tuple[str, ...],
    all_spiders: bool,
    publishers: bool,
    spider_args: tuple[str, ...],
    settings: tuple[str, ...],
) -> None:
    """Crawl SPIDER once, as cron does: under a lock, logging to LOG_DIR/SPIDER/, recording
    the run in crawl_runs, exiting non-zero when it failed.

    Spider arguments go as -a NAME=VALUE or bare NAME=VALUE, e.g.
    `python -m crawler run antara_kalteng since=2026-01-01 -s LOG_KEEP=24`.

    With --all, several SPIDERs, or a pattern such as 'antara_*' (quote it), every matching
    spider is crawled in one process, in parallel, each under its own lock, with its own
    log, record and summary line; a spider another run is crawling is skipped.
    SPIDER:NAME=VALUE passes an argument to that spider only.

    A publisher's spider (tabengan, prokalteng, ...) is crawled only when named
    (`run tabengan`) or with --publishers (`run --all --publishers`): no wildcard and no
    --all starts crawling a third-party site.
    """
    # Click gives the first word to SPIDER: a NAME=VALUE there is an argument.
    words = [word for word in (spider, *extra_args) if word is not None]
    names = [word for word in words if "=" not in word]
    extra_args = tuple(word for word in words if "=" in word)
    if all_spiders and names:
        raise click.UsageError("give either SPIDER names (or patterns) or --all, not both")
    if not names and not all_spiders and not publishers:
        raise click.UsageError(
            "missing SPIDER (a spider's name or a pattern), or --all, or --publishers"
        )
    overrides = _pairs(settings, "-s")
    group = ctx.parent
    if group is not None:
        for param, setting in _GROUP_OPTIONS.items():
            value = group.params.get(param)
            source = group.get_parameter_source(param)
            if value and source is ParameterSource.COMMANDLINE:
                overrides.insert(0, (setting, str(value)))
    arguments = _pairs(extra_args, "NAME=VALUE") + _pairs(spider_args, "-a")
    if len(names) == 1 and not publishers and not _PATTERN_CHARACTERS & set(names[0]):
        ctx.exit(runner.run(names[0], arguments, overrides))
    patterns = names or (["*"] if all_spiders else [])
    ctx.exit(run_all.run_all(patterns, arguments, overrides, publishers=publishers))
