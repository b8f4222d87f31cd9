"""The performance levers, each measured against the setting the runtime keeps."""

from __future__ import annotations

from .common import Section, Settings


def run(settings: Settings) -> list[Section]:
    return []
