"""Sequential instructions: manual SIT transforms (§2.2, §4.1), Seq-Instruct (§2.2), ablation sets (§5.1)."""
