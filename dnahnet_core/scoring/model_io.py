"""Which model a scoring command uses (``--model`` or the embedded default) and its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..checkpoint import file_checksum, load_model, read_metadata
from ..errors import CheckpointError
from ..model.dnahnet import DnaHNet
from ..version import __version__

EMBEDDED_NAME = "dnahnet-small-prok"


def embedded_model_path() -> Path | None:
    """The checkpoint shipped inside the package, if this install has one."""
    path = resources.files("dnahnet_core") / "models" / f"{EMBEDDED_NAME}.safetensors"
    return Path(str(path)) if path.is_file() else None


@dataclass
class LoadedModel:
    model: DnaHNet
    name: str
    path: Path
    sha256: str
    metadata: dict[str, str]

    def provenance(self) -> dict[str, str]:
        return {"dnahnet_version": __version__, "model": self.name, "model_path": str(self.path), "model_sha256": self.sha256}


def open_model(path: str | Path | None, device: str = "cpu") -> LoadedModel:
    """Load ``path`` or, when None, the embedded default model."""
    if path is None:
        path = embedded_model_path()
        if path is None:
            raise CheckpointError("this dnahnet install has no embedded model yet; pass --model CHECKPOINT.safetensors (e.g. OUT/final.safetensors from dnahnet train)")
        name = EMBEDDED_NAME
    else:
        path = Path(path)
        name = path.stem if path.name != "final.safetensors" else f"{path.parent.name}/{path.stem}"
    meta = read_metadata(path)
    return LoadedModel(model=load_model(path, device=device), name=name, path=Path(path), sha256=file_checksum(path), metadata=meta)
