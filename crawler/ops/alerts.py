"""Alert hooks for a failed run: a shell command and/or a Slack-compatible webhook.

Pure Python (no Scrapy), shared by :mod:`crawler.components.monitors` and
:mod:`crawler.ops.runner`. A hook
that fails or hangs is logged and reported, never raised: alerting must not break the run
it reports on.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from crawler.archive.redaction import redact_setting

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0


def send_alert(
    message: str,
    *,
    command: str | None = None,
    webhook_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Send ``message`` to every configured hook; returns ``{"command"|"webhook": outcome}``.

    The command runs through the shell with the message on stdin and in ``$ALERT_MESSAGE``
    (plus ``env``); the webhook gets ``POST {"text": message}`` as JSON.
    """
    outcomes: dict[str, str] = {}
    if command:
        outcomes["command"] = run_command(command, message, timeout, env or {})
    if webhook_url:
        outcomes["webhook"] = post_webhook(webhook_url, message, timeout)
    return outcomes


def run_command(command: str, message: str, timeout: float, env: Mapping[str, str]) -> str:
    environment = {**os.environ, **env, "ALERT_MESSAGE": message}
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=message.encode("utf-8"),
            env=environment,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # The command may hold a webhook URL or token: logged redacted.
        logger.error(
            "Alert command timed out after %ss: %s",
            timeout,
            redact_setting("ALERT_COMMAND", command),
        )
        return "timeout"
    except OSError as exc:
        logger.error(
            "Alert command could not run (%s): %s", exc, redact_setting("ALERT_COMMAND", command)
        )
        return f"error: {exc}"
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()[-500:]
        logger.error("Alert command exited with %s: %s", done.returncode, stderr)
    return f"exit {done.returncode}"


def post_webhook(url: str, message: str, timeout: float) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        logger.error("Alert webhook must be an http(s) URL, got scheme %r", parts.scheme)
        return "error: not an http(s) URL"
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": message}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        logger.error("Alert webhook %s answered HTTP %s", parts.netloc, exc.code)
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        logger.error("Alert webhook %s failed: %s", parts.netloc, exc)
        return f"error: {exc}"
    return f"HTTP {status}"
