"""Tests of the training-data layer (dnahnet_core.data) on real phage genomes in tests/data/."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import pickle
import random
import warnings
from multiprocessing.connection import Connection
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from Bio import bgzf

from dnahnet_core.data import (
    EmptyRecordWarning,
    EvalWindows,
    TokenStore,
    WindowSampler,
    build_cache,
    ensure_cache,
    find_fasta_files,
    is_cache_fresh,
    read_fasta,
    split_files,
)
from dnahnet_core.data import cache as cache_mod
from dnahnet_core.errors import InputError

DATA = Path(__file__).parent / "data"
LAMBDA = DATA / "lambda_phage.fa"
PHIX = DATA / "phiX174.fa"
# Token ids written out here on purpose, independently of dnahnet_core.vocab.
IDS = {"A": 0, "C": 1, "G": 2, "T": 3, "N": 4}
BOS, PAD = 5, 4
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def genome(path: Path) -> str:
    """The sequence of a one-record FASTA, read without the code under test."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith(">")
    return "".join(line.strip() for line in lines[1:]).upper()


def to_ids(seq: str) -> np.ndarray:
    return np.array([IDS[c] for c in seq], dtype=np.uint8)


def to_text(ids: np.ndarray | torch.Tensor) -> str:
    return "".join("ACGTN"[int(i)] for i in ids)


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in records.items():
            fh.write(f">{name} test record\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return path


def one_line_error(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture(scope="module")
def lambda_seq() -> str:
    seq = genome(LAMBDA)
    assert len(seq) == 48_502
    return seq


@pytest.fixture(scope="module")
def phix_seq() -> str:
    seq = genome(PHIX)
    assert len(seq) == 5_386
    return seq


# ---------------------------------------------------------------------------------------- FASTA


def test_read_plain_fasta_matches_independent_parse(lambda_seq: str) -> None:
    (rec,) = list(read_fasta(LAMBDA))
    assert rec.name == "NC_001416.1"
    assert rec.description == "Enterobacteria phage lambda, complete genome"
    assert rec.ids.dtype == np.uint8
    np.testing.assert_array_equal(rec.ids, to_ids(lambda_seq))


@pytest.mark.parametrize("suffix", [".fa.gz", ".fa.bgz", ".fa"])
def test_gzip_and_bgzip_give_identical_tokens(tmp_path: Path, suffix: str) -> None:
    plain = next(read_fasta(LAMBDA)).ids
    raw = LAMBDA.read_bytes()
    gz = tmp_path / f"gz{suffix}"  # ".fa": gzip data under a plain name, detected by magic bytes
    gz.write_bytes(gzip.compress(raw))
    bgz = tmp_path / f"bgz{suffix}"
    with bgzf.BgzfWriter(str(bgz), "wb") as fh:
        fh.write(raw)
    assert bgz.read_bytes()[:2] == b"\x1f\x8b"
    for path in (gz, bgz):
        (rec,) = list(read_fasta(path))
        assert rec.name == "NC_001416.1"
        np.testing.assert_array_equal(rec.ids, plain)


def test_multi_record_crlf_lowercase_and_iupac(tmp_path: Path) -> None:
    path = tmp_path / "mixed.fasta"
    path.write_bytes(b">r1 first one\r\nacgtn\r\nRYKMSWBDHVu\r\n\r\n>r2\r\nAC GT\r\n")
    r1, r2 = list(read_fasta(path))
    assert (r1.name, r1.description, r2.name, r2.description) == ("r1", "first one", "r2", "")
    assert r1.ids.tolist() == [0, 1, 2, 3, 4] + [4] * 10 + [3]
    assert r2.ids.tolist() == [0, 1, 2, 3]


def test_find_fasta_files_recursion_and_filtering(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    wanted = [
        root / "a.fa",
        root / "sub" / "b.fna.gz",
        root / "sub" / "deeper" / "c.fasta.bgz",
        root / "sub" / "D.FAS",
    ]
    ignored = [root / "notes.txt", root / "x.gbk", root / "y.fa.zip", root / ".hidden" / "e.fa"]
    ignored.append(root / "._f.fa")
    for p in wanted + ignored:
        p.write_text(">r\nACGT\n")
    odd = tmp_path / "explicit.seq"
    odd.write_text(">r\nACGT\n")

    found = find_fasta_files([root])
    assert found == sorted(p.resolve() for p in wanted)
    # Explicit files are taken whatever the extension; duplicates collapse; result is sorted.
    both = find_fasta_files([odd, root / "a.fa", str(root), root / "sub" / ".." / "a.fa"])
    assert both == sorted([odd.resolve(), *found])
    assert all(p.is_absolute() for p in both)


def test_find_fasta_files_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        find_fasta_files([tmp_path / "missing"])
    assert "missing" in one_line_error(ei) and "no such file" in str(ei.value)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "readme.txt").write_text("hi")
    with pytest.raises(InputError) as ei:
        find_fasta_files([tmp_path / "empty_dir"])
    assert "no FASTA files found" in one_line_error(ei)


def test_error_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.fa"
    path.write_bytes(b"")
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    assert str(path) in one_line_error(ei) and "empty" in str(ei.value)
    blank = tmp_path / "blank.fa"
    blank.write_text("\n\n  \n")
    with pytest.raises(InputError, match="empty"):
        list(read_fasta(blank))


def test_error_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.fa"
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert data[:2] != b"\x1f\x8b"
    path.write_bytes(data)
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    assert str(path) in one_line_error(ei) and "not a text file" in str(ei.value)
    for content in (b"\x00" * 64, b">r1\nACGT\x00\x00ACGT\n"):
        path.write_bytes(content)
        with pytest.raises(InputError, match="NUL"):
            list(read_fasta(path))


def test_error_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(LAMBDA.read_bytes())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    assert str(path) in one_line_error(ei) and "truncated" in str(ei.value)
    # Bytes flipped inside the deflate stream: zlib error, bad CRC or undecodable text, all InputError.
    corrupt = bytearray(whole)
    for i in range(len(whole) // 2, len(whole) // 2 + 64):
        corrupt[i] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    assert str(path) in one_line_error(ei)


def test_error_invalid_letter_names_file_record_position(tmp_path: Path, lambda_seq: str) -> None:
    bad = lambda_seq[:74] + "X" + lambda_seq[75:200]  # 1-based position 75: second line, column 15
    path = write_fasta(tmp_path / "bad.fa", {"ok": lambda_seq[:100], "r2": bad})
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    msg = one_line_error(ei)
    assert (ei.value.path, ei.value.record, ei.value.position) == (str(path), "r2", 75)
    assert str(path) in msg and "'r2'" in msg and "position 75" in msg and "'X'" in msg


def test_error_not_fasta(tmp_path: Path) -> None:
    path = tmp_path / "reads.fa"
    path.write_text("@read1\nACGT\n+\nIIII\n")  # FASTQ, not FASTA
    with pytest.raises(InputError) as ei:
        list(read_fasta(path))
    assert str(path) in one_line_error(ei) and "not a FASTA file" in str(ei.value)
    with pytest.raises(InputError, match="not a FASTA file"):
        list(read_fasta(PHIX.with_suffix(".gbk")))


def test_duplicate_names_error_and_empty_record_warning(tmp_path: Path) -> None:
    dup = write_fasta(tmp_path / "dup.fa", {"a": "ACGT"})
    dup.write_text(dup.read_text() + ">a again\nGG\n")
    with pytest.raises(InputError) as ei:
        list(read_fasta(dup))
    assert "duplicate" in one_line_error(ei) and ei.value.record == "a"

    holes = tmp_path / "holes.fa"
    holes.write_text(">empty1\n>full\nACGT\n>empty2\n\n")
    with pytest.warns(EmptyRecordWarning) as caught:
        recs = list(read_fasta(holes))
    assert ["'empty1'" in str(w.message) for w in caught] == [True, False]
    assert all(str(holes) in str(w.message) for w in caught)
    assert [r.name for r in recs] == ["full"]
    only_empty = tmp_path / "only_empty.fa"
    only_empty.write_text(">e1\n>e2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRecordWarning)
        with pytest.raises(InputError, match="no sequence"):
            list(read_fasta(only_empty))


# ---------------------------------------------------------------------------------------- cache


def test_cache_round_trip_equals_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = write_fasta(tmp_path / "small.fa", {f"s{i}": "ACGTN"[i] * (i + 1) * 7 for i in range(5)})
    files = [LAMBDA, PHIX, small]
    monkeypatch.setattr(cache_mod, "_FLUSH_BYTES", 1000)  # exercise many buffered appends
    out = build_cache(files, tmp_path / "c" / "tokens.h5")
    assert out.exists() and [p.name for p in out.parent.iterdir()] == ["tokens.h5"]  # no temp left

    mem = TokenStore.from_files(files)
    disk = TokenStore.from_cache(out)
    assert disk.records == mem.records
    assert disk.total_length == mem.total_length == 48_502 + 5_386 + 7 * 15
    assert [(r.name, r.length) for r in disk.records][:2] == [("NC_001416.1", 48_502), ("NC_001422.1", 5_386)]
    assert disk.records[1].source == str(PHIX.resolve()) and disk.records[1].offset == 48_502
    for i, rec in enumerate(disk.records):
        np.testing.assert_array_equal(disk.read(i, 0, rec.length), mem.read(i, 0, rec.length))
    np.testing.assert_array_equal(disk.read(0, 0, 48_502), next(read_fasta(LAMBDA)).ids)
    rng = random.Random(0)
    for _ in range(50):
        i = rng.randrange(len(disk))
        start = rng.randrange(disk.records[i].length)
        n = rng.randrange(disk.records[i].length - start + 1)
        got = disk.read(i, start, n)
        assert got.dtype == np.uint8 and got.shape == (n,)
        np.testing.assert_array_equal(got, mem.read(i, start, n))
    with pytest.raises(IndexError):
        disk.read(1, 5_000, 1_000)
    with h5py.File(out, "r") as h5:
        assert h5["tokens"].chunks is not None and h5["tokens"].maxshape == (None,)
        assert h5.attrs["format_version"] == cache_mod.CACHE_FORMAT_VERSION
    disk.close()


def test_cache_freshness(tmp_path: Path) -> None:
    src = tmp_path / "phix.fa"
    src.write_bytes(PHIX.read_bytes())
    other = tmp_path / "lambda.fa"
    other.write_bytes(LAMBDA.read_bytes())
    out = tmp_path / "cache.h5"
    assert not is_cache_fresh(out, [src])  # missing
    build_cache([src, other], out)
    assert is_cache_fresh(out, [other, src])  # order does not matter
    assert not is_cache_fresh(out, [src])  # file list changed
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert not is_cache_fresh(out, [src, other])  # touched
    ensure_cache([src, other], out)
    assert is_cache_fresh(out, [src, other])
    with open(src, "a") as fh:
        fh.write(">extra\nACGT\n")
    assert not is_cache_fresh(out, [src, other])  # content changed
    ensure_cache([src, other], out)
    assert [r.name for r in TokenStore.from_cache(out).records] == ["NC_001422.1", "extra", "NC_001416.1"]

    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    assert not is_cache_fresh(junk, [src])
    with pytest.raises(InputError) as ei:
        TokenStore.from_cache(junk)
    assert str(junk) in one_line_error(ei)


def _child_read(store: TokenStore, conn: Connection) -> None:
    conn.send(store.read(0, 1000, 500).tobytes())
    conn.close()


def test_cache_store_survives_fork_and_pickle(tmp_path: Path) -> None:
    out = build_cache([LAMBDA], tmp_path / "c.h5")
    store = TokenStore.from_cache(out)
    expected = store.read(0, 1000, 500)  # the parent has an open handle before forking
    if "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")
        parent_conn, child_conn = ctx.Pipe()
        proc = ctx.Process(target=_child_read, args=(store, child_conn))
        proc.start()
        got = parent_conn.recv()
        proc.join(10)
        assert proc.exitcode == 0
        assert got == expected.tobytes()
    np.testing.assert_array_equal(store.read(0, 1000, 500), expected)  # parent handle still fine
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.read(0, 1000, 500), expected)


# -------------------------------------------------------------------------------------- windows


StoreAndSeqs = tuple[TokenStore, dict[str, str]]


@pytest.fixture()
def multi_store(tmp_path: Path, lambda_seq: str) -> StoreAndSeqs:
    """Three real lambda segments: 9,000 bp, 1,000 bp and a 50 bp record shorter than a window."""
    recs = {"long": lambda_seq[:9000], "short": lambda_seq[20000:21000], "tiny": lambda_seq[30000:30050]}
    return TokenStore.from_files([write_fasta(tmp_path / "multi.fa", recs)]), recs


def test_sampler_determinism_steps_and_ranks() -> None:
    store = TokenStore.from_files([LAMBDA, PHIX])
    a = WindowSampler(store, 128, seed=7)
    b = WindowSampler(store, 128, seed=7)
    ref = a.batch(5, 8)
    assert ref.ids.dtype == torch.int64 and ref.ids.shape == (8, 129) and ref.lengths.tolist() == [129] * 8
    assert (ref.ids[:, 0] == BOS).all() and (ref.ids[:, 1:] < 5).all()
    for _ in range(3):
        a.batch(0, 8)  # other steps in between change nothing: no hidden state
    assert torch.equal(a.batch(5, 8).ids, ref.ids) and torch.equal(b.batch(5, 8).ids, ref.ids)
    assert not torch.equal(a.batch(6, 8).ids, ref.ids)
    assert not torch.equal(WindowSampler(store, 128, seed=7, rank=1, world_size=2).batch(5, 8).ids, ref.ids)
    assert not torch.equal(WindowSampler(store, 128, seed=8).batch(5, 8).ids, ref.ids)


def test_sampler_proportional_to_record_length(multi_store: StoreAndSeqs) -> None:
    store, _ = multi_store
    sampler = WindowSampler(store, 100, seed=0)
    records = np.concatenate([sampler.plan(step, 256).record for step in range(100)])
    counts = np.bincount(records, minlength=3)
    assert counts.sum() == 25_600
    assert 8.0 < counts[0] / counts[1] < 10.0  # 9,000 bp vs 1,000 bp
    assert 0.03 < counts[2] / counts[1] < 0.08  # 50 bp vs 1,000 bp


def test_sampler_windows_stay_inside_records_and_match_genome(multi_store: StoreAndSeqs) -> None:
    store, recs = multi_store
    seqs = list(recs.values())
    sampler = WindowSampler(store, 100, seed=3, rc_augment=False)
    starts_long = []
    for step in range(20):
        plan = sampler.plan(step, 32)
        batch = sampler.batch(step, 32)
        assert not plan.reverse.any()
        for i in range(32):
            rec, start, n = int(plan.record[i]), int(plan.start[i]), int(plan.length[i])
            assert 0 <= start and start + n <= len(seqs[rec])
            assert int(batch.lengths[i]) == n + 1
            assert to_text(batch.ids[i, 1 : n + 1]) == seqs[rec][start : start + n]
            if rec == 0:
                starts_long.append(start)
    # Starts cover the long record's valid range (0..8900) without piling up at its end.
    assert min(starts_long) < 1000 and max(starts_long) > 7900
    assert sum(s == 8900 for s in starts_long) <= 3


def test_sampler_short_record_is_padded(multi_store: StoreAndSeqs) -> None:
    store, recs = multi_store
    sampler = WindowSampler(store, 100, seed=1, rc_augment=False)
    seen = 0
    for step in range(200):
        plan = sampler.plan(step, 16)
        rows = np.flatnonzero(plan.record == 2)
        if rows.size == 0:
            continue
        batch = sampler.batch(step, 16)
        for i in rows:
            assert plan.start[i] == 0 and plan.length[i] == 50
            assert int(batch.lengths[i]) == 51
            assert to_text(batch.ids[i, 1:51]) == recs["tiny"]
            assert (batch.ids[i, 51:] == PAD).all() and batch.ids.shape[1] == 101
            seen += 1
    assert seen > 0


def test_rc_augmentation_gives_reverse_complements(lambda_seq: str) -> None:
    store = TokenStore.from_files([LAMBDA])
    sampler = WindowSampler(store, 200, seed=11, rc_augment=True)
    plain = WindowSampler(store, 200, seed=11, rc_augment=False)
    plan, batch = sampler.plan(0, 64), sampler.batch(0, 64)
    assert 10 < plan.reverse.sum() < 54
    np.testing.assert_array_equal(plan.start, plain.plan(0, 64).start)  # same windows, strand differs
    for i in range(64):
        s = int(plan.start[i])
        forward = lambda_seq[s : s + 200]
        row = to_text(batch.ids[i, 1:])
        assert row == (revcomp(forward) if plan.reverse[i] else forward)
        if plan.reverse[i]:
            assert row in revcomp(lambda_seq) and row not in lambda_seq


def test_eval_windows_tile_without_overlap(multi_store: StoreAndSeqs) -> None:
    store, recs = multi_store
    ev = EvalWindows(store, 400, batch_size=4)
    assert ev.num_windows == 23 + 3 + 1 and len(ev) == 7 and ev.num_tokens == 10_050
    rebuilt = {i: "" for i in range(3)}
    rows = 0
    for batch in ev:
        for ids, n in zip(batch.ids, batch.lengths):
            rec = int(ev.plan.record[rows])
            assert int(ev.plan.start[rows]) == len(rebuilt[rec])  # consecutive, no gap or overlap
            rebuilt[rec] += to_text(ids[1:n])
            assert ids[0] == BOS and (ids[n:] == PAD).all()
            rows += 1
    assert list(rebuilt.values()) == list(recs.values())
    again = [b.ids for b in EvalWindows(store, 400, batch_size=4)]
    assert all(torch.equal(x, y.ids) for x, y in zip(again, ev))

    capped = EvalWindows(store, 400, batch_size=8, max_windows=9)
    assert capped.num_windows == 9
    assert np.all(np.diff(capped.plan.record * 100_000 + capped.plan.start) > 0)  # sorted, distinct
    assert capped.plan.record[0] == 0 and capped.plan.record[-1] >= 1  # spans the corpus
    halves = [EvalWindows(store, 400, batch_size=8, rank=r, world_size=2).plan for r in (0, 1)]
    assert halves[0].record.size + halves[1].record.size == ev.num_windows


def test_split_files_deterministic_by_whole_file(tmp_path: Path) -> None:
    files = [tmp_path / f"genome_{i:02d}.fa" for i in range(10)]
    split = split_files(files, 0.2, seed=1)
    train, val = split
    assert len(val) == 2 and len(train) == 8 and set(train) | set(val) == set(files)
    assert not set(train) & set(val)
    shuffled = files[::-1]
    random.Random(5).shuffle(shuffled)
    assert split_files(shuffled, 0.2, seed=1) == split
    assert len({tuple(split_files(files, 0.2, seed=s).val) for s in range(10)}) > 1
    assert len(split_files(files[:2], 0.01, seed=0).val) == 1  # at least one val file
    assert len(split_files(files[:2], 0.9, seed=0).train) == 1  # at least one train file
    assert split_files(files[:1], 0.5, seed=0).val == []
    assert split_files(files, 0.0, seed=0).val == []
    with pytest.raises(ValueError):
        split_files(files, 1.0, seed=0)


def test_species_power_balances_windows_across_species(tmp_path, lambda_seq):
    from dnahnet_core.data.windows import species_key

    # Two strains of one species (48.5 kb each) and one small genome of another (6 kb).
    files = []
    for name, seq in (("Escherichia_phage_A.fa", lambda_seq), ("Escherichia_phage_B.fa", lambda_seq[::-1]),
                      ("Other_thing_C.fa", lambda_seq[:6000])):
        (tmp_path / name).write_text(f">{name[:-3]}\n{seq}\n")
        files.append(tmp_path / name)
    assert species_key(files[0]) == species_key(files[1]) == "escherichia_phage" != species_key(files[2])
    store = TokenStore.from_files(files)

    def share_of_small(power: float) -> float:
        sampler = WindowSampler(store, 512, seed=3, species_power=power)
        records = np.concatenate([sampler.plan(step, 64).record for step in range(60)])
        return float(np.mean(records == 2))

    assert share_of_small(1.0) == pytest.approx(6000 / (2 * 48502 + 6000), abs=0.02)  # length-proportional
    assert share_of_small(0.0) == pytest.approx(0.5, abs=0.03)  # every species alike
    w = np.array([2 * 48502, 6000]) ** 0.5
    assert share_of_small(0.5) == pytest.approx(w[1] / w.sum(), abs=0.03)
    # power 1 is the plain draw: the same batches as a sampler built without the option.
    assert torch.equal(WindowSampler(store, 512, seed=3, species_power=1.0).batch(4, 8).ids,
                       WindowSampler(store, 512, seed=3).batch(4, 8).ids)
    plan = WindowSampler(store, 512, seed=3, species_power=0.0).plan(0, 256)
    assert (plan.start >= 0).all() and (plan.start + plan.length <= store.lengths[plan.record]).all()


def test_a_fasta_from_a_pipe_is_read_not_refused_as_empty(tmp_path):
    import os
    import threading

    fifo = tmp_path / "genome.fifo"
    os.mkfifo(fifo)
    text = (DATA / "phiX174.fa").read_text()
    writer = threading.Thread(target=lambda: fifo.write_text(text))
    writer.start()
    records = list(read_fasta(fifo))
    writer.join()
    assert [r.name for r in records] == ["NC_001422.1"] and len(records[0].ids) == 5386


@pytest.mark.parametrize("compress", ["plain", "bgzip"])
def test_an_indexed_reference_decodes_the_contigs_read_fasta_reads(tmp_path, compress, monkeypatch):
    import pysam

    from dnahnet_core.data import reference

    src = tmp_path / "two.fa"
    src.write_text((DATA / "phiX174.fa").read_text() + (DATA / "lambda_phage.fa").read_text())
    if compress == "bgzip":
        pysam.tabix_compress(str(src), str(src) + ".gz")
        src = Path(str(src) + ".gz")
    monkeypatch.setattr(reference, "INDEX_ABOVE", 0)  # index even this small file
    contigs, lengths = reference.open_reference(src)
    assert isinstance(contigs, reference.IndexedContigs) and Path(f"{src}.fai").is_file()
    expected = {r.name: r.ids for r in read_fasta(src)}
    assert lengths == {k: len(v) for k, v in expected.items()} and list(contigs) == list(expected)
    for name in list(expected)[::-1] + list(expected):  # cache evictions and re-reads
        assert np.array_equal(contigs[name], expected[name])
    assert "chrZ" not in contigs


def test_a_plain_gzip_reference_is_read_whole(tmp_path, monkeypatch):
    from dnahnet_core.data import reference

    src = tmp_path / "phix.fa.gz"
    src.write_bytes(gzip.compress((DATA / "phiX174.fa").read_bytes()))
    monkeypatch.setattr(reference, "INDEX_ABOVE", 0)
    contigs, lengths = reference.open_reference(src)
    assert isinstance(contigs, dict) and lengths == {"NC_001422.1": 5386}
