"""Model configuration: the layout grammar (design §1.3), per-stage sizes, presets and validation.

A layout is a nested list. A chunking stage is ``[encoder, inner, decoder]`` where ``inner`` is the
next stage's list; the innermost network is a one-element list ``[stack]``. A stack string is a
sequence of letter+count groups: ``m`` Mamba-2 mixer, ``M`` Mamba-2 + SwiGLU MLP, ``t`` causal
attention, ``T`` attention + SwiGLU MLP. ``["m4", ["T1m4", ["T8"], "m4T1"], "m4"]`` is the 2-stage
dnaHNet template. Width, MLP width, heads and attention window are per-stage lists, outer first.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .vocab import VOCAB_SIZE

_GROUP = re.compile(r"([mMtT])(\d+)")
LAYER_KINDS = {"m": "mamba", "M": "mamba+mlp", "t": "attention", "T": "attention+mlp"}


def parse_stack(spec: str) -> list[str]:
    """``"T1m4"`` -> ``["T", "m", "m", "m", "m"]``; raises ValueError on anything else."""
    if not isinstance(spec, str) or not spec or _GROUP.sub("", spec):
        raise ValueError(f"bad layer string {spec!r} (expected letter+count groups of m, M, t, T)")
    layers: list[str] = []
    for letter, count in _GROUP.findall(spec):
        if int(count) == 0:
            raise ValueError(f"bad layer string {spec!r}: a count must be at least 1")
        layers.extend(letter * int(count))
    return layers


def layout_stacks(layout: Any) -> list[list[str]]:
    """Flatten a nested layout into per-stage lists of stack strings (outer first).

    Stage s of an n-stage model gets ``[encoder, decoder]``; the innermost gets ``[main]``.
    Raises ValueError if the nesting is malformed.
    """
    stacks: list[list[str]] = []
    node = layout
    while True:
        if not isinstance(node, list):
            raise ValueError(f"layout node {node!r} is not a list")
        if len(node) == 1:
            if not isinstance(node[0], str):
                raise ValueError("the innermost layout must be a one-element list holding a stack string")
            stacks.append([node[0]])
            return stacks
        if len(node) != 3 or not isinstance(node[0], str) or not isinstance(node[2], str):
            raise ValueError(f"a stage must be [encoder, inner, decoder], got {node!r}")
        stacks.append([node[0], node[2]])
        node = node[1]


@dataclass
class ModelConfig:
    """Architecture of one dnaHNet; the per-stage lists run outer stage first."""

    layout: list[Any] = field(default_factory=lambda: ["m1", ["m1", ["T2"], "m1"], "m1"])
    d_model: list[int] = field(default_factory=lambda: [32, 48, 64])
    d_intermediate: list[int] = field(default_factory=lambda: [0, 0, 128])
    num_heads: list[int] = field(default_factory=lambda: [2, 2, 4])
    #: Sliding attention window per stage; 0 means full causal attention.
    attn_window: list[int] = field(default_factory=lambda: [0, 0, 0])
    #: Target compression N_s of each chunking stage (design §1.5), outer first.
    ratio_targets: list[float] = field(default_factory=lambda: [3.0, 2.0])
    d_state: int = 16
    ssm_headdim: int = 16
    ssm_expand: int = 2
    d_conv: int = 4
    #: Chunk length of the chunked SSD scan (64-128 is fastest on CPU, design §1.4).
    ssm_chunk_size: int = 64
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    vocab_size: int = VOCAB_SIZE
    name: str = "custom"

    # ---- structure -----------------------------------------------------------------------------
    @property
    def n_stages(self) -> int:
        """Number of chunking stages (0 = an isotropic model with no routing)."""
        return len(layout_stacks(self.layout)) - 1

    def stage_stacks(self, stage: int) -> list[str]:
        """Stack strings of one stage: [encoder, decoder], or [main] for the innermost."""
        return layout_stacks(self.layout)[stage]

    # ---- validation ----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every problem with this config (an empty list when it is valid)."""
        out: list[str] = []
        try:
            stacks = layout_stacks(self.layout)
        except ValueError as err:
            return [f"layout: {err}"]
        n = len(stacks)
        letters_per_stage: list[set[str]] = []
        for s, stage in enumerate(stacks):
            letters: set[str] = set()
            for spec in stage:
                try:
                    letters.update(parse_stack(spec))
                except ValueError as err:
                    out.append(f"layout stage {s}: {err}")
            letters_per_stage.append(letters)
        for key in ("d_model", "d_intermediate", "num_heads", "attn_window"):
            value = getattr(self, key)
            if not isinstance(value, list) or len(value) != n:
                out.append(f"{key}: needs one entry per stage ({n}), got {value!r}")
        if len(self.ratio_targets) != n - 1:
            out.append(f"ratio_targets: needs one entry per chunking stage ({n - 1}), got {self.ratio_targets!r}")
        out += [f"ratio_targets[{i}] = {t}: must be > 1" for i, t in enumerate(self.ratio_targets) if not t > 1]
        for key in ("d_state", "ssm_headdim", "ssm_expand", "d_conv", "ssm_chunk_size", "vocab_size"):
            if getattr(self, key) < 1:
                out.append(f"{key} = {getattr(self, key)}: must be >= 1")
        if out:
            return out
        for s in range(n):
            d, letters = self.d_model[s], letters_per_stage[s]
            if d < 1:
                out.append(f"d_model[{s}] = {d}: must be >= 1")
                continue
            if s > 0 and d < self.d_model[s - 1]:
                out.append(f"d_model[{s}] = {d}: an inner stage may not be narrower than d_model[{s - 1}] = {self.d_model[s - 1]}")
            if letters & {"m", "M"} and (d * self.ssm_expand) % self.ssm_headdim:
                out.append(f"d_model[{s}] = {d}: d_model * ssm_expand must be a multiple of ssm_headdim = {self.ssm_headdim}")
            if letters & {"t", "T"}:
                h = self.num_heads[s]
                if h < 1 or d % h:
                    out.append(f"num_heads[{s}] = {h}: must divide d_model[{s}] = {d}")
                elif (d // h) % 2:
                    out.append(f"d_model[{s}] / num_heads[{s}] = {d // h}: rotary embeddings need an even head size")
                if self.attn_window[s] < 0:
                    out.append(f"attn_window[{s}] = {self.attn_window[s]}: must be >= 0 (0 = full)")
            if letters & {"M", "T"} and self.d_intermediate[s] < 1:
                out.append(f"d_intermediate[{s}] = {self.d_intermediate[s]}: stage {s} has MLP layers (M/T), so it must be >= 1")
        return out

    def validate(self) -> "ModelConfig":
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    # ---- (de)serialisation and presets ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError([f"unknown key {k!r}" for k in unknown])
        return cls(**data).validate()

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError([f"not valid JSON ({err})"]) from None
        if not isinstance(data, dict):
            raise ConfigError(["the JSON must be an object"])
        return cls.from_dict(data)

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        from .presets import PRESETS

        if name not in PRESETS:
            raise ConfigError([f"unknown preset {name!r} (choose from {', '.join(PRESETS)})"])
        return cls(**PRESETS[name], name=name).validate()
