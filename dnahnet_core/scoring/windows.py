"""Tiling long sequences into overlapping windows so every base is predicted exactly once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tile:
    start: int  # window [start, end) in sequence coordinates (0-based, half-open)
    end: int
    score_from: int  # positions [score_from, end) are taken from this window

    @property
    def offset(self) -> int:
        """Index inside the window of the first position taken from it."""
        return self.score_from - self.start


def tile(length: int, context: int, stride: int) -> list[Tile]:
    """Windows of ``context`` bases every ``stride`` bases; each base is taken from exactly one
    window, where it has at least ``context - stride`` bases of left context (or all there are).

    The last window is shifted left to end at the sequence end, which only adds context.
    """
    if not 0 < stride <= context:
        raise ValueError(f"need 0 < stride <= context, got stride {stride}, context {context}")
    if length <= context:
        return [Tile(0, length, 0)]
    tiles, done, start = [], 0, 0
    while done < length:
        end = min(start + context, length)
        tiles.append(Tile(max(0, end - context), end, done))
        done, start = end, start + stride
    return tiles
