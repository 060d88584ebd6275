"""Building blocks: Mamba-2, causal attention, SwiGLU MLP, RMSNorm, pre-norm blocks and stacks."""
