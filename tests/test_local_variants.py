"""The local variant protocol (score-vcf --protocol local): forking the cached reference state gives
the LLR a plain forward pass over the same left context + allele + downstream bases gives, for any
mix of variants in a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dnahnet_cli.main import app
from dnahnet_core.scoring.engine import LikelihoodEngine
from dnahnet_core.scoring.local_variants import LocalVariantScorer
from dnahnet_core.scoring.model_io import open_model
from dnahnet_core.scoring.variants import ReferenceGenome, Variant, VariantScorer
from dnahnet_core.vocab import reverse_complement_ids, tokenize

DATA = Path(__file__).parent / "data"
CONTIG = "NC_001422.1"
C, D, BLOCK = 300, 20, 256


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    loaded = open_model(DATA / "tiny_lambda.safetensors", device="cpu")
    engine = LikelihoodEngine(loaded.model, "cpu", batch_size=4)
    genome = ReferenceGenome.from_fasta(DATA / "phiX174.fa")
    return engine, genome


def _variants(genome: ReferenceGenome) -> list[Variant]:
    contig = genome.contigs[CONTIG]

    def ref(p: int, n: int = 1) -> str:
        return "".join("ACGT"[i] for i in contig[p : p + n])

    out = []
    # sparse SNVs (contig start and end, block edges), a dense run, an MNV, indels, ALT = REF
    for p in [0, 3, 255, 256, 700, 2047, 5380, 5385, *range(3000, 3040)]:
        out.append(Variant(CONTIG, p + 1, f"snv{p}", ref(p), tuple(b for b in "ACGT" if b != ref(p))))
    out.append(Variant(CONTIG, 1001, "del", ref(1000, 4), (ref(1000),)))
    out.append(Variant(CONTIG, 1201, "ins", ref(1200), (ref(1200) + "GGT",)))
    out.append(Variant(CONTIG, 1401, "mnv", ref(1400, 3), ("ACG" if ref(1400, 3) != "ACG" else "TTT",)))
    out.append(Variant(CONTIG, 1601, "same", ref(1600), (ref(1600),)))
    return out


#: A boundary probability this close to 0.5 is a knife-edge decision: the float rounding of a
#: different computation order (incremental vs full, another CPU's BLAS blocking) may flip it, and
#: a flipped chunk changes the LLR by far more than rounding. Such variants are not compared.
KNIFE_EDGE = 1e-4


def _explicit_llr(engine: LikelihoodEngine, genome: ReferenceGenome, v: Variant, alt: str, strand: str) -> tuple[float, bool]:
    """The protocol's definition, by a plain forward pass over each allele's whole window; and
    whether any boundary decision of those windows is a knife edge."""
    contig = genome.contigs[CONTIG]
    L, p, r = len(contig), v.start, len(v.ref)
    seq, ref, a = contig, tokenize(v.ref), tokenize(alt)
    q = p
    if strand == "reverse":
        seq, ref, a, q = reverse_complement_ids(contig), reverse_complement_ids(ref), reverse_complement_ids(a), L - (p + r)
    start = max(0, (q // BLOCK) * BLOCK - C)
    down = seq[q + r : q + r + D]
    ll, knife = [], False
    for allele in (ref, a):
        window = np.concatenate([seq[start:q], allele, down]).astype(np.uint8)
        fb = engine.forward_batch([window], [0])
        logp = torch.log_softmax(fb.out.logits[0, :-1].float(), dim=-1)
        lp = logp.gather(-1, fb.ids[0, 1:, None]).squeeze(-1).numpy().astype(np.float64)
        ll.append(float(np.sum(lp[q - start :])))
        for routing in fb.out.routing:
            prob = routing.boundary_prob[0][routing.mask[0]]
            knife |= bool((prob - 0.5).abs().min() < KNIFE_EDGE)
    return ll[1] - ll[0], knife


def test_forked_states_give_the_llr_of_a_plain_forward_over_the_same_bases(setup):
    engine, genome = setup
    vs = _variants(genome)
    scorer = LocalVariantScorer(engine, genome, strands="both", left_context=C, downstream=D, block=BLOCK)
    results = scorer.score(vs)
    checked = knife_edges = 0
    for v, res in zip(vs, results):
        for allele in res.alleles:
            assert allele.status == "ok", v.id
            if v.id == "same":
                assert allele.llr == 0.0  # exactly zero, not a rounded float
                continue
            strands = [_explicit_llr(engine, genome, v, allele.alt, s) for s in ("forward", "reverse")]
            if any(knife for _, knife in strands):
                knife_edges += 1
                continue
            assert allele.llr == pytest.approx(np.mean([llr for llr, _ in strands]), abs=1e-4), (v.id, allele.alt)
            checked += 1
    assert checked + knife_edges == 3 * 48 + 3
    assert knife_edges <= 15, f"{knife_edges} knife-edge variants: the test no longer checks enough"
    # the reference is run once per block row, not per variant: far fewer calls than variants
    assert scorer.n_calls < 40


def test_a_variants_llr_does_not_depend_on_the_other_variants_in_the_batch(setup):
    engine, genome = setup
    vs = _variants(genome)
    scorer = LocalVariantScorer(engine, genome, strands="forward", left_context=C, downstream=D, block=BLOCK)
    together = scorer.score(vs)
    for i in (0, 10, 30, len(vs) - 3):
        alone = scorer.score([vs[i]])[0]
        for a, b in zip(together[i].alleles, alone.alleles):
            assert a.llr == pytest.approx(b.llr, abs=1e-5), vs[i].id
    shuffled = scorer.score(vs[::-1])[::-1]
    for x, y in zip(together, shuffled):
        for a, b in zip(x.alleles, y.alleles):
            assert a.llr == pytest.approx(b.llr, abs=1e-5)


def test_normalised_llr_divides_each_allele_by_its_scored_bases(setup):
    engine, genome = setup
    v = [x for x in _variants(genome) if x.id == "ins"]
    plain = LocalVariantScorer(engine, genome, strands="forward", left_context=C, downstream=D, block=BLOCK)
    norm = LocalVariantScorer(engine, genome, strands="forward", left_context=C, downstream=D, block=BLOCK, normalize=True)
    a, b = plain.score(v)[0].alleles[0].llr, norm.score(v)[0].alleles[0].llr
    assert abs(b) < abs(a) and b != 0


def test_cli_protocols_and_provenance(tmp_path, setup):
    engine, genome = setup
    runner = CliRunner()
    base = ["score-vcf", str(DATA / "phiX174_variants.vcf"), "-r", str(DATA / "phiX174.fa"), "-m", str(DATA / "tiny_lambda.safetensors"),
            "--strand", "forward", "--format", "tsv"]
    local = runner.invoke(app, [*base, "-C", str(C), "-D", str(D)])
    centred = runner.invoke(app, [*base, "--protocol", "centred", "--window", "128"])
    assert local.exit_code == 0 and centred.exit_code == 0, local.output + centred.output
    assert f"# protocol: local (left context >= {C} nt in 1,024-nt blocks, allele + {D} downstream nt)" in local.stdout
    assert "# protocol: centred (window 128 nt)" in centred.stdout
    rows = {}
    for name, res in (("local", local), ("centred", centred)):
        rows[name] = {(f[1], f[4]): f[5] for f in (line.split("\t") for line in res.stdout.splitlines() if not line.startswith(("#", "chrom")))}
    assert rows["local"].keys() == rows["centred"].keys()
    # centred is the old protocol, unchanged: the same numbers as VariantScorer itself
    old = VariantScorer(engine, genome, window=128, strands="forward")
    snv = Variant(CONTIG, 5, "snv_start", "T", ("C",))
    assert float(rows["centred"][("5", "C")]) == pytest.approx(old.score([snv])[0].alleles[0].llr, abs=1e-5)
    new = LocalVariantScorer(engine, genome, strands="forward", left_context=C, downstream=D)
    assert float(rows["local"][("5", "C")]) == pytest.approx(new.score([snv])[0].alleles[0].llr, abs=1e-5)
