"""Run under torchrun by tests/test_train.py: train, then save this rank's weights for comparison."""

import sys
from pathlib import Path

import torch.distributed as dist
from safetensors.torch import save_file

from dnahnet_core.train import TrainConfig, train

out, fasta, val = sys.argv[1], sys.argv[2], sys.argv[3]
import os  # noqa: E402

rank = int(os.environ["RANK"])
cfg = TrainConfig(fasta=[fasta], val_fasta=[val], out=out, preset="tiny", steps=4, batch_size=2, seq_len=256,
                  warmup_steps=1, eval_every=4, log_every=2, save_every=4, lr=3e-3, device="cpu", resume=False)
result = train(cfg)
assert not dist.is_initialized()
state = {k: v.detach().contiguous() for k, v in result.model.state_dict().items()}
save_file(state, str(Path(out) / f"rank{rank}.safetensors"), metadata={"tokens_seen": str(result.tokens_seen)})
