"""``dnahnet generate``: sample DNA from the model, with the incremental state cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .common import Device
from .errors import friendly_errors


def generated_boundaries(g):
    """The chunks of a generated sequence as :class:`RecordBoundaries` (``dnahnet boundaries``
    conventions: the sequence's first base starts a chunk at both stages, with p = 1)."""
    import numpy as np

    from dnahnet_core.scoring.boundaries import RecordBoundaries

    name = f"{g.prompt}_sample{g.sample + 1}"
    s1_prob, s1_mask = g.boundary_prob[0].copy(), g.boundary_mask[0].copy()
    s2_prob = s2_mask = None
    if len(g.boundary_prob) > 1:
        s2_prob, s2_mask = g.boundary_prob[1].copy(), g.boundary_mask[1].copy()
        if not s1_mask[0]:  # the first base continued a chunk of the prompt: it opens one here
            s2_prob, s2_mask = np.concatenate([[1.0], s2_prob]).astype(np.float32), np.concatenate([[True], s2_mask])
        s2_prob[0], s2_mask[0] = 1.0, True
    s1_prob[0], s1_mask[0] = 1.0, True
    return RecordBoundaries(name=name, length=len(g.ids), s1_prob=s1_prob, s1_mask=s1_mask, s2_prob=s2_prob, s2_mask=s2_mask)


@friendly_errors
def generate_command(
    prompts: Optional[Path] = typer.Argument(None, help="FASTA of prompts (plain, gzip or bgzip); each record is continued. Without it, generation starts from BOS alone."),
    length: int = typer.Option(1000, "--length", "-n", min=1, help="Nucleotides to generate per sample."),
    num_samples: int = typer.Option(1, "--num-samples", "-k", min=1, help="Samples per prompt."),
    temperature: float = typer.Option(1.0, min=0.0, help="Softmax temperature; 0 = greedy (always the most likely base)."),
    top_k: int = typer.Option(0, "--top-k", min=0, max=4, help="Keep only the k most likely bases (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling: keep the smallest set of bases holding this probability mass (1 = off)."),
    seed: int = typer.Option(0, min=0, help="Random seed; each sample has its own stream, so results do not depend on --batch-size."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="FASTA output (default: stdout). Provenance goes to OUT.json next to it."),
    sidecar: Optional[Path] = typer.Option(None, "--provenance", help="Write the provenance JSON here (default: OUT.json with -o; none with stdout)."),
    boundaries: Optional[Path] = typer.Option(None, "--boundaries", help="Also write the learned chunks of each generated sequence as BED6 (stages s1 and s2; 0-based, coordinates of the generated sequence)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint (.safetensors); default: the embedded model."),
    device: Device = typer.Option(Device.auto, envvar="DNAHNET_DEVICE", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Samples generated together."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same inputs and options (needs -o): finished samples are kept, not generated again; the result is the same file an uninterrupted run writes."),
) -> None:
    """Generate DNA: continue each prompt (or start from scratch) one nucleotide at a time.

    Only A/C/G/T are sampled. Each prompt is run once and its state shared by all its samples; every
    step advances the outer stage, and the inner network only when a chunk starts (incremental
    inference). FASTA output holds the generated bases only: '>PROMPT_sampleJ' with the prompt
    length, the sample's log-likelihood and the seed in the description.

    Example: dnahnet generate prompts.fa --length 2000 --num-samples 4 -o samples.fa
    """
    import numpy as np
    import torch
    from tqdm import tqdm

    from dnahnet_core.data.fasta import read_fasta
    from dnahnet_core.generate import GenerationConfig, Prompt, generate
    from dnahnet_core.scoring.engine import resolve_device
    from dnahnet_core.scoring.model_io import open_model

    from .writers.boundaries import format_bed
    from .common import sidecar_path, write_json_atomic
    from .common import check_output_path, command_line
    from .resumable import CompanionOutput, ResumableOutput, file_identity, keep_committed_on_interrupt

    cfg = GenerationConfig(length=length, num_samples=num_samples, temperature=temperature, top_k=top_k, top_p=top_p,
                           seed=seed, batch_size=batch_size).validate()
    for path in (output, sidecar, boundaries):
        check_output_path(path)
    items = [Prompt(r.name, r.ids) for r in read_fasta(prompts)] if prompts is not None else [Prompt("bos", np.zeros(0, dtype=np.uint8))]
    dev = resolve_device(Device(device).value)
    threads = torch.get_num_threads()
    if dev.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # A decoding step is hundreds of tiny operations: extra threads only add synchronisation.
        torch.set_num_threads(1)
    loaded = open_model(model, device=str(dev))
    provenance = {"command": command_line(), **loaded.provenance(), "prompts": str(prompts) if prompts else "none (BOS)",
                  **{k: v for k, v in cfg.to_dict().items() if k != "batch_size"}}
    key = {"command": "generate", "prompts": file_identity(prompts), "model": loaded.sha256, **cfg.to_dict(), "batch_size": None,
           "boundaries": str(boundaries) if boundaries else None}
    out = ResumableOutput(output, key, resume)
    bed = CompanionOutput(boundaries, out, "bed_bytes") if boundaries is not None else None
    prompt_length = {p.name: len(p.ids) for p in items}
    total = len(items) * num_samples * length
    bar = tqdm(total=total, initial=out.done * length, unit="nt", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        with keep_committed_on_interrupt(out, bed):
            for n, g in enumerate(generate(loaded.model, items, cfg, dev, progress=bar.update, skip=out.done), start=out.done + 1):
                name = f"{g.prompt}_sample{g.sample + 1}"
                out.write(f">{name} prompt={g.prompt} prompt_length={prompt_length[g.prompt]} length={len(g.ids)} "
                          f"log_likelihood={g.log_prob:.4f} seed={seed} model={loaded.name}\n")
                seq = g.sequence
                out.write("".join(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80)))
                if bed is not None and loaded.model.config.n_stages > 0:
                    rb = generated_boundaries(g)
                    bed.write(format_bed(rb.name, rb.table([1, 2] if rb.n_stages > 1 else [1])))
                # Commit after the last sample of a batch: a resumed run then steps the same rows together.
                if (g.sample + 1) % batch_size == 0 or g.sample + 1 == num_samples:
                    out.commit(n, bed.extra() if bed is not None else None)
            if bed is not None:
                bed.finish()
            out.finish()
    finally:
        bar.close()
        torch.set_num_threads(threads)
    target = sidecar or (sidecar_path(output) if output is not None else None)
    if target is not None:
        write_json_atomic(target, provenance)
