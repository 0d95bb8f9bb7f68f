"""Off-policy agents that learn from a replay buffer with their own small loop (AWR)."""
