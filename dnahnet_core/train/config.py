"""Training configuration (design §1.5), validated with every problem reported at once."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import ModelConfig
from ..errors import ConfigError

#: The H-Net code's example per-stage LR multipliers for a 2-stage model, outer stage first.
DEFAULT_STAGE_LR = {0: [1.0], 1: [2.0, 1.0], 2: [3.0, 1.7, 0.9]}


@dataclass
class TrainConfig:
    fasta: list[str]
    out: str
    val_fasta: list[str] = field(default_factory=list)
    #: Fraction of the --fasta files held out for validation when --val-fasta is not given.
    val_fraction: float = 0.1
    preset: str = "small"
    model_config: str | None = None  # path to a ModelConfig JSON; overrides preset
    steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    seq_len: int = 8192
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    alpha: float = 0.02  # ratio-loss weight; 0.01-0.02 worked for DNA, 0.03 destabilised
    stage_lr: list[float] | None = None  # per-stage LR multipliers, outer first
    rc_augment: bool = True
    #: Weight initialisation of a new run: "torch" (layer defaults) or "hnet" (H-Net recipe).
    init: str = "torch"
    #: Species balance of the training windows: each species (Genus_species of the file name) is
    #: drawn with weight (its length) ** power; 1.0 = in proportion to length, 0.0 = equal.
    species_power: float = 1.0
    #: Probability that a training window's stage residual paths are dropped (0 = never): the
    #: decoder must then predict from the chunking stages alone, which keeps them from collapsing.
    residual_dropout: float = 0.0
    seed: int = 0
    device: str = "auto"
    eval_every: int = 100
    eval_windows: int = 32
    #: Hierarchy diagnostics (gap per stage, inner-network health) at every evaluation.
    eval_diagnostics: bool = True
    log_every: int = 10
    save_every: int = 100
    keep_last: int = 3
    cache: str | None = None  # HDF5 token cache for the training files
    resume: bool = True

    def problems(self) -> list[str]:
        out: list[str] = []
        if not self.fasta:
            out.append("fasta: give at least one FASTA file or folder")
        for key in ("steps", "batch_size", "grad_accum", "seq_len", "eval_every", "log_every", "save_every", "keep_last", "eval_windows"):
            if getattr(self, key) < 1:
                out.append(f"{key} = {getattr(self, key)}: must be >= 1")
        for key in ("warmup_steps", "seed"):
            if getattr(self, key) < 0:
                out.append(f"{key} = {getattr(self, key)}: must be >= 0")
        if not self.lr > 0:
            out.append(f"lr = {self.lr}: must be > 0")
        if not 0 <= self.min_lr_ratio <= 1:
            out.append(f"min_lr_ratio = {self.min_lr_ratio}: must be in [0, 1]")
        if not 0 <= self.val_fraction < 1:
            out.append(f"val_fraction = {self.val_fraction}: must be in [0, 1)")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.alpha < 0:
            out.append("weight_decay, grad_clip and alpha must be >= 0")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            out.append(f"device = {self.device!r}: choose auto, cpu or cuda")
        if self.init not in ("torch", "hnet"):
            out.append(f"init = {self.init!r}: choose torch or hnet")
        if not 0.0 <= self.residual_dropout < 1.0:
            out.append(f"residual_dropout = {self.residual_dropout}: must be in [0, 1)")
        if not 0.0 <= self.species_power <= 1.0:
            out.append(f"species_power = {self.species_power}: must be in [0, 1]")
        if self.stage_lr is not None and any(m <= 0 for m in self.stage_lr):
            out.append(f"stage_lr = {self.stage_lr}: multipliers must be > 0")
        return out

    def model(self) -> ModelConfig:
        if self.model_config:
            path = Path(self.model_config)
            if not path.is_file():
                raise ConfigError([f"model config {path}: no such file"])
            return ModelConfig.from_json(path.read_text())
        return ModelConfig.preset(self.preset)

    def stage_multipliers(self, n_stages: int) -> list[float]:
        mult = self.stage_lr if self.stage_lr is not None else DEFAULT_STAGE_LR.get(n_stages, [1.0] * (n_stages + 1))
        if len(mult) != n_stages + 1:
            raise ConfigError([f"stage_lr: needs {n_stages + 1} multipliers (one per stage), got {mult}"])
        return list(mult)

    def validate(self) -> "TrainConfig":
        problems = self.problems()
        try:
            model = self.model()
            self.stage_multipliers(model.n_stages)
        except ConfigError as err:
            problems += err.problems
        if problems:
            raise ConfigError(problems)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
