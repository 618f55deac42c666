"""Starting and watching one crawl process: its command line, its secrets, its time limit.

Used by :mod:`crawler.ops.runner` (``scrapy crawl SPIDER``) and :mod:`crawler.ops.run_all`
(``scrapy crawlall SPIDER...``). The process runs from the repository root (where
``scrapy.cfg`` is, so relative ``DATA_DIR``/``LOG_DIR`` mean the same to it as to the runner), in
its own session, with the fds it must inherit (locks, the stats pipe) and nothing else.

Secrets never go on the crawl's command line, which every user of the machine can read (``ps``,
``/proc/<pid>/cmdline``): ``MONGO_URI``, ``ALERT_WEBHOOK_URL`` and ``ALERT_COMMAND`` overrides
are passed in environment variables of the same name (settings.py reads them), any other
override that looks secret (:mod:`crawler.archive.redaction`) in ``CRAWLER_SECRET_SETTINGS``
(JSON).

``RUN_TIMEOUT_SECONDS``: a crawl still running after that long gets SIGTERM (Scrapy's graceful
shutdown), and SIGKILL ``TERMINATE_GRACE_SECONDS`` later. SIGTERM or SIGINT to the runner is
forwarded to the crawl once, as SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path

from scrapy.settings import Settings

from crawler.archive.redaction import is_secret_setting
from crawler.ops.stats_handoff import StatsPipe

logger = logging.getLogger(__name__)

#: After SIGTERM, Scrapy finishes in-flight requests and flushes the archive; then SIGKILL.
TERMINATE_GRACE_SECONDS = 60
#: The repository root (crawler/ops/crawl_process.py -> crawler/ops -> crawler -> root).
PROJECT_DIR = Path(__file__).resolve().parents[2]
#: Settings that settings.py reads from an environment variable of the same name.
ENV_SETTINGS = frozenset({"MONGO_URI", "ALERT_WEBHOOK_URL", "ALERT_COMMAND"})
#: Other secret overrides travel to the crawl in this variable, as a JSON object.
SECRET_SETTINGS_ENV = "CRAWLER_SECRET_SETTINGS"


def crawl_command(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """The ``scrapy crawl`` command line and the environment variables to add to the crawl's:
    secret overrides go into the environment (see the module docstring), the rest on argv."""
    return scrapy_command(["crawl", spider], spider_args, overrides)


def scrapy_command(
    arguments: Sequence[str],
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """``scrapy <arguments>`` with ``-a`` spider arguments and ``-s`` overrides, as
    :func:`crawl_command` (secrets in the environment)."""
    command = [sys.executable, "-m", "scrapy", *arguments]
    for name, value in spider_args:
        command += ["-a", f"{name}={value}"]
    env: dict[str, str] = {}
    hidden: dict[str, str] = {}
    for name, value in overrides:
        if name in ENV_SETTINGS:
            env[name] = value  # an empty value too: it means "unset" to settings.py
        elif is_secret_setting(name, value):
            hidden[name] = value
        else:
            command += ["-s", f"{name}={value}"]
    if hidden:
        env[SECRET_SETTINGS_ENV] = json.dumps(hidden)
    return command, env


def supervise(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    pass_fds: Sequence[int],
    settings: Settings,
    pipe: StatsPipe,
    label: str,
) -> tuple[int, bool]:
    """Run the crawl process to its end (output to ``log_path``, ``pass_fds`` inherited: the
    locks and the stats pipe), stopping it after ``RUN_TIMEOUT_SECONDS``; returns (exit code,
    whether it had to be stopped for time)."""
    timeout = settings.getfloat("RUN_TIMEOUT_SECONDS") or None
    with log_path.open("ab") as output:
        # The lock fds go to the crawl too: if the runner dies, the locks live on with it.
        # Its own session: a terminal's Ctrl-C reaches only the runner, which forwards it once.
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
        )
        pipe.started()
        with _forward_signals(process):
            try:
                return process.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                logger.error("%s ran longer than %ss; stopping it", label, timeout)
                process.terminate()
                try:
                    process.wait(timeout=TERMINATE_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                return process.wait(), True


@contextlib.contextmanager
def _forward_signals(process: subprocess.Popen[bytes]) -> Iterator[None]:
    def forward(signum: int, frame: types.FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
