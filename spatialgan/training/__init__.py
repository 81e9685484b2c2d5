"""The training engine: one loop for every model (phases, EMA, snapshots), distributed training, transfer."""
