"""The ``dnahnet`` Typer application."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dnahnet_core.version import __version__

from .errors import friendly_errors

app = typer.Typer(
    name="dnahnet",
    help=(
        "dnahnet: a tokenizer-free hierarchical DNA language model (dnaHNet) for prokaryotic genomes.\n\n"
        "Coordinates: BED output is 0-based half-open; VCF and GFF3 input are 1-based."
    ),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dnahnet {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """dnahnet: a tokenizer-free hierarchical DNA language model (dnaHNet)."""


@app.command()
@friendly_errors
def info(
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Describe a named preset (tiny, small, dnahnet-20m, ...)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Describe a checkpoint (.safetensors) and its model card. Default: the embedded model."),
    eval_fasta: Optional[list[Path]] = typer.Option(None, "--eval", help="FASTA file(s) to run the hierarchy diagnostics on: bits per base, the gap of each chunking stage (its output replaced by its mean or another window's), the inner network's varying share. Repeat for several."),
    eval_windows: int = typer.Option(16, "--eval-windows", min=2, help="Windows of 8,192 nt for --eval, spread evenly over the FASTA."),
    annotation: Optional[Path] = typer.Option(None, "--annotation", "-a", help="With --eval: GFF3/GenBank genes of the first --eval FASTA: stage-1 codon phasing per strand against a frame-free control."),
    codon_bp: int = typer.Option(300_000, "--codon-bp", min=1, help="With --annotation: bases of the first record to route (both strands)."),
) -> None:
    """Show the version, the compute backends, and a model's layout, parameters per stage and model card.

    With no option it describes the embedded default model that every scoring command uses: its
    training genomes, compute, validation bits per base against a Markov baseline, and selection rates.

    With --eval, it also tells whether the hierarchy carries the prediction (design §1.5a).

    Example: dnahnet info --preset small
    """
    from .info import render_diagnostics, render_info

    render_info(preset=preset, model=model)
    if eval_fasta:
        render_diagnostics(model, eval_fasta, eval_windows, annotation, codon_bp)


from .train_cmd import train_command  # noqa: E402

from .score_cmd import score_command  # noqa: E402

app.command("train")(train_command)
app.command("score")(score_command)
# -- scoring commands (one import + one registration each) --
from .essentiality_cmd import essentiality_command  # noqa: E402
app.command("essentiality")(essentiality_command)
from .vcf_cmd import score_vcf_command  # noqa: E402
app.command("score-vcf")(score_vcf_command)
from .boundaries_cmd import boundaries_command  # noqa: E402
app.command("boundaries")(boundaries_command)
from .generate_cmd import generate_command  # noqa: E402
app.command("generate")(generate_command)
from .embed_cmd import embed_command  # noqa: E402
app.command("embed")(embed_command)
from .fitness_cmd import fitness_command  # noqa: E402
app.command("fitness")(fitness_command)
from .plot_cmd import plot_command  # noqa: E402
app.command("plot")(plot_command)


if __name__ == "__main__":  # pragma: no cover
    app()
