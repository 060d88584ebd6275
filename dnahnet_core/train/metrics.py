"""Training logs: one line per log step on stderr, the same record in OUT/metrics.jsonl, and a
progress bar with ETA when stderr is a terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm


class MetricsLog:
    def __init__(self, path: Path | None, total_steps: int, start_step: int, enabled: bool, progress: bool | None = None) -> None:
        self.path = path
        self.enabled = enabled
        if enabled and path is not None:
            self._truncate_after(start_step)
        show_bar = enabled and (sys.stderr.isatty() if progress is None else progress)
        self.bar = tqdm(total=total_steps, initial=start_step, unit="step", file=sys.stderr, dynamic_ncols=True) if show_bar else None

    def _truncate_after(self, step: int) -> None:
        """On resume, drop records of steps after the checkpoint (they will be recomputed)."""
        if self.path is None or not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any], line: str) -> None:
        if not self.enabled:
            return
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        (self.bar.write if self.bar is not None else lambda s: print(s, file=sys.stderr, flush=True))(line)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
