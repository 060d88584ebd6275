"""``dnahnet train``: options -> TrainConfig -> dnahnet_core.train.train."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .errors import friendly_errors

EXAMPLE = "dnahnet train --fasta genomes/ --preset small --steps 2000 --out runs/small"


@friendly_errors
def train_command(
    fasta: List[Path] = typer.Option(..., "--fasta", "-f", help="FASTA files or folders (searched recursively; .fa .fna .fasta .fas, plain, gzip or bgzip). Repeat for several."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: step-NNNNNNN/ checkpoints, metrics.jsonl, final.safetensors."),
    val_fasta: Optional[List[Path]] = typer.Option(None, "--val-fasta", help="Validation FASTA files or folders (default: a seeded fraction of the --fasta files)."),
    val_fraction: float = typer.Option(0.1, help="Fraction of --fasta files held out for validation when --val-fasta is not given (split by whole files)."),
    preset: str = typer.Option("small", "--preset", "-p", help="Model preset: tiny, small, dnahnet-20m, dnahnet-100m, dnahnet-300m."),
    config: Optional[Path] = typer.Option(None, "--config", help="Model config JSON (overrides --preset)."),
    steps: int = typer.Option(1000, help="Optimizer steps."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", help="Windows per step per process."),
    grad_accum: int = typer.Option(1, help="Micro-batches accumulated per optimizer step."),
    seq_len: int = typer.Option(8192, help="Window length in nucleotides."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (each stage's group is scaled by --stage-lr)."),
    warmup: int = typer.Option(100, help="Linear warmup steps, then cosine decay."),
    min_lr_ratio: float = typer.Option(0.1, help="Final learning rate as a fraction of the peak."),
    weight_decay: float = typer.Option(0.05, help="AdamW weight decay (not on norms, biases, embeddings)."),
    grad_clip: float = typer.Option(1.0, help="Gradient-norm clip."),
    alpha: float = typer.Option(0.02, help="Ratio-loss weight (0.01-0.02 works for DNA; 0.03 destabilised)."),
    stage_lr: Optional[str] = typer.Option(None, help="Per-stage LR multipliers, outer first, comma-separated (default 3.0,1.7,0.9 for 2 stages)."),
    rc_augment: bool = typer.Option(True, "--rc-augment/--no-rc-augment", help="Reverse-complement augmentation."),
    init: str = typer.Option("torch", help="Weight initialisation of a new run: torch (layer defaults) or hnet (N(0, 0.02), residual outputs scaled by depth, embedding N(0, 1))."),
    species_power: float = typer.Option(1.0, help="Species balance of training windows: each species (Genus_species, the first two words of the file name) is drawn with weight length**P; 1 = in proportion to length, 0 = equal."),
    residual_dropout: float = typer.Option(0.0, help="Probability that a training window's stage residual paths are dropped, so the decoder must predict from the chunking stages alone (keeps the hierarchy from collapsing; 0 = off)."),
    seed: int = typer.Option(0, help="Random seed (data order, initialisation, split)."),
    device: str = typer.Option("auto", envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    eval_every: int = typer.Option(100, help="Validate every N steps."),
    eval_windows: int = typer.Option(32, help="Validation windows (evenly spaced over the validation genomes)."),
    eval_diagnostics: bool = typer.Option(True, "--eval-diagnostics/--no-eval-diagnostics", help="Hierarchy gap per stage and inner-network health at every evaluation (metrics.jsonl)."),
    log_every: int = typer.Option(10, help="Log every N steps."),
    save_every: int = typer.Option(100, help="Checkpoint every N steps."),
    keep_last: int = typer.Option(3, help="Checkpoints to keep."),
    cache: Optional[Path] = typer.Option(None, help="HDF5 token cache of the training files (built once, read lazily)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from the newest complete checkpoint in --out."),
) -> None:
    """Train a dnaHNet on FASTA genomes; resumable, and multi-GPU under torchrun.

    Logs one line per --log-every steps on stderr (also in OUT/metrics.jsonl); Ctrl-C or SIGTERM
    saves a checkpoint before exit; running the same command again resumes.

    Example: dnahnet train --fasta genomes/ --preset small --steps 2000 --out runs/small
    """
    from dnahnet_core.errors import ConfigError
    from dnahnet_core.train import TrainConfig, train

    try:
        multipliers = [float(x) for x in stage_lr.split(",")] if stage_lr else None
    except ValueError:
        raise ConfigError([f"--stage-lr {stage_lr!r}: expected comma-separated numbers"]) from None
    cfg = TrainConfig(
        fasta=[str(p) for p in fasta], out=str(out), val_fasta=[str(p) for p in val_fasta or []],
        val_fraction=val_fraction, preset=preset, model_config=str(config) if config else None, steps=steps,
        batch_size=batch_size, grad_accum=grad_accum, seq_len=seq_len, lr=lr, min_lr_ratio=min_lr_ratio,
        warmup_steps=warmup, weight_decay=weight_decay, grad_clip=grad_clip, alpha=alpha, stage_lr=multipliers,
        rc_augment=rc_augment, init=init, species_power=species_power, residual_dropout=residual_dropout, seed=seed, device=device, eval_every=eval_every, eval_windows=eval_windows,
        eval_diagnostics=eval_diagnostics, log_every=log_every, save_every=save_every, keep_last=keep_last, cache=str(cache) if cache else None, resume=resume,
    )
    result = train(cfg)
    if result.interrupted:
        raise SystemExit(130)
    if result.final_model is not None:
        typer.echo(f"dnahnet train: done, {result.step} steps, {result.tokens_seen:,} nt; model in {result.final_model}", err=True)
