"""Data: where datasets come from (local path, $SEQIT_DATA_DIR, hub), their loaders, the task suite."""
