"""Weight initialisation schemes for a freshly built model (training only; checkpoints carry weights).

``torch`` keeps PyTorch's layer defaults. ``hnet`` is the H-Net / GPT-2 recipe (goombalab/hnet via
mamba_ssm's ``_init_weights``): every linear layer N(0, 0.02) with zero bias, the projections that
write into a residual stream (mixer ``out_proj``, MLP ``fc2``) scaled by 1/sqrt(2 * layers of their
stack) so each stack's output variance does not grow with depth, the LM head N(0, 0.02) and the
embedding N(0, 1). What the H-Net mechanics need is left as built: routers start as the identity,
the stage residual projection and the width padding at zero, Mamba-2's dt/A/D and conv as in mamba_ssm.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..layers.stack import Stack
from ..model.dnahnet import DnaHNet
from ..model.routing import RoutingModule

INIT_SCHEMES = ("torch", "hnet")


@torch.no_grad()
def init_weights(model: DnaHNet, scheme: str, std: float = 0.02) -> DnaHNet:
    """Re-initialise ``model`` in place with ``scheme`` and return it."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r} (choose from {', '.join(INIT_SCHEMES)})")
    if scheme == "torch":
        return model
    keep = {id(m) for r in model.modules() if isinstance(r, RoutingModule) for m in (r.q_proj, r.k_proj)}
    keep |= {id(m.residual_proj) for m in model.modules() if hasattr(m, "residual_proj")}
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module) not in keep:
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for stack in (m for m in model.modules() if isinstance(m, Stack)):
        scale = 1.0 / math.sqrt(2 * len(stack.layers))
        for block in stack.layers:
            block.mixer.out_proj.weight.mul_(scale)
            if block.mlp is not None:
                block.mlp.fc2.weight.mul_(scale)
    nn.init.normal_(model.embeddings.weight, std=1.0)
    return model
