"""dnaHNet: nucleotide embedding -> recursive H-Net -> LM head over the nucleotide vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..backend import Backend
from ..config import ModelConfig
from .hnet import HNetStage
from .routing import RoutingInfo


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, L, vocab) fp32; position t predicts token t+1
    routing: list[RoutingInfo]  # one entry per chunking stage, outer first
    mask: torch.Tensor  # (B, L) real positions


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class DnaHNet(nn.Module):
    def __init__(self, config: ModelConfig, backend: str = "auto") -> None:
        super().__init__()
        self.config = config.validate()
        self.backend = Backend(backend)
        self.embeddings = nn.Embedding(config.vocab_size, config.d_model[0])
        self.backbone = HNetStage(config, 0, self.backend)
        self.lm_head = nn.Linear(config.d_model[0], config.vocab_size, bias=False)
        self.embeddings.weight._no_weight_decay = True  # type: ignore[attr-defined]

    def set_backend(self, name: str) -> None:
        """Switch every layer between the PyTorch reference and the fused kernels."""
        backend = Backend(name)
        self.backend = backend
        for module in self.modules():
            if hasattr(module, "backend"):
                module.backend = backend

    def forward(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> ModelOutput:
        """ids (B, L) token ids with BOS first; ``lengths`` (B,) or ``mask`` (B, L) for padding.

        Sequences must be right-padded: position t only ever sees positions <= t.
        """
        B, L = ids.shape
        if mask is None:
            mask = (
                lengths_to_mask(lengths.to(ids.device), L)
                if lengths is not None
                else torch.ones(B, L, dtype=torch.bool, device=ids.device)
            )
        x = self.embeddings(ids).float()  # (B, L, D_0)
        out = self.backbone(x, mask)
        logits = self.lm_head(out.hidden).float()  # (B, L, vocab)
        return ModelOutput(logits=logits, routing=out.routing, mask=mask)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
