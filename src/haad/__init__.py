"""haad: few-shot skeleton-based human action anomaly detection.

The data's path: clip files -> :class:`haad.data.Collection` -> protocol split -> 60-frame windows ->
DCT -> Res-GCN encoder -> embeddings -> support set -> anomaly scores -> AUC tables.
"""

__version__ = "0.1.0"
