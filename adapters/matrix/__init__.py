"""Matrix: posts, reactions, replies, threads and commands through matrix-nio (see adapter.py)."""
