"""``Features``: the rows models see. Categorical columns hold choice *indices* (0 .. k-1), not
unit values, so the bulk helpers must keep every index a space can have."""

from __future__ import annotations

import numpy as np

import tunewise as tw
from tunewise.space import Space
from tunewise.strategies.features import Features

SPACE = Space(
    {
        "x": tw.Float(0.0, 1.0),
        "layers": tw.Int(1, 6),
        "optimizer": tw.Categorical(["sgd", "momentum", "adam", "rmsprop", "adagrad"]),
    }
)


def test_snap_keeps_every_choice_index_and_clips_the_other_columns() -> None:
    features = Features(SPACE)
    rows = np.array([[1.7, 0.93, 4.0], [-0.2, 0.05, 2.6], [0.5, 0.5, 7.0], [0.5, 0.5, -1.0]])
    snapped = features.snap(rows)
    assert snapped[:, 2].tolist() == [4.0, 3.0, 4.0, 0.0]  # rounded, clipped to 0 .. k-1
    assert snapped[:, 0].tolist() == [1.0, 0.0, 0.5, 0.5]  # continuous: clipped to the cube
    assert set(snapped[:, 1]) <= set(features.grids[1].tolist())  # ints: on their grid
    assert rows[0, 0] == 1.7  # the input is not modified


def test_random_rows_draw_every_choice_about_equally() -> None:
    features = Features(SPACE)
    rows = features.random(np.random.default_rng(0), 5000)
    counts = np.bincount(rows[:, 2].astype(int), minlength=5)
    assert len(counts) == 5
    # 1000 expected per choice; a binomial count is within 150 of it with p > 0.999999.
    assert np.all(np.abs(counts - 1000) < 150), counts
    decoded = {features.decode(row)["optimizer"] for row in rows[:50]}
    assert decoded == {"sgd", "momentum", "adam", "rmsprop", "adagrad"}
