"""Architecture only: routing/chunking, the recursive H-Net stage and the full dnaHNet."""
