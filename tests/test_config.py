"""Config grammar, presets and validation messages."""

from __future__ import annotations

import pytest
import torch

from dnahnet_core import DnaHNet, ModelConfig
from dnahnet_core.config import layout_stacks, parse_stack
from dnahnet_core.errors import ConfigError
from dnahnet_core.presets import PRESETS
from dnahnet_core.summary import summarize


def test_parse_stack_grammar():
    assert parse_stack("T1m4") == ["T", "m", "m", "m", "m"]
    assert parse_stack("M2t1") == ["M", "M", "t"]
    for bad in ("", "x3", "m", "m0", "4m", "m2 T1"):
        with pytest.raises(ValueError):
            parse_stack(bad)


def test_layout_stacks_two_stage_template():
    stacks = layout_stacks(["m4", ["T1m4", ["T8"], "m4T1"], "m4"])
    assert stacks == [["m4", "m4"], ["T1m4", "m4T1"], ["T8"]]


def test_validation_reports_every_problem_at_once():
    cfg = ModelConfig(
        layout=["m1", ["T1", ["T2"], "T1"], "m1"],
        d_model=[40, 30, 64],  # 40*2 % 16 ok; stage 1 narrower than stage 0; 30 % 4 heads
        d_intermediate=[0, 0, 0],  # T layers need an MLP width at stages 1 and 2
        num_heads=[2, 4, 4],
        attn_window=[0, 0, 0],
        ratio_targets=[3.0, 1.0],  # 1.0 is not > 1
    )
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    problems = err.value.problems
    text = str(err.value)
    assert "ratio_targets[1]" in text
    # The ratio problem is reported together with the structural ones: several problems listed.
    cfg.ratio_targets = [3.0, 2.0]
    problems = cfg.problems()
    assert any("d_model[1] = 30: an inner stage may not be narrower" in p for p in problems)
    assert any("num_heads[1] = 4: must divide d_model[1] = 30" in p for p in problems)
    assert any("d_intermediate[1]" in p for p in problems) and any("d_intermediate[2]" in p for p in problems)
    assert len(problems) >= 4


def test_validation_list_lengths_and_layout_errors():
    problems = ModelConfig(d_model=[32, 48], num_heads=[1], ratio_targets=[3.0]).problems()
    assert any(p.startswith("d_model: needs one entry per stage (3)") for p in problems)
    assert any(p.startswith("num_heads: needs one entry per stage (3)") for p in problems)
    assert any(p.startswith("ratio_targets: needs one entry per chunking stage (2)") for p in problems)
    assert ModelConfig(layout=["m1", ["T2"]]).problems()[0].startswith("layout: a stage must be")
    assert any("bad layer string 'q3'" in p for p in ModelConfig(layout=["q3", ["T2"], "m1"], d_model=[32, 64], d_intermediate=[0, 128], num_heads=[2, 4], attn_window=[0, 0], ratio_targets=[3.0]).problems())


def test_mamba_headdim_divisibility():
    problems = ModelConfig(d_model=[36, 48, 64]).problems()
    assert any("d_model[0] = 36: d_model * ssm_expand must be a multiple of ssm_headdim = 16" in p for p in problems)


def test_json_round_trip_and_unknown_keys():
    cfg = ModelConfig.preset("small")
    again = ModelConfig.from_json(cfg.to_json())
    assert again == cfg
    with pytest.raises(ConfigError, match="unknown key 'widths'"):
        ModelConfig.from_dict({**cfg.to_dict(), "widths": [1]})
    with pytest.raises(ConfigError, match="not valid JSON"):
        ModelConfig.from_json("{nope")


def test_unknown_preset_names_choices():
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*tiny, small"):
        ModelConfig.preset("huge")


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_and_gpu_sizes_follow_the_template(name):
    cfg = ModelConfig.preset(name)
    assert cfg.ratio_targets == [3.0, 2.0] and cfg.n_stages == 2
    with torch.device("meta"):
        summary = summarize(DnaHNet(cfg))
    assert sum(s.total for s in summary.stages) + summary.embedding_and_head == summary.total
    if name.startswith("dnahnet-"):
        target = {"dnahnet-20m": 20e6, "dnahnet-100m": 100e6, "dnahnet-300m": 300e6}[name]
        assert 0.8 * target < summary.total < 1.25 * target
        assert cfg.layout == ["m4", ["T1m4", ["T8"], "m4T1"], "m4"]
        assert 0.6 < summary.innermost_fraction < 0.8  # ~30% outside the innermost network
