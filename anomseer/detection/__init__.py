"""Detect anomalies in whole series with any evaluation backend: cut each series into
overlapping windows, ask the backend about each window, combine the answers into one score per
point and score it as TSB-AD does (``anomseer.series_metrics``). ``detect(inputs, backend,
out)`` runs it (resumable, like ``anomseer.evaluation.evaluate``)."""

from anomseer.detection.run import detect

__all__ = ["detect"]
