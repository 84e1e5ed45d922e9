"""Video portrait matting: segmentation, trimaps, matting, temporal stabilisation, outputs and metrics.

``ldmatte video`` runs :func:`matte_video`; the pieces are usable alone:

- :mod:`~ldmatte.video.reader`: frames as RGB uint8 through PyAV or OpenCV, size, frame rate, audio presence;
- :mod:`~ldmatte.video.segmentation`: the :class:`Segmenter` protocol, per-frame masks from a folder, a SAM 2
  adapter;
- :mod:`~ldmatte.video.carried`: a first-frame mask carried as a binary segmentation, flow then colour
  (:class:`CarriedSegmenter`, what a first-frame mask gets by default);
- :mod:`~ldmatte.video.trimaps`, :mod:`~ldmatte.video.backends` (closed-form matting or the trained model),
  :mod:`~ldmatte.video.stabilise`, :mod:`~ldmatte.video.outputs`;
- :func:`evaluate_video`: per-frame SAD / MSE / Grad / Conn and dtSSD;
- :mod:`~ldmatte.video.synthetic`: a moving synthetic portrait with ground truth.

Modules import PyAV, pymatting and torch only when they are used.
"""
from .._lazy import lazy_exports

_EXPORTS = {
    "matte_video": "pipeline", "VideoMattingSettings": "pipeline", "VideoMattingResult": "pipeline",
    "Segmenter": "segmentation", "FolderMasks": "segmentation",
    "SAM2Segmenter": "sam2_segmenter", "PropagationSettings": "segmentation",
    "CarriedSegmenter": "carried", "CarrySettings": "carried",
    "StabiliseSettings": "stabilise", "evaluate_video": "evaluate", "probe": "reader", "iter_frames": "reader",
    "make_video": "synthetic", "write_video": "synthetic", "load_matting": "backends",
}  # fmt: skip
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
