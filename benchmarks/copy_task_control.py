"""Control for the hierarchy screen: can information travel through the chunking stages at all?

A synthetic copy task: each sequence is BOS + 64 random bases + the same 64 bases again, so the
copied half is fully predictable (0 bits) from long-range context and unpredictable (2 bits) from
local context. Two small models of similar size are trained side by side, same data, same steps:

* ``transformer``: an isotropic 2-layer Transformer (it can copy through attention);
* ``hnet-local``: a 2-stage dnaHNet whose outer stage only sees its last 8 positions (windowed
  attention), so anything it knows about the first half must come back through the chunking stages
  (stage-1 Mamba over the chunks, stage-2 attention over their chunks).

Reported: bits per base on the copied half, and for the H-Net the same with the stage-1 dechunk
output replaced by its mean (the hierarchy gap). A hierarchy that carries information drives the
copied half towards 0 bits and has a large gap.

Routing arms for the H-Net (same model, same data, only the boundary decisions differ), to tell a
defect of the chunked path from a property of learned routing:

* ``learned``: the H-Net router (cosine of adjacent encoder vectors), trained end to end;
* ``stride``: a fixed boundary every 2nd position at both stages (p = 0.9999 / 0.0001), no router;
* ``irregular``: fixed, content-independent boundaries at random positions (40%, one pattern per
  sequence length, the same in every step), no router: irregular chunks, but stationary ones;
* ``stride-then-learned``: ``stride`` for the first half of the steps, then the H-Net router
  (a warm start: does a path that already carries information survive learned routing?);
* ``stride-annealed``: p = a p_stride + (1 - a) p_router, a = 1 for the first quarter of the steps,
  down to 0 over the middle half, 0 for the last quarter (a gradual hand-over);
* ``sharp``: the H-Net router with decisive probabilities (p = (1 - tanh(5 cos)) / 2);
* ``content``: content-based chunks at the target rate with no router gradient (each sequence's
  positions ranked by the router's cosine, the top 1/target start chunks);
* ``random``: as ``content`` with random ranks, new for every sequence and step.

    python benchmarks/copy_task_control.py --steps 600 --json benchmarks/results_copy_task.json
"""

from __future__ import annotations

import argparse
import json
import time
import types

import torch

from dnahnet_core import DnaHNet, ModelConfig
from dnahnet_core.diagnostics import replaced_dechunk
from dnahnet_core.losses import total_loss
from dnahnet_core.model.routing import RoutingInfo, RoutingModule
from dnahnet_core.train.init import init_weights

HALF = 64

MODELS = {
    "transformer": ModelConfig(layout=["T2"], d_model=[64], d_intermediate=[128], num_heads=[4], attn_window=[0],
                               ratio_targets=[], ssm_headdim=16, name="transformer-T2"),
    "hnet-local": ModelConfig(layout=["t1", ["m1", ["T2"], "m1"], "t1"], d_model=[32, 48, 64], d_intermediate=[0, 0, 128],
                              num_heads=[2, 2, 4], attn_window=[8, 0, 0], ratio_targets=[3.0, 2.0], ssm_headdim=16,
                              name="hnet-local-outer"),
}


#: Bases of random filler in the ``shifted`` task (see :func:`batch`).
SHIFT = 16


def batch(n: int, g: torch.Generator, task: str = "fixed") -> torch.Tensor:
    """``fixed``: BOS, 64 random bases, the same 64 again (the copy is always 64 positions back: a
    positional lookup can do it). ``shifted``: BOS, f random bases, the 64, 16 - f random bases,
    the 64 again, f uniform in 0..16 per sequence: the copy's distance varies, so every model must
    find the earlier copy by content (an induction lookup), as learned chunks force an H-Net to.
    The copied half is the last 64 positions in both tasks."""
    x = torch.randint(0, 4, (n, HALF), generator=g)
    if task == "fixed":
        return torch.cat([torch.full((n, 1), 5), x, x], 1)  # BOS, then the sequence twice
    filler = torch.randint(0, 4, (n, SHIFT), generator=g)
    f = torch.randint(0, SHIFT + 1, (n,), generator=g)
    rows = [torch.cat([filler[i, : f[i]], x[i], filler[i, f[i]:], x[i]]) for i in range(n)]
    return torch.cat([torch.full((n, 1), 5), torch.stack(rows)], 1)  # (n, 1 + 16 + 128)


ROUTINGS = ("learned", "stride", "irregular", "stride-then-learned", "stride-annealed", "sharp", "content", "random")


def annealed_routing(model: DnaHNet, alpha: list[float]) -> None:
    """Blend fixed strides into the H-Net router: p = a * p_stride + (1 - a) * p_learned, with
    ``alpha[0]`` = a set by the training loop (1: the stride arm, 0: the learned router)."""
    for router in (m for m in model.modules() if isinstance(m, RoutingModule)):
        def forward(self: RoutingModule, x: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
            learned = RoutingModule.forward(self, x, mask).boundary_prob  # (B, L)
            b = torch.arange(x.size(1), device=x.device) % 2 == 0
            fixed = torch.where(b, 0.9999, 0.0001)[None].to(learned)
            p = alpha[0] * fixed + (1 - alpha[0]) * learned
            return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)
        router.forward = types.MethodType(forward, router)


