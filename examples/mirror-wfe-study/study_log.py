"""Diagnostics for the mirror WFE study, on stderr: stdout stays for the per-trial lines and the summary."""

from __future__ import annotations

import sys

LOG_PREFIX = "[mirror-wfe]"


def log_err(message: str) -> None:
    sys.stderr.write(f"{LOG_PREFIX} {message}\n")
    sys.stderr.flush()
