"""Named model presets (litgpt style): a tiny one for tests, a CPU-trainable default, GPU sizes.

The GPU sizes follow the publication's 2-stage template ``["m4", ["T1m4", ["T8"], "m4T1"], "m4"]``
with ratio targets (3, 2) and roughly 30% of the parameters outside the innermost network
(``dnahnet info --preset NAME`` prints the exact split). CPU presets use d_state 16 and small widths:
on a 2-core CPU the chunked scan costs ~10x more at d_state 128 (design §1.4).
"""

from __future__ import annotations

from typing import Any

_TEMPLATE = ["m4", ["T1m4", ["T8"], "m4T1"], "m4"]


def _gpu(d_model: list[int], d_ff: list[int]) -> dict[str, Any]:
    return dict(
        layout=_TEMPLATE,
        d_model=d_model,
        d_intermediate=d_ff,
        num_heads=[d // 64 for d in d_model],
        attn_window=[0, 0, 0],
        ratio_targets=[3.0, 2.0],
        d_state=128,
        ssm_headdim=64,
        ssm_chunk_size=256,
    )


PRESETS: dict[str, dict[str, Any]] = {
    # Tests: ~0.14 M parameters, trains in seconds on a laptop CPU.
    "tiny": dict(
        layout=["m1", ["m1", ["T2"], "m1"], "m1"],
        d_model=[32, 48, 64],
        d_intermediate=[0, 0, 128],
        num_heads=[2, 2, 4],
        attn_window=[0, 0, 0],
        ratio_targets=[3.0, 2.0],
        d_state=16,
        ssm_headdim=16,
    ),
    # The CPU-trainable default model: ~2.7 M parameters (~11 MB in fp32).
    "small": dict(
        layout=["m2", ["m2", ["T4"], "m2"], "m2"],
        d_model=[96, 128, 192],
        d_intermediate=[0, 256, 576],
        num_heads=[3, 4, 6],
        attn_window=[0, 0, 0],
        ratio_targets=[3.0, 2.0],
        d_state=16,
        ssm_headdim=32,
    ),
    # GPU sizes (publication template).
    "dnahnet-20m": _gpu([192, 256, 384], [0, 768, 1152]),
    "dnahnet-100m": _gpu([384, 512, 768], [0, 1536, 2560]),
    "dnahnet-300m": _gpu([640, 896, 1536], [0, 2432, 4096]),
}
