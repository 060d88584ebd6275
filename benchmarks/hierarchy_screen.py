"""Does the hierarchy carry the prediction? Diagnostics of one or more checkpoints on the val genomes.

For each checkpoint: bits per base over N windows of 8,192 nt spread over the validation genomes,
the hierarchy gap of each chunking stage (its dechunk output replaced by its per-window mean, or by
another window's), the inner network's varying share, the realised selection per stage, and the
stage-1 codon phasing on the first --codon-bp of a genome against the frame-free control (genes
read 5'->3' on both strands). The last training record of the run's metrics.jsonl adds the
gradient norm per stage and nucleotides seen.

    python benchmarks/hierarchy_screen.py runs/screen/*/final.safetensors \
        --corpus ../shared/corpus --json benchmarks/results_hierarchy_screen.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from dnahnet_core.data.annotation import read_annotation
from dnahnet_core.checkpoint import load_model
from dnahnet_core.data.fasta import read_fasta
from dnahnet_core.diagnostics import genome_codon_phasing, validation_diagnostics

VAL = ["Thermococcus_kodakaraensis_KOD1", "Roseobacter_denitrificans_OCh_114"]


def last_train_record(run: Path) -> dict:
    path = run / "metrics.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if "loss" in r]
    return train[-1] if train else {}


def screen_one(ckpt: Path, corpus: Path, windows: int, codon_genome: str, codon_bp: int) -> dict:
    t0 = time.perf_counter()
    model = load_model(ckpt, device="cpu", backend="torch").eval()
    files = [str(corpus / f"{name}.fa.gz") for name in VAL]
    diag = validation_diagnostics(model, files, windows=windows)
    row = {"checkpoint": str(ckpt), "run": ckpt.parent.name, "parameters": model.num_parameters(), **diag.to_dict()}
    if codon_bp > 0 and model.config.n_stages > 0:
        record = next(read_fasta(corpus / f"{codon_genome}.fa.gz"))
        ids = record.ids[:codon_bp]
        genes = [(g.start0, g.end0, g.strand) for g in read_annotation(corpus / "annotation" / f"{codon_genome}.gff3").genes
                 if g.n_parts == 1 and g.chrom == record.name and g.end0 <= codon_bp and g.strand in "+-"]
        row["codon"] = genome_codon_phasing(model, ids, genes).to_dict()
    last = last_train_record(ckpt.parent)
    row["tokens_seen"] = last.get("tokens_seen")
    row["grad_norm_stage"] = last.get("grad_norm_stage")
    row["seconds"] = time.perf_counter() - t0
    return row


def markdown(rows: list[dict]) -> str:
    head = ("| run | nt seen | bpb | gap s1 mean / swap | gap s2 mean / swap | inner varying share | selected s1 / s2 "
            "| grad norm per stage (last step) | codon pos 1/2/3 excess over control, + / − strand |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        gaps = {g["stage"]: g for g in r["gaps"]}

        def gap(s: int) -> str:
            return f"{gaps[s]['gap_mean']:+.4f} / {gaps[s]['gap_swap']:+.4f}" if s in gaps else "—"

        codon = "—"
        if "codon" in r:
            codon = "; ".join(" ".join(f"{100 * e:+.1f}" for e in st["excess"]) for st in r["codon"]["strands"])
        gn = "/".join(f"{g:.3f}" for g in r["grad_norm_stage"]) if r.get("grad_norm_stage") else "—"
        seen = f"{r['tokens_seen'] / 1e6:.1f} M" if r.get("tokens_seen") else "—"
        lines.append(f"| {r['run']} | {seen} | {r['bits_per_base']:.4f} | {gap(1)} | {gap(2)} | {r['inner']['varying_share']:.3f} "
                     f"| {' / '.join(f'{s:.3f}' for s in r['selected'])} | {gn} | {codon} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--windows", type=int, default=16, help="validation windows of 8,192 nt")
    ap.add_argument("--codon-genome", default="Roseobacter_denitrificans_OCh_114")
    ap.add_argument("--codon-bp", type=int, default=300_000, help="bases of the codon genome to route (0 = skip)")
    ap.add_argument("--json", type=Path, help="append rows to this JSON list file")
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = []
    for ckpt in args.checkpoints:
        row = screen_one(ckpt, args.corpus, args.windows, args.codon_genome, args.codon_bp)
        print(f"{row['run']}: bpb {row['bits_per_base']:.4f}, gaps "
              + ", ".join(f"s{g['stage']} {g['gap_mean']:+.4f}/{g['gap_swap']:+.4f}" for g in row["gaps"])
              + f", inner share {row['inner']['varying_share']:.3f} ({row['seconds']:.0f} s)", file=sys.stderr)
        rows.append(row)
    if args.json:
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        done = {r["checkpoint"] for r in rows}
        args.json.write_text(json.dumps([r for r in old if r["checkpoint"] not in done] + rows, indent=1))
    print(markdown(rows))


if __name__ == "__main__":
    main()
