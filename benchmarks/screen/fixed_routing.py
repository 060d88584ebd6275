"""Control for the hierarchy screen: the same run with the learned router replaced by fixed strides.

Every router of a given width takes a boundary at every k-th position of its stage (p = 0.9999 there,
0.0001 elsewhere; the first position always), so the chunks are the same for every window and
every step and carry no content. If a recipe's hierarchy carries information with fixed chunks but
not with learned ones, the learned routing is what stops it (as in the copy task,
benchmarks/copy_task_control.py). Strides per router width come from FIXED_STRIDES, e.g. "96:3,128:2"
(stage 1 every 3rd base, stage 2 every 2nd chunk: the ratio targets of the screen's configs).

    FIXED_STRIDES=96:3,128:2 python benchmarks/screen/fixed_routing.py train <dnahnet train options>
    FIXED_STRIDES=96:3,128:2 python benchmarks/screen/fixed_routing.py screen <hierarchy_screen.py options>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from dnahnet_core.model.routing import RoutingInfo, RoutingModule


def patch_routers(spec: str) -> None:
    strides = {int(w): int(k) for w, k in (part.split(":") for part in spec.split(","))}

    def forward(self: RoutingModule, x: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
        k = strides[self.q_proj.in_features]
        b = torch.arange(x.size(1), device=x.device) % k == 0  # (L,): position 0 always starts a chunk
        p = torch.where(b, 0.9999, 0.0001).to(torch.float32)[None].expand(x.size(0), -1).contiguous()  # (B, L)
        return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)

    RoutingModule.forward = forward


def main() -> None:
    spec = os.environ.get("FIXED_STRIDES")
    if not spec or len(sys.argv) < 2 or sys.argv[1] not in ("train", "screen"):
        sys.exit(__doc__)
    patch_routers(spec)
    if sys.argv[1] == "train":
        from dnahnet_cli.main import app

        sys.argv = ["dnahnet", *sys.argv[1:]]
        app()
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import hierarchy_screen

        sys.argv = ["hierarchy_screen.py", *sys.argv[2:]]
        hierarchy_screen.main()


if __name__ == "__main__":
    main()
