"""``dnahnet score``: per-record likelihoods of FASTA sequences as TSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import EXIT_USAGE, fail, friendly_errors

#: Left context each window gives the bases it scores (the overlap of consecutive windows).
WARMUP = 256
COLUMNS = ["name", "length", "n_scored", "n_masked", "log_likelihood", "bits_per_base", "perplexity"]


@friendly_errors
def score_command(
    seqs: Path = typer.Argument(..., help="FASTA file (plain, gzip or bgzip)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV output (default: stdout)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    context: int = typer.Option(8192, help="Window length; longer records are scored in overlapping windows."),
    stride: Optional[int] = typer.Option(None, help="Step between windows (default context-256, or context/2 below 512): every base is predicted once, with at least context-stride bases of left context; each base is computed about context/stride times."),
    per_base: Optional[Path] = typer.Option(None, "--per-base", help="Also write per-position log-likelihoods, format by extension: .h5 HDF5 (one float32 dataset per record, keyed 000000, 000001, ... in input order, with the record name as attribute 'name'; NaN at N); .bw/.bigwig bigWig or .bedgraph/.bg bedGraph track (0-based, chrom = record name, N positions left out; provenance in OUT.json beside it)."),
    both_strands: bool = typer.Option(False, "--both-strands", help="Average the forward and reverse-complement strands."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, help="Windows per forward pass (also capped by a token budget)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same inputs and options (needs -o): finished records are kept, not recomputed; the result is the same file an uninterrupted run writes."),
) -> None:
    """Score sequences: log-likelihood (natural log), bits per base and perplexity per record.

    Only A/C/G/T positions are scored (N and other ambiguity codes are counted in n_masked).
    Output TSV columns: name length n_scored n_masked log_likelihood bits_per_base perplexity,
    after '#' provenance lines.

    Example: dnahnet score genomes.fa -o scores.tsv
    """
    import h5py
    from tqdm import tqdm

    from dnahnet_core.data.fasta import read_fasta
    from dnahnet_core.scoring.engine import LikelihoodEngine, resolve_device
    from dnahnet_core.scoring.model_io import open_model
    from dnahnet_core.distributed import finish, init_ranks, ordered_map
    from dnahnet_core.scoring.sequences import score_record
    from dnahnet_core.tracks import per_base_h5_to_track, track_format

    from .common import check_output_path, command_line, sidecar_path, tsv_header, write_json_atomic

    import itertools

    from .resumable import ResumableOutput, committed_items, file_identity, keep_committed_on_interrupt

    # 256 bases of warm-up left context per window: bits per base as with context/2 (measured
    # difference 3e-4), each base computed ~1.03x instead of 2x (benchmarks/README.md, Scoring v2).
    stride = stride if stride is not None else max(1, context - min(WARMUP, context // 2))
    if not 0 < stride <= context:
        raise typer.BadParameter(f"need 0 < stride <= context, got stride {stride}, context {context}")
    check_output_path(output)
    check_output_path(per_base)
    track = track_format(per_base) if per_base else None
    if per_base and track is None and not per_base.name.lower().endswith((".h5", ".hdf5")):
        fail(f"--per-base {per_base.name}: use .h5 (HDF5), .bw (bigWig) or .bedgraph (text)", EXIT_USAGE)
    # A track is written once every record is scored (a bigWig needs every record's size first):
    # the values go to an HDF5 file beside it meanwhile, which also lets --resume continue.
    h5_path = per_base.with_name(per_base.name + ".partial.h5") if track else per_base
    dev = resolve_device(Device(device).value)
    loaded = open_model(model, device=str(dev))
    engine = LikelihoodEngine(loaded.model, dev, batch_size=batch_size)
    ranks = init_ranks(dev)
    key = {"command": "score", "input": file_identity(seqs), "model": loaded.sha256, "context": context, "stride": stride,
           "both_strands": both_strands, "per_base": str(per_base) if per_base else None}
    out = ResumableOutput(output, key, resume) if ranks.is_main else None
    done = out.done if out is not None else committed_items(output, resume)
    scores = ordered_map(
        itertools.islice(read_fasta(seqs), done, None),
        lambda recs: [score_record(r, engine, context, stride, both_strands, per_base is not None) for r in recs],
        ranks,
        chunk=4,
    )
    ok = False
    h5 = None
    try:
        if not ranks.is_main:
            for _ in scores:  # drives this rank's share of the work
                pass
            ok = True
            return
        provenance = {"command": command_line(), **loaded.provenance(), "context": context, "stride": stride,
                      "strands": "both (averaged)" if both_strands else "forward", "log_base": "e (natural log)"}
        with keep_committed_on_interrupt(out):
            if per_base:
                h5 = h5py.File(h5_path, "a" if done else "w")
                for name in [k for k in h5 if int(k) >= done]:  # written after the last commit
                    del h5[name]
            if not done:
                out.write(tsv_header(provenance) + "\t".join(COLUMNS) + "\n")
                out.commit(0)
            for i, s in enumerate(tqdm(scores, unit="rec", file=sys.stderr, disable=not sys.stderr.isatty()), start=done):
                out.write(f"{s.name}\t{s.length}\t{s.n_scored}\t{s.n_masked}\t{s.log_likelihood:.6f}\t{s.bits_per_base:.6f}\t{s.perplexity:.6f}\n")
                if h5 is not None:
                    # Dataset keys are record numbers (names may hold '/' or repeat); the name is an attribute.
                    ds = h5.create_dataset(f"{i:06d}", data=s.per_base, compression="gzip")
                    ds.attrs["name"] = s.name
                    h5.flush()
                out.commit(i + 1)
            if h5 is not None:
                for k, v in provenance.items():
                    h5.attrs[k] = str(v)
            out.finish()
            if track:
                h5.close()
                per_base_h5_to_track(h5_path, per_base, track)
                write_json_atomic(sidecar_path(per_base),
                                  {**provenance, "track": "per-base log-likelihood (natural log); N positions left out",
                                   "coordinates": "0-based half-open", "format": track})
                h5_path.unlink()
        ok = True
    finally:
        if h5 is not None:
            h5.close()
            if not ok and not (out is not None and out.kept):
                h5_path.unlink(missing_ok=True)  # a failed run leaves no partial output
        finish(ranks, ok)
