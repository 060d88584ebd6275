"""VCF streaming at scale: peak memory against record count, and records/s of the I/O path.

For each size N a VCF of N records is written (bgzipped). Two measurements, each in a fresh child
process so that its peak RSS is its own:

* ``io``: the I/O path alone -- read with ``VcfReader``, add the two INFO fields to each line, write
  a plain-text partial file and bgzip + index it at the end (what ``score-vcf -o x.vcf.gz`` does
  around the model);
* ``command``: the whole ``dnahnet score-vcf -o x.vcf.gz`` command on the same file, with every
  record on a contig the reference does not hold (status unknown_contig), so no model pass runs and
  what is measured is the command's streaming machinery (reader, ordered chunks, pending lines,
  resumable output, compression, index).

Memory is flat when peak RSS does not grow with N.

    python benchmarks/bench_vcf_stream.py --sizes 10000 100000 1000000 --json benchmarks/results_vcf_stream.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).parent.parent


def make_vcf(path: Path, n: int) -> None:
    import numpy as np
    import pysam

    rng = np.random.default_rng(0)
    pos = np.sort(rng.integers(1, 5_000_000, size=n))
    ref = rng.integers(0, 4, size=n)
    alt = (ref + rng.integers(1, 4, size=n)) % 4
    out = pysam.BGZFile(str(path), "wb")
    out.write(b"##fileformat=VCFv4.2\n##contig=<ID=chrZ,length=5000000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    block = []
    for i in range(n):
        block.append(f"chrZ\t{pos[i]}\tv{i}\t{'ACGT'[ref[i]]}\t{'ACGT'[alt[i]]}\t.\tPASS\tDP={i % 97}\n")
        if len(block) == 10000:
            out.write("".join(block).encode())
            block = []
    out.write("".join(block).encode())
    out.close()


def io_path(vcf: str, out: str) -> dict:
    from dnahnet_core.data.vcf import VcfReader, add_info, bgzip_file, index_vcf

    t0 = time.perf_counter()
    reader = VcfReader(vcf)
    partial = Path(out + ".partial")
    n = 0
    with open(partial, "w") as f:
        f.write(reader.raw_header)
        for variant, line in reader.records():
            f.write(add_info(line, {"DNAHNET_LLR": ".", "DNAHNET_STATUS": "unknown_contig"}) + "\n")
            n += 1
    reader.close()
    bgzip_file(partial, Path(out))
    partial.unlink()
    index_vcf(Path(out))
    seconds = time.perf_counter() - t0
    return {"records": n, "seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(vcf: str, out: str, queue) -> None:
    queue.put(io_path(vcf, out))


def measure_io(vcf: Path, out: Path) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is this path's alone
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(vcf), str(out), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def measure_command(vcf: Path, out: Path, reference: Path) -> dict:
    cmd = [sys.executable, "-c",
           "import resource, sys, time; from dnahnet_cli.main import app; t=time.perf_counter()\n"
           "try:\n    app(standalone_mode=False)\nfinally:\n"
           "    sys.stderr.write(f'\\nBENCH {time.perf_counter()-t} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')",
           "score-vcf", str(vcf), "--reference", str(reference), "-o", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = [x for x in proc.stderr.splitlines() if x.startswith("BENCH ")][-1].split()
    summary = [x for x in proc.stderr.splitlines() if x.startswith("dnahnet score-vcf:")]
    return {"seconds": float(line[1]), "peak_rss_mib": int(line[2]) / 1024, "summary": summary[-1] if summary else proc.stderr[-500:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--reference", type=Path, default=REPO / "tests" / "data" / "phiX174.fa")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.sizes:
            vcf = tmp / f"n{n}.vcf.gz"
            make_vcf(vcf, n)
            io = measure_io(vcf, tmp / f"io{n}.vcf.gz")
            cmd = measure_command(vcf, tmp / f"cmd{n}.vcf.gz", args.reference)
            row = {"records": n, "io_seconds": io["seconds"], "io_records_per_s": n / io["seconds"], "io_peak_rss_mib": io["peak_rss_mib"],
                   "command_seconds": cmd["seconds"], "command_records_per_s": n / cmd["seconds"],
                   "command_peak_rss_mib": cmd["peak_rss_mib"], "command_summary": cmd["summary"]}
            rows.append(row)
            print(f"{n:>9,} records | I/O path {row['io_records_per_s']:,.0f} rec/s, peak {io['peak_rss_mib']:.0f} MiB | "
                  f"command {row['command_records_per_s']:,.0f} rec/s, peak {cmd['peak_rss_mib']:.0f} MiB", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
