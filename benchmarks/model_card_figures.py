"""The model card's figures: the validation curve, the hierarchy diagnostics over training, and
stage-1 chunk starts by codon position next to the frame-free control.

    pip install -e ".[plots]"
    python benchmarks/model_card_figures.py --metrics RUN/metrics.jsonl --hierarchy hierarchy.json \\
        --markov-bpb 1.9892 --where "R. denitrificans, first 1 Mb" --out benchmarks/figures

``--metrics`` is the metrics.jsonl that `dnahnet train` writes (its evaluations carry the
diagnostics); ``--hierarchy`` the JSON of benchmarks/hierarchy_screen.py for the released checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

def validation_curve(metrics: Path, markov_bpb: float | None, out: Path) -> Path:
    rows = pd.read_json(metrics, lines=True)
    # A resumed run logs the steps between its last checkpoint and the interruption twice: keep the last.
    train = rows[rows["bpb"].notna()].drop_duplicates("step", keep="last")
    val = rows[rows["val_bpb"].notna()].drop_duplicates("step", keep="last")
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(train["step"], train["bpb"].rolling(5, min_periods=1).mean(), color="0.6", lw=1, label="train (5-point mean)")
    ax.plot(val["step"], val["val_bpb"], "o-", color="tab:blue", label="validation genomes")
    if markov_bpb is not None:
        ax.axhline(markov_bpb, color="tab:red", ls="--", lw=1, label=f"best Markov chain ({markov_bpb:.3f})")
    ax.axhline(2.0, color="k", ls=":", lw=0.8, label="uniform (2.0)")
    ax.set_xlabel("training step")
    ax.set_ylabel("bits per base")
    ax.set_ylim(min(val["val_bpb"].min(), train["bpb"].min()) - 0.05, 2.15)
    ax.legend(fontsize=8)
    ax.set_title("Validation curve", fontsize=10)
    fig.tight_layout()
    path = out / "validation_curve.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def hierarchy_curve(metrics: Path, out: Path) -> Path:
    """Hierarchy gap per stage and the inner network's varying share at every evaluation."""
    rows = pd.read_json(metrics, lines=True)
    val = rows[rows["val_bpb"].notna()].drop_duplicates("step", keep="last")
    val = val[val["diagnostics"].notna()]
    steps = val["step"].to_list()
    diags = val["diagnostics"].to_list()
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.4), dpi=120)
    for stage in sorted({g["stage"] for d in diags for g in d["gaps"]}):
        gap = [next(g["gap_mean"] for g in d["gaps"] if g["stage"] == stage) for d in diags]
        ax.plot(steps, gap, "o-", label=f"stage {stage}: output -> its mean")
    ax.axhline(0.02, color="tab:red", ls="--", lw=1, label="bar: 0.02")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("training step")
    ax.set_ylabel("hierarchy gap (bits per base)")
    ax.legend(fontsize=8)
    ax.set_title("What the chunking stages carry", fontsize=10)
    ax2.plot(steps, [d["inner"]["varying_share"] for d in diags], "o-", color="tab:purple")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("training step")
    ax2.set_ylabel("share varying with position")
    ax2.set_title("Innermost network output", fontsize=10)
    # Gradient norm per stage at every logged training step (outer first), 5-point mean.
    train = rows[rows["grad_norm_stage"].notna()].drop_duplicates("step", keep="last")
    norms = pd.DataFrame(train["grad_norm_stage"].to_list(), index=train["step"])
    for stage in norms.columns:
        ax3.plot(norms.index, norms[stage].rolling(5, min_periods=1).mean(), lw=1, label=f"stage {stage}")
    ax3.set_yscale("log")
    ax3.set_xlabel("training step")
    ax3.set_ylabel("gradient norm (5-point mean)")
    ax3.set_title("Gradient reaching each stage", fontsize=10)
    ax3.legend(fontsize=8)
    fig.tight_layout()
    path = out / "hierarchy_diagnostics.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def codon_positions(hierarchy_json: Path, out: Path, where: str) -> Path:
    """Observed stage-1 chunk-start rate by codon position against the frame-free control, per strand."""
    row = json.loads(hierarchy_json.read_text())[-1]
    strands = row["codon"]["strands"]
    fig, axes = plt.subplots(1, len(strands), figsize=(4.5 * len(strands), 3.4), dpi=120, sharey=True)
    for ax, st in zip(axes, strands):
        x = range(3)
        ax.bar([i - 0.2 for i in x], [100 * r for r in st["observed"]], width=0.4, color="tab:blue", label="model")
        ax.bar([i + 0.2 for i in x], [100 * r for r in st["control"]], width=0.4, color="0.7",
               label=f"frame-free control (last {row['codon']['k']} bases)")
        ax.set_xticks(list(x), ["codon pos 1", "codon pos 2", "codon pos 3"])
        ax.set_title(f"strand {st['strand']}: {st['genes']} genes read 5'->3'", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("stage-1 chunk starts (%)")
    fig.suptitle("Stage-1 chunk starts by codon position" + (f", {where}" if where else ""), fontsize=10)
    fig.tight_layout()
    path = out / "codon_positions.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--hierarchy", type=Path, required=True)
    ap.add_argument("--markov-bpb", type=float)
    ap.add_argument("--where", default="", help="genome/region named in the codon figure's title")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/figures"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (validation_curve(args.metrics, args.markov_bpb, args.out), hierarchy_curve(args.metrics, args.out),
                 codon_positions(args.hierarchy, args.out, args.where)):
        print(path)


if __name__ == "__main__":
    main()
