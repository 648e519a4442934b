"""Room grid worlds for the hierarchical-RL papers: a map of walls and open cells, each open
cell labelled with its room (or as a doorway).

`four_rooms()` is the four-room map of Sutton, Precup & Singh (1999): a 13 x 13 grid whose
outer wall and inner walls leave 104 open cells, four rooms of 25, 30, 25 and 20 cells
joined by four one-cell doorways. `lopsided_rooms()` has the same 104 open cells in rooms
of 12, 49, 18 and 21 cells whose walls do not cut the grid into quadrants, and
`without_inner_walls` opens every inner wall cell (its room label stays -1), the control
that tells rooms from mere distance.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from complab.config import require

FOUR_ROOMS = """
#############
#AAAAA#BBBBB#
#AAAAA#BBBBB#
#AAAAA.BBBBB#
#AAAAA#BBBBB#
#AAAAA#BBBBB#
##.####BBBBB#
#CCCCC###.###
#CCCCC#DDDDD#
#CCCCC#DDDDD#
#CCCCC.DDDDD#
#CCCCC#DDDDD#
#############
"""

LOPSIDED_ROOMS = """
#############
#AAA#BBBBBBB#
#AAA#BBBBBBB#
#AAA#BBBBBBB#
#AAA.BBBBBBB#
##.##BBBBBBB#
#CCC#BBBBBBB#
#CCC#BBBBBBB#
#CCC#####.###
#CCC.DDDDDDD#
#CCC#DDDDDDD#
#CCC#DDDDDDD#
#############
"""


@dataclass(frozen=True)
class Rooms:
    """A grid map: '#' is a wall, '.' a doorway, and a letter an open cell of that room."""
    layout: str

    def __post_init__(self):
        rows = self.grid
        require(len({len(r) for r in rows}) == 1 and len(rows) >= 3,
                f"a room map is a rectangle of '#', '.' and room letters; got rows of lengths {[len(r) for r in rows]}")
        require(set("".join(rows)) <= set("#.") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                "a room map holds only '#' (wall), '.' (doorway) and capital room letters")

    @cached_property
    def grid(self) -> list[str]:
        return [r for r in self.layout.strip().splitlines()]

    @cached_property
    def cells(self) -> list[tuple[int, int]]:
        """The open cells, row by row."""
        return [(i, j) for i, r in enumerate(self.grid) for j, ch in enumerate(r) if ch != "#"]

    @cached_property
    def names(self) -> list[str]:
        """The rooms' letters, in order."""
        return sorted({ch for r in self.grid for ch in r} - set("#."))

    @cached_property
    def room(self) -> np.ndarray:
        """Each open cell's room index, -1 for a doorway."""
        return np.array([self.names.index(self.grid[i][j]) if self.grid[i][j] != "." else -1 for i, j in self.cells])

    def neighbours(self) -> list[list[int]]:
        """Each open cell's open 4-neighbours, as cell indices."""
        index = {c: k for k, c in enumerate(self.cells)}
        return [[index[(i + di, j + dj)] for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)) if (i + di, j + dj) in index]
                for i, j in self.cells]

    def adjacent_rooms(self) -> set[frozenset[int]]:
        """The pairs of rooms a doorway joins."""
        nb, pairs = self.neighbours(), set()
        for k in np.flatnonzero(self.room < 0):
            joined = {int(self.room[m]) for m in nb[k] if self.room[m] >= 0}
            if len(joined) == 2:
                pairs.add(frozenset(joined))
        return pairs


def four_rooms() -> Rooms:
    return Rooms(FOUR_ROOMS)


def lopsided_rooms() -> Rooms:
    return Rooms(LOPSIDED_ROOMS)


def without_inner_walls(rooms: Rooms) -> Rooms:
    """The same map with every wall cell inside the outer wall opened (as '.': no room)."""
    rows = rooms.grid
    inner = ["#" + "".join("." if ch == "#" else ch for ch in r[1:-1]) + "#" for r in rows[1:-1]]
    return Rooms("\n".join([rows[0], *inner, rows[-1]]))
