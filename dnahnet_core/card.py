"""The model card that travels inside a checkpoint: what a model was trained on and how good it is.

The card is JSON under the ``model_card`` key of the safetensors metadata, so ``dnahnet info`` can
summarise any checkpoint (the embedded one included) from the file alone. Every number in it comes
from a real run: the packaging script (``benchmarks/package_model.py``) fills it from the training
metrics and the quality-bar results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .checkpoint import load_model, read_metadata, save_model
from .errors import CheckpointError

CARD_KEY = "model_card"


@dataclass
class ModelCard:
    """A checkpoint's provenance and measured quality (all fields plain JSON values)."""

    name: str
    preset: str
    parameters: int
    #: One entry per genome: "organism strain (accession[, accession...])".
    train_genomes: list[str]
    val_genomes: list[str]
    steps: int
    nucleotides_seen: int
    hardware: str
    train_hours: float
    #: Bits per base over the A/C/G/T targets of the whole validation genomes (forward strand).
    val_bits_per_base: float
    #: Best order-k Markov chain counted on the same training genomes, same validation bases.
    markov_bits_per_base: float
    markov_k: int
    #: Realised boundary selection fraction per stage on the validation genomes.
    val_selection: list[float]
    #: Stage-1 selection rate at codon positions 1, 2, 3 inside annotated CDS of a validation genome.
    codon_selection: list[float] = field(default_factory=list)
    #: Zero-shot AUROC separating stop-gained from synonymous SNVs (model LLR, Markov LLR).
    snv_auroc: float | None = None
    markov_snv_auroc: float | None = None
    #: Zero-shot AUROC separating missense from synonymous SNVs (model LLR, Markov LLR).
    missense_auroc: float | None = None
    markov_missense_auroc: float | None = None
    #: Hierarchy gap per chunking stage (bits per base lost when the stage's dechunk output is
    #: replaced by its per-window mean; 0 = the stage carries nothing), on validation windows.
    hierarchy_gap: list[float] = field(default_factory=list)
    #: Share of the innermost network's residual stream that varies with position.
    inner_varying_share: float | None = None
    #: Stage-1 chunk-start rate at codon positions 1/2/3 minus a frame-free control's (a rule that
    #: sees only the preceding bases), per strand with genes read 5'->3': {"+": [..], "-": [..]}.
    codon_excess: dict[str, list[float]] = field(default_factory=dict)
    command: str = ""
    limits: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary_lines(self) -> list[str]:
        """A few lines for ``dnahnet info``: data, compute and the quality bar."""
        lines = [
            f"  model card     {self.name} (preset {self.preset}, {self.parameters / 1e6:.2f} M parameters)",
            f"  trained on     {len(self.train_genomes)} prokaryotic genomes, {self.nucleotides_seen / 1e6:,.1f} M nucleotides seen "
            f"in {self.steps:,} steps ({self.train_hours:.1f} h on {self.hardware})",
            f"  validation     {len(self.val_genomes)} held-out genomes ({'; '.join(self.val_genomes)}): "
            f"{self.val_bits_per_base:.4f} bits/base vs {self.markov_bits_per_base:.4f} for the best Markov chain (k={self.markov_k})",
            "  selection      " + ", ".join(f"stage {i + 1} {s:.3f}" for i, s in enumerate(self.val_selection)),
        ]
        if self.codon_selection:
            lines.append("  codon pos 1/2/3 stage-1 selection " + " / ".join(f"{100 * s:.1f}%" for s in self.codon_selection))
        if self.snv_auroc is not None:
            extra = f" (Markov {self.markov_snv_auroc:.3f})" if self.markov_snv_auroc is not None else ""
            lines.append(f"  stop-gained vs synonymous SNV AUROC {self.snv_auroc:.3f}{extra}")
        if self.missense_auroc is not None:
            extra = f" (Markov {self.markov_missense_auroc:.3f})" if self.markov_missense_auroc is not None else ""
            lines.append(f"  missense vs synonymous SNV AUROC {self.missense_auroc:.3f}{extra}")
        if self.hierarchy_gap:
            share = f"; inner network varying share {self.inner_varying_share:.3f}" if self.inner_varying_share is not None else ""
            lines.append("  hierarchy gap  " + ", ".join(f"stage {i + 1} {g:+.4f}" for i, g in enumerate(self.hierarchy_gap))
                         + f" bits/base (0 = the stage carries nothing){share}")
        for strand, excess in sorted(self.codon_excess.items()):
            lines.append(f"  codon excess   strand {strand}: stage-1 starts at codon pos 1/2/3 minus frame-free control "
                         + " / ".join(f"{100 * e:+.1f}" for e in excess) + " points")
        for limit in self.limits:
            lines.append(f"  limit          {limit}")
        return lines


def read_card(path: str | Path) -> ModelCard | None:
    """The card inside a checkpoint, or None when it has none."""
    meta = read_metadata(path)
    if CARD_KEY not in meta:
        return None
    try:
        return ModelCard.from_json(meta[CARD_KEY])
    except (json.JSONDecodeError, TypeError) as err:
        raise CheckpointError(f"{path}: unreadable model card in checkpoint ({err})") from None


def attach_card(src: str | Path, dst: str | Path, card: ModelCard) -> Path:
    """Write ``src``'s weights and metadata to ``dst`` with ``card`` added (weights unchanged)."""
    meta = read_metadata(src)
    keep = {k: v for k, v in meta.items() if k not in {"format", "format_version", "config", "vocab", "dnahnet_version", CARD_KEY}}
    return save_model(load_model(src), dst, metadata={**keep, CARD_KEY: card.to_json()})
