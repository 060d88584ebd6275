"""safetensors checkpoints: exact round trip; anything else refused with one line."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from dnahnet_core import DnaHNet, ModelConfig, load_model, save_model
from dnahnet_core.checkpoint import read_metadata
from dnahnet_core.errors import CheckpointError


def test_round_trip_gives_identical_logits(tmp_path, tiny_model, phix_ids):
    with torch.no_grad():
        tiny_model.backbone.residual_proj.weight.normal_()  # non-trivial weights
        ref = tiny_model(phix_ids).logits
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert loaded.config == tiny_model.config
    with torch.no_grad():
        assert torch.equal(loaded(phix_ids).logits, ref)
    meta = read_metadata(path)
    assert meta["format"] == "dnahnet" and json.loads(meta["config"])["d_model"] == [32, 48, 64]
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temporary file


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path / "nope.safetensors")
    assert "no such checkpoint file" in _one_line(err)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 10, b"{\"not\": \"safetensors\"}"])
def test_not_a_safetensors_file(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert "not a safetensors checkpoint" in _one_line(err)


def test_foreign_safetensors_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert "not a dnahnet checkpoint" in _one_line(err)


def test_truncated_checkpoint_refused(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_model(path)


def test_config_and_tensors_must_agree(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    other = DnaHNet(ModelConfig.preset("tiny"))
    tensors = {k: v for k, v in other.state_dict().items() if not k.startswith("lm_head")}
    meta = read_metadata(path)
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match="tensors do not match the config"):
        load_model(path)


def test_atomic_path_replaces_whole_or_leaves_the_old_file(tmp_path):
    from dnahnet_core.atomic import atomic_path

    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block ends
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
