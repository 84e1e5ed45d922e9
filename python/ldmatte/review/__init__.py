"""Pictures for people to review results: panels and contact sheets.

- :mod:`~ldmatte.review.panels`: checkerboards, composites, transition and change maps, before/after panels
  (old name ``ldmatte.panels``).
- :mod:`~ldmatte.review.contact_sheet`: the HTML contact sheet and thumbnails of a run's output folder
  (old name ``ldmatte.contact_sheet``).
"""
