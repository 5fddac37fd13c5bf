from batchrelay.jsonl import iter_lines


def test_splits_on_newline_only_keeping_carriage_returns_inside_lines():
    blocks = [b'{"a": "x\ry"}\n{"b"', b': 1}\r\n', b"\n", b'{"c": "\x85\x0b"}']

    lines = list(iter_lines(blocks))

    assert lines == [b'{"a": "x\ry"}', b'{"b": 1}\r', b'{"c": "\x85\x0b"}']


def test_lines_spanning_many_blocks_and_blank_lines():
    data = b"one\n\n  \ntwo-long-line\nthree\n"
    blocks = [data[i : i + 3] for i in range(0, len(data), 3)]

    assert list(iter_lines(blocks)) == [b"one", b"two-long-line", b"three"]


def test_empty_input():
    assert list(iter_lines([])) == []
    assert list(iter_lines([b"", b"\n"])) == []
