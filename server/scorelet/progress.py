"""A progress bar on stderr for long commands, only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24
EVERY = 0.1  # seconds between redraws: a fast loop doesn't spend its time drawing


class Progress:
    """`update(done)` redraws `label ████░░ 40% 4,000/10,000` in place; `close()` ends
    the line. Piped or redirected, it writes nothing: logs get the summary line only."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty()
        self._drawn = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.shown or (now - self._drawn < EVERY and done < self.total):
            return
        self._drawn = now
        share = min(1.0, done / self.total) if self.total else 1.0
        filled = round(share * WIDTH)
        bar = "█" * filled + "░" * (WIDTH - filled)
        self.stream.write(f"\r{self.label} {bar} {share:4.0%} {done:,}/{self.total:,}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
