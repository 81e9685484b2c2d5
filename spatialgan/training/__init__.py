"""Training engine: losses, regularizers, EMA, checkpoints, the loop and its model hooks."""
