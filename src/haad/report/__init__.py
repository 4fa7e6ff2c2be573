"""Self-contained HTML reports (inline SVG plots, canvas animations, no network access).

* :func:`write_evaluation_report` — an evaluate or benchmark run directory: AUC table, ROC curves,
  score histograms, a t-SNE map of the embeddings, the threshold's rates, options and provenance.
* :func:`write_detection_report` — a detector's scores of clips or long recordings: each clip's score
  against the threshold and the support set, its p-value, an animated skeleton beside its nearest
  support clip (joints coloured by their share of the explanation), and score timelines for streams.
"""

from haad.report.detection import detection_report, write_detection_report
from haad.report.evaluation import evaluation_report, write_evaluation_report

__all__ = ["detection_report", "evaluation_report", "write_detection_report", "write_evaluation_report"]
