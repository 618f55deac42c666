"""Issue 7, point 12: hostile input to ``python -m crawler`` and :class:`Archive` gets a clear
message and an exit code (or a ``ValueError``), never a traceback; long searches work.

A regression table against the session's real SecantusDB. Most cases run the click command
in-process (what a subprocess would add is only the interpreter start); the cases about argv
bytes that are not UTF-8, and one long search end to end, run real ``python -m crawler``
subprocesses.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pymongo.database import Database

from crawler.archive.query import Archive
from crawler.archive.store import archive_batch, connect, ensure_indexes
from crawler.cli.main import cli
from tests.test_query import record, url

ROOT = Path(__file__).resolve().parents[1]
#: A headline long enough that its accent-insensitive pattern is over SecantusDB's regex cap.
HEADLINE = "Kafé baru dibuka di Palangka Raya, wali kota: “ekonomi warga tumbuh” sejak Januari 2024"
#: The same text as a reader types it: no accents, other case, other whitespace.
HEADLINE_QUERY = (
    "kafe BARU dibuka di palangka raya,\twali  kota: “ekonomi warga tumbuh” sejak januari 2024"
)
AUTHOR = "Muhammad Arif Hidayat Dan Rekan Dari Palangka Raya"


@pytest.fixture(scope="module")
def seeded(mongo_uri: str) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database with three records, one with a long headline and a long author."""
    db = connect(mongo_uri, f"test_fault_cli_{uuid.uuid4().hex[:8]}")
    ensure_indexes(db)
    archive_batch(db, [record(1, title=HEADLINE, authors=[AUTHOR]), record(2), record(3)])
    try:
        yield db
    finally:
        db.client.drop_database(db.name)
        db.client.close()


def _location(db: Database[dict[str, Any]]) -> list[str]:
    host, port = db.client.address or ("127.0.0.1", 27017)
    uri = f"mongodb://{host}:{port}/?directConnection=true"
    return ["--mongo-uri", uri, "--database", db.name, "--timeout", "5"]