def content_routing(model: DnaHNet, kind: str, targets: list[float]) -> None:
    """Keep content-based decisions but change one property of the H-Net router at a time.

    ``sharp``: p = (1 - tanh(5 cos)) / 2 instead of (1 - cos) / 2: the same router and gradients,
    but decisive probabilities (few near 0.5). ``content``: the router's cosine ranks each
    sequence's positions and the top 1/target of them start chunks (p = 0.9999 / 0.0001, no
    gradient): content-based chunks at the target rate, with no router gradient and no indecision.
    ``random``: as ``content`` with random scores: chunk layouts that differ between sequences and
    steps but have nothing to do with the content.
    """
    routers = [m for m in model.modules() if isinstance(m, RoutingModule)]  # outer first

    def make(target: float):
        def forward(self: RoutingModule, x: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
            x = x.float()
            cos = torch.nn.functional.cosine_similarity(self.q_proj(x[:, 1:]), self.k_proj(x[:, :-1]), dim=-1)  # (B, L-1)
            if kind == "sharp":
                p = ((1 - torch.tanh(5 * cos)) / 2).clamp(0.0, 1.0)
            else:
                # random: the same rate, positions drawn afresh for every sequence and step
                score = torch.rand_like(cos) if kind == "random" else (1 - cos).detach()
                cut = torch.quantile(score, 1 - 1 / target, dim=1, keepdim=True)
                p = torch.where(score >= cut, 0.9999, 0.0001)
            p = torch.cat([p.new_ones(p.size(0), 1), p], dim=1)  # (B, L): position 0 starts a chunk
            return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)
        return forward

    for router, target in zip(routers, targets):
        router.forward = types.MethodType(make(target), router)


def fix_routing(model: DnaHNet, kind: str, seed: int) -> None:
    """Replace every router's decisions by a fixed pattern (``stride`` or ``irregular``)."""
    g = torch.Generator().manual_seed(seed)
    patterns: dict[int, torch.Tensor] = {}

    def pattern(length: int) -> torch.Tensor:
        if length not in patterns:
            b = torch.arange(length) % 2 == 0 if kind == "stride" else torch.rand(length, generator=g) < 0.4
            b[0] = True
            patterns[length] = torch.where(b, 0.9999, 0.0001)
        return patterns[length]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> RoutingInfo:
        p = pattern(x.size(1))[None].expand(x.size(0), -1).clone()
        return RoutingInfo(boundary_prob=p, boundary_mask=(p > 0.5) & mask, mask=mask)

    for m in model.modules():
        if isinstance(m, RoutingModule):
            m.forward = types.MethodType(forward, m)


def copied_half_bits(model: DnaHNet, ids: torch.Tensor) -> float:
    out = model(ids)
    lp = torch.log_softmax(out.logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0]
    return float(-lp[:, -HALF:].mean() / torch.log(torch.tensor(2.0)))


def train_one(name: str, steps: int, seed: int, routing: str = "learned", task: str = "fixed") -> dict:
    torch.manual_seed(seed)
    cfg = MODELS[name]
    model = init_weights(DnaHNet(cfg, backend="torch"), "hnet")
    alpha = [1.0]
    if routing == "stride-annealed":
        annealed_routing(model, alpha)
    elif routing in ("sharp", "content", "random"):
        content_routing(model, routing, cfg.ratio_targets)
    elif routing != "learned":
        fix_routing(model, routing.removesuffix("-then-learned"), seed + 5)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    curve = []
    t0 = time.perf_counter()
    for step in range(steps):
        # stride-annealed: strides for the first quarter, the blend moves to the router over the
        # middle half, the router alone for the last quarter
        alpha[0] = min(1.0, max(0.0, 1.5 - 2 * step / steps))
        if routing.endswith("-then-learned") and step == steps // 2:
            for m in model.modules():  # back to the class's learned routing
                if isinstance(m, RoutingModule):
                    del m.forward
        ids = batch(16, g, task)
        loss = total_loss(model(ids), ids, cfg.ratio_targets, 0.02)
        opt.zero_grad()
        loss.total.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            curve.append({"step": step, "bits_per_base": loss.lm.bits_per_base})
    model.eval()
    test = batch(128, torch.Generator().manual_seed(seed + 1), task)
    with torch.no_grad():
        row = {"model": name, "task": task, "routing": routing if cfg.n_stages else "-", "parameters": model.num_parameters(), "steps": steps, "copied_half_bits": copied_half_bits(model, test),
               "curve": curve, "seconds": time.perf_counter() - t0}
        if cfg.n_stages:
            with replaced_dechunk(model, 1, "mean"):
                row["copied_half_bits_stage1_mean"] = copied_half_bits(model, test)
            # How decided the router is: a probability near 0.5 is a coin flip that the next
            # update may turn (fixed arms sit at 0.0001 / 0.9999).
            routing = model(test).routing
            row["selected"] = [float(r.boundary_mask.sum() / r.mask.sum()) for r in routing]
            row["share_p_within_0.05_of_half"] = [float(((r.boundary_prob[r.mask] - 0.5).abs() < 0.05).float().mean()) for r in routing]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--routing", nargs="+", choices=ROUTINGS, default=list(ROUTINGS), help="H-Net routing arms to train")
    ap.add_argument("--task", choices=("fixed", "shifted"), default="fixed", help="copy distance fixed (64) or varying per sequence")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = [train_one("transformer", args.steps, args.seed, task=args.task)]
    rows += [train_one("hnet-local", args.steps, args.seed, routing, args.task) for routing in args.routing]
    for r in rows:
        extra = (f", stage-1 output -> mean: {r['copied_half_bits_stage1_mean']:.3f}, selected {r['selected']}, "
                 f"p within 0.05 of 0.5 {r['share_p_within_0.05_of_half']}") if "copied_half_bits_stage1_mean" in r else ""
        print(f"{r['model']:12s} routing {r['routing']:9s} ({r['parameters']:,} parameters, {r['steps']} steps): "
              f"copied half {r['copied_half_bits']:.3f} bits/base{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
