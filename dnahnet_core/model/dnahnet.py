"""dnaHNet: nucleotide embedding -> recursive H-Net -> LM head over the nucleotide vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..backend import Backend
from ..config import ModelConfig
from .hnet import HNetStage, StepDecisions
from .routing import RoutingInfo
from .state import InferenceState


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, L, vocab) fp32; position t predicts token t+1
    routing: list[RoutingInfo]  # one entry per chunking stage, outer first
    mask: torch.Tensor  # (B, L) real positions


@dataclass
class StepOutput:
    logits: torch.Tensor  # (B, vocab) fp32: the prediction of each row's next token
    decisions: StepDecisions  # whether the stepped token starts a chunk, per stage


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

    # ---- incremental inference (design §1.5b) ----------------------------------------------------
    def allocate_state(self, batch_size: int, device: torch.device | str | None = None) -> InferenceState:
        """An empty state: the next token of every row is its first (BOS, as in forward)."""
        device = torch.device(device) if device is not None else self.embeddings.weight.device
        return InferenceState(backbone=self.backbone.allocate(batch_size, device),
                              position=torch.zeros(batch_size, dtype=torch.long, device=device))

    def prefill(
        self, ids: torch.Tensor, state: InferenceState | None = None, lengths: torch.Tensor | None = None
    ) -> tuple[ModelOutput, InferenceState]:
        """Run a block of tokens ids (B, L) in parallel, continuing ``state`` (a new state when None;
        then ids start with BOS, as for forward). ``lengths`` (B,) real tokens per row (right
        padding; 0 leaves a row as it is). Returns this block's output and the state after it,
        which is ``state`` itself, updated in place."""
        B, L = ids.shape
        state = state if state is not None else self.allocate_state(B, ids.device)
        lengths = lengths.to(ids.device) if lengths is not None else torch.full((B,), L, dtype=torch.long, device=ids.device)
        mask = lengths_to_mask(lengths, L)
        x = self.embeddings(ids).float()
        out = self.backbone.prefill(x, state.backbone, lengths)
        state.position = state.position + lengths
        return ModelOutput(logits=self.lm_head(out.hidden).float(), routing=out.routing, mask=mask), state

    def step(self, tokens: torch.Tensor, state: InferenceState, rows: torch.Tensor | None = None) -> tuple[StepOutput, InferenceState]:
        """Advance one token per row: tokens (n,) for the state rows ``rows`` (default: all rows, in
        order). Returns the next-token logits and each stage's boundary decision for this token."""
        rows = rows.to(tokens.device) if rows is not None else None
        hidden, decisions = self.backbone.step(self.embeddings(tokens).float(), state.backbone, rows)
        if rows is None:
            state.position += 1
        else:
            state.position[rows] += 1
        return StepOutput(logits=self.lm_head(hidden).float(), decisions=decisions), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
