"""The model card's two figures: the validation curve and stage-1 selection by codon position.

    pip install -e ".[plots]"
    python benchmarks/model_card_figures.py --metrics RUN/metrics.jsonl --codon codon.json \\
        --markov-bpb 2.0057 --where "R. denitrificans, first 1 Mb" --out benchmarks/figures

``--metrics`` is the metrics.jsonl that `dnahnet train` writes; ``--codon`` is the JSON printed by
benchmarks/codon_boundaries.py from `dnahnet boundaries` output and the genome's annotation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

PUBLICATION_CODON = (0.065, 0.426, 0.584)  # B. subtilis, dnaHNet publication


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
    ax.set_title("dnahnet-small-prok: validation curve", fontsize=10)
    fig.tight_layout()
    path = out / "validation_curve.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def codon_positions(codon_json: Path, out: Path, where: str) -> Path:
    data = json.loads(codon_json.read_text())
    rates = [data["selection_by_codon_position"][str(p)] for p in (1, 2, 3)]
    x = range(3)
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    ax.bar([i - 0.2 for i in x], [100 * r for r in rates], width=0.4, color="tab:blue", label="dnahnet-small-prok")
    ax.bar([i + 0.2 for i in x], [100 * r for r in PUBLICATION_CODON], width=0.4, color="0.75", label="publication (B. subtilis)")
    ax.axhline(100 * data["genome_wide_selection"], color="k", ls=":", lw=0.8, label="all bases of the region")
    ax.set_xticks(list(x), ["codon pos 1", "codon pos 2", "codon pos 3"])
    ax.set_ylabel("stage-1 chunk starts (%)")
    ax.set_title(f"Stage-1 boundaries by codon position: {data['genes']} CDS{', ' + where if where else ''}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "codon_positions.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--codon", type=Path, required=True)
    ap.add_argument("--markov-bpb", type=float)
    ap.add_argument("--where", default="", help="genome/region named in the codon figure's title")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/figures"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (validation_curve(args.metrics, args.markov_bpb, args.out), codon_positions(args.codon, args.out, args.where)):
        print(path)


if __name__ == "__main__":
    main()
