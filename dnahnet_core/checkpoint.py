"""Model checkpoints: one safetensors file, config and vocabulary in its metadata.

safetensors holds tensors only and never unpickles, so loading an untrusted file cannot run code.
``load_model`` rebuilds the model from that one file and refuses anything else with one line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .atomic import atomic_path
from .config import ModelConfig
from .errors import CheckpointError, DnaHNetError
from .model.dnahnet import DnaHNet
from .version import __version__
from .vocab import TOKENS

FORMAT = "dnahnet"
FORMAT_VERSION = "1"


def save_model(model: DnaHNet, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write the model's weights and config to ``path`` atomically (temporary name, then rename)."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_json(),
        "vocab": json.dumps(list(TOKENS)),
        "dnahnet_version": __version__,
        **(metadata or {}),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The checkpoint's metadata, validated; CheckpointError for anything that is not ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unreadable'})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dnahnet checkpoint (no 'format: {FORMAT}' in its metadata)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('format_version')!r}, this dnahnet reads {FORMAT_VERSION!r}")
    try:
        vocab = json.loads(meta.get("vocab", "null"))
    except json.JSONDecodeError:
        vocab = None
    if vocab != list(TOKENS):
        raise CheckpointError(f"{path}: checkpoint vocabulary {meta.get('vocab')} differs from {list(TOKENS)}")
    return meta


def load_model(path: str | Path, device: str | torch.device = "cpu", backend: str = "auto") -> DnaHNet:
    """Rebuild a DnaHNet from a checkpoint file alone, in eval mode."""
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_json(meta["config"])
    except (KeyError, TypeError, DnaHNetError) as err:
        raise CheckpointError(f"{path}: bad model config in checkpoint ({err})") from None
    model = DnaHNet(config, backend=backend)
    tensors = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except Exception as err:
        raise CheckpointError(f"{path}: truncated or corrupt tensor data ({type(err).__name__})") from None
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError:  # a tensor whose shape does not fit the config
        raise CheckpointError(f"{path}: tensor shapes do not match the model config in the checkpoint") from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: tensors do not match the config (missing {len(result.missing_keys)}, unexpected {len(result.unexpected_keys)})"
        )
    return model.to(device).eval()


def file_checksum(path: str | Path) -> str:
    """sha256 of a file, for provenance lines."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