# (id, command line after the group options; "{tmp}" is a scratch directory, exit code, text
# that must be on stderr). Exit codes: 1 nothing found, 2 usage, 3 archive, 74 output.
CLI_CASES = [
    ("limit-overflow", ["search", "--limit", "99999999999999999999"], 2, "--limit"),
    ("show-bad-ipv6", ["show", "http://[::1"], 2, "not a valid URL"),
    ("show-bad-port", ["show", "http://kalteng.antaranews.com:99999/x"], 2, "not a valid URL"),
    ("show-empty-url", ["show", ""], 2, "not a valid URL"),
    ("export-missing-dir", ["export", "-o", "{tmp}/missing/dir/f.jsonl"], 2, "does not exist"),
    ("export-parent-is-file", ["export", "-o", "{tmp}/file/f.jsonl"], 2, "not a directory"),
    ("report-missing-dir", ["report", "-o", "{tmp}/missing/r.html"], 2, "does not exist"),
    ("export-empty-path", ["export", "-o", ""], 2, "empty path"),
    ("text-100k", ["search", "x" * 100_000], 2, "search text too long (max 1000 characters)"),
    ("author-2k", ["search", "--author", "y" * 2000], 2, "author too long"),
    ("tag-100k", ["search", "--tag", "z" * 100_000], 2, "tag too long"),
    ("until-before-since", ["search", "--since", "2024-03-02", "--until", "2024-03-01"], 2, ""),
    ("timeout-inf", ["--timeout", "inf", "search"], 2, "--timeout"),
    ("timeout-nan", ["--timeout", "nan", "search"], 2, "--timeout"),
    ("database-empty", ["--database", "", "search"], 2, "not a database name"),
    ("database-dot", ["--database", "a.b", "search"], 2, "not a database name"),
    ("database-64-chars", ["--database", "d" * 64, "search"], 2, "not a database name"),
    ("uri-bad-scheme", ["--mongo-uri", "bogus://x", "search"], 2, "invalid --mongo-uri"),
    ("uri-bad-port", ["--mongo-uri", "mongodb://127.0.0.1:99999/", "search"], 2, "--mongo-uri"),
    # Bounds beyond datetime's range in UTC are clamped, not an OverflowError.
    ("until-9999-12-31", ["search", "--until", "9999-12-31"], 0, ""),
    ("since-year-1-offset", ["search", "--since", "0001-01-01T00:00:00+01:00"], 0, ""),
    ("stats-until-9999-12-31", ["stats", "--until", "9999-12-31"], 0, ""),
    (
        "report-since-year-1",
        ["report", "--since", "0001-01-01T00:00+01:00", "-o", "{tmp}/r"],
        0,
        "",
    ),
    ("reparse-since-year-1", ["reparse", "--since", "0001-01-01T00:00+01:00"], 0, ""),
    # Long searches work: past SecantusDB's 1000-character regex cap, and exactly.
    ("search-headline", ["search", HEADLINE_QUERY], 0, ""),
    ("search-headline-other-tail", ["search", HEADLINE_QUERY[:-1] + "5"], 1, "no matching"),
    ("search-long-author", ["search", "--author", AUTHOR.lower()[:-1]], 0, ""),
    ("export-headline", ["export", HEADLINE_QUERY, "-o", "{tmp}/h.jsonl"], 0, "exported 1"),
]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [pytest.param(args, code, message, id=name) for name, args, code, message in CLI_CASES],
)
def test_cli_answers_hostile_input_with_a_message_and_exit_code(
    seeded: Database[dict[str, Any]], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "file").write_text("")
    argv = [*_location(seeded), *(arg.replace("{tmp}", str(tmp_path)) for arg in args)]
    result = CliRunner().invoke(cli, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == code, result.output
    assert message in result.stderr
    if code == 0 and args[0] == "search":
        assert url(1) in result.stdout
    if code not in (0, 1):
        assert result.stderr.strip().splitlines()[-1].lower().startswith("error"), result.stderr


def test_export_to_a_full_device_exits_74_and_leaves_the_device(
    seeded: Database[dict[str, Any]], tmp_path: Path
) -> None:
    """``-o /dev/full``, on a private node: ENOSPC is exit 74, and the node stays a device
    (writing FILE.part and renaming it over the node replaced /dev/full as root)."""
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full's numbers
    except PermissionError:
        pytest.skip("creating a device node needs root")
    result = CliRunner().invoke(cli, [*_location(seeded), "export", "-o", str(full)])
    assert result.exit_code == 74, result.output
    assert result.stderr.strip() == f"error: cannot write {full}: No space left on device"
    assert stat.S_ISCHR(full.stat().st_mode)
    assert not (tmp_path / "full.part").exists()


def test_an_unexpected_error_is_one_line_and_exit_70_with_the_traceback_under_vv(
    seeded: Database[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something the CLI does not expect")

    monkeypatch.setattr(Archive, "search", broken)
    result = CliRunner().invoke(cli, [*_location(seeded), "search", "kafe"])
    assert result.exit_code == 70, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: internal error: RuntimeError: something the CLI does not expect (-vv: traceback)"
    ]
    verbose = CliRunner().invoke(cli, ["-vv", *_location(seeded), "search", "kafe"])
    assert verbose.exit_code == 70
    assert "Traceback" in verbose.stderr


# Real processes: Python turns argv bytes that are not UTF-8 into lone surrogates, which
# reached BSON encoding (UnicodeEncodeError); the long search runs the whole stack once.
SUBPROCESS_CASES = [
    ("text-not-utf8", [b"search", b"kaf\xe9"], 2, "not valid UTF-8"),
    ("tag-not-utf8", [b"search", b"--tag", b"a\xffb"], 2, "not valid UTF-8"),
    ("url-not-utf8", [b"show", b"https://kalteng.antaranews.com/\xff"], 2, "not valid UTF-8"),
    ("database-not-utf8", [b"--database", b"a\xffb", b"search"], 2, "not valid UTF-8"),
    ("data-dir-not-utf8", [b"--data-dir", b"/nonexistent/d\xff", b"search"], 2, "UTF-8"),
    ("limit-overflow", [b"search", b"--limit", b"99999999999999999999"], 2, "--limit"),
    ("search-headline", [b"search", b"--json", HEADLINE_QUERY.encode()], 0, ""),
]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [pytest.param(args, code, message, id=name) for name, args, code, message in SUBPROCESS_CASES],
)
def test_cli_process_answers_without_a_traceback(
    seeded: Database[dict[str, Any]], tmp_path: Path, args: list[bytes], code: int, message: str
) -> None:
    command = [sys.executable.encode(), b"-m", b"crawler", *map(os.fsencode, _location(seeded))]
    command += [b"--data-dir", os.fsencode(tmp_path), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=60)
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert done.returncode == code, stderr
    assert message in stderr
    if code == 0:
        assert url(1).encode() in done.stdout


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except Exception as exc:  # whatever it is: the test says which it must be
        return exc
    raise AssertionError("no error raised")


# (id, call on an Archive, text of the ArchiveQueryError); results are consumed with list(),
# so an error raised lazily counts too.
API_CASES: list[tuple[str, Callable[[Archive], Any], str]] = [
    ("limit-10**20", lambda a: list(a.search(limit=10**20)), "limit"),
    ("limit-negative", lambda a: list(a.search(limit=-1)), "limit"),
    ("limit-float", lambda a: list(a.search(limit=2.5)), "limit"),
    ("get-bad-ipv6", lambda a: a.get("http://[::1"), "not a valid URL"),
    ("history-bad-ipv6", lambda a: a.history("http://[::1"), "not a valid URL"),
    ("text-200k", lambda a: list(a.search(text="x" * 200_000)), "too long"),
    ("count-text-200k", lambda a: a.count(text="x" * 200_000), "too long"),
    ("author-2k", lambda a: list(a.search(author="y" * 2000)), "too long"),
    ("text-lone-surrogate", lambda a: list(a.search(text="kaf\udce9")), "not valid UTF-8"),
    ("since-not-a-date", lambda a: list(a.search(since="yesterday")), "YYYY-MM-DD"),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [pytest.param(call, message, id=name) for name, call, message in API_CASES],
)
def test_api_refuses_bad_arguments_with_archive_query_error(
    seeded: Database[dict[str, Any]], call: Callable[[Archive], Any], message: str
) -> None:
    error = _raised(lambda: call(Archive(seeded)))
    assert isinstance(error, ValueError), repr(error)
    assert type(error).__name__ == "ArchiveQueryError", repr(error)
    assert message in str(error)


def test_api_long_searches_are_exact(seeded: Database[dict[str, Any]]) -> None:
    archive = Archive(seeded)
    assert [r["url"] for r in archive.search(HEADLINE_QUERY)] == [url(1)]
    assert archive.count(text=HEADLINE_QUERY) == 1
    assert list(archive.search(HEADLINE_QUERY[:-1] + "5")) == []  # differs past the prefix
    assert archive.count(text=HEADLINE_QUERY[:-1] + "5") == 0
    assert [r["url"] for r in archive.search(author=AUTHOR.upper())] == [url(1)]
    assert [r["url"] for r in archive.search("isi berita nomor", limit=1)] == [url(3)]
    assert len(list(archive.search(until="9999-12-31"))) == 3


def test_server_patterns_fit_secantus_regex_cap() -> None:
    """The prefix sent to the server always fits SecantusDB's real cap (read from its code)."""
    secantus_query = pytest.importorskip("secantus.query")
    from crawler.archive.query_filter import MAX_TEXT_LENGTH
    from crawler.archive.text_match import SERVER_PATTERN_LIMIT, LiteralMatch

    assert secantus_query._MAX_REGEX_PATTERN_LEN == SERVER_PATTERN_LIMIT
    for text in ["o" * MAX_TEXT_LENGTH, HEADLINE, "ö ." * 300]:
        match = LiteralMatch.of(text)
        assert match is not None and not match.exact
        assert 0 < len(match.server_pattern) <= SERVER_PATTERN_LIMIT
    short = LiteralMatch.of("kafe")
    assert short is not None and short.exact
