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
