"""ResumableDupeFilter (``DUPEFILTER_CLASS``): a JOBDIR crawl that was killed is rebuilt, not lost.

Scrapy keeps a job's state in ``JOBDIR``: ``requests.seen``, the fingerprint of every request
ever scheduled, appended as it is scheduled, and ``requests.queue``, the pending requests, whose
index (``active.json``) and queue-file headers are written only when the scheduler closes. A
crawl stopped cleanly (finished, SIGTERM, SIGINT, a close-spider limit) resumes from them. A
crawl killed (SIGKILL, OOM, power loss, a second Ctrl-C) loses the queue but keeps
``requests.seen``, which still names every article that was scheduled and never fetched: a
resume filtered its own start requests as seen, made no request at all and "finished"
(issue 7.3: 0 requests twice, 3,366 of 5,016 articles missing).

So this dupefilter marks the job as running: ``JOBDIR/crawl.running``, created when the crawl
opens and removed when the scheduler has closed cleanly (after the queue was saved). Finding it
at open means the previous run never closed; then, before Scrapy reads either file,

- ``requests.seen`` and ``requests.queue`` are discarded: the archive, not the JOBDIR, is the
  record of what was fetched, and the incremental middleware skips archived articles, so the
  start requests (feed, listings) go out again and unfetched articles are requested again;
- ``jobdir/unclean_resume`` is set to 1 (``jobdir/discarded_fingerprints`` says how many
  were dropped) and a WARNING logged; :func:`rebuilding` tells the incremental middleware to
  walk listings past pages of archived articles, like a backfill, down to the depth the killed
  run never reached.

The marker is also ``flock``-ed while the crawl runs, so a second crawl started on a JOBDIR in
use fails at once (:class:`JobdirInUse`) instead of taking the live crawl for a killed one.
Without ``JOBDIR`` this is Scrapy's ``RFPDupeFilter`` unchanged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.job import job_dir
from scrapy.utils.request import RequestFingerprinterProtocol

from crawler import stats_keys

logger = logging.getLogger(__name__)

RUNNING_MARKER = "crawl.running"
UNCLEAN_RESUME_STAT = stats_keys.JOBDIR_UNCLEAN_RESUME


class JobdirInUse(RuntimeError):
    """Another live crawl holds this JOBDIR."""


def rebuilding(crawler: Crawler) -> bool:
    """Whether this crawl is rebuilding a JOBDIR job whose previous run was killed."""
    return bool(crawler.stats and crawler.stats.get_value(UNCLEAN_RESUME_STAT))


class ResumableDupeFilter(RFPDupeFilter):
    def __init__(
        self,
        path: str | None = None,
        debug: bool = False,
        *,
        fingerprinter: RequestFingerprinterProtocol | None = None,
        marker: IO[bytes] | None = None,
    ) -> None:
        super().__init__(path, debug, fingerprinter=fingerprinter)
        self._marker = marker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumableDupeFilter:
        jobdir = job_dir(crawler.settings)
        marker = None
        if jobdir:
            marker, unclean = _claim(Path(jobdir))
            if unclean:
                discarded = _discard_state(Path(jobdir))
                assert crawler.stats is not None
                crawler.stats.set_value(UNCLEAN_RESUME_STAT, 1)
                crawler.stats.set_value(stats_keys.JOBDIR_DISCARDED_FINGERPRINTS, discarded)
                logger.warning(
                    "The previous crawl with JOBDIR=%s was killed before it saved its queue: "
                    "rebuilding the crawl from the archive (%s request fingerprint(s) "
                    "discarded; start requests go out again, listings are walked past "
                    "archived pages and archived articles are skipped)",
                    jobdir,
                    discarded,
                )
        return cls(
            jobdir,
            crawler.settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
            marker=marker,
        )

    def close(self, reason: str) -> None:
        super().close(reason)
        if self._marker is not None:
            # The scheduler saved its queue before closing us: the job is resumable as is.
            Path(self._marker.name).unlink(missing_ok=True)
            self._marker.close()  # releases the lock
            self._marker = None


def _claim(jobdir: Path) -> tuple[IO[bytes], bool]:
    """Open and lock the running marker; whether it was left by a run that never closed."""
    path = jobdir / RUNNING_MARKER
    existed = path.exists()
    marker = path.open("a+b")
    try:
        fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        marker.close()
        raise JobdirInUse(f"JOBDIR {jobdir} is in use by another running crawl") from None
    marker.seek(0)
    marker.truncate()
    stamp = f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n"
    marker.write(stamp.encode())
    marker.flush()
    return marker, existed


def _discard_state(jobdir: Path) -> int:
    """Remove the killed run's fingerprints and queue; how many fingerprints there were."""
    seen = jobdir / "requests.seen"
    fingerprints = 0
    if seen.exists():
        # Each entry is a 2-byte length and the fingerprint (see scrapy.dupefilters).
        data = seen.read_bytes()
        position = 0
        while position + 2 <= len(data):
            position += 2 + int.from_bytes(data[position : position + 2], "big")
            if position <= len(data):
                fingerprints += 1
        seen.unlink()
    shutil.rmtree(jobdir / "requests.queue", ignore_errors=True)
    return fingerprints
