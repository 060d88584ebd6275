"""dnahnet core: the dnaHNet model, its trainer and scoring routines."""

from .checkpoint import load_model, save_model
from .config import ModelConfig
from .model.dnahnet import DnaHNet, ModelOutput
from .version import __version__
from .vocab import encode

__all__ = ["DnaHNet", "ModelConfig", "ModelOutput", "encode", "load_model", "save_model", "__version__"]
