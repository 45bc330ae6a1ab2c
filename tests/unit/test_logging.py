"""Logging configuration: a logger that already wrote a line follows a later configuration.

The request-id test captured nothing when another test had configured logging twice in the same
process (a CLI command run in-process): the request logger had cached the first configuration.
"""

from __future__ import annotations

import logging

import structlog
import structlog.testing

from adapters.logging import configure_logging


def test_a_logger_used_before_a_reconfiguration_follows_it() -> None:
    log = structlog.get_logger("http")
    try:
        configure_logging("console", "INFO")
        log.info("first line")
        configure_logging("json", "INFO")
        with structlog.testing.capture_logs() as captured:
            log.info("second line", request_id="r-1")
        assert [(e["event"], e["request_id"]) for e in captured] == [("second line", "r-1")]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
