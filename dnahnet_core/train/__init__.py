"""Training: configuration, optimizer and schedule, distributed setup, checkpoints, the loop."""

from .config import TrainConfig
from .loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
