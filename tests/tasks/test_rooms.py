"""The room maps: Sutton's four rooms as published, the lopsided control, and opening walls."""

import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks.rooms import Rooms, four_rooms, lopsided_rooms, without_inner_walls


def test_four_rooms_has_104_cells_in_rooms_of_25_30_25_20_joined_in_a_ring():
    world = four_rooms()
    assert len(world.cells) == 104
    assert np.bincount(world.room[world.room >= 0]).tolist() == [25, 30, 25, 20] and (world.room < 0).sum() == 4
    assert world.adjacent_rooms() == {frozenset(p) for p in ((0, 1), (0, 2), (1, 3), (2, 3))}


def test_lopsided_rooms_have_the_same_cells_in_other_rooms_and_opening_walls_keeps_labels():
    world = lopsided_rooms()
    assert len(world.cells) == 104 and np.bincount(world.room[world.room >= 0]).tolist() == [12, 49, 18, 21]
    opened = without_inner_walls(world)
    assert len(opened.cells) == 121
    labels = dict(zip(opened.cells, opened.room))
    assert all(labels[c] == r for c, r in zip(world.cells, world.room))


def test_neighbours_are_symmetric_and_never_cross_a_wall():
    world = four_rooms()
    nb = world.neighbours()
    for s, near in enumerate(nb):
        assert all(s in nb[m] for m in near)
        assert all(abs(world.cells[s][0] - world.cells[m][0]) + abs(world.cells[s][1] - world.cells[m][1]) == 1
                   for m in near)


@pytest.mark.parametrize("layout", ["###\n#A\n###", "###\n#a#\n###"])
def test_a_malformed_map_is_refused(layout):
    with pytest.raises(ComplabError):
        Rooms(layout)
