"""Evaluating a music-to-dance model the way MODEL_CARD.md does: ``choreo eval --model NAME --split test``.

==========================  ==========================================================================
module                      contents
==========================  ==========================================================================
:mod:`.sets`                the music to dance to and the real dances it is judged against (test and
                            validation splits, a folder of dances, the music after each dance, songs)
:mod:`.baselines`           no music (guidance 0), training dances, mismatched real dances
:mod:`.settings`            sampling settings as text (``"guidance=3;ssr_root=base"``)
:mod:`.run`                 generate -> foot lock -> metrics over seeds, per dance on request
:mod:`.table`               the MODEL_CARD tables (mean [min, max] over seeds), per-dance tables
==========================  ==========================================================================

A high layer, like ``commands/``: it drives :class:`choreo.generate.Choreographer` and the metrics; nothing
below it imports it.
"""

from __future__ import annotations

from choreo.evaluation.run import Dancer, Scoring, evaluate_model, per_dance, score
from choreo.evaluation.sets import VALIDATION, Target, song_targets, split_targets
from choreo.evaluation.settings import parse_options, parse_setting
from choreo.evaluation.table import format_report, format_section

__all__ = [
    "Dancer",
    "Scoring",
    "Target",
    "VALIDATION",
    "evaluate_model",
    "format_report",
    "format_section",
    "parse_options",
    "parse_setting",
    "per_dance",
    "score",
    "song_targets",
    "split_targets",
]
