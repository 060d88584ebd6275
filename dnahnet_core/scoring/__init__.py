"""Zero-shot scoring routines (design §2): one module per recipe, on a shared likelihood engine."""
