"""Package a trained run as the embedded default model, with its model card inside the checkpoint.

Every number in the card comes from a file a real run wrote:

    python benchmarks/package_model.py --run RUN_DIR --corpus ../shared/corpus \\
        --val-scores val_scores.tsv --markov-bpb 2.0057 --markov-k 7 \\
        --codon codon.json --snv snv_auroc.json --hierarchy hierarchy.json --hardware "2-core CPU" \\
        --out dnahnet_core/models/dnahnet-small-prok.safetensors --card-json benchmarks/results_model_card.json

RUN_DIR is a `dnahnet train --out` folder (final.safetensors, metrics.jsonl, config.json);
``--val-scores`` is `dnahnet score` output on the validation genomes; ``--codon`` the JSON of
benchmarks/codon_boundaries.py; ``--snv`` the JSON of `benchmarks/bench_variant_protocol.py --skip-speed
--markov-k 7` (its ``--snv-arm`` gives the AUROCs); ``--hierarchy`` the JSON of
benchmarks/hierarchy_screen.py (hierarchy gap, inner network, codon excess over the frame-free control).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import pandas as pd

from dnahnet_core.card import ModelCard, attach_card
from dnahnet_core.checkpoint import file_checksum, load_model, read_metadata

LIMITS = [
    "small model (2.7 M parameters) trained on a 2-core CPU: far from the publication's scale",
    "training genomes are mostly AT-rich; GC-rich genomes are predicted less well",
    "trained on bacterial and archaeal genomes only: eukaryotic and viral sequence is out of distribution",
]


def genomes(corpus: Path, split: str) -> list[str]:
    """ "organism strain (accessions)" per genome of a manifest split; long contig lists shortened."""
    manifest = pd.read_csv(corpus / "MANIFEST.tsv", sep="\t")
    out = []
    for row in manifest[manifest["split"] == split].itertuples(index=False):
        acc = str(row[1]).split(",")
        acc_text = ", ".join(acc) if len(acc) <= 3 else f"{acc[-1]} ... {acc[0]}, {len(acc)} records"
        out.append(f"{row.organism} {row.strain} ({acc_text})")
    return out


def train_hours(metrics: Path) -> float:
    """Seconds spent in training steps (periodic evaluation excluded), from the logged windows."""
    rows = pd.read_json(metrics, lines=True)
    rows = rows[rows["bpb"].notna()].drop_duplicates("step", keep="last").sort_values("step")
    tokens = rows["tokens_seen"].diff().fillna(rows["tokens_seen"].iloc[0])
    return float((tokens / rows["bp_per_s"]).sum() / 3600)


def val_bits_per_base(scores: Path) -> float:
    df = pd.read_csv(scores, sep="\t", comment="#")
    return float(-df["log_likelihood"].sum() / df["n_scored"].sum() / math.log(2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--val-scores", type=Path, required=True)
    ap.add_argument("--markov-bpb", type=float, required=True)
    ap.add_argument("--markov-k", type=int, required=True)
    ap.add_argument("--codon", type=Path, required=True)
    ap.add_argument("--snv", type=Path, required=True)
    ap.add_argument("--snv-arm", default="local D=32", help="the scoring protocol of --snv whose AUROCs the card reports")
    ap.add_argument("--hierarchy", type=Path, required=True)
    ap.add_argument("--hardware", required=True)
    ap.add_argument("--command", required=True, help="the exact training command, for the card")
    ap.add_argument("--name", default="dnahnet-small-prok")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--card-json", type=Path)
    args = ap.parse_args()

    final = args.run / "final.safetensors"
    meta = read_metadata(final)
    model = load_model(final)
    run_cfg = json.loads((args.run / "config.json").read_text())
    metrics = pd.read_json(args.run / "metrics.jsonl", lines=True)
    last_eval = metrics[metrics["val_bpb"].notna()].iloc[-1]
    codon = json.loads(args.codon.read_text())
    auroc = json.loads(args.snv.read_text())["auroc"]
    snv, markov = auroc["arms"][args.snv_arm], auroc.get("markov", {})
    hier = [r for r in json.loads(args.hierarchy.read_text()) if Path(r["checkpoint"]).resolve() == final.resolve()]
    if not hier:
        sys.exit(f"{args.hierarchy}: no row for {final}")
    hier = hier[-1]
    card = ModelCard(
        name=args.name,
        preset=run_cfg["train"].get("preset") or model.config.name,
        parameters=model.num_parameters(),
        train_genomes=genomes(args.corpus, "train"),
        val_genomes=genomes(args.corpus, "val"),
        steps=int(meta["train_steps"]),
        nucleotides_seen=int(meta["tokens_seen"]),
        hardware=args.hardware,
        train_hours=round(train_hours(args.run / "metrics.jsonl"), 2),
        val_bits_per_base=round(val_bits_per_base(args.val_scores), 4),
        markov_bits_per_base=args.markov_bpb,
        markov_k=args.markov_k,
        val_selection=[round(float(s), 4) for s in last_eval["val_selected"]],
        codon_selection=[round(codon["selection_by_codon_position"][str(p)], 4) for p in (1, 2, 3)],
        snv_auroc=round(snv["stop_vs_synonymous"], 4),
        markov_snv_auroc=round(markov["stop_vs_synonymous"], 4) if markov else None,
        missense_auroc=round(snv["missense_vs_synonymous"], 4),
        markov_missense_auroc=round(markov["missense_vs_synonymous"], 4) if markov else None,
        hierarchy_gap=[round(g["gap_mean"], 4) for g in sorted(hier["gaps"], key=lambda g: g["stage"])],
        inner_varying_share=round(hier["inner"]["varying_share"], 4),
        codon_excess={st["strand"]: [round(e, 5) for e in st["excess"]] for st in hier.get("codon", {}).get("strands", [])},
        command=args.command or "",
        limits=LIMITS,
    )
    attach_card(final, args.out, card)
    print(f"{args.out}: {args.out.stat().st_size / 2**20:.1f} MiB, sha256 {file_checksum(args.out)}")
    if args.card_json:
        args.card_json.write_text(json.dumps({**json.loads(card.to_json()), "sha256": file_checksum(args.out),
                                              "command_line": shlex.join(["python", *sys.argv])}, indent=2) + "\n")
    print("\n".join(card.summary_lines()))


if __name__ == "__main__":
    main()
