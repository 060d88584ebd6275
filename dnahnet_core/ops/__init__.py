"""Numerical kernels: the pure-PyTorch references (also the CPU path) of the fused GPU kernels."""
