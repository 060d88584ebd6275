"""Rendering for ``dnahnet info`` (text to stdout)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import typer

from dnahnet_core.backend import fused_available
from dnahnet_core.card import read_card
from dnahnet_core.checkpoint import file_checksum, load_model
from dnahnet_core.config import ModelConfig
from dnahnet_core.model.dnahnet import DnaHNet
from dnahnet_core.presets import PRESETS
from dnahnet_core.scoring.model_io import EMBEDDED_NAME, embedded_model_path
from dnahnet_core.summary import summarize
from dnahnet_core.version import __version__


def _describe(model: DnaHNet, title: str) -> list[str]:
    cfg = model.config
    s = summarize(model)
    lines = [
        title,
        f"  layout         {json.dumps(cfg.layout)}",
        f"  d_model        {cfg.d_model}   d_intermediate {cfg.d_intermediate}   heads {cfg.num_heads}",
        f"  ssm            d_state {cfg.d_state}, headdim {cfg.ssm_headdim}, expand {cfg.ssm_expand}, chunk {cfg.ssm_chunk_size}",
        f"  ratio targets  {cfg.ratio_targets} (compression {', '.join(f'1/{t:g}' for t in cfg.ratio_targets) or 'none'})",
        f"  parameters     {s.total:,} ({s.total / 1e6:.2f} M); innermost network {100 * s.innermost_fraction:.1f}%",
        "  per stage:",
    ]
    for st in s.stages:
        parts = (
            f"main {st.main:,}"
            if st.main
            else f"encoder {st.encoder:,}  decoder {st.decoder:,}  routing+residual {st.routing:,}"
        )
        lines.append(f"    stage {st.stage} (d={st.d_model}, {st.layout}): {st.total:,}  [{parts}]")
    lines.append(f"    embedding + LM head: {s.embedding_and_head:,}")
    return lines


def render_info(preset: str | None, model: Path | None) -> None:
    lines = [
        f"dnahnet {__version__}  (torch {torch.__version__})",
        f"  CUDA available: {torch.cuda.is_available()}; fused mamba-ssm kernels: {fused_available()}",
        f"  presets: {', '.join(PRESETS)}",
    ]
    if preset is not None:
        config = ModelConfig.preset(preset)
        with torch.device("meta"):  # shapes only: no memory, no initialisation cost
            lines += _describe(DnaHNet(config), f"preset {preset}:")
    title = f"model {model}"
    if model is None and preset is None:
        # With nothing asked for, describe the model every scoring command uses by default.
        model = embedded_model_path()
        title = f"embedded model {EMBEDDED_NAME} ({model})"
        if model is None:
            lines.append("  embedded model: none in this install (scoring commands need --model)")
    if model is not None:
        m = load_model(model)
        lines += _describe(m, f"{title} (sha256 {file_checksum(model)[:16]}):")
        card = read_card(model)
        lines += card.summary_lines() if card is not None else ["  model card     none (train metadata only)"]
    typer.echo("\n".join(lines))


def render_diagnostics(model: Path | None, fasta: list[Path], windows: int, annotation: Path | None, codon_bp: int) -> None:
    """Hierarchy diagnostics of ``model`` (default: the embedded one) on ``fasta`` (text to stdout)."""
    from dnahnet_core.data.annotation import read_annotation
    from dnahnet_core.data.fasta import read_fasta
    from dnahnet_core.diagnostics import genome_codon_phasing, validation_diagnostics
    from dnahnet_core.errors import InputError
    from dnahnet_core.scoring.model_io import open_model

    loaded = open_model(model)
    d = validation_diagnostics(loaded.model, [str(f) for f in fasta], windows=windows)
    lines = [f"hierarchy diagnostics on {', '.join(str(f) for f in fasta)} ({d.n_scored:,} bases in {d.n_windows} windows of up to 8,192):",
             f"  bits per base  {d.bits_per_base:.4f}"]
    for g in d.gaps:
        swap = f"{g.gap_swap:+.4f}" if g.gap_swap == g.gap_swap else "n/a (one window)"
        lines.append(f"  stage {g.stage} gap    {g.gap_mean:+.4f} bits/base with its output replaced by its mean, "
                     f"{swap} by another window's (0 = the stage carries nothing)")
    lines.append(f"  inner network  {d.inner.varying_share:.3f} of its residual stream varies with position (rms {d.inner.rms:.2f})")
    lines.append("  selected       " + ", ".join(f"stage {i + 1} {s:.3f}" for i, s in enumerate(d.selected)))
    if annotation is not None and loaded.model.config.n_stages > 0:
        record = next(read_fasta(fasta[0]))
        genes = [(g.start0, g.end0, g.strand) for g in read_annotation(annotation).genes
                 if g.n_parts == 1 and g.chrom == record.name and g.end0 <= codon_bp and g.strand in "+-"]
        if not genes:
            raise InputError(f"no single-interval CDS on {record.name!r} in the first {codon_bp:,} bases", path=str(annotation))
        ph = genome_codon_phasing(loaded.model, record.ids[:codon_bp], genes)
        lines.append(f"  codon phasing  stage-1 chunk starts at codon positions 1/2/3, genes read 5'->3' "
                     f"(first {min(codon_bp, record.ids.size):,} bases of {record.name}); control: a rule that sees the last {ph.k} bases only")
        for st in ph.strands:
            obs = " / ".join(f"{100 * x:.1f}" for x in st.observed)
            ctl = " / ".join(f"{100 * x:.1f}" for x in st.control)
            exc = " / ".join(f"{100 * x:+.1f}" for x in st.excess)
            lines.append(f"    strand {st.strand} ({st.genes} genes): observed {obs} %, control {ctl} %, excess {exc} points")
    typer.echo("\n".join(lines))
