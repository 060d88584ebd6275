"""Training checkpoints: ``OUT/step-NNNNNNN/`` folders written atomically, pruned, found on resume.

A folder holds the model (safetensors), the optimizer state, and ``trainer.json`` (step, scheduler,
RNG states, data position, resolved configs). It is written under a temporary name and renamed
into place, so a folder named ``step-*`` is always complete; an interrupted write leaves only a
temporary folder, which the next save removes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..checkpoint import save_model
from ..errors import CheckpointError
from ..model.dnahnet import DnaHNet

_STEP_DIR = re.compile(r"^step-(\d{7,})$")


def step_dir(out: Path, step: int) -> Path:
    return out / f"step-{step:07d}"


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``out``, oldest first."""
    if not out.is_dir():
        return []
    found = []
    for p in out.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and p.is_dir() and (p / "trainer.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out: Path) -> Path | None:
    found = list_checkpoints(out)
    return found[-1][1] if found else None


def _rng_state() -> dict[str, Any]:
    state = {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}
    if torch.cuda.is_available():
        state["cuda"] = [base64.b64encode(s.numpy().tobytes()).decode() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    as_tensor = lambda s: torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)  # noqa: E731
    torch.set_rng_state(as_tensor(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([as_tensor(s) for s in state["cuda"]])


def save_checkpoint(
    out: Path,
    step: int,
    model: DnaHNet,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: dict[str, Any],
    keep_last: int,
) -> Path:
    """Write ``OUT/step-NNNNNNN`` atomically and keep only the newest ``keep_last`` checkpoints."""
    final = step_dir(out, step)
    tmp = out / f".tmp-{final.name}-{os.getpid()}"
    for stale in out.glob(".tmp-step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tmp / "model.safetensors", metadata={"train_step": str(step)})
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    state = {**trainer_state, "step": step, "scheduler": scheduler.state_dict(), "rng": _rng_state()}
    (tmp / "trainer.json").write_text(json.dumps(state, indent=2, default=str))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for _, old in list_checkpoints(out)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


@dataclass
class Restored:
    step: int
    trainer_state: dict[str, Any]


def load_checkpoint(path: Path, model: DnaHNet, optimizer: torch.optim.Optimizer, scheduler: Any) -> Restored:
    """Restore model, optimizer, scheduler and RNG from a checkpoint folder (in place)."""
    try:
        state = json.loads((path / "trainer.json").read_text())
        model.load_state_dict(load_file(str(path / "model.safetensors"), device="cpu"))
        # weights_only: the optimizer file holds tensors and numbers only; nothing is unpickled.
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"])
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: cannot resume from this checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    return Restored(step=int(state["step"]), trainer_state=state)
