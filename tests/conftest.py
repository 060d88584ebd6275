"""Shared fixtures: real NCBI sequences from tests/data and small seeded models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from Bio import SeqIO

from dnahnet_core import DnaHNet, ModelConfig, encode

DATA = Path(__file__).parent / "data"

# Command-line tests compare exact numbers (batch invariance, torchrun vs one process, resumed vs
# uninterrupted training): run them in fp32 on the CPU even where CUDA exists. The GPU tests call
# the core API with explicit CUDA devices and are unaffected.
os.environ["DNAHNET_DEVICE"] = "cpu"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def phix() -> str:
    """Coliphage phiX174, NC_001422.1 (5,386 bp)."""
    return str(SeqIO.read(DATA / "phiX174.fa", "fasta").seq)


@pytest.fixture(scope="session")
def lambda_seq() -> str:
    """Enterobacteria phage lambda, NC_001416.1 (48,502 bp)."""
    return str(SeqIO.read(DATA / "lambda_phage.fa", "fasta").seq)


@pytest.fixture
def tiny_model() -> DnaHNet:
    torch.manual_seed(0)
    return DnaHNet(ModelConfig.preset("tiny"), backend="torch").eval()


@pytest.fixture
def phix_ids(phix: str) -> torch.Tensor:
    return encode(phix[:3000]).unsqueeze(0)  # (1, 3001) with BOS


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small forward passes are faster on one intra-op thread, and it avoids oversubscribing a
    busy 2-core machine (restored afterwards). Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
