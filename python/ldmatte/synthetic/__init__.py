"""Synthetic data with exact ground truth, for demos, tests and benchmarks.

- :mod:`~ldmatte.synthetic.portraits`: procedural portraits with Layer-Diffusion-like artifacts
  (:func:`~ldmatte.synthetic.portraits.make_sample`, ``make_batch``; old name ``ldmatte.synth``).

The moving synthetic portrait of the video tests and benchmarks (``make_video``) is
:mod:`ldmatte.video.synthetic`, built on these portraits; it joins this package when the video package is
reworked (this package imports nothing above it, so it cannot re-export the video one meanwhile).
"""
