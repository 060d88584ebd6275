"""Parameter counts per stage, for ``dnahnet info`` and the presets' documentation."""

from __future__ import annotations

from dataclasses import dataclass

from .model.dnahnet import DnaHNet


@dataclass
class StageParams:
    stage: int
    layout: str  # e.g. "enc m4 | dec m4" or "main T8"
    d_model: int
    encoder: int
    decoder: int
    routing: int  # router, residual projection and width padding
    main: int  # innermost network only (0 for chunking stages)

    @property
    def total(self) -> int:
        return self.encoder + self.decoder + self.routing + self.main


@dataclass
class ModelSummary:
    stages: list[StageParams]
    embedding_and_head: int
    total: int

    @property
    def innermost_fraction(self) -> float:
        return self.stages[-1].main / self.total


def summarize(model: DnaHNet) -> ModelSummary:
    config = model.config
    count = lambda m: sum(p.numel() for p in m.parameters()) if m is not None else 0  # noqa: E731
    stages = []
    node = model.backbone
    for s in range(config.n_stages + 1):
        stacks = config.stage_stacks(s)
        if node.is_innermost:
            stages.append(StageParams(s, f"main {stacks[0]}", config.d_model[s], 0, 0, 0, count(node.main)))
            break
        routing = count(node.router) + count(node.residual_proj) + (node.pad_dimension.numel() if node.pad_dimension is not None else 0)
        stages.append(
            StageParams(s, f"enc {stacks[0]} | dec {stacks[1]}", config.d_model[s], count(node.encoder), count(node.decoder), routing, 0)
        )
        node = node.main
    head = count(model.embeddings) + count(model.lm_head)
    return ModelSummary(stages=stages, embedding_and_head=head, total=model.num_parameters())
