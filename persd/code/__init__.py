"""Code as text: extraction from model replies (extract), program <-> prompt + completion
(splice), diffs and similarity (diffing)."""
