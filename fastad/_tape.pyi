"""Type stubs for the compiled tape (fastad/_tape.pyx): internal."""
SECOND_BACKWARD: str

class Node:
    name: str

class Graph:
    gid: int
    dead: bool
    def __len__(self) -> int: ...
